/* The answer cache's hashing index (server/cache_index.c): a stored
 * vector is its own candidate, pairs just above the threshold are found at
 * the designed rate, far vectors seldom come back (an index, not a scan),
 * removal, clearing, odd dimensions and a failed allocation. */
#include "testutil.h"
#include <math.h>
#include "server/cache_index.c"

static void unit(float *x, size_t d, tr_rng *r)
{
    double n = 0;
    for (size_t j = 0; j < d; j++) {
        x[j] = (float)tr_rng_normal(r);
        n += (double)x[j] * x[j];
    }
    for (size_t j = 0; j < d; j++) x[j] = (float)(x[j] / sqrt(n));
}

/* x moved to a cosine of about cs with itself, into y; the cosine reached. */
static double near(const float *x, float *y, size_t d, double cs, tr_rng *r)
{
    float *z = malloc(d * sizeof *z);
    unit(z, d, r);
    double eps = sqrt(1 / (cs * cs) - 1), n = 0, c = 0;
    for (size_t j = 0; j < d; j++) {
        y[j] = x[j] + (float)eps * z[j];
        n += (double)y[j] * y[j];
    }
    for (size_t j = 0; j < d; j++) {
        y[j] = (float)(y[j] / sqrt(n));
        c += (double)y[j] * x[j];
    }
    free(z);
    return c;
}

/* An index of n slots for d floats at similarity sim, and n random unit
 * vectors from seed in x (n x d), the first `added` of them indexed. */
static tr_cache_index *index_of(size_t d, size_t n, double sim, uint64_t seed, float *x, size_t added)
{
    tr_cache_index *ix = NULL;
    char err[256];
    assert_int_equal(tr_cache_index_new(d, n, sim, &ix, err, sizeof err), TR_OK);
    tr_rng r;
    tr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        unit(x + i * d, d, &r);
        if (i < added) assert_int_equal(tr_cache_index_add(ix, i, x + i * d), TR_OK);
    }
    return ix;
}

static int listed(const int32_t *c, size_t n, int32_t slot)
{
    for (size_t i = 0; i < n; i++)
        if (c[i] == slot) return 1;
    return 0;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tr_cache_index *ix = NULL;
    char err[256];
    assert_int_equal(tr_cache_index_new(0, 10, 0.9, &ix, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_cache_index_new(8, 0, 0.9, &ix, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_cache_index_new(8, 10, 1.0, &ix, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_cache_index_new(8, 10, 0, &ix, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "similarity"));
    assert_null(ix);
    assert_int_equal(tr_cache_index_new(8, 10, 0.9, &ix, err, sizeof err), TR_OK);
    float x[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(tr_cache_index_add(ix, 10, x), TR_EINVAL);
    tr_cache_index_remove(ix, 99);   /* out of range: nothing */
    tr_cache_index_free(ix);
}

/* The bits per table follow the threshold: the closer the pairs sought,
 * the more bits (and the fewer far slots per bucket). */
static void test_shape_follows_threshold(void **state)
{
    (void)state;
    size_t prev_bits = 0;
    static const double S[] = {0.5, 0.8, 0.9, 0.97, 0.999};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        tr_cache_index *ix = NULL;
        char err[256];
        assert_int_equal(tr_cache_index_new(256, 100, S[i], &ix, err, sizeof err), TR_OK);
        size_t t, b, h;
        tr_cache_index_shape(ix, &t, &b, &h);
        assert_int_equal(t, TR_CACHE_INDEX_TABLES);
        assert_true(b >= prev_bits && b >= 1 && b <= MAX_BITS);
        /* a pair at the threshold shares a table's key with the designed probability */
        double p = pow(1 - acos(S[i]) / M_PI, (double)b);
        assert_true(1 - pow(1 - p, (double)t) >= TR_CACHE_INDEX_RECALL);
        prev_bits = b;
        tr_cache_index_free(ix);
    }
}

static void recall_at(size_t d, double sim, size_t slots)
{
    float *x = malloc(slots * d * sizeof *x), *q = malloc(d * sizeof *q);
    tr_cache_index *ix = index_of(d, slots, sim, 11, x, slots);
    tr_rng r;
    tr_rng_seed(&r, 12);
    int32_t cand[64];
    size_t self = 0, found = 0, tried = 0, far = 0;
    for (size_t i = 0; i < slots; i++) {
        size_t n = tr_cache_index_candidates(ix, x + i * d, cand, 64);
        self += listed(cand, n, (int32_t)i);
        double c = near(x + i * d, q, d, sim + 0.004, &r);
        if (c < sim) continue;
        tried++;
        n = tr_cache_index_candidates(ix, q, cand, 64);
        found += listed(cand, n, (int32_t)i);
        far += n - listed(cand, n, (int32_t)i);
    }
    assert_int_equal(self, slots);
    /* 0.99 by design at the threshold; these lie a little above it */
    assert_true(tried > slots / 2);
    assert_true((double)found >= 0.97 * (double)tried);
    /* random vectors in many dimensions are far from each other: almost
     * none come back */
    if (d >= 32) assert_true((double)far <= 0.01 * (double)tried * (double)slots);
    free(x);
    free(q);
    tr_cache_index_free(ix);
}

static void test_recall_256(void **state)
{
    (void)state;
    recall_at(256, 0.97, 2000);
}

/* Not a power of two, and more bits than one transform gives. */
static void test_recall_odd_dims(void **state)
{
    (void)state;
    recall_at(100, 0.97, 500);
    recall_at(3, 0.9, 200);
    recall_at(20, 0.995, 300);
}

static void test_remove_and_clear(void **state)
{
    (void)state;
    const size_t d = 32, n = 50;
    float x[50 * 32];
    tr_cache_index *ix = index_of(d, n, 0.95, 5, x, n);
    /* the same vector under two slots: both listed, each once */
    assert_int_equal(tr_cache_index_add(ix, 7, x + 3 * d), TR_OK);
    int32_t cand[64];
    size_t k = tr_cache_index_candidates(ix, x + 3 * d, cand, 64);
    assert_true(listed(cand, k, 3) && listed(cand, k, 7));
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) assert_true(cand[i] != cand[j]);
    /* slot 7 moved: its old vector no longer finds it */
    k = tr_cache_index_candidates(ix, x + 7 * d, cand, 64);
    assert_false(listed(cand, k, 7));
    tr_cache_index_remove(ix, 3);
    tr_cache_index_remove(ix, 3);
    k = tr_cache_index_candidates(ix, x + 3 * d, cand, 64);
    assert_false(listed(cand, k, 3));
    assert_true(listed(cand, k, 7));
    /* max bounds what is written */
    assert_true(tr_cache_index_candidates(ix, x + 3 * d, cand, 0) == 0);
    tr_cache_index_clear(ix);
    for (size_t i = 0; i < n; i++) assert_int_equal(tr_cache_index_candidates(ix, x + i * d, cand, 64), 0);
    assert_int_equal(tr_cache_index_add(ix, 3, x + 3 * d), TR_OK);
    k = tr_cache_index_candidates(ix, x + 3 * d, cand, 64);
    assert_true(k == 1 && cand[0] == 3);
    tr_cache_index_free(ix);
}

/* A crowd of identical entries: a lookup stops after the visit cap
 * instead of walking them all. */
static void test_visit_cap(void **state)
{
    (void)state;
    const size_t d = 16, n = TR_CACHE_INDEX_VISITS + 500;
    tr_cache_index *ix = NULL;
    char err[256];
    assert_int_equal(tr_cache_index_new(d, n, 0.9, &ix, err, sizeof err), TR_OK);
    float x[16];
    tr_rng r;
    tr_rng_seed(&r, 4);
    unit(x, d, &r);
    for (size_t i = 0; i < n; i++) assert_int_equal(tr_cache_index_add(ix, i, x), TR_OK);
    int32_t *cand = malloc(n * sizeof *cand);
    assert_int_equal(tr_cache_index_candidates(ix, x, cand, n), TR_CACHE_INDEX_VISITS);
    free(cand);
    tr_cache_index_free(ix);
}

/* A bucket that cannot grow leaves the slot out of every table and the
 * index usable. */
static void test_out_of_memory(void **state)
{
    (void)state;
    const size_t d = 16, n = 64;
    float x[64 * 16];
    tr_cache_index *ix = index_of(d, n, 0.9, 9, x, 1);
    tr_alloc_fail_after(3);
    int failed = 0;
    for (size_t i = 1; i < n && !failed; i++)
        if (tr_cache_index_add(ix, i, x + i * d) == TR_ENOMEM) {
            failed = (int)i;
            int32_t cand[64];
            size_t k = tr_cache_index_candidates(ix, x + i * d, cand, 64);
            assert_false(listed(cand, k, (int32_t)i));
        }
    tr_alloc_fail_after(-1);
    assert_true(failed > 0);
    tr_cache_index_remove(ix, (size_t)failed);
    assert_int_equal(tr_cache_index_add(ix, (size_t)failed, x + (size_t)failed * d), TR_OK);
    int32_t cand[64];
    size_t k = tr_cache_index_candidates(ix, x + (size_t)failed * d, cand, 64);
    assert_true(listed(cand, k, failed));
    assert_true(tr_cache_index_bytes(ix) > n * TR_CACHE_INDEX_TABLES * sizeof(uint32_t));
    tr_cache_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_shape_follows_threshold),
        cmocka_unit_test(test_recall_256),
        cmocka_unit_test(test_recall_odd_dims),
        cmocka_unit_test(test_remove_and_clear),
        cmocka_unit_test(test_visit_cap),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
