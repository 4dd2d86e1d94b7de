/* A C view of hnswlib's HierarchicalNSW over inner-product space (the
 * C++-only dependency is wrapped in hnsw_wrap.cc, which catches every
 * exception and turns it into a status and a message). */
#ifndef TR_HNSW_WRAP_H
#define TR_HNSW_WRAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_hnsw tr_hnsw;

/* An empty index for up to n points of dimension d.  *out owned by the
 * caller: tr_hnsw_free. */
int tr_hnsw_new(size_t d, size_t n, size_t m, size_t ef_construction,
                uint64_t seed, tr_hnsw **out, char *err, size_t errlen);

/* Insert rows 0..n-1 of X (borrowed; hnswlib copies them) in that order,
 * on the calling thread: sequential insertion with seeded levels is what
 * makes the graph deterministic. */
int tr_hnsw_add_all(tr_hnsw *h, const float *X, size_t n, char *err, size_t errlen);

/* Insert x under label (< the capacity given to tr_hnsw_new), or, when
 * the label is already in the index (deleted or not), replace its vector
 * and undelete it: a fixed set of labels then serves as reusable slots. */
int tr_hnsw_add(tr_hnsw *h, const float *x, size_t label, char *err, size_t errlen);
/* Leave label out of later queries (its vector stays until tr_hnsw_add
 * reuses the label).  No-op when it is absent or already deleted. */
void tr_hnsw_delete(tr_hnsw *h, size_t label);

void tr_hnsw_set_ef(tr_hnsw *h, size_t ef);

/* The kq nearest points of x: labels and inner-product distances (1 - dot)
 * written nearest first into the caller's arrays; *found may be < kq.
 * Thread-safe for concurrent queries once building is finished. */
int tr_hnsw_query(const tr_hnsw *h, const float *x, size_t kq, int32_t *labels,
                  float *dist, size_t *found, char *err, size_t errlen);

void tr_hnsw_free(tr_hnsw *h);

#ifdef __cplusplus
}
#endif
#endif
