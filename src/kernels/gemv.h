/* Matrix-vector products on the routing path, in a fixed order of
 * summation, so that a decision is the same bits whatever OpenBLAS
 * threading or CPU kernel the caller's process has.  A gateway that links
 * the library and leaves OpenBLAS threaded made every decision wake
 * OpenBLAS's threads (about +10 µs and a second busy core per decision),
 * and its decisions could differ from the server's in the last bit.
 *
 * tr_gemv sums each row as half.h's dot does: 32 lanes (element j in lane
 * j mod 32; after the last whole block of 32, blocks of 8 in lanes 0-7 and
 * the last n mod 8 elements in lanes 0..), reduced 32 -> 16 -> 8 -> 4 -> 2
 * -> 1, never fusing a multiply and an add.  tr_gemv_t_acc adds the
 * weighted rows in row order, each with a fused multiply-add (fmaf in the
 * portable path; one rounding either way).  Each has a vector path, taken
 * when the CPU has AVX2 (and FMA for tr_gemv_t_acc), and a portable one,
 * and the two agree bit for bit (tests/test_gemv.c).
 * Stateless apart from a one-time CPU probe; any number of threads. */
#ifndef TR_GEMV_H
#define TR_GEMV_H

#include <stddef.h>

/* y[r] = sum_j A[r * lda + j] x[j], r < rows, j < n. */
void tr_gemv(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y);
/* acc[j] += sum_r w[r] A[r * lda + j], j < n, r < rows, in row order (a
 * row of zero weight adds zeros, which change no sum but a -0). */
void tr_gemv_t_acc(size_t rows, size_t n, const float *A, size_t lda, const float *w, float *acc);
/* The same, always on the portable path; for tests and comparisons. */
void tr_gemv_portable(size_t rows, size_t n, const float *A, size_t lda, const float *x, float *y);
void tr_gemv_t_acc_portable(size_t rows, size_t n, const float *A, size_t lda, const float *w, float *acc);
/* "avx2+fma", "avx2" (tr_gemv only) or "portable": the paths taken here. */
const char *tr_gemv_path(void);

#endif
