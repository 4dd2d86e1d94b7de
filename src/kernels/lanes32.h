/* The dot product half.c and gemv.c share, over rows of halves and of
 * floats: its 32 accumulation lanes, in scalar and AVX2 form, and the build
 * settings under which the two forms stay bit-identical to each other.  Include it first in
 * the kernel's .c file: from there on, no multiply and add is fused unless
 * written as one (the pragma below), whatever -ffp-contract the build uses.
 *
 * The lanes: element i of a dot goes to lane i mod 32 while whole blocks
 * of 32 last; after them, blocks of 8 go to lanes 0-7 and the last n mod 8
 * elements to lanes 0.. .  The sum is then 32 -> 16 -> 8 -> 4 -> 2 -> 1,
 * adding lane j + w into lane j. */
#ifndef TR_LANES32_H
#define TR_LANES32_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TR_LANES_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define TR_LANES_X86 0
#endif

/* The tree over acc[32] (overwritten). */
static inline float tr_lanes32_sum(float acc[32])
{
    for (size_t w = 16; w >= 1; w /= 2)
        for (size_t j = 0; j < w; j++) acc[j] = acc[j] + acc[j + w];
    return acc[0];
}

/* Element i of a row, as a float: the row's storage type hides behind it. */
typedef float (*tr_lanes_elem)(const void *row, size_t i);

/* sum_i elem(a, i) x[i], i < n, in the lanes.  Always inlined, and elem a
 * constant at every call, so that no call is left per element. */
static inline __attribute__((always_inline)) float tr_lanes32_dot(size_t n, const void *a, const float *x,
                                                                  tr_lanes_elem elem)
{
    float acc[32] = {0};
    size_t n32 = n & ~(size_t)31, n8 = n & ~(size_t)7, i = 0;
    for (; i < n32; i += 32)
        for (size_t j = 0; j < 32; j++) {
            float p = elem(a, i + j) * x[i + j];
            acc[j] = acc[j] + p;
        }
    for (; i < n8; i += 8)
        for (size_t j = 0; j < 8; j++) {
            float p = elem(a, i + j) * x[i + j];
            acc[j] = acc[j] + p;
        }
    for (; i < n; i++) {
        float p = elem(a, i) * x[i];
        acc[i - n8] = acc[i - n8] + p;
    }
    return tr_lanes32_sum(acc);
}

#if TR_LANES_X86
/* The same tree over lanes 0-7, 8-15, 16-23 and 24-31 held in a0..a3. */
__attribute__((target("avx2"))) static inline float tr_lanes32_sum_avx(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
    return _mm_cvtss_f32(q);
}

/* Elements i .. i+cnt-1 of a row as floats, the lanes past cnt zero
 * (cnt <= 8; a zero adds +0, which changes no sum). */
typedef __m256 (*tr_lanes_load8)(const void *row, size_t i, size_t cnt);

/* A row's last cnt (< 8) elements of size bytes, zero-padded to 8, in buf:
 * what a load8 reads for its tail. */
static inline const void *tr_lanes_pad8(const void *src, size_t cnt, size_t size, unsigned char buf[32])
{
    memset(buf, 0, 32);
    memcpy(buf, src, cnt * size);
    return buf;
}

/* tr_lanes32_dot in AVX2, bit for bit; load a constant at every call. */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) float
tr_lanes32_dot_avx(size_t n, const void *a, const float *x, tr_lanes_load8 load)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(load(a, i, 8), _mm256_loadu_ps(x + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(load(a, i + 8, 8), _mm256_loadu_ps(x + i + 8)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(load(a, i + 16, 8), _mm256_loadu_ps(x + i + 16)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(load(a, i + 24, 8), _mm256_loadu_ps(x + i + 24)));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_mul_ps(load(a, i, 8), _mm256_loadu_ps(x + i)));
    if (i < n) {
        float tx[8] = {0};
        memcpy(tx, x + i, (n - i) * sizeof *tx);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(load(a, i, n - i), _mm256_loadu_ps(tx)));
    }
    return tr_lanes32_sum_avx(a0, a1, a2, a3);
}
#endif

#endif
