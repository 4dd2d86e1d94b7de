/* The prompt graph: kNN lists turned into the undirected, simple, weighted
 * graph that Leiden and Louvain cluster.  Both directions of a kNN pair
 * become one edge (max weight: igraph's Leiden rejects directed graphs and
 * igraph_simplify cannot combine weights in C); weight = cosine similarity
 * clamped to a small positive floor, since modularity needs w > 0. */
#ifndef TR_GRAPH_H
#define TR_GRAPH_H

#include <igraph.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/knn_exact.h"

#define TR_GRAPH_WEIGHT_FLOOR 1e-3f

typedef struct tr_edges {
    size_t n, m;        /* nodes, undirected edges */
    int32_t *from, *to; /* m each, from < to, sorted by (from, to) */
    float *w;           /* m */
    size_t isolated;    /* nodes with no edge (possible in mutual mode) */
} tr_edges;

/* Merge g's lists into unique undirected edges.  mutual: keep only pairs
 * that are in each other's lists.  Borrows g; *out's arrays owned by the
 * caller: tr_edges_free.  TR_EINVAL if a neighbour index is out of range. */
int tr_edges_from_knn(const tr_knn *g, int mutual, tr_edges *out, char *err, size_t errlen);
void tr_edges_free(tr_edges *e);

/* An igraph graph and its weight vector from e.  Call with the igraph lock
 * held (igraph_glue.h).  On TR_OK *graph and *weights are initialised and
 * owned by the caller: igraph_destroy / igraph_vector_destroy (lock held). */
int tr_graph_to_igraph(const tr_edges *e, igraph_t *graph, igraph_vector_t *weights,
                       char *err, size_t errlen);

#endif
