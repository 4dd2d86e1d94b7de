/* int8 rows (q8.h).  The AVX2 path is compiled with a target attribute, not
 * -mavx2, so the library still runs on CPUs without it; lanes32.h (first)
 * keeps any compiler from fusing the multiply and the add. */
#include "lanes32.h"

#include "q8.h"

#include <math.h>

#include "half.h"

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

#if TR_LANES_X86
#define TR_TARGET __attribute__((target("avx2")))

/* 16 int8 -> two vectors of 8 floats (exact) */
TR_TARGET static void axpy_avx2(size_t n, float a, const int8_t *q, float *y)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(q + i));
        __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
        __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, f0)));
        _mm256_storeu_ps(y + i + 8, _mm256_add_ps(_mm256_loadu_ps(y + i + 8), _mm256_mul_ps(va, f1)));
    }
    tr_q8_axpy_portable(n - i, a, q + i, y + i);
}
#endif

void tr_q8_axpy(size_t n, float a, const int8_t *q, float *y)
{
#if TR_LANES_X86
    if (tr_cpu_avx2()) { axpy_avx2(n, a, q, y); return; }
#endif
    tr_q8_axpy_portable(n, a, q, y);
}

const char *tr_q8_path(void) { return TR_LANES_X86 && tr_cpu_avx2() ? "avx2" : "portable"; }
