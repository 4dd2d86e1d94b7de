/* Exact kNN against brute force (random data and exact ties), approximate
 * recall on clustered data, determinism, and the error paths. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "cluster/knn_build.h"

/* Points around c clusters on the unit sphere, rows unit-normalised. */
static float *clustered(size_t n, size_t d, size_t c, double noise, uint64_t seed, int32_t *lab)
{
    tr_rng r;
    tr_rng_seed(&r, seed);
    float *C = malloc(c * d * sizeof(float)), *X = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < c * d; i++) C[i] = (float)tr_rng_normal(&r);
    for (size_t i = 0; i < n; i++) {
        size_t ci = i % c;
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            X[i * d + j] = C[ci * d + j] / sqrtf((float)d) + (float)(noise * tr_rng_normal(&r));
            s += (double)X[i * d + j] * X[i * d + j];
        }
        for (size_t j = 0; j < d; j++) X[i * d + j] /= (float)sqrt(s);
        if (lab) lab[i] = (int32_t)ci;
    }
    free(C);
    return X;
}

/* Brute force in double: sort every row fully by (similarity desc,
 * index asc) and keep the first k.  Independent of the library's code. */
typedef struct cand { double v; int32_t j; } cand;
static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

static void brute(const float *X, size_t n, size_t d, size_t k, int32_t *idx, double *sim)
{
    cand *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double v = 0;
            for (size_t t = 0; t < d; t++) v += (double)X[i * d + t] * X[j * d + t];
            c[m++] = (cand){v, (int32_t)j};
        }
        qsort(c, m, sizeof *c, cmp_cand);
        for (size_t t = 0; t < k; t++) {
            idx[i * k + t] = c[t].j;
            sim[i * k + t] = c[t].v;
        }
    }
    free(c);
}

static void check_exact(const float *X, size_t n, size_t d, size_t k, int threads)
{
    int32_t *bi = malloc(n * k * sizeof(int32_t));
    double *bs = malloc(n * k * sizeof(double));
    for (size_t i = 0; i < n * k; i++) bi[i] = -1;
    brute(X, n, d, k, bi, bs);
    tr_knn_params p;
    tr_knn_params_default(&p);
    p.k = k;
    p.mode = TR_KNN_EXACT;
    p.threads = threads;
    tr_knn g;
    char err[256];
    assert_int_equal(tr_knn_build(X, n, d, &p, &g, err, sizeof err), TR_OK);
    assert_int_equal(g.n, n);
    assert_int_equal(g.k, k);
    for (size_t i = 0; i < n * k; i++) {
        assert_int_equal(g.idx[i], bi[i]);
        assert_true(fabs(g.sim[i] - bs[i]) < 1e-5);
    }
    tr_knn_free(&g);
    free(bi);
    free(bs);
}

static void test_exact_random(void **state)
{
    (void)state;
    size_t n = tu_slow_mode() ? 800 : 2000, d = 24;
    float *X = clustered(n, d, 7, 0.3, 1, NULL);
    check_exact(X, n, d, 10, 2);
    check_exact(X, 500, d, 1, 1);
    free(X);
}

static void test_exact_ties(void **state)
{
    (void)state;
    /* Entries in {-1, -0.5, 0, 0.5, 1}: every dot product is exact in float
     * whatever the summation order, and there are many exact ties
     * (including duplicate rows), which must break by smaller index. */
    size_t n = tu_slow_mode() ? 700 : 2000, d = 8;
    float *X = malloc(n * d * sizeof(float));
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (size_t i = 0; i < n * d; i++) X[i] = 0.5f * (float)((int)tr_rng_below(&r, 5) - 2);
    memcpy(X + 10 * d, X + 3 * d, d * sizeof(float));
    check_exact(X, n, d, 12, 2);
    free(X);
}

static void test_approx_recall(void **state)
{
    (void)state;
    size_t n = tu_slow_mode() ? 2000 : 8000, d = 32, k = 15;
    float *X = clustered(n, d, 20, 0.15, 2, NULL);
    tr_knn_params p;
    tr_knn_params_default(&p);
    p.k = k;
    p.mode = TR_KNN_APPROX;
    tr_knn a, b;
    char err[256];
    assert_int_equal(tr_knn_build(X, n, d, &p, &a, err, sizeof err), TR_OK);
    double rec = 0;
    assert_int_equal(tr_knn_recall(X, n, d, &a, 300, 7, &rec, err, sizeof err), TR_OK);
    print_message("approx recall %.4f\n", rec);
    assert_true(rec >= 0.9);
    /* every list: k distinct entries, no self, sorted */
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) {
            assert_true(a.idx[i * k + t] != (int32_t)i);
            if (t) assert_true(a.sim[i * k + t - 1] >= a.sim[i * k + t]);
        }
    /* deterministic, whatever the thread count of the queries */
    p.threads = 1;
    assert_int_equal(tr_knn_build(X, n, d, &p, &b, err, sizeof err), TR_OK);
    assert_memory_equal(a.idx, b.idx, n * k * sizeof(int32_t));
    tr_knn_free(&a);
    tr_knn_free(&b);
    free(X);
}

static void test_errors(void **state)
{
    (void)state;
    float X[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0};
    tr_knn_params p;
    tr_knn_params_default(&p);
    tr_knn g;
    char err[256];
    p.k = 4;
    assert_int_equal(tr_knn_build(X, 4, 3, &p, &g, err, sizeof err), TR_ETOOFEW);
    assert_string_equal(err, "knn: need more than k prompts: n=4 k=4");
    p.k = 2;
    assert_int_equal(tr_knn_build(X, 0, 3, &p, &g, err, sizeof err), TR_ETOOFEW);
    assert_string_equal(err, "knn: no prompts (n=0)");
    X[2 * 3 + 1] = NAN;
    assert_int_equal(tr_knn_build(X, 4, 3, &p, &g, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "knn: row 2 has a non-finite value at column 1");
    X[2 * 3 + 1] = INFINITY;
    assert_int_equal(tr_knn_build(X, 4, 3, &p, &g, err, sizeof err), TR_EINVAL);
    X[2 * 3 + 1] = 1;
    assert_int_equal(tr_knn_build(X, 4, 3, &p, &g, err, sizeof err), TR_OK);
    /* point 0 and point 3 are identical: each other's first neighbour */
    assert_int_equal(g.idx[0], 3);
    assert_int_equal(g.idx[3 * 2], 0);
    tr_knn_free(&g);
    tr_knn_free(&g); /* second free is a no-op */
    /* out of memory is reported, not a crash */
    tr_alloc_fail_after(0);
    int rc = tr_knn_build(X, 4, 3, &p, &g, err, sizeof err);
    tr_alloc_fail_after(-1);
    assert_int_equal(rc, TR_ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_random),
        cmocka_unit_test(test_exact_ties),
        cmocka_unit_test(test_approx_recall),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
