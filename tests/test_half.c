/* binary16 conversions and kernels (half.h): exhaustive round trips, the
 * rounding of every midpoint, a double-precision reference for the
 * conversion of random floats (and x86's F16C where the CPU has it), and
 * the kernels against double-precision sums, with the scalar and the F16C
 * paths bit-identical to each other. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "kernels/half.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_from_float(float f)
{
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}
__attribute__((target("f16c"))) static float hw_to_float(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16((short)h)));
}
#define HAVE_HW 1
#else
#define HAVE_HW 0
#endif

static int hw_ok(void) { return tr_half_f16c() != NULL; }

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* The value of a finite half, computed independently of tr_half_to_float. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return (h & 0x8000) ? -v : v;
}

static void test_to_float_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tr_half_to_float((uint16_t)h);
        if (tr_half_nonfinite((uint16_t)h)) {
            if (h & 1023) assert_true(isnan(f));
            else assert_true(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0));
        } else {
            assert_true((double)f == half_value((uint16_t)h));
            assert_true((signbit(f) != 0) == ((h & 0x8000) != 0));   /* -0 too */
        }
        /* every half round-trips, NaNs included when quiet */
        uint16_t back = tr_half_from_float(f);
        if (tr_half_nonfinite((uint16_t)h) && (h & 1023)) assert_int_equal(back, h | 0x200);
        else assert_int_equal(back, h);
#if HAVE_HW
        if (hw_ok()) assert_int_equal(bits(f) | (isnan(f) ? 0x400000u : 0), bits(hw_to_float((uint16_t)h)));
#endif
    }
}

/* Midpoints between neighbouring halves round to the even one; a float
 * ulp either side goes to the nearer one. */
static void test_rounding_midpoints(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) {   /* every positive finite pair (h, h+1) */
        double lo = half_value((uint16_t)h), hi = half_value((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2);
        assert_true((double)mid == (lo + hi) / 2);   /* representable in float */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(tr_half_from_float(mid), even);
        assert_int_equal(tr_half_from_float(-mid), even | 0x8000);
        assert_int_equal(tr_half_from_float(nextafterf(mid, 0)), h);
        assert_int_equal(tr_half_from_float(nextafterf(mid, INFINITY)), h + 1);
    }
    /* the edges */
    assert_int_equal(tr_half_from_float(65504.0f), 0x7bff);
    assert_int_equal(tr_half_from_float(nextafterf(65520.0f, 0)), 0x7bff);
    assert_int_equal(tr_half_from_float(65520.0f), 0x7c00);   /* the tie goes to "even" infinity */
    assert_int_equal(tr_half_from_float(1e30f), 0x7c00);
    assert_int_equal(tr_half_from_float(-INFINITY), 0xfc00);
    assert_true(tr_half_nonfinite(tr_half_from_float(NAN)));
    assert_true(tr_half_from_float(NAN) & 0x3ff);
    assert_int_equal(tr_half_from_float(ldexpf(1, -25)), 0);   /* tie between 0 and the least subnormal */
    assert_int_equal(tr_half_from_float(nextafterf(ldexpf(1, -25), 1)), 1);
    assert_int_equal(tr_half_from_float(ldexpf(3, -25)), 2);   /* 1.5 ulps: tie, to even */
    assert_int_equal(tr_half_from_float(1e-30f), 0);
    assert_int_equal(tr_half_from_float(-1e-30f), 0x8000);
    assert_int_equal(tr_half_from_float(-0.0f), 0x8000);
    assert_int_equal(tr_half_from_float(ldexpf(1, -14)), 0x0400);   /* least normal */
    assert_int_equal(tr_half_from_float(nextafterf(ldexpf(1, -14), 0)), 0x0400);   /* rounds up into it */
    assert_int_equal(tr_half_from_float(1.0f), 0x3c00);
    assert_int_equal(tr_half_from_float(1.0f + ldexpf(1, -11)), 0x3c00);          /* tie to even */
    assert_int_equal(tr_half_from_float(1.0f + 3 * ldexpf(1, -11)), 0x3c02);      /* tie to even, up */
}

/* Random floats of every magnitude: the nearest half by a double search,
 * ties to even; and x86's own conversion when the CPU has F16C. */
static void test_random_floats(void **state)
{
    (void)state;
    tr_rng r;
    tr_rng_seed(&r, 16);
    int n = tu_slow_mode() ? 20000 : 300000;
    for (int k = 0; k < n; k++) {
        uint32_t u = (uint32_t)tr_rng_next(&r);
        if (k & 1) u = (u & 0x80000000u) | ((u & 0x7fffffu) + ((uint32_t)(100 + tr_rng_below(&r, 45)) << 23));
        float f = from_bits(u);
        uint16_t h = tr_half_from_float(f);
#if HAVE_HW
        if (hw_ok()) assert_int_equal(h, hw_from_float(f));
#endif
        if (isnan(f)) { assert_true(tr_half_nonfinite(h) && (h & 0x3ff)); continue; }
        double a = fabs((double)f);
        assert_int_equal(h >> 15, bits(f) >> 31);
        uint16_t m = h & 0x7fff;
        if (a >= 65520.0) { assert_int_equal(m, 0x7c00); continue; }
        assert_true(m <= 0x7bff);
        double v = half_value(m), err = fabs(v - a);
        if (m > 0) assert_true(err <= fabs(half_value((uint16_t)(m - 1)) - a));
        if (m < 0x7bff) {
            double e2 = fabs(half_value((uint16_t)(m + 1)) - a);
            assert_true(err < e2 || (err == e2 && !(m & 1)));
        }
    }
}

/* Random halves of an embedding's magnitude, the odd one zero or subnormal. */
static void fill(tr_rng *r, uint16_t *h, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = (float)(tr_rng_normal(r) * 0.1);
        if (tr_rng_below(r, 50) == 0) v = tr_rng_below(r, 2) ? 0.0f : (float)(tr_rng_normal(r) * 1e-6);
        h[i] = tr_half_from_float(v);
        x[i] = (float)(tr_rng_normal(r) * 0.1);
    }
}

static void check_kernels(const tr_half_ops *o)
{
    enum { NMAX = 300 };
    tr_rng r;
    tr_rng_seed(&r, 5);
    uint16_t h[NMAX * 3];
    float x[NMAX * 3], y[NMAX], y0[NMAX], g[3];
    static const size_t lens[] = {0, 1, 3, 7, 8, 9, 15, 16, 31, 32, 33, 40, 63, 64, 65, 100, 255, 256, 257, 300};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        size_t n = lens[li];
        fill(&r, h, x, NMAX * 3);
        /* axpy: element-wise, so each element is a*h rounded, plus y rounded */
        for (size_t i = 0; i < n; i++) y0[i] = y[i] = x[NMAX + i];
        float a = (float)tr_rng_normal(&r);
        o->axpy(n, a, h, y);
        for (size_t i = 0; i < n; i++) {
            float p = a * tr_half_to_float(h[i]);
            assert_true(bits(y[i]) == bits(y0[i] + p));
            assert_float_equal(y[i], (double)y0[i] + (double)a * half_value(h[i]), 1e-6);
        }
        /* dot and gemv against a double sum, to float accumulation error */
        for (size_t row = 0; row < 3; row++) {
            double ref = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                ref += half_value(h[row * n + i]) * x[i];
                mag += fabs(half_value(h[row * n + i]) * x[i]);
            }
            float d = o->dot(n, h + row * n, x);
            assert_true(fabs(d - ref) <= 1e-6 * mag + 1e-30);
            g[row] = d;
        }
        float gy[3] = {-1, -1, -1};
        o->gemv(3, n, h, x, gy);
        assert_memory_equal(gy, g, sizeof g);
    }
}

static void test_kernels_scalar(void **state)
{
    (void)state;
    check_kernels(tr_half_scalar());
    assert_string_equal(tr_half_scalar()->name, "scalar");
}

static void test_kernels_f16c(void **state)
{
    (void)state;
    const tr_half_ops *o = tr_half_f16c();
    if (!o) { assert_ptr_equal(tr_half_best(), tr_half_scalar()); skip(); }
    assert_ptr_equal(tr_half_best(), o);
    check_kernels(o);
}

/* Both paths give the same bits on the same input, so a router embeds the
 * same way on any machine. */
static void test_paths_agree(void **state)
{
    (void)state;
    const tr_half_ops *f = tr_half_f16c(), *s = tr_half_scalar();
    if (!f) skip();
    tr_rng r;
    tr_rng_seed(&r, 9);
    enum { N = 1100 };
    static uint16_t h[N * 4];
    static float x[N], y1[N], y2[N], g1[4], g2[4];
    for (size_t n = 0; n <= N; n += (n < 70 ? 1 : 97)) {
        fill(&r, h, x, n);
        for (size_t i = n; i < 4 * n; i++) h[i] = tr_half_from_float((float)tr_rng_normal(&r));
        float a = (float)tr_rng_normal(&r);
        for (size_t i = 0; i < n; i++) y1[i] = y2[i] = (float)tr_rng_normal(&r);
        f->axpy(n, a, h, y1);
        s->axpy(n, a, h, y2);
        assert_memory_equal(y1, y2, n * sizeof *y1);
        float d1 = f->dot(n, h, x), d2 = s->dot(n, h, x);
        assert_true(bits(d1) == bits(d2));
        f->gemv(4, n, h, x, g1);
        s->gemv(4, n, h, x, g2);
        assert_memory_equal(g1, g2, sizeof g1);
    }
}

static void test_bulk(void **state)
{
    (void)state;
    float x[5] = {1.0f, -2.5f, 1e-7f, 70000.0f, 0.1f}, y[5];
    uint16_t h[5];
    tr_half_from_floats(x, 5, h);
    tr_half_to_floats(h, 5, y);
    assert_int_equal(h[0], 0x3c00);
    assert_true(y[1] == -2.5f);
    assert_true(y[2] == (float)ldexp(2, -24));   /* 1e-7 is 1.68 ulps of 2^-24 */
    assert_true(isinf(y[3]));
    assert_true(fabsf(y[4] - 0.1f) <= 0.1f * 0x1p-11f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_float_exhaustive),
        cmocka_unit_test(test_rounding_midpoints),
        cmocka_unit_test(test_random_floats),
        cmocka_unit_test(test_kernels_scalar),
        cmocka_unit_test(test_kernels_f16c),
        cmocka_unit_test(test_paths_agree),
        cmocka_unit_test(test_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
