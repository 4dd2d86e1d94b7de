/* Randomised SVD of a sparse matrix (svd.h).
 *
 * Dense blocks are row-major with l = k + oversample columns, so that a
 * sparse row times a dense block is a run of contiguous axpys.  A row-major
 * m x l block is, to LAPACK, a column-major l x m matrix; so its column
 * space is orthonormalised with an LQ factorisation (gelqf + orglq) in
 * place, without a transposed copy.  The last step follows HMT 5.1:
 * B = Q^T A (l x F) = L Q' by LQ, then the small SVD L = U S W^T in double
 * precision gives the right singular vectors V = Q'^T W. */
#include "svd.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "util.h"

/* out (rows x l) = M (sparse rows x cols) * D (cols x l), rows split over threads. */
typedef struct spmm_job {
    const size_t *indptr; const int32_t *idx; const float *val;
    const float *D; float *out; size_t l, r0, r1;
} spmm_job;

static void *spmm_rows(void *arg)
{
    spmm_job *j = arg;
    size_t l = j->l;
    for (size_t i = j->r0; i < j->r1; i++) {
        float *restrict o = j->out + i * l;
        memset(o, 0, l * sizeof *o);
        for (size_t z = j->indptr[i]; z < j->indptr[i + 1]; z++) {
            const float *restrict d = j->D + (size_t)j->idx[z] * l;
            float a = j->val[z];
            for (size_t c = 0; c < l; c++) o[c] += a * d[c];
        }
    }
    return NULL;
}

static int spmm(const size_t *indptr, const int32_t *idx, const float *val, size_t rows,
                const float *D, float *out, size_t l, int threads)
{
    enum { MAXT = 64 };
    if (threads > MAXT) threads = MAXT;
    if ((size_t)threads > rows) threads = rows ? (int)rows : 1;
    spmm_job jobs[MAXT];
    pthread_t tid[MAXT];
    int started = 0, rc = TR_OK;
    /* split by nonzeros, not rows, so threads get equal work */
    size_t nnz = indptr[rows], r = 0;
    for (int t = 0; t < threads; t++) {
        size_t target = nnz / threads * (t + 1), r1 = r;
        if (t == threads - 1) r1 = rows;
        else while (r1 < rows && indptr[r1] < target) r1++;
        jobs[t] = (spmm_job){indptr, idx, val, D, out, l, r, r1};
        r = r1;
    }
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, spmm_rows, &jobs[t]) != 0) { rc = TR_EINTERNAL; break; }
        started = t;
    }
    spmm_rows(&jobs[0]);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    /* a thread that could not start: do its share here */
    for (int t = started + 1; rc != TR_OK && t < threads; t++) spmm_rows(&jobs[t]);
    return TR_OK;
}

/* Orthonormalise the columns of the row-major m x l block Y in place. */
static int orth(float *Y, size_t m, size_t l, float *tau, const char *what, char *err, size_t errlen)
{
    lapack_int info = LAPACKE_sgelqf(LAPACK_COL_MAJOR, (lapack_int)l, (lapack_int)m, Y, (lapack_int)l, tau);
    if (info != 0)
        return tr_errorf(err, errlen, TR_EDEP, "randomised SVD (%s): LAPACKE_sgelqf info %d", what, (int)info);
    info = LAPACKE_sorglq(LAPACK_COL_MAJOR, (lapack_int)l, (lapack_int)m, (lapack_int)l, Y, (lapack_int)l, tau);
    if (info != 0)
        return tr_errorf(err, errlen, TR_EDEP, "randomised SVD (%s): LAPACKE_sorglq info %d", what, (int)info);
    return TR_OK;
}

/* The transpose of a CSR matrix, as CSR (counting sort: rows stay ascending). */
static int csr_transpose(const tr_csr *A, size_t **tp, int32_t **ti, float **tv)
{
    size_t F = A->n_cols, nz = A->nnz;
    size_t *p = tr_calloc(F + 1, sizeof *p);
    int32_t *ix = tr_mallocarray(nz ? nz : 1, sizeof *ix);
    float *v = tr_mallocarray(nz ? nz : 1, sizeof *v);
    size_t *fill = tr_mallocarray(F + 1, sizeof *fill);
    if (!p || !ix || !v || !fill) { tr_free(p); tr_free(ix); tr_free(v); tr_free(fill); return TR_ENOMEM; }
    for (size_t z = 0; z < nz; z++) p[A->idx[z] + 1]++;
    for (size_t f = 0; f < F; f++) p[f + 1] += p[f];
    memcpy(fill, p, (F + 1) * sizeof *fill);
    for (size_t i = 0; i < A->n_rows; i++)
        for (size_t z = A->indptr[i]; z < A->indptr[i + 1]; z++) {
            size_t at = fill[A->idx[z]]++;
            ix[at] = (int32_t)i;
            v[at] = A->val[z];
        }
    tr_free(fill);
    *tp = p; *ti = ix; *tv = v;
    return TR_OK;
}

int tr_rsvd(const tr_csr *A, const tr_svd_params *p, float **V, float **S,
            int *k_out, char *err, size_t errlen)
{
    *V = NULL; *S = NULL; *k_out = 0;
    size_t n = A->n_rows, F = A->n_cols;
    if (n == 0 || F == 0 || p->k < 1 || p->oversample < 0 || p->power_iters < 0 || p->threads < 1)
        return tr_errorf(err, errlen, TR_EINVAL,
                         "randomised SVD: %zu x %zu matrix, k %d, oversample %d, power_iters %d, threads %d",
                         n, F, p->k, p->oversample, p->power_iters, p->threads);
    size_t mn = n < F ? n : F;
    size_t k = (size_t)p->k < mn ? (size_t)p->k : mn;
    size_t l = k + (size_t)p->oversample;
    if (l > mn) l = mn;
    int rc = TR_ENOMEM;
    size_t *tp = NULL; int32_t *ti = NULL; float *tv = NULL;
    float *Om = tr_mallocarray(F, l * sizeof(float));   /* F x l: test matrix, then A^T Q */
    float *Y = tr_mallocarray(n, l * sizeof(float));    /* n x l */
    float *tau = tr_mallocarray(l, sizeof(float));
    double *L = tr_calloc(l * l, sizeof(double));
    double *sv = tr_mallocarray(l, sizeof(double));
    double *U = tr_mallocarray(l * l, sizeof(double));
    double *WT = tr_mallocarray(l * l, sizeof(double));
    float *Wf = tr_mallocarray(l * l, sizeof(float));
    float *Vo = tr_mallocarray(F, k * sizeof(float));
    float *So = tr_mallocarray(k, sizeof(float));
    if (!Om || !Y || !tau || !L || !sv || !U || !WT || !Wf || !Vo || !So) goto oom;
    if (csr_transpose(A, &tp, &ti, &tv) != TR_OK) goto oom;

    tr_rng rng;
    tr_rng_seed(&rng, p->seed);
    for (size_t i = 0; i < F * l; i++) Om[i] = (float)tr_rng_normal(&rng);

    /* range finder with subspace iteration (HMT algorithm 4.4) */
    spmm(A->indptr, A->idx, A->val, n, Om, Y, l, p->threads);
    if ((rc = orth(Y, n, l, tau, "range", err, errlen)) != TR_OK) goto fail;
    for (int q = 0; q < p->power_iters; q++) {
        spmm(tp, ti, tv, F, Y, Om, l, p->threads);
        if ((rc = orth(Om, F, l, tau, "power iteration", err, errlen)) != TR_OK) goto fail;
        spmm(A->indptr, A->idx, A->val, n, Om, Y, l, p->threads);
        if ((rc = orth(Y, n, l, tau, "power iteration", err, errlen)) != TR_OK) goto fail;
    }
    /* B^T = A^T Q (F x l); as column-major it is B (l x F) */
    spmm(tp, ti, tv, F, Y, Om, l, p->threads);
    lapack_int info = LAPACKE_sgelqf(LAPACK_COL_MAJOR, (lapack_int)l, (lapack_int)F, Om, (lapack_int)l, tau);
    if (info != 0) { rc = tr_errorf(err, errlen, TR_EDEP, "randomised SVD: LAPACKE_sgelqf info %d", (int)info); goto fail; }
    for (size_t j = 0; j < l; j++)          /* L: lower triangle, column-major */
        for (size_t i = j; i < l; i++) L[i + j * l] = Om[i + j * l];
    info = LAPACKE_sorglq(LAPACK_COL_MAJOR, (lapack_int)l, (lapack_int)F, (lapack_int)l, Om, (lapack_int)l, tau);
    if (info != 0) { rc = tr_errorf(err, errlen, TR_EDEP, "randomised SVD: LAPACKE_sorglq info %d", (int)info); goto fail; }
    info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', (lapack_int)l, (lapack_int)l, L, (lapack_int)l, sv,
                          U, (lapack_int)l, WT, (lapack_int)l);
    if (info != 0) {
        rc = tr_errorf(err, errlen, TR_EDEP, "randomised SVD: LAPACKE_dgesdd info %d%s", (int)info,
                       info > 0 ? " (did not converge)" : "");
        goto fail;
    }
    /* WT column-major, read row-major, is W: V = Q'^T W, the first k columns */
    for (size_t i = 0; i < l * l; i++) Wf[i] = (float)WT[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)F, (blasint)k, (blasint)l,
                1.0f, Om, (blasint)l, Wf, (blasint)l, 0.0f, Vo, (blasint)k);
    for (size_t c = 0; c < k; c++) {
        size_t best = 0;
        float bv = -1;
        for (size_t f = 0; f < F; f++) {
            float a = fabsf(Vo[f * k + c]);
            if (a > bv) { bv = a; best = f; }
        }
        if (Vo[best * k + c] < 0)
            for (size_t f = 0; f < F; f++) Vo[f * k + c] = -Vo[f * k + c];
        So[c] = (float)sv[c];
    }
    *V = Vo; *S = So; *k_out = (int)k;
    Vo = NULL; So = NULL;
    rc = TR_OK;
    goto done;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "randomised SVD: out of memory (%zu x %zu, l = %zu)", n, F, l);
fail:
done:
    tr_free(tp); tr_free(ti); tr_free(tv);
    tr_free(Om); tr_free(Y); tr_free(tau); tr_free(L); tr_free(sv); tr_free(U); tr_free(WT);
    tr_free(Wf); tr_free(Vo); tr_free(So);
    return rc;
}
