/* k-nearest-neighbour lists of unit embeddings by cosine similarity (the
 * dot product: rows are expected unit-norm), the input of the prompt graph:
 * the list type and its parameters, the top-k insert both paths share, and
 * the exact path: blocked SGEMM tiles plus a threshold-pruned top-k per row,
 * memory O(n*k + tile), never n x n.  The approximate path is knn_hnsw.c;
 * tr_knn_build (knn_build.c) chooses between them (bench/RESULTS.md,
 * "Graph and clustering scaling", measures the crossover). */
#ifndef TR_KNN_EXACT_H
#define TR_KNN_EXACT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_knn {
    size_t n, k;
    int32_t *idx;   /* n*k: row i's neighbours, self excluded, by similarity
                     * descending, ties by smaller index */
    float *sim;     /* n*k: their similarities */
} tr_knn;

typedef enum tr_knn_mode {
    TR_KNN_AUTO = 0,    /* exact while n^2 d <= TR_KNN_AUTO_EXACT_MAX^2 * 64, else approx */
    TR_KNN_EXACT = 1,
    TR_KNN_APPROX = 2
} tr_knn_mode;

/* Auto mode: exact up to this many points at d = 64, scaled by sqrt(64/d)
 * (exact costs n^2 d; measured crossover ~100k at d=64, ~50k at d=256). */
#define TR_KNN_AUTO_EXACT_MAX 100000

typedef struct tr_knn_params {
    size_t k;           /* neighbours per point [15] */
    tr_knn_mode mode;   /* [TR_KNN_AUTO] */
    int threads;        /* worker threads, 0 = number of cores [0] */
    uint64_t seed;      /* HNSW level generator [42] */
    /* approximate only (0 = default): HNSW M [16], ef_construction [64],
     * ef_search [max(2k+10, 64)] */
    int hnsw_m, hnsw_ef_construction, hnsw_ef_search;
} tr_knn_params;

/* Fill *p with the defaults in brackets.  p is the caller's. */
void tr_knn_params_default(tr_knn_params *p);

/* Free the arrays of *g and zero it; NULL or a zeroed struct is a no-op. */
void tr_knn_free(tr_knn *g);

/* Exact kNN (what tr_knn_build does in TR_KNN_EXACT mode), validated input. */
int tr_knn_exact(const float *X, size_t n, size_t d, size_t k, int threads,
                 tr_knn *out, char *err, size_t errlen);

/* Recall of 'approx' against exact neighbours on 'sample' rows drawn with
 * 'seed' (all rows if sample >= n): mean |approx_i ∩ exact_i| / k.
 * X borrowed; O(sample * n * d). */
int tr_knn_recall(const float *X, size_t n, size_t d, const tr_knn *approx,
                  size_t sample, uint64_t seed, double *recall,
                  char *err, size_t errlen);

/* Insert (v, j) into a best-first list of at most k entries (len updated);
 * ties keep the earlier entry, so scanning j in increasing order breaks ties
 * by smaller index.  Shared by the exact and approximate paths. */
void tr_knn_topk_insert(float *sim, int32_t *idx, size_t *len, size_t k,
                        float v, int32_t j);

#endif
