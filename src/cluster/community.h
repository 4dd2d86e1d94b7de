/* Task discovery: communities of the prompt graph (Leiden or Louvain on the
 * modularity objective, via igraph), small communities merged away, labels
 * renumbered deterministically; plus partition comparison (NMI, ARI) and
 * the modularity of a given membership. */
#ifndef TR_COMMUNITY_H
#define TR_COMMUNITY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/knn_exact.h"
#include "taskroute.h"

typedef struct tr_community_info {
    double resolution;     /* γ finally used */
    size_t raw_tasks;      /* communities before merging small ones */
    size_t merged;         /* communities merged away (< min_size) */
    size_t isolated;       /* graph nodes with no edge (mutual mode) */
    size_t edges;          /* undirected edges in the graph */
    int passes;            /* Leiden passes of the final run */
    int searches;          /* clusterings run by the target_tasks search */
    int fallback_one_task; /* 1: all points identical, one task returned */
} tr_community_info;

typedef struct tr_community_params {
    tr_algo algo;          /* [TR_ALGO_LEIDEN] */
    double resolution;     /* γ; larger -> more, smaller tasks [1.0] */
    size_t target_tasks;   /* > 0: bisect γ on a log scale for about this
                            * many tasks (after merging); 'resolution' is
                            * the starting point [0] */
    size_t min_size;       /* communities smaller than this merge into the
                            * task they have most kNN weight to [1 = none] */
    int mutual;            /* 1: graph of mutual kNN pairs only [0] */
    uint64_t seed;         /* [42] */
    int iterations;        /* max Leiden passes (start=true loop) [20] */
    double tol;            /* stop when a pass gains < tol * |quality| [1e-4] */
    /* Optional (NULL: unused): the embeddings (n x d, borrowed) for merging
     * a small community with no kNN edge out of it into the nearest
     * centroid; without them it goes to the largest task. */
    const float *X;
    size_t d;
    /* Optional (NULL: unused): a membership to start from (n labels >= 0,
     * borrowed), e.g. the current router's tasks when retraining.  Leiden
     * then improves that partition at 'resolution' instead of building one
     * from scratch (no target_tasks search), so the tasks stay what they
     * were where the data did not change; Louvain ignores it. */
    const int32_t *initial;
    tr_community_info *info; /* optional output (caller's), NULL = none */
} tr_community_params;

void tr_community_params_default(tr_community_params *p);

/* Cluster the graph of g.  membership (g->n entries, caller's) gets labels
 * 0..T-1 numbered by task size descending, ties by smallest member index;
 * *n_tasks = T; *modularity (may be NULL) = the standard (γ = 1) weighted
 * modularity of the result on the graph.  Borrows g and p.  Deterministic
 * for a seed.  Fallbacks, never a crash: all kNN similarities 1 (identical
 * points) on a connected graph -> one task; n < min_size -> one task;
 * isolated nodes are merged like small communities.  Errors: TR_EINVAL
 * (bad params or neighbour indices), TR_EDEP (igraph, with its message). */
int tr_community_detect(const tr_knn *g, const tr_community_params *p,
                        int32_t *membership, size_t *n_tasks, double *modularity,
                        char *err, size_t errlen);

/* NMI and adjusted Rand index of two labelings of n points (labels >= 0).
 * nmi or ari may be NULL.  Borrows a, b. */
int tr_partition_compare(const int32_t *a, const int32_t *b, size_t n,
                         double *nmi, double *ari, char *err, size_t errlen);

/* Weighted modularity at resolution gamma of 'membership' (g->n labels >= 0)
 * on the graph tr_community_detect would build from g.  Borrows all. */
int tr_modularity(const tr_knn *g, int mutual, const int32_t *membership, double gamma,
                  double *q, char *err, size_t errlen);

#endif
