/* What half.c's and gemv.c's dot products share: the 32 accumulation
 * lanes' reduction tree, in scalar and AVX2 form, and the build settings
 * under which both stay bit-identical to each other.  Include it first in
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
#endif

#endif
