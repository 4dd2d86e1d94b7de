/* Approximate neighbour lists by HNSW, for sizes where the exact tiles get
 * slow.  Called by tr_knn_build (knn_build.c) after it validated the input. */
#ifndef TR_KNN_HNSW_H
#define TR_KNN_HNSW_H

#include "cluster/knn_exact.h"

/* HNSW kNN (knn_hnsw.c), validated input.  Build is sequential (fixed
 * insertion order, seeded levels: deterministic); queries run on 'threads'
 * threads (read-only, so still deterministic). */
int tr_knn_approx(const float *X, size_t n, size_t d, size_t k,
                  const tr_knn_params *p, tr_knn *out, char *err, size_t errlen);

#endif
