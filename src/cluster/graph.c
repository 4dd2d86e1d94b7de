/* kNN lists -> unique undirected weighted edges -> igraph (see graph.h).
 * Pairs are bucketed by their smaller endpoint (a counting sort, O(n k)),
 * each bucket is sorted by the other endpoint and duplicates merged, so the
 * merge is linear-ish and needs no n x n structure. */
#include "cluster/graph.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cluster/igraph_glue.h"

void tr_edges_free(tr_edges *e)
{
    if (!e) return;
    tr_free(e->from);
    tr_free(e->to);
    tr_free(e->w);
    memset(e, 0, sizeof *e);
}

typedef struct half { int32_t b; float w; } half;

static int cmp_half(const void *x, const void *y)
{
    const half *a = x, *b = y;
    return (a->b > b->b) - (a->b < b->b);
}

int tr_edges_from_knn(const tr_knn *g, int mutual, tr_edges *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t n = g->n, k = g->k, nk = n * k;
    size_t *start = tr_calloc(n + 1, sizeof(size_t));
    half *h = tr_mallocarray(nk ? nk : 1, sizeof(half));
    unsigned char *touched = tr_calloc(n ? n : 1, 1);
    int rc = TR_OK;
    if (!start || !h || !touched) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "graph: out of memory for %zu pairs", nk);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < k; a++) {
            int32_t j = g->idx[i * k + a];
            if (j < 0 || (size_t)j >= n || (size_t)j == i) {
                rc = tr_errorf(err, errlen, TR_EINVAL,
                               "graph: row %zu neighbour %zu is %d (n=%zu)", i, a, (int)j, n);
                goto fail;
            }
            start[((size_t)j < i ? (size_t)j : i) + 1]++;
        }
    for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
    {
        size_t *fill = tr_mallocarray(n ? n : 1, sizeof(size_t));
        if (!fill) {
            rc = tr_errorf(err, errlen, TR_ENOMEM, "graph: out of memory");
            goto fail;
        }
        memcpy(fill, start, n * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            for (size_t a = 0; a < k; a++) {
                size_t j = (size_t)g->idx[i * k + a];
                float w = g->sim[i * k + a];
                if (!(w >= TR_GRAPH_WEIGHT_FLOOR)) w = TR_GRAPH_WEIGHT_FLOOR;
                size_t lo = j < i ? j : i, hi = j < i ? i : j;
                h[fill[lo]++] = (half){(int32_t)hi, w};
            }
        tr_free(fill);
    }
    /* Count unique edges first, then fill exact-size arrays. */
    size_t m = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            out->from = tr_mallocarray(m ? m : 1, sizeof(int32_t));
            out->to = tr_mallocarray(m ? m : 1, sizeof(int32_t));
            out->w = tr_mallocarray(m ? m : 1, sizeof(float));
            if (!out->from || !out->to || !out->w) {
                rc = tr_errorf(err, errlen, TR_ENOMEM, "graph: out of memory for %zu edges", m);
                goto fail;
            }
            m = 0;
        }
        for (size_t i = 0; i < n; i++) {
            half *b = h + start[i];
            size_t len = start[i + 1] - start[i];
            if (pass == 0) qsort(b, len, sizeof *b, cmp_half);
            for (size_t s = 0; s < len;) {
                size_t e = s + 1;
                float w = b[s].w;
                while (e < len && b[e].b == b[s].b) {
                    if (b[e].w > w) w = b[e].w;
                    e++;
                }
                if (!mutual || e - s >= 2) {
                    if (pass == 1) {
                        out->from[m] = (int32_t)i;
                        out->to[m] = b[s].b;
                        out->w[m] = w;
                        touched[i] = touched[b[s].b] = 1;
                    }
                    m++;
                }
                s = e;
            }
        }
    }
    out->n = n;
    out->m = m;
    for (size_t i = 0; i < n; i++) out->isolated += !touched[i];
    tr_free(start); tr_free(h); tr_free(touched);
    return TR_OK;
fail:
    tr_free(start); tr_free(h); tr_free(touched);
    tr_edges_free(out);
    return rc;
}

int tr_graph_to_igraph(const tr_edges *e, igraph_t *graph, igraph_vector_t *weights,
                       char *err, size_t errlen)
{
    igraph_vector_int_t ev;
    int rc;
    if ((rc = tr_igraph_check(igraph_vector_int_init(&ev, (igraph_integer_t)(2 * e->m)),
                              "graph: edge vector", err, errlen)) != TR_OK)
        return rc;
    for (size_t i = 0; i < e->m; i++) {
        VECTOR(ev)[2 * i] = e->from[i];
        VECTOR(ev)[2 * i + 1] = e->to[i];
    }
    rc = tr_igraph_check(igraph_create(graph, &ev, (igraph_integer_t)e->n, IGRAPH_UNDIRECTED),
                         "graph: create", err, errlen);
    igraph_vector_int_destroy(&ev);
    if (rc != TR_OK) return rc;
    if ((rc = tr_igraph_check(igraph_vector_init(weights, (igraph_integer_t)e->m),
                              "graph: weights", err, errlen)) != TR_OK) {
        igraph_destroy(graph);
        return rc;
    }
    for (size_t i = 0; i < e->m; i++) VECTOR(*weights)[i] = e->w[i];
    return TR_OK;
}
