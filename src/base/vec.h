/* Unit-normalising float vectors: the project's one home for it.  Two
 * rounding rules, because both are baked into trained routers and must not
 * drift apart between training and routing:
 *   tr_vec_unit       each component divided by the norm in double and
 *                     rounded once to float (training, evaluation, drift,
 *                     task centroids, caller-supplied embeddings);
 *   tr_vec_unit_fast  one float reciprocal of the norm, float multiplies
 *                     (vectorises: the embedder's output and every routed
 *                     caller embedding).
 * Both accumulate the squared norm in double in index order (tr_vec_sumsq),
 * so results do not depend on the compiler's vectorisation.  Nothing here
 * allocates; arrays are borrowed. */
#ifndef TR_VEC_H
#define TR_VEC_H

#include <stddef.h>

/* Σ x[j]^2 over j < d, in double, in index order. */
double tr_vec_sumsq(const float *x, size_t d);

/* dst[j] = src[j] / |src| (dst may be src).  Returns |src|^2; when that is
 * not > 0 (a zero vector) dst receives src unchanged.  Callers that must
 * refuse zero or non-finite vectors check the returned value. */
double tr_vec_unit(float *dst, const float *src, size_t d);

/* dst[j] = src[j] * (float)(1 / |src|) (dst may be src).  Returns |src|^2;
 * when that is not > 0 dst receives src unchanged. */
double tr_vec_unit_fast(float *dst, const float *src, size_t d);

/* The same rule for a double vector: x[j] *= 1 / |x|, a zero vector left as
 * is (the drift check's task centroids). */
void tr_vec_unit_f64(double *x, size_t d);

#endif
