/* Fixed-order matrix-vector products (gemv.h). */
#include "lanes32.h"   /* first: no fused multiply-add but tr_gemv_t_acc's explicit ones */

#include "gemv.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "half.h"

#define GEMV_X86 TR_LANES_X86

/* ------------------------------------------------------------ portable */

static float dot_portable(size_t n, const float *a, const float *x)
{
    float acc[32] = {0};
    size_t n32 = n & ~(size_t)31, n8 = n & ~(size_t)7, i = 0;
    for (; i < n32; i += 32)
        for (size_t j = 0; j < 32; j++) {
            float p = a[i + j] * x[i + j];
            acc[j] = acc[j] + p;
        }
    for (; i < n8; i += 8)
        for (size_t j = 0; j < 8; j++) {
            float p = a[i + j] * x[i + j];
            acc[j] = acc[j] + p;
        }
    for (; i < n; i++) {
        float p = a[i] * x[i];
        acc[i - n8] = acc[i - n8] + p;
    }
    return tr_lanes32_sum(acc);
}

void tr_gemv_portable(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) y[r] = dot_portable(n, A + r * lda, x);
}

/* Fused, as the vector path is: fmaf rounds once, as FMA instructions do. */
static void t_acc_cols(size_t rows, size_t j0, size_t j1, const float *A, size_t lda, const float *w, float *acc)
{
    for (size_t r = 0; r < rows; r++) {
        const float *a = A + r * lda;
        for (size_t j = j0; j < j1; j++) acc[j] = fmaf(w[r], a[j], acc[j]);
    }
}

void tr_gemv_t_acc_portable(size_t rows, size_t n, const float *A, size_t lda, const float *w, float *acc)
{
    t_acc_cols(rows, 0, n, A, lda, w, acc);
}

/* ---------------------------------------------------------------- AVX2 */

#if GEMV_X86
#define TR_AVX2 __attribute__((target("avx2")))

TR_AVX2 static float dot_avx2(size_t n, const float *a, const float *x)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(x + i + 16)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(x + i + 24)));
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i)));
    if (i < n) {   /* zero-padded: the extra lanes add +0, which changes no sum */
        float ta[8] = {0}, tx[8] = {0};
        memcpy(ta, a + i, (n - i) * sizeof *ta);
        memcpy(tx, x + i, (n - i) * sizeof *tx);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(ta), _mm256_loadu_ps(tx)));
    }
    return tr_lanes32_sum_avx(a0, a1, a2, a3);
}

TR_AVX2 static void gemv_avx2(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) y[r] = dot_avx2(n, A + r * lda, x);
}

/* A block of nv * 8 columns (the last nj of them real) whose sums stay in
 * registers over all the rows: one fused multiply-add per 8 columns and
 * row, and no branch on the weight (a zero weight adds a zero, which
 * changes no sum).  nv is a constant at each call, so the loops unroll;
 * the last vector's lanes past nj are masked off, never loaded or stored. */
#define TR_FMA __attribute__((target("avx2,fma")))

TR_FMA static inline __attribute__((always_inline)) void t_acc_block(size_t rows, const float *A, size_t lda,
                                                                        const float *w, float *acc, size_t nj,
                                                                        const size_t nv)
{
    __m256 s[8];
    const size_t last = nv - 1;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(nj - 8 * last)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _Pragma("GCC unroll 8")
    for (size_t q = 0; q < last; q++) s[q] = _mm256_loadu_ps(acc + 8 * q);
    s[last] = _mm256_maskload_ps(acc + 8 * last, mask);
    for (size_t r = 0; r < rows; r++) {
        const __m256 vw = _mm256_set1_ps(w[r]);
        const float *a = A + r * lda;
        _Pragma("GCC unroll 8")
        for (size_t q = 0; q < last; q++) s[q] = _mm256_fmadd_ps(vw, _mm256_loadu_ps(a + 8 * q), s[q]);
        s[last] = _mm256_fmadd_ps(vw, _mm256_maskload_ps(a + 8 * last, mask), s[last]);
    }
    _Pragma("GCC unroll 8")
    for (size_t q = 0; q < last; q++) _mm256_storeu_ps(acc + 8 * q, s[q]);
    _mm256_maskstore_ps(acc + 8 * last, mask, s[last]);
}

TR_FMA static void t_acc_avx2(size_t rows, size_t n, const float *A, size_t lda, const float *w, float *acc)
{
    for (size_t j0 = 0; j0 < n; j0 += 64) {
        size_t nj = n - j0 < 64 ? n - j0 : 64;
        switch ((nj + 7) / 8) {   /* vectors in the block: 1 .. 8 */
        case 1: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 1); break;
        case 2: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 2); break;
        case 3: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 3); break;
        case 4: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 4); break;
        case 5: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 5); break;
        case 6: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 6); break;
        case 7: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 7); break;
        default: t_acc_block(rows, A + j0, lda, w, acc + j0, nj, 8); break;
        }
    }
}
#endif

/* 1: AVX2 (half.h's F16C path needs it and the OS saving YMM state, and
 * checks both), 0: portable.  Probed once; a race stores the same value. */
static atomic_int avx2_state = -1;

static int use_avx2(void)
{
    int s = atomic_load_explicit(&avx2_state, memory_order_relaxed);
    if (s < 0) {
        s = GEMV_X86 && tr_half_f16c() != NULL;
        atomic_store_explicit(&avx2_state, s, memory_order_relaxed);
    }
    return s;
}

/* The same for FMA on top (CPUID leaf 1, ECX bit 12). */
static atomic_int fma_state = -1;

static int use_fma(void)
{
    int s = atomic_load_explicit(&fma_state, memory_order_relaxed);
    if (s < 0) {
        s = 0;
#if GEMV_X86
        unsigned a, b, c, d;
        s = use_avx2() && __get_cpuid(1, &a, &b, &c, &d) && (c >> 12 & 1);
#endif
        atomic_store_explicit(&fma_state, s, memory_order_relaxed);
    }
    return s;
}

const char *tr_gemv_path(void) { return use_fma() ? "avx2+fma" : use_avx2() ? "avx2" : "portable"; }

void tr_gemv(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y)
{
#if GEMV_X86
    if (use_avx2()) { gemv_avx2(rows, n, A, lda, x, y); return; }
#endif
    tr_gemv_portable(rows, n, A, lda, x, y);
}

void tr_gemv_t_acc(size_t rows, size_t n, const float *A, size_t lda, const float *w, float *acc)
{
#if GEMV_X86
    if (use_fma()) { t_acc_avx2(rows, n, A, lda, w, acc); return; }
#endif
    t_acc_cols(rows, 0, n, A, lda, w, acc);
}
