/* IEEE-754 binary16 ("half") storage for the two large read-only matrices a
 * decision streams through: the embedder's projection V (embedder section
 * format 4) and the kNN head's store of training embeddings (HEAD format 3).
 * Both stages are memory-bound, so half the bytes is most of their time;
 * the arithmetic stays in float.  Debian's OpenBLAS 0.3.21 has no half or
 * bfloat16 routines, hence these few kernels.
 *
 * Conversions are exact and portable: float -> half rounds to nearest, ties
 * to even (subnormals, overflow to infinity, NaN kept quiet with the top
 * payload bits, as x86's F16C does); half -> float is exact.
 *
 * The kernels have two paths: F16C + AVX2 on x86-64 CPUs that have them
 * (picked once, on first use, thread-safely) and portable scalar C.  Both
 * give bit-identical results on any input, so a router computes the same
 * embeddings and similarities on any machine: axpy is element-wise with a
 * separate multiply and add (no fused multiply-add), and dot accumulates
 * in 32 lanes (element i in lane i mod 32; a tail of whole blocks of 8 in
 * lanes 0-7, the last n mod 8 elements in lanes 0..), reduced in a fixed
 * tree.  tests/test_half.c holds the two paths to that.
 *
 * Stateless apart from the one-time CPU probe; every function may run on
 * any number of threads. */
#ifndef TR_HALF_H
#define TR_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t tr_half_from_float(float f);
float tr_half_to_float(uint16_t h);
/* n values; in and out must not overlap. */
void tr_half_from_floats(const float *x, size_t n, uint16_t *out);
void tr_half_to_floats(const uint16_t *h, size_t n, float *out);
/* 1 when h is infinite or NaN. */
static inline int tr_half_nonfinite(uint16_t h) { return (h & 0x7c00u) == 0x7c00u; }

/* One implementation of the kernels. */
typedef struct tr_half_ops {
    const char *name;   /* "f16c" or "scalar" */
    /* y[i] = y[i] + a * h[i], i < n */
    void (*axpy)(size_t n, float a, const uint16_t *h, float *y);
    /* sum_i h[i] x[i], in the lane order above */
    float (*dot)(size_t n, const uint16_t *h, const float *x);
    /* y[r] = dot(n, H + r * n, x), r < rows (H row-major, rows x n) */
    void (*gemv)(size_t rows, size_t n, const uint16_t *H, const float *x, float *y);
} tr_half_ops;

/* The fastest implementation this CPU runs (never NULL). */
const tr_half_ops *tr_half_best(void);
/* The portable one (never NULL); for tests and comparisons. */
const tr_half_ops *tr_half_scalar(void);
/* The F16C + AVX2 one, or NULL when this CPU or build has none. */
const tr_half_ops *tr_half_f16c(void);

/* 1 when this CPU and build run AVX2 and F16C code and the OS saves the YMM
 * registers (every AVX2 CPU has F16C); probed once.  gemv.h's and q8.h's
 * kernels ask it too. */
int tr_cpu_avx2(void);

#endif
