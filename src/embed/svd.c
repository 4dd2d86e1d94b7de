/* Randomised SVD of a sparse matrix (svd.h).
 *
 * Dense blocks are row-major with l = k + oversample columns, so that a
 * sparse row times a dense block is a run of contiguous axpys.  Blocks are
 * orthonormalised through their l x l Gram matrix (SVQB: ssyrk, dsyevd in
 * double, sgemm), and the final step takes the SVD of B^T = A^T Q from the
 * same Gram eigen-decomposition.  Householder QR/LQ in OpenBLAS's LAPACK
 * took ~30 s on a 120k x 272 block here; the Gram route takes well under
 * one.  Every LAPACKE info != 0 becomes TR_EDEP with the routine's name. */
#include "embed/svd.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "base/util.h"

/* out (rows x l) = M (sparse rows x cols) * D (cols x l), rows split over threads. */
typedef struct spmm_job {
    const size_t *indptr; const int32_t *idx; const float *val;
    const float *D; float *out; size_t l, r0, r1;
} spmm_job;

/* o[c] += a * d[c], c < l: a multiply then an add per element, never
 * fused, so every path below gives the scalar loop's bits.  -O2 leaves the
 * plain loop scalar, and this is most of the SVD's time. */
typedef float v4sf __attribute__((vector_size(16), aligned(4), may_alias));
static void axpy_v4(size_t l, float a, const float *restrict d, float *restrict o)
{
    size_t c = 0;
    for (; c + 4 <= l; c += 4) *(v4sf *)(o + c) += a * *(const v4sf *)(d + c);
    for (; c < l; c++) o[c] += a * d[c];
}

#if defined(__x86_64__) && defined(__GNUC__)
typedef float v8sf __attribute__((vector_size(32), aligned(4), may_alias));
__attribute__((target("avx"))) static void axpy_avx(size_t l, float a, const float *restrict d,
                                                    float *restrict o)
{
    size_t c = 0;
    for (; c + 8 <= l; c += 8) *(v8sf *)(o + c) += a * *(const v8sf *)(d + c);
    for (; c < l; c++) o[c] += a * d[c];
}
#endif

typedef void (*axpy_fn)(size_t, float, const float *restrict, float *restrict);

static axpy_fn best_axpy(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx")) return axpy_avx;
#endif
    return axpy_v4;
}

static void *spmm_rows(void *arg)
{
    spmm_job *j = arg;
    size_t l = j->l;
    axpy_fn axpy = best_axpy();
    for (size_t i = j->r0; i < j->r1; i++) {
        float *o = j->out + i * l;
        memset(o, 0, l * sizeof *o);
        for (size_t z = j->indptr[i]; z < j->indptr[i + 1]; z++)
            axpy(l, j->val[z], j->D + (size_t)j->idx[z] * l, o);
    }
    return NULL;
}

static void spmm(const size_t *indptr, const int32_t *idx, const float *val, size_t rows,
                 const float *D, float *out, size_t l, int threads)
{
    threads = tr_workers(threads, rows);
    spmm_job jobs[TR_RUN_MAX_THREADS];
    /* split by nonzeros, not rows, so threads get equal work */
    size_t nnz = indptr[rows], r = 0;
    for (int t = 0; t < threads; t++) {
        size_t target = nnz / threads * (t + 1), r1 = r;
        if (t == threads - 1) r1 = rows;
        else while (r1 < rows && indptr[r1] < target) r1++;
        jobs[t] = (spmm_job){indptr, idx, val, D, out, l, r, r1};
        r = r1;
    }
    tr_run_workers(threads, spmm_rows, jobs, sizeof jobs[0]);
}

/* The dense products of the SVD, cut into fixed chunks of rows and run on
 * worker threads with one BLAS thread each.  A chunk's result depends only
 * on its rows, and the Gram matrix's chunk sums are added in chunk order,
 * so the SVD is the same whatever the thread count, ours or OpenBLAS's
 * (OpenBLAS's threaded SYRK over 100k rows was not). */
#define GEMM_ROWS 4096
#define GRAM_PARTS 64

typedef struct dense_job {
    const float *Y;           /* m x l, row-major */
    size_t m, l, rows;        /* rows per chunk */
    const float *M;           /* product: out (m x nc) = Y M (l x nc) */
    float *out;
    size_t nc;
    float *part;              /* Gram: chunk c's Y_c^T Y_c (upper) at part + c l^2 */
    size_t nchunks;
    atomic_size_t next;
} dense_job;

static void *gemm_run(void *arg)
{
    dense_job *J = arg;
    for (size_t c; (c = atomic_fetch_add(&J->next, 1)) < J->nchunks;) {
        size_t r0 = c * J->rows, nr = J->m - r0 < J->rows ? J->m - r0 : J->rows;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)nr, (blasint)J->nc, (blasint)J->l, 1.0f,
                    J->Y + r0 * J->l, (blasint)J->l, J->M, (blasint)J->nc, 0.0f, J->out + r0 * J->nc,
                    (blasint)J->nc);
    }
    return NULL;
}

static void *gram_run(void *arg)
{
    dense_job *J = arg;
    for (size_t c; (c = atomic_fetch_add(&J->next, 1)) < J->nchunks;) {
        size_t r0 = c * J->rows, nr = J->m - r0 < J->rows ? J->m - r0 : J->rows;
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)J->l, (blasint)nr, 1.0f, J->Y + r0 * J->l,
                    (blasint)J->l, 0.0f, J->part + c * J->l * J->l, (blasint)J->l);
    }
    return NULL;
}

static void run_dense(dense_job *J, void *(*fn)(void *), int threads)
{
    atomic_init(&J->next, 0);
    tr_run_workers(tr_workers(threads, J->nchunks), fn, J, 0);
}

/* out (m x nc) = Y (m x l) M (l x nc). */
static void dense_gemm(const float *Y, size_t m, size_t l, const float *M, size_t nc, float *out, int threads)
{
    dense_job J = {.Y = Y, .m = m, .l = l, .rows = GEMM_ROWS, .M = M, .out = out, .nc = nc,
                   .nchunks = (m + GEMM_ROWS - 1) / GEMM_ROWS};
    run_dense(&J, gemm_run, threads);
}

/* Rows per chunk of a Gram over m rows: at most GRAM_PARTS chunks. */
static size_t gram_rows(size_t m)
{
    size_t rows = (m + GRAM_PARTS - 1) / GRAM_PARTS;
    return rows < GEMM_ROWS ? GEMM_ROWS : rows;
}

/* Gd (l x l, both triangles) = Y^T Y in double, from the chunk sums (part:
 * one l x l block of scratch per chunk of gram_rows(m)) added in order. */
static void dense_gram(const float *Y, size_t m, size_t l, float *part, double *Gd, int threads)
{
    size_t rows = gram_rows(m);
    dense_job J = {.Y = Y, .m = m, .l = l, .rows = rows, .part = part, .nchunks = (m + rows - 1) / rows};
    run_dense(&J, gram_run, threads);
    for (size_t i = 0; i < l; i++)
        for (size_t j = i; j < l; j++) {
            double g = 0;
            for (size_t c = 0; c < J.nchunks; c++) g += part[c * l * l + i * l + j];
            Gd[i * l + j] = Gd[j * l + i] = g;
        }
}

/* Eigen-decompose the Gram matrix of the row-major m x l block Y:
 * Y^T Y = W diag(lam) W^T (double precision), and return in M (l x l,
 * row-major) the columns W_j / sqrt(lam_j) ordered by lam descending, zero
 * for directions with lam below a relative floor (a rank-deficient block).
 * lam gets the eigenvalues, descending.  This is SVQB (Stathopoulos & Wu
 * 2002): Y M has orthonormal columns spanning Y's range, and costs two
 * GEMM-shaped products instead of a Householder QR, which LAPACK runs far
 * slower on a tall block of 100k rows. */
static int gram_basis(const float *Y, size_t m, size_t l, float *part, double *Gd, double *lam,
                      float *M, int threads, const char *what, char *err, size_t errlen)
{
    dense_gram(Y, m, l, part, Gd, threads);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)l, Gd, (lapack_int)l, lam);
    if (info != 0)
        return tr_errorf(err, errlen, TR_EDEP, "randomised SVD (%s): LAPACKE_dsyevd info %d%s", what,
                         (int)info, info > 0 ? " (did not converge)" : "");
    /* ascending -> descending */
    for (size_t a = 0, b = l - 1; a < b; a++, b--) { double t = lam[a]; lam[a] = lam[b]; lam[b] = t; }
    double floor = (lam[0] > 0 ? lam[0] : 0) * 1e-10;
    for (size_t c = 0; c < l; c++) {
        size_t src = l - 1 - c;
        double s = lam[c] > floor && lam[c] > 0 ? 1.0 / sqrt(lam[c]) : 0.0;
        for (size_t i = 0; i < l; i++) M[i * l + c] = (float)(Gd[i * l + src] * s);
    }
    return TR_OK;
}

/* Replace the row-major m x l block *Y by an orthonormal basis of its range
 * (SVQB twice, for float accuracy); *tmp is an m x l buffer the two swap. */
static int orth(float **Y, float **tmp, size_t m, size_t l, float *part, double *Gd, double *lam,
                float *M, int threads, const char *what, char *err, size_t errlen)
{
    for (int pass = 0; pass < 2; pass++) {
        int rc = gram_basis(*Y, m, l, part, Gd, lam, M, threads, what, err, errlen);
        if (rc) return rc;
        dense_gemm(*Y, m, l, M, l, *tmp, threads);
        float *t = *Y; *Y = *tmp; *tmp = t;
    }
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
    float *Y2 = tr_mallocarray(n, l * sizeof(float));
    size_t pn = (n + gram_rows(n) - 1) / gram_rows(n), pf = (F + gram_rows(F) - 1) / gram_rows(F);
    float *G = tr_mallocarray((pn > pf ? pn : pf) * l * l, sizeof(float));   /* the Grams' chunk sums */
    double *Gd = tr_mallocarray(l * l, sizeof(double));
    double *lam = tr_mallocarray(l, sizeof(double));
    float *M = tr_mallocarray(l * l, sizeof(float));
    float *Vo = tr_mallocarray(F, k * sizeof(float));
    float *So = tr_mallocarray(k, sizeof(float));
    if (!Om || !Y || !Y2 || !G || !Gd || !lam || !M || !Vo || !So) goto oom;
    if (csr_transpose(A, &tp, &ti, &tv) != TR_OK) goto oom;

    /* our workers carry the parallelism; with OpenBLAS on one thread (the
     * caller's setting: tr_train_options.blas_threads), the result does not
     * depend on any thread count */
    tr_rng rng;
    tr_rng_seed(&rng, p->seed);
    for (size_t i = 0; i < F * l; i++) Om[i] = (float)tr_rng_normal(&rng);

    /* Range finder with subspace iteration (HMT algorithm 4.4).  Only the
     * n-side block is re-orthonormalised: with orthonormal Q, A^T Q has
     * condition sigma_1 / sigma_l, which float carries safely into the next
     * product; orthonormalising the F x l side too would double the cost. */
    spmm(A->indptr, A->idx, A->val, n, Om, Y, l, p->threads);
    if ((rc = orth(&Y, &Y2, n, l, G, Gd, lam, M, p->threads, "range", err, errlen)) != TR_OK) goto fail;
    for (int q = 0; q < p->power_iters; q++) {
        spmm(tp, ti, tv, F, Y, Om, l, p->threads);
        spmm(A->indptr, A->idx, A->val, n, Om, Y, l, p->threads);
        if ((rc = orth(&Y, &Y2, n, l, G, Gd, lam, M, p->threads, "power iteration", err, errlen)) != TR_OK) goto fail;
    }
    /* B^T = A^T Q (F x l) = V S W^T: its Gram matrix is W S^2 W^T, and
     * V = B^T W S^-1, the first k columns. */
    spmm(tp, ti, tv, F, Y, Om, l, p->threads);
    if ((rc = gram_basis(Om, F, l, G, Gd, lam, M, p->threads, "projection", err, errlen)) != TR_OK) goto fail;
    /* V = B^T M: M's first k columns, as a contiguous l x k block */
    for (size_t i = 0; i < l; i++) memmove(M + i * k, M + i * l, k * sizeof *M);
    dense_gemm(Om, F, l, M, k, Vo, p->threads);
    for (size_t c = 0; c < k; c++) {
        size_t best = 0;
        float bv = -1;
        for (size_t f = 0; f < F; f++) {
            float a = fabsf(Vo[f * k + c]);
            if (a > bv) { bv = a; best = f; }
        }
        if (Vo[best * k + c] < 0)
            for (size_t f = 0; f < F; f++) Vo[f * k + c] = -Vo[f * k + c];
        So[c] = (float)sqrt(lam[c] > 0 ? lam[c] : 0);
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
    tr_free(Om); tr_free(Y); tr_free(Y2); tr_free(G); tr_free(Gd); tr_free(lam); tr_free(M);
    tr_free(Vo); tr_free(So);
    return rc;
}
