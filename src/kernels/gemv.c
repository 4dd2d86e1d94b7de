/* Fixed-order matrix-vector products (gemv.h). */
#include "kernels/lanes32.h"   /* first: no fused multiply-add but tr_gemv_t_acc's explicit ones */

#include "kernels/gemv.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/half.h"

#define GEMV_X86 TR_LANES_X86

/* ------------------------------------------------------------ portable */

static float float_elem(const void *a, size_t i) { return ((const float *)a)[i]; }

void tr_gemv_portable(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) y[r] = tr_lanes32_dot(n, A + r * lda, x, float_elem);
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

TR_AVX2 static inline __m256 float_load8(const void *row, size_t i, size_t cnt)
{
    const float *a = (const float *)row + i;
    unsigned char buf[32];
    return _mm256_loadu_ps(cnt == 8 ? a : (const float *)tr_lanes_pad8(a, cnt, sizeof *a, buf));
}

TR_AVX2 static void gemv_avx2(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) y[r] = tr_lanes32_dot_avx(n, A + r * lda, x, float_load8);
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

static int use_avx2(void) { return GEMV_X86 && tr_cpu_avx2(); }

/* FMA on top of AVX2 (CPUID leaf 1, ECX bit 12), probed once; a race
 * stores the same value. */
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
