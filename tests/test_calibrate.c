/* Calibration: isotonic and Platt reduce the ECE of miscalibrated synthetic
 * predictions; the ECE helper matches a hand computation; the heads report
 * out-of-fold ECE before and after. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "heads/parts.h"

static void test_ece_hand(void **state)
{
    (void)state;
    /* bin 1: preds 0.1, 0.1 vs 0, 1 -> |0.1-0.5| = 0.4, share 1/2
     * bin 9: preds 0.95 vs 1, 1 -> 0.05, share 1/2 */
    float p[4] = {0.1f, 0.1f, 0.95f, 0.95f}, y[4] = {0, 1, 1, 1};
    assert_float_equal(tr_ece(p, y, 4, 10), 0.5 * 0.4 + 0.5 * 0.05, 1e-6);
    float p2[2] = {1.0f, NAN}, y2[2] = {1, 0};   /* 1.0 goes in the last bin; NaN skipped */
    assert_float_equal(tr_ece(p2, y2, 2, 10), 0, 1e-9);
}

/* predictions p^2.5 of true probability p (over-pessimistic, not sigmoid) */
static void make(size_t n, float *pred, float *y, uint64_t seed, int kind)
{
    tr_rng r;
    tr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double p = tr_rng_uniform(&r);
        y[i] = tr_rng_uniform(&r) < p ? 1.0f : 0.0f;
        if (kind == 0) pred[i] = (float)pow(p, 2.5);
        else pred[i] = (float)(1 / (1 + exp(-0.4 * log(p / (1 - p + 1e-9) + 1e-9))));  /* compressed logit */
    }
}

static void test_isotonic_reduces_ece(void **state)
{
    (void)state;
    size_t n = 4000;
    float *p = malloc(n * sizeof *p), *y = malloc(n * sizeof *y), *q = malloc(n * sizeof *q), *z = malloc(n * sizeof *z);
    float *kx = malloc(n * sizeof *kx), *ky = malloc(n * sizeof *ky);
    make(n, p, y, 1, 0);
    size_t nk;
    assert_int_equal(tr_isotonic_fit(p, y, n, kx, ky, &nk), TR_OK);
    assert_true(nk > 5 && nk < n);
    for (size_t j = 1; j < nk; j++) { assert_true(kx[j] > kx[j - 1]); assert_true(ky[j] > ky[j - 1]); }
    make(n, q, z, 2, 0);   /* fresh data from the same distribution */
    double before = tr_ece(q, z, n, 10);
    for (size_t i = 0; i < n; i++) q[i] = tr_isotonic_apply(kx, ky, nk, q[i]);
    double after = tr_ece(q, z, n, 10);
    assert_true(before > 0.1);
    assert_true(after < 0.04);
    assert_true(after < before / 3);
    /* outside the knots: flat */
    assert_float_equal(tr_isotonic_apply(kx, ky, nk, -1), ky[0], 0);
    assert_float_equal(tr_isotonic_apply(kx, ky, nk, 2), ky[nk - 1], 0);
    free(p); free(y); free(q); free(z); free(kx); free(ky);
}

static void test_platt_reduces_ece(void **state)
{
    (void)state;
    size_t n = 4000;
    float *p = malloc(n * sizeof *p), *y = malloc(n * sizeof *y);
    make(n, p, y, 3, 1);
    float a, b;
    double before = tr_ece(p, y, n, 10);
    tr_platt_fit(p, y, n, &a, &b);
    /* the distortion was logit / 2.5: Platt recovers a ~ 2.5, b ~ 0 */
    assert_true(fabsf(a - 2.5f) < 0.3f);
    assert_true(fabsf(b) < 0.15f);
    for (size_t i = 0; i < n; i++) p[i] = tr_platt_apply(a, b, p[i]);
    double after = tr_ece(p, y, n, 10);
    assert_true(before > 0.08);
    assert_true(after < 0.03);
    /* monotone */
    assert_true(tr_platt_apply(a, b, 0.3f) < tr_platt_apply(a, b, 0.31f));
    free(p); free(y);
}

static void test_isotonic_ties_and_edges(void **state)
{
    (void)state;
    /* equal predictions pool; a decreasing relation collapses to one knot */
    float p[6] = {0.5f, 0.5f, 0.5f, 0.2f, 0.8f, 0.8f}, y[6] = {1, 0, 0, 1, 0, 0};
    float kx[6], ky[6];
    size_t nk;
    assert_int_equal(tr_isotonic_fit(p, y, 6, kx, ky, &nk), TR_OK);
    assert_int_equal(nk, 1);
    assert_float_equal(ky[0], 2.0f / 6.0f, 1e-6);
    assert_int_equal(tr_isotonic_fit(p, y, 0, kx, ky, &nk), TR_OK);
    assert_int_equal(nk, 0);
    assert_float_equal(tr_isotonic_apply(kx, ky, 0, 0.3f), 0.3f, 0);
    tr_alloc_fail_after(0);
    assert_int_equal(tr_isotonic_fit(p, y, 6, kx, ky, &nk), TR_ENOMEM);
    tr_alloc_fail_after(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ece_hand),
        cmocka_unit_test(test_isotonic_reduces_ece),
        cmocka_unit_test(test_platt_reduces_ece),
        cmocka_unit_test(test_isotonic_ties_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
