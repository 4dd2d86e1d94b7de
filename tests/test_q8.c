/* int8 rows (q8.h): quantising keeps every value within half a step of its
 * row's scale and uses the full range, an all-zero row stays zero, the
 * portable axpy is a separate multiply and add per element, and the
 * gathered sum of rows (AVX2 where the CPU has it) is the rows' axpys in
 * order, bit for bit, on every width's tail. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "kernels/q8.h"

static float uniform(tr_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)tr_rng_below(r, 1u << 24) / (float)(1u << 24);
}

static void test_quantize(void **state)
{
    (void)state;
    enum { ROWS = 64, N = 77 };
    float v[ROWS * N], scale[ROWS];
    int8_t q[ROWS * N];
    tr_rng r;
    tr_rng_seed(&r, 8);
    for (size_t i = 0; i < ROWS * N; i++) v[i] = uniform(&r, -1, 1) * ldexpf(1.0f, (int)(i / N % 20) - 10);
    for (size_t c = 0; c < N; c++) v[3 * N + c] = 0;            /* an all-zero row */
    for (size_t c = 0; c < N; c++) v[5 * N + c] = c == 7 ? -2.5f : 0.001f * (float)c;   /* a negative maximum */
    tr_q8_quantize(v, ROWS, N, q, scale);
    for (size_t row = 0; row < ROWS; row++) {
        float m = 0;
        int reach = 0;
        for (size_t c = 0; c < N; c++) m = fmaxf(m, fabsf(v[row * N + c]));
        assert_true(scale[row] == m / 127.0f);
        for (size_t c = 0; c < N; c++) {
            int k = q[row * N + c];
            assert_true(k >= -127 && k <= 127);
            reach |= k == 127 || k == -127;
            /* within half a step, up to the rounding of the division */
            double err = fabs((double)v[row * N + c] - (double)scale[row] * k);
            assert_true(err <= 0.5001 * (double)scale[row]);
        }
        if (row == 3) {
            assert_true(scale[row] == 0.0f);
            for (size_t c = 0; c < N; c++) assert_int_equal(q[row * N + c], 0);
        } else {
            assert_true(reach);   /* the largest value uses the full range */
        }
    }
    assert_int_equal(q[5 * N + 7], -127);
    assert_int_equal(q[5 * N + 0], 0);
}

static void test_axpy(void **state)
{
    (void)state;
    print_message("tr_q8_gather_acc path: %s\n", tr_q8_path());
    tr_rng r;
    tr_rng_seed(&r, 9);
    int8_t q[300];
    float y0[300] = {0}, ya[300];
    for (size_t n = 0; n <= 300; n += n < 40 ? 1 : 37) {
        for (size_t i = 0; i < n; i++) {
            q[i] = (int8_t)((int)tr_rng_below(&r, 255) - 127);
            y0[i] = uniform(&r, -3, 3);
        }
        float a = uniform(&r, -2, 2);
        memcpy(ya, y0, sizeof y0);
        if (n < 300) ya[n] = 42.0f;   /* past the end: untouched */
        tr_q8_axpy_portable(n, a, q, ya);
        for (size_t i = 0; i < n; i++) {
            volatile float p = a * (float)q[i];   /* one rounding each, never fused */
            volatile float want = y0[i] + p;
            assert_true(ya[i] == want);
        }
        if (n < 300) assert_true(ya[n] == 42.0f);
    }
}

/* The gathered sum of rows equals one axpy per row in order, bit for bit,
 * for widths with and without a tail past the 64-column blocks. */
static void test_gather_acc(void **state)
{
    (void)state;
    tr_rng r;
    tr_rng_seed(&r, 10);
    enum { ROWS = 300, DMAX = 300 };
    static int8_t Q[ROWS * DMAX];
    for (size_t i = 0; i < sizeof Q; i++) Q[i] = (int8_t)((int)tr_rng_below(&r, 255) - 127);
    const size_t dims[] = {1, 8, 63, 64, 100, 128, 256, 257, 300};
    const size_t ns[] = {0, 1, 5, 200};
    int32_t idx[200];
    float a[200], y0[DMAX], want[DMAX], got[DMAX];
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
            size_t d = dims[di], n = ns[ni];
            for (size_t z = 0; z < n; z++) { idx[z] = (int32_t)tr_rng_below(&r, ROWS); a[z] = uniform(&r, -1, 1); }
            for (size_t c = 0; c < d; c++) y0[c] = uniform(&r, -1, 1);
            memcpy(want, y0, d * sizeof *y0);
            for (size_t z = 0; z < n; z++) tr_q8_axpy_portable(d, a[z], Q + (size_t)idx[z] * d, want);
            memcpy(got, y0, d * sizeof *y0);
            tr_q8_gather_acc(n, idx, a, Q, d, got);
            assert_memory_equal(got, want, d * sizeof *got);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_axpy),
        cmocka_unit_test(test_gather_acc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
