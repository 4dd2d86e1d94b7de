/* Neighbour lists of the prompts, exact or approximate by size: the front
 * door of knn_exact.c and knn_hnsw.c. */
#ifndef TR_KNN_BUILD_H
#define TR_KNN_BUILD_H

#include "cluster/knn_exact.h"

/* Neighbour lists of the n rows of X (n x d row-major, borrowed).  *out is
 * filled (its arrays owned by the caller: tr_knn_free).  Errors: n == 0,
 * k == 0, k >= n ("need more than k prompts: n=.. k=.."), NaN/inf in X
 * (names the row).  Deterministic: same X and params -> same lists. */
int tr_knn_build(const float *X, size_t n, size_t d, const tr_knn_params *p,
                 tr_knn *out, char *err, size_t errlen);

#endif
