/* binary16 conversions and kernels (half.h).  The x86-64 path is compiled
 * with a target attribute, not -mf16c, so the library still runs on CPUs
 * without F16C/AVX2: tr_half_best() asks the CPU once and falls back to
 * the scalar path.  The Makefile builds with -O2 and no -march, so the
 * vector code is written with intrinsics rather than left to the
 * auto-vectoriser.  Neither path may fuse a multiply and an add: the
 * results must agree bit for bit (half.h). */
#include "kernels/lanes32.h"   /* first: no fused multiply-add from here on */

#include "kernels/half.h"

#include <stdatomic.h>
#include <string.h>

#define TR_HALF_X86 TR_LANES_X86

/* ---------------------------------------------------------- conversions */

uint16_t tr_half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t s = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u)   /* infinity, or NaN kept quiet with its top payload bits */
        return (uint16_t)(s | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00u);   /* >= 65520: past the largest half, 65504 */
    if (a >= 0x38800000u) {   /* >= 2^-14: a normal half */
        uint32_t r = a - ((127u - 15u) << 23);   /* rebias the exponent */
        r += 0xfffu + ((r >> 13) & 1u);          /* round 23 -> 10 mantissa bits, ties to even */
        return (uint16_t)(s | (r >> 13));        /* a carry moves into the exponent, as it should */
    }
    /* a subnormal half (or zero): round(|f| * 2^24) ulps of 2^-24 */
    uint32_t e = a >> 23;
    if (e < 102) return s;   /* below 2^-25: rounds to zero */
    uint32_t m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;   /* 14 .. 24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1u))) q++;   /* q = 0x400 is the least normal: right */
    return (uint16_t)(s | q);
}

float tr_half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) {
        u = s | 0x7f800000u | (m << 13);
    } else if (e) {
        u = s | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        u = s;
    } else {   /* subnormal: m 2^-24, normalised */
        e = 113;
        while (!(m & 0x400u)) { m <<= 1; e--; }
        u = s | (e << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void tr_half_from_floats(const float *x, size_t n, uint16_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = tr_half_from_float(x[i]);
}

void tr_half_to_floats(const uint16_t *h, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = tr_half_to_float(h[i]);
}

/* ------------------------------------------------------ scalar kernels */

static void axpy_scalar(size_t n, float a, const uint16_t *h, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float p = a * tr_half_to_float(h[i]);
        y[i] = y[i] + p;
    }
}

static float half_elem(const void *h, size_t i) { return tr_half_to_float(((const uint16_t *)h)[i]); }

static float dot_scalar(size_t n, const uint16_t *h, const float *x) { return tr_lanes32_dot(n, h, x, half_elem); }

static void gemv_scalar(size_t rows, size_t n, const uint16_t *H, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) y[r] = dot_scalar(n, H + r * n, x);
}

static const tr_half_ops scalar_ops = {"scalar", axpy_scalar, dot_scalar, gemv_scalar};

const tr_half_ops *tr_half_scalar(void) { return &scalar_ops; }

/* ------------------------------------------------- F16C + AVX2 kernels */

#if TR_HALF_X86
/* No "fma" in the target: without FMA instructions no compiler can fuse a
 * multiply and an add, which keeps these kernels bit-identical to the
 * scalar ones under any -ffp-contract. */
#define TR_TARGET __attribute__((target("avx2,f16c")))

TR_TARGET static inline __m256 load8h(const uint16_t *h)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)h));
}

TR_TARGET static void axpy_f16c(size_t n, float a, const uint16_t *h, float *y)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 p0 = _mm256_mul_ps(va, load8h(h + i)), p1 = _mm256_mul_ps(va, load8h(h + i + 8));
        __m256 p2 = _mm256_mul_ps(va, load8h(h + i + 16)), p3 = _mm256_mul_ps(va, load8h(h + i + 24));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), p0));
        _mm256_storeu_ps(y + i + 8, _mm256_add_ps(_mm256_loadu_ps(y + i + 8), p1));
        _mm256_storeu_ps(y + i + 16, _mm256_add_ps(_mm256_loadu_ps(y + i + 16), p2));
        _mm256_storeu_ps(y + i + 24, _mm256_add_ps(_mm256_loadu_ps(y + i + 24), p3));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, load8h(h + i))));
    for (; i < n; i++) {
        float p = a * tr_half_to_float(h[i]);
        y[i] = y[i] + p;
    }
}

TR_TARGET static inline __m256 half_load8(const void *row, size_t i, size_t cnt)
{
    const uint16_t *h = (const uint16_t *)row + i;
    unsigned char buf[32];
    return load8h(cnt == 8 ? h : (const uint16_t *)tr_lanes_pad8(h, cnt, sizeof *h, buf));
}

TR_TARGET static float dot_f16c(size_t n, const uint16_t *h, const float *x)
{
    return tr_lanes32_dot_avx(n, h, x, half_load8);
}

/* Two rows at a time when n is whole blocks of 32 (the kNN store's rows):
 * each x block is loaded once for both, and the two rows' eight chains of
 * adds run side by side.  Each row keeps dot_f16c's lanes and order, so
 * the sums are the same bits. */
TR_TARGET static void gemv_f16c(size_t rows, size_t n, const uint16_t *H, const float *x, float *y)
{
    size_t r = 0;
    if (n % 32 == 0)
        for (; r + 2 <= rows; r += 2) {
            const uint16_t *h0 = H + r * n, *h1 = h0 + n;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (size_t i = 0; i < n; i += 32) {
                __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
                __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(load8h(h0 + i), x0));
                b0 = _mm256_add_ps(b0, _mm256_mul_ps(load8h(h1 + i), x0));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(load8h(h0 + i + 8), x1));
                b1 = _mm256_add_ps(b1, _mm256_mul_ps(load8h(h1 + i + 8), x1));
                a2 = _mm256_add_ps(a2, _mm256_mul_ps(load8h(h0 + i + 16), x2));
                b2 = _mm256_add_ps(b2, _mm256_mul_ps(load8h(h1 + i + 16), x2));
                a3 = _mm256_add_ps(a3, _mm256_mul_ps(load8h(h0 + i + 24), x3));
                b3 = _mm256_add_ps(b3, _mm256_mul_ps(load8h(h1 + i + 24), x3));
            }
            y[r] = tr_lanes32_sum_avx(a0, a1, a2, a3);
            y[r + 1] = tr_lanes32_sum_avx(b0, b1, b2, b3);
        }
    for (; r < rows; r++) y[r] = dot_f16c(n, H + r * n, x);
}

static const tr_half_ops f16c_ops = {"f16c", axpy_f16c, dot_f16c, gemv_f16c};

/* CPUID and XGETBV by hand: clang 14's __builtin_cpu_supports knows no
 * "f16c".  AVX2 (leaf 7, EBX bit 5), F16C (leaf 1, ECX bit 29), and the OS
 * saving the YMM registers (OSXSAVE, ECX bit 27; XCR0 bits 1 and 2). */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c >> 29 & 1) || !(c >> 27 & 1)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return b >> 5 & 1;
}

const tr_half_ops *tr_half_f16c(void) { return cpu_has_f16c() ? &f16c_ops : NULL; }
#else
const tr_half_ops *tr_half_f16c(void) { return NULL; }
#endif

/* Probed on first use; every thread that races here stores the same
 * pointer, so a relaxed race is harmless and no lock is needed. */
static _Atomic(const tr_half_ops *) best;

static atomic_int avx2_state = -1;   /* -1: not probed yet */

int tr_cpu_avx2(void)
{
    int s = atomic_load_explicit(&avx2_state, memory_order_relaxed);
    if (s < 0) {
        s = tr_half_f16c() != NULL;
        atomic_store_explicit(&avx2_state, s, memory_order_relaxed);
    }
    return s;
}

const tr_half_ops *tr_half_best(void)
{
    const tr_half_ops *o = atomic_load_explicit(&best, memory_order_acquire);
    if (o) return o;
    o = tr_half_f16c();
    if (!o) o = &scalar_ops;
    atomic_store_explicit(&best, o, memory_order_release);
    return o;
}
