/* src/eval/stats.c: mean ± standard error, paired differences, quantiles
 * and the percentile bootstrap, on small cases worked out by hand. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "eval/stats.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void test_mean_se(void **state)
{
    (void)state;
    /* 1..5: mean 3, sample variance 2.5, SE sqrt(2.5 / 5) = sqrt(0.5) */
    const double x[] = {1, 2, 3, 4, 5};
    double m, se;
    tr_stats_mean_se(x, 5, &m, &se);
    NEAR(m, 3);
    NEAR(se, sqrt(0.5));
    /* five folds of a figure: 0.70 0.72 0.71 0.69 0.73 -> mean 0.71, sd
     * sqrt(0.001 / 4) = 0.0158114, SE = sd / sqrt(5) = 0.00707107 */
    const double f[] = {0.70, 0.72, 0.71, 0.69, 0.73};
    tr_stats_mean_se(f, 5, &m, &se);
    NEAR(m, 0.71);
    NEAR(se, sqrt(0.001 / 4) / sqrt(5));
    tr_stats_mean_se(x, 1, &m, &se);
    NEAR(m, 1);
    assert_true(isnan(se));
    tr_stats_mean_se(x, 0, &m, &se);
    assert_true(isnan(m) && isnan(se));
    const double g[] = {0.5, INFINITY, 0.25};   /* a figure missing in one fold */
    tr_stats_mean_se(g, 3, &m, &se);
    assert_true(isnan(m) && isnan(se));
    tr_stats_mean_se(x, 5, NULL, &se);   /* either output may be left out */
    NEAR(se, sqrt(0.5));
}

static void test_paired(void **state)
{
    (void)state;
    /* differences 0.1, -0.05, 0.2, 0: mean 0.0625; deviations 0.0375,
     * -0.1125, 0.1375, -0.0625 -> sum of squares 0.036875, sd^2 0.036875/3,
     * SE sqrt(0.036875 / 3 / 4) */
    const double a[] = {0.5, 0.6, 0.7, 0.3}, b[] = {0.4, 0.65, 0.5, 0.3};
    double d[4];
    tr_paired p;
    tr_stats_paired(a, b, 4, d, &p);
    NEAR(p.mean, 0.0625);
    assert_true(fabs(p.se - sqrt(0.036875 / 12)) < 1e-12);
    assert_int_equal(p.higher, 2);
    assert_int_equal(p.lower, 1);
    assert_int_equal(p.ties, 1);
    NEAR(d[1], -0.05);
    tr_stats_paired(b, a, 4, NULL, &p);   /* swapped: the sign and the counts flip */
    NEAR(p.mean, -0.0625);
    assert_int_equal(p.higher, 1);
    assert_int_equal(p.lower, 2);
}

static void test_quantile(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4};   /* type 7: h = q (n - 1) */
    NEAR(tr_stats_quantile_sorted(x, 4, 0), 1);
    NEAR(tr_stats_quantile_sorted(x, 4, 1), 4);
    NEAR(tr_stats_quantile_sorted(x, 4, 0.5), 2.5);
    NEAR(tr_stats_quantile_sorted(x, 4, 0.25), 1.75);
    NEAR(tr_stats_quantile_sorted(x, 4, 0.025), 1.075);
    NEAR(tr_stats_quantile_sorted(x, 1, 0.3), 1);
    assert_true(isnan(tr_stats_quantile_sorted(x, 0, 0.5)));
}

/* the mean of the resample, and a second value undefined in every other resample */
typedef struct { const double *x; int calls; } mean_ctx;
static int boot_mean(void *ctx, const size_t *idx, size_t n, double *out)
{
    mean_ctx *c = ctx;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += c->x[idx[i]];
    out[0] = s / (double)n;
    out[1] = c->calls++ % 2 ? NAN : out[0];
    return TR_OK;
}

static int boot_fail(void *ctx, const size_t *idx, size_t n, double *out)
{
    (void)ctx; (void)idx; (void)n; (void)out;
    return TR_EDEP;
}

static void test_bootstrap(void **state)
{
    (void)state;
    double lo[2], hi[2];
    size_t valid[2];
    /* a constant sample: every resample has the same mean */
    const double c[] = {0.25, 0.25, 0.25};
    mean_ctx mc = {c, 0};
    assert_int_equal(tr_stats_bootstrap(3, 2, 200, 7, 0.95, boot_mean, &mc, lo, hi, valid), TR_OK);
    NEAR(lo[0], 0.25);
    NEAR(hi[0], 0.25);
    assert_int_equal(valid[0], 200);
    assert_int_equal(valid[1], 100);   /* the undefined half is left out */
    /* {0, 1}: a resample's mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4,
     * so the 95% interval runs from 0 to 1 and the 40% one is {1/2} */
    const double b[] = {0, 1};
    mc = (mean_ctx){b, 0};
    assert_int_equal(tr_stats_bootstrap(2, 2, 1000, 11, 0.95, boot_mean, &mc, lo, hi, NULL), TR_OK);
    NEAR(lo[0], 0);
    NEAR(hi[0], 1);
    mc = (mean_ctx){b, 0};
    assert_int_equal(tr_stats_bootstrap(2, 2, 1000, 11, 0.4, boot_mean, &mc, lo, hi, NULL), TR_OK);
    NEAR(lo[0], 0.5);
    NEAR(hi[0], 0.5);
    /* a larger sample: the interval is about mean ± 1.96 SE, and the same
     * seed gives the same interval bit for bit */
    double x[400];
    tr_rng r;
    tr_rng_seed(&r, 3);
    for (size_t i = 0; i < 400; i++) x[i] = tr_rng_uniform(&r);
    double m, se, lo2[2], hi2[2];
    tr_stats_mean_se(x, 400, &m, &se);
    mc = (mean_ctx){x, 0};
    assert_int_equal(tr_stats_bootstrap(400, 2, 2000, 5, 0.95, boot_mean, &mc, lo, hi, NULL), TR_OK);
    assert_true(fabs(lo[0] - (m - 1.96 * se)) < 0.25 * se);
    assert_true(fabs(hi[0] - (m + 1.96 * se)) < 0.25 * se);
    mc = (mean_ctx){x, 0};
    assert_int_equal(tr_stats_bootstrap(400, 2, 2000, 5, 0.95, boot_mean, &mc, lo2, hi2, NULL), TR_OK);
    assert_true(lo[0] == lo2[0] && hi[0] == hi2[0]);
    /* bad arguments, and a statistic that fails */
    assert_int_equal(tr_stats_bootstrap(0, 2, 100, 1, 0.95, boot_mean, &mc, lo, hi, NULL), TR_EINVAL);
    assert_int_equal(tr_stats_bootstrap(2, 2, 1, 1, 0.95, boot_mean, &mc, lo, hi, NULL), TR_EINVAL);
    assert_int_equal(tr_stats_bootstrap(2, 2, 100, 1, 1.0, boot_mean, &mc, lo, hi, NULL), TR_EINVAL);
    assert_int_equal(tr_stats_bootstrap(2, 2, 100, 1, 0.95, boot_fail, NULL, lo, hi, NULL), TR_EDEP);
}

static void test_bootstrap_oom(void **state)
{
    (void)state;
    const double b[] = {0, 1};
    mean_ctx mc = {b, 0};
    double lo[2], hi[2];
    for (long k = 0; k < 4; k++) {
        tr_alloc_fail_after(k);
        int rc = tr_stats_bootstrap(2, 2, 50, 1, 0.95, boot_mean, &mc, lo, hi, NULL);
        tr_alloc_fail_after(-1);
        assert_int_equal(rc, TR_ENOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_se),
        cmocka_unit_test(test_paired),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_bootstrap_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
