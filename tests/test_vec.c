/* Unit normalisation (base/vec.c): unit length, the two rounding rules as
 * documented (they are baked into trained routers), zero vectors, and the
 * double form. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "base/vec.h"

static void test_sumsq_and_unit(void **state)
{
    (void)state;
    const float x[3] = {3, 0, 4};
    assert_true(tr_vec_sumsq(x, 3) == 25.0);
    float y[3];
    assert_true(tr_vec_unit(y, x, 3) == 25.0);
    assert_true(y[0] == 0.6f && y[1] == 0 && y[2] == 0.8f);
    float z[3] = {3, 0, 4};
    assert_true(tr_vec_unit_fast(z, z, 3) == 25.0);
    assert_true(fabsf(z[0] - 0.6f) < 1e-7f && fabsf(z[2] - 0.8f) < 1e-7f);
}

static void test_rounding_rules(void **state)
{
    (void)state;
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    float x[37], a[37], b[37];
    for (int rep = 0; rep < 200; rep++) {
        for (size_t j = 0; j < 37; j++) x[j] = (float)tr_rng_normal(&rng);
        double s = tr_vec_sumsq(x, 37);
        tr_vec_unit(a, x, 37);
        tr_vec_unit_fast(b, x, 37);
        float inv = (float)(1.0 / sqrt(s));
        for (size_t j = 0; j < 37; j++) {
            if (a[j] != (float)(x[j] / sqrt(s))) fail_msg("tr_vec_unit rep %d j %zu", rep, j);
            if (b[j] != x[j] * inv) fail_msg("tr_vec_unit_fast rep %d j %zu", rep, j);
        }
        assert_true(fabs(tr_vec_sumsq(a, 37) - 1) < 1e-6);
    }
}

static void test_zero_vector(void **state)
{
    (void)state;
    const float x[4] = {0, 0, 0, 0};
    float y[4] = {9, 9, 9, 9};
    assert_true(tr_vec_unit(y, x, 4) == 0);
    for (size_t j = 0; j < 4; j++) assert_true(y[j] == 0);
    float z[4] = {9, 9, 9, 9};
    assert_true(tr_vec_unit_fast(z, x, 4) == 0);
    for (size_t j = 0; j < 4; j++) assert_true(z[j] == 0);
    double d[2] = {0, 0};
    tr_vec_unit_f64(d, 2);
    assert_true(d[0] == 0 && d[1] == 0);
}

static void test_f64(void **state)
{
    (void)state;
    double d[2] = {-6, 8};
    tr_vec_unit_f64(d, 2);
    assert_true(fabs(d[0] + 0.6) < 1e-15 && fabs(d[1] - 0.8) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sumsq_and_unit),
        cmocka_unit_test(test_rounding_rules),
        cmocka_unit_test(test_zero_vector),
        cmocka_unit_test(test_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
