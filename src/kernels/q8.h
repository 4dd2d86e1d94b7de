/* Rows of int8 with one float scale each: the embedder's projection V in
 * embedder format 5.  A decision reads a few hundred scattered rows of V
 * from memory; as int8 a 256-wide row is 4 cache lines instead of half's 8,
 * and the rows are what a decision waits on (bench/RESULTS.md §3).  Row r
 * stands for scale[r] * q[r][c]; quantising rounds v / scale to the nearest
 * integer (ties to even) with scale = max|v| / 127, so every row uses the
 * full range and no value is clipped.
 *
 * The sum of rows has an AVX2 path and a portable one, bit-identical on any
 * input: y[i] + a * q[i] with a separate multiply and add, element by
 * element and row after row, so a router embeds the same on every machine.  Stateless apart from the
 * one-time CPU probe; any number of threads. */
#ifndef TR_Q8_H
#define TR_Q8_H

#include <stddef.h>
#include <stdint.h>

/* Quantise rows x n floats (row-major, finite) into q (rows x n) and
 * scale (rows); an all-zero row gets scale 0. */
void tr_q8_quantize(const float *v, size_t rows, size_t n, int8_t *q, float *scale);

/* y[i] = y[i] + a * q[i], i < n, portable: one row of the sum below. */
void tr_q8_axpy_portable(size_t n, float a, const int8_t *q, float *y);
/* y[c] = y[c] + a[z] * q[idx[z]][c] for z = 0 .. n-1 in that order, c < d
 * (Q row-major, rows of d): bit-identical to n calls of tr_q8_axpy_portable, but on
 * AVX2 the sums of 64 columns at a time stay in registers over all the
 * rows, so y is not loaded and stored once per row.  The rows a few z
 * ahead are prefetched. */
void tr_q8_gather_acc(size_t n, const int32_t *idx, const float *a, const int8_t *Q, size_t d, float *y);
/* "avx2" or "portable": the path tr_q8_gather_acc takes here. */
const char *tr_q8_path(void);

#endif
