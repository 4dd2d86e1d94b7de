/* Randomised SVD against LAPACK's dense SVD: singular values within 1e-3
 * relative, singular vectors spanning the same directions, the sign
 * convention, and determinism across thread counts. */
#include "testutil.h"

#include <math.h>

#include <cblas.h>
#include <lapacke.h>

#include "base/util.h"
#include "embed/svd.h"

/* A sparse n x F matrix: rank-r structure plus sparse noise, as CSR and dense. */
static void make(size_t n, size_t F, size_t r, double noise, uint64_t seed, tr_csr *m, double *dense)
{
    tr_rng g;
    tr_rng_seed(&g, seed);
    double *a = calloc(n * r, sizeof *a), *b = calloc(r * F, sizeof *b);
    for (size_t i = 0; i < n * r; i++) a[i] = tr_rng_uniform(&g) < 0.3 ? tr_rng_normal(&g) : 0;
    for (size_t i = 0; i < r * F; i++) b[i] = tr_rng_uniform(&g) < 0.3 ? tr_rng_normal(&g) * (1.0 + (double)(i / F)) : 0;
    m->n_rows = n; m->n_cols = F; m->nnz = 0;
    m->indptr = malloc((n + 1) * sizeof *m->indptr);
    m->idx = malloc(n * F * sizeof *m->idx);
    m->val = malloc(n * F * sizeof *m->val);
    m->indptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < F; j++) {
            double v = 0;
            for (size_t k = 0; k < r; k++) v += a[i * r + k] * b[k * F + j];
            if (tr_rng_uniform(&g) < 0.1) v += noise * tr_rng_normal(&g);
            v = (float)v;
            dense[i * F + j] = v;
            if (v != 0) { m->idx[m->nnz] = (int32_t)j; m->val[m->nnz] = (float)v; m->nnz++; }
        }
        m->indptr[i + 1] = m->nnz;
    }
    free(a); free(b);
}

static void check_against_lapack(size_t n, size_t F, size_t r, double noise, int k, int over, int iters)
{
    tr_csr m;
    double *d = malloc(n * F * sizeof *d);
    make(n, F, r, noise, 11, &m, d);
    size_t mn = n < F ? n : F;
    double *s = malloc(mn * sizeof *s), *vt = malloc(F * F * sizeof *vt), *u = malloc(n * n * sizeof *u);
    assert_int_equal(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', (lapack_int)n, (lapack_int)F, d, (lapack_int)F,
                                    s, u, (lapack_int)n, vt, (lapack_int)F), 0);
    tr_svd_params p = {.k = k, .oversample = over, .power_iters = iters, .seed = 5, .threads = 2};
    float *V, *S; int ke; char err[256] = "";
    int rc = tr_rsvd(&m, &p, &V, &S, &ke, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, TR_OK);
    assert_int_equal(ke, k);
    for (int c = 0; c < k; c++) {
        assert_true(fabs(S[c] - s[c]) <= 1e-3 * s[c]);
        /* |cos| of the angle between our vector and LAPACK's */
        double dot = 0, nn = 0, big = 0; size_t at = 0;
        for (size_t f = 0; f < F; f++) {
            dot += V[f * k + c] * vt[c * F + f];
            nn += (double)V[f * k + c] * V[f * k + c];
            if (fabs(V[f * k + c]) > big) { big = fabs(V[f * k + c]); at = f; }
        }
        assert_float_equal(nn, 1.0, 1e-4);
        assert_true(fabs(dot) > 0.999);
        assert_true(V[at * k + c] > 0);      /* sign convention */
    }
    free(V); free(S); free(s); free(vt); free(u); free(d);
    tr_csr_free(&m);
}

static void test_exact_when_l_covers_rank(void **state)
{
    (void)state;
    /* full-rank random matrix, l = min(n, F): the method is exact */
    check_against_lapack(50, 30, 30, 0.0, 8, 40, 1);
}

static void test_low_rank_plus_noise(void **state)
{
    (void)state;
    /* the realistic case: a dominant rank-6 part, l = 14 of 80 */
    check_against_lapack(120, 80, 6, 0.01, 6, 8, 4);
}

/* More rows than a chunk of the dense products (4,096): with OpenBLAS on
 * one thread, the result must not depend on our thread count; OpenBLAS's
 * thread count is the caller's, never changed. */
static void test_chunks_and_blas_threads(void **state)
{
    (void)state;
    size_t n = 9000, F = 60;
    tr_csr m;
    double *d = malloc(n * F * sizeof *d);
    make(n, F, 8, 0.1, 4, &m, d);
    tr_svd_params p = {.k = 6, .oversample = 6, .power_iters = 2, .seed = 3, .threads = 1};
    float *V[3], *S[3];
    int k[3];
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    assert_int_equal(tr_rsvd(&m, &p, &V[0], &S[0], &k[0], NULL, 0), TR_OK);
    p.threads = 3;
    assert_int_equal(tr_rsvd(&m, &p, &V[1], &S[1], &k[1], NULL, 0), TR_OK);
    p.threads = 2;
    assert_int_equal(tr_rsvd(&m, &p, &V[2], &S[2], &k[2], NULL, 0), TR_OK);
    openblas_set_num_threads(2);
    int two = openblas_get_num_threads();   /* 2, or 1 on a one-core machine */
    float *V2, *S2;
    int k2;
    assert_int_equal(tr_rsvd(&m, &p, &V2, &S2, &k2, NULL, 0), TR_OK);
    assert_int_equal(openblas_get_num_threads(), two);   /* the caller's setting is left as it was */
    free(V2);
    free(S2);
    openblas_set_num_threads(blas);
    for (int r = 1; r < 3; r++) {
        assert_int_equal(k[r], k[0]);
        assert_memory_equal(V[r], V[0], F * 6 * sizeof(float));
        assert_memory_equal(S[r], S[0], 6 * sizeof(float));
    }
    for (int r = 0; r < 3; r++) { free(V[r]); free(S[r]); }
    tr_csr_free(&m);
    free(d);
}

static void test_threads_and_errors(void **state)
{
    (void)state;
    tr_csr m;
    double *d = malloc(90 * 70 * sizeof *d);
    make(90, 70, 10, 0.1, 3, &m, d);
    tr_svd_params p = {.k = 5, .oversample = 5, .power_iters = 2, .seed = 9, .threads = 1};
    float *V1, *S1, *V2, *S2; int k1, k2;
    assert_int_equal(tr_rsvd(&m, &p, &V1, &S1, &k1, NULL, 0), TR_OK);
    p.threads = 3;
    assert_int_equal(tr_rsvd(&m, &p, &V2, &S2, &k2, NULL, 0), TR_OK);
    assert_int_equal(k1, k2);
    assert_memory_equal(V1, V2, 70 * 5 * sizeof(float));
    assert_memory_equal(S1, S2, 5 * sizeof(float));
    free(V1); free(S1); free(V2); free(S2);

    /* k larger than the matrix: capped */
    p.k = 500;
    assert_int_equal(tr_rsvd(&m, &p, &V1, &S1, &k1, NULL, 0), TR_OK);
    assert_int_equal(k1, 70);
    free(V1); free(S1);

    char err[256];
    p.k = 0;
    assert_int_equal(tr_rsvd(&m, &p, &V1, &S1, &k1, err, sizeof err), TR_EINVAL);
    assert_null(V1);
    assert_non_null(strstr(err, "k 0"));
    /* out of memory: a status, nothing leaked */
    p.k = 5;
    for (long i = 0; i < 14; i++) {
        tr_alloc_fail_after(i);
        int rc = tr_rsvd(&m, &p, &V1, &S1, &k1, err, sizeof err);
        tr_alloc_fail_after(-1);
        if (rc == TR_OK) { free(V1); free(S1); break; }
        assert_int_equal(rc, TR_ENOMEM);
    }
    tr_csr_free(&m);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_when_l_covers_rank),
        cmocka_unit_test(test_low_rank_plus_noise),
        cmocka_unit_test(test_chunks_and_blas_threads),
        cmocka_unit_test(test_threads_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
