/* int8 rows (q8.h).  The AVX2 path is compiled with a target attribute, not
 * -mavx2, so the library still runs on CPUs without it; lanes32.h (first)
 * keeps any compiler from fusing the multiply and the add. */
#include "kernels/lanes32.h"

#include "kernels/q8.h"

#include <math.h>

#include "kernels/half.h"

void tr_q8_quantize(const float *v, size_t rows, size_t n, int8_t *q, float *scale)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = v + r * n;
        float m = 0;
        for (size_t c = 0; c < n; c++) m = fabsf(x[c]) > m ? fabsf(x[c]) : m;
        float s = m / 127.0f;
        scale[r] = s;
        for (size_t c = 0; c < n; c++) {
            /* |x / s| <= 127 up to one rounding of the division: clamp */
            float k = s > 0 ? nearbyintf(x[c] / s) : 0.0f;
            q[r * n + c] = (int8_t)(k > 127.0f ? 127 : k < -127.0f ? -127 : (int)k);
        }
    }
}

void tr_q8_axpy_portable(size_t n, float a, const int8_t *q, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float p = a * (float)q[i];
        y[i] = y[i] + p;
    }
}

enum { AHEAD = 4 };   /* rows prefetched ahead: the rows are scattered over megabytes */

static void prefetch_row(const int8_t *r, size_t d)
{
    for (size_t c = 0; c < d; c += 128) __builtin_prefetch(r + c);   /* the adjacent-line prefetcher brings the pair */
}

static void gather_portable(size_t n, const int32_t *idx, const float *a, const int8_t *Q, size_t d, float *y)
{
    for (size_t z = 0; z < n; z++) {
        if (z + AHEAD < n) prefetch_row(Q + (size_t)idx[z + AHEAD] * d, d);
        tr_q8_axpy_portable(d, a[z], Q + (size_t)idx[z] * d, y);
    }
}

#if TR_LANES_X86
#define TR_TARGET __attribute__((target("avx2")))

/* 8 int8 -> 8 floats, exact */
TR_TARGET static inline __m256 load8q(const int8_t *q)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q)));
}

/* Columns [c0, c0 + 64) over every row: eight sums in registers. */
TR_TARGET static void gather_block64(size_t n, const int32_t *idx, const float *a, const int8_t *Q, size_t d,
                                     size_t c0, int prefetch, float *y)
{
    __m256 s0 = _mm256_loadu_ps(y + c0), s1 = _mm256_loadu_ps(y + c0 + 8);
    __m256 s2 = _mm256_loadu_ps(y + c0 + 16), s3 = _mm256_loadu_ps(y + c0 + 24);
    __m256 s4 = _mm256_loadu_ps(y + c0 + 32), s5 = _mm256_loadu_ps(y + c0 + 40);
    __m256 s6 = _mm256_loadu_ps(y + c0 + 48), s7 = _mm256_loadu_ps(y + c0 + 56);
    for (size_t z = 0; z < n; z++) {
        if (prefetch && z + AHEAD < n) prefetch_row(Q + (size_t)idx[z + AHEAD] * d, d);
        const int8_t *q = Q + (size_t)idx[z] * d + c0;
        const __m256 va = _mm256_set1_ps(a[z]);
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(va, load8q(q)));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(va, load8q(q + 8)));
        s2 = _mm256_add_ps(s2, _mm256_mul_ps(va, load8q(q + 16)));
        s3 = _mm256_add_ps(s3, _mm256_mul_ps(va, load8q(q + 24)));
        s4 = _mm256_add_ps(s4, _mm256_mul_ps(va, load8q(q + 32)));
        s5 = _mm256_add_ps(s5, _mm256_mul_ps(va, load8q(q + 40)));
        s6 = _mm256_add_ps(s6, _mm256_mul_ps(va, load8q(q + 48)));
        s7 = _mm256_add_ps(s7, _mm256_mul_ps(va, load8q(q + 56)));
    }
    _mm256_storeu_ps(y + c0, s0); _mm256_storeu_ps(y + c0 + 8, s1);
    _mm256_storeu_ps(y + c0 + 16, s2); _mm256_storeu_ps(y + c0 + 24, s3);
    _mm256_storeu_ps(y + c0 + 32, s4); _mm256_storeu_ps(y + c0 + 40, s5);
    _mm256_storeu_ps(y + c0 + 48, s6); _mm256_storeu_ps(y + c0 + 56, s7);
}

TR_TARGET static void gather_avx2(size_t n, const int32_t *idx, const float *a, const int8_t *Q, size_t d, float *y)
{
    size_t c0 = 0;
    /* the first block's pass fetches the rows; the later passes find them in cache */
    for (; c0 + 64 <= d; c0 += 64) gather_block64(n, idx, a, Q, d, c0, c0 == 0, y);
    if (c0 < d)   /* the last d mod 64 columns, element by element in the same order */
        for (size_t z = 0; z < n; z++) {
            if (c0 == 0 && z + AHEAD < n) prefetch_row(Q + (size_t)idx[z + AHEAD] * d, d);
            tr_q8_axpy_portable(d - c0, a[z], Q + (size_t)idx[z] * d + c0, y + c0);
        }
}
#endif

void tr_q8_gather_acc(size_t n, const int32_t *idx, const float *a, const int8_t *Q, size_t d, float *y)
{
#if TR_LANES_X86
    if (tr_cpu_avx2()) { gather_avx2(n, idx, a, Q, d, y); return; }
#endif
    gather_portable(n, idx, a, Q, d, y);
}

const char *tr_q8_path(void) { return TR_LANES_X86 && tr_cpu_avx2() ? "avx2" : "portable"; }
