/* Leiden / Louvain on the kNN graph (see community.h).
 *
 * Leiden in igraph 0.10.2's C API optimises CPM unless given node weights:
 * for modularity we pass node_weights = strength and resolution = γ / Σ
 * strength.  Its n_iterations < 0 ("until stable") stops after one pass in
 * 0.10.2, so we run passes with start = true until the quality gain is below
 * a relative tolerance.  igraph's RNG is reseeded before every call.
 *
 * Small communities (< min_size) are merged, smallest first, into the
 * community their members' kNN out-lists send most weight to (union-find
 * with member lists, so a merge costs O(|C| k)); a community with no edge
 * out goes to the nearest centroid when X is given, else the largest.
 * Finally labels are renumbered by size (desc), ties by smallest member,
 * so the output does not depend on igraph's label order. */
#include "cluster/community.h"

#include <igraph.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cluster/graph.h"
#include "cluster/igraph_glue.h"

void tr_community_params_default(tr_community_params *p)
{
    memset(p, 0, sizeof *p);
    p->algo = TR_ALGO_LEIDEN;
    p->resolution = 1.0;
    p->min_size = 1;
    p->seed = 42;
    p->iterations = 20;
    p->tol = 1e-4;
}

/* ---- one clustering run (lock held) ---- */

typedef struct gctx {
    igraph_t graph;
    igraph_vector_t weights, strength;
    double total_strength;
    size_t n;
} gctx;

static int run_algo(gctx *G, const tr_community_params *p, double gamma,
                    igraph_vector_int_t *memb, int *passes, char *err, size_t errlen)
{
    int rc;
    *passes = 0;
    if (p->algo == TR_ALGO_LOUVAIN) {
        tr_igraph_seed(p->seed);
        return tr_igraph_check(igraph_community_multilevel(&G->graph, &G->weights, gamma, memb,
                                                           NULL, NULL),
                               "louvain", err, errlen);
    }
    double res = G->total_strength > 0 ? gamma / G->total_strength : gamma;
    double prev = 0;
    int maxit = p->iterations > 0 ? p->iterations : 20;
    if (p->initial)
        for (size_t i = 0; i < G->n; i++) VECTOR(*memb)[i] = p->initial[i];
    for (int it = 0; it < maxit; it++) {
        igraph_integer_t nb = 0;
        igraph_real_t quality = 0;
        tr_igraph_seed(p->seed + (uint64_t)it);
        rc = tr_igraph_check(igraph_community_leiden(&G->graph, &G->weights, &G->strength, res,
                                                     0.01, it > 0 || p->initial, 2, memb, &nb, &quality),
                             "leiden", err, errlen);
        if (rc != TR_OK) return rc;
        (*passes)++;
        if (it > 0 && quality - prev <= p->tol * fabs(prev)) break;
        prev = quality;
    }
    return TR_OK;
}

/* ---- merging small communities ---- */

/* The centroid sums of the roots, for communities with no edge out.  The
 * first use sums every row into its root (one O(n d) pass); later a root
 * that gained members is summed again from its own members in row order,
 * so each sum is bit for bit what a full pass would give, for O(|C| d)
 * instead of O(n d) per use. */
typedef struct centroids {
    double *sum, *norm2;    /* nc x d sums; each root's sum of squares */
    unsigned char *stale;   /* nc: gained members since summed */
    int32_t *stale_list, *rows;  /* nc stale roots; n scratch rows */
    size_t n_stale;
    int ready;
} centroids;

typedef struct merger {
    size_t n, nc;
    int32_t *parent, *size, *head, *next, *tail, *minm;
    double *acc;
    int32_t *touched;
    centroids cent;
} merger;

static int32_t uf_find(int32_t *parent, int32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static const int32_t *g_sort_size, *g_sort_minm;
static int cmp_small(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    if (g_sort_size[a] != g_sort_size[b]) return g_sort_size[a] < g_sort_size[b] ? -1 : 1;
    return (g_sort_minm[a] > g_sort_minm[b]) - (g_sort_minm[a] < g_sort_minm[b]);
}

static int cmp_i32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static double sum_squares(const double *v, size_t d)
{
    double s = 0;
    for (size_t t = 0; t < d; t++) s += v[t] * v[t];
    return s;
}

static void centroids_free(centroids *C)
{
    tr_free(C->sum); tr_free(C->norm2); tr_free(C->stale); tr_free(C->stale_list); tr_free(C->rows);
}

/* Root c gained members: its sum is redone before the next use. */
static void centroid_touch(merger *M, int32_t c)
{
    centroids *C = &M->cent;
    if (!C->ready || C->stale[c]) return;
    C->stale[c] = 1;
    C->stale_list[C->n_stale++] = c;
}

/* Bring every root's sum up to date; TR_ENOMEM on the first use only. */
static int centroids_update(merger *M, const int32_t *comm, const float *X, size_t d)
{
    centroids *C = &M->cent;
    size_t nc = M->nc;
    if (!C->ready) {
        C->sum = tr_calloc(nc * d, sizeof *C->sum);
        C->norm2 = tr_mallocarray(nc, sizeof *C->norm2);
        C->stale = tr_calloc(nc, 1);
        C->stale_list = tr_mallocarray(nc, sizeof *C->stale_list);
        C->rows = tr_mallocarray(M->n, sizeof *C->rows);
        if (!C->sum || !C->norm2 || !C->stale || !C->stale_list || !C->rows) return TR_ENOMEM;
        for (size_t i = 0; i < M->n; i++) {
            int32_t ri = uf_find(M->parent, comm[i]);
            for (size_t t = 0; t < d; t++) C->sum[(size_t)ri * d + t] += X[i * d + t];
        }
        for (size_t c = 0; c < nc; c++) C->norm2[c] = sum_squares(C->sum + c * d, d);
        C->ready = 1;
        return TR_OK;
    }
    for (size_t s = 0; s < C->n_stale; s++) {
        int32_t c = C->stale_list[s];
        C->stale[c] = 0;
        if (M->parent[c] != c) continue;
        size_t m = 0;
        for (int32_t i = M->head[c]; i >= 0; i = M->next[i]) C->rows[m++] = i;
        qsort(C->rows, m, sizeof *C->rows, cmp_i32);
        double *v = C->sum + (size_t)c * d;
        memset(v, 0, d * sizeof *v);
        for (size_t a = 0; a < m; a++)
            for (size_t t = 0; t < d; t++) v[t] += X[(size_t)C->rows[a] * d + t];
        C->norm2[c] = sum_squares(v, d);
    }
    C->n_stale = 0;
    return TR_OK;
}

/* Nearest centroid among roots other than r (cosine to the mean); -1 with
 * *rc = TR_ENOMEM when the sums cannot be allocated. */
static int32_t nearest_centroid(merger *M, const int32_t *comm, int32_t r, const float *X,
                                size_t d, int *rc)
{
    if ((*rc = centroids_update(M, comm, X, d)) != TR_OK) return -1;
    const double *sum = M->cent.sum, *rv = sum + (size_t)r * d;
    double best = -INFINITY, nr = M->cent.norm2[r];
    int32_t arg = -1;
    for (size_t c = 0; c < M->nc; c++) {
        if ((int32_t)c == r || M->parent[c] != (int32_t)c) continue;
        double dot = 0;
        for (size_t t = 0; t < d; t++) dot += rv[t] * sum[c * d + t];
        double cs = dot / (sqrt(nr * M->cent.norm2[c]) + 1e-30);
        if (cs > best) { best = cs; arg = (int32_t)c; }
    }
    return arg;
}

/* comm: n labels in [0, nc).  Rewrites comm to root labels; *merged counts
 * merges. */
static int merge_small(const tr_knn *g, int32_t *comm, size_t nc, size_t min_size,
                       const float *X, size_t d, size_t *merged, char *err, size_t errlen)
{
    size_t n = g->n, k = g->k;
    merger M = {.n = n, .nc = nc};
    int32_t *order = NULL;
    int rc = TR_OK;
    *merged = 0;
    M.parent = tr_mallocarray(nc, sizeof(int32_t));
    M.size = tr_calloc(nc, sizeof(int32_t));
    M.head = tr_mallocarray(nc, sizeof(int32_t));
    M.tail = tr_mallocarray(nc, sizeof(int32_t));
    M.minm = tr_mallocarray(nc, sizeof(int32_t));
    M.next = tr_mallocarray(n, sizeof(int32_t));
    M.acc = tr_calloc(nc, sizeof(double));
    M.touched = tr_mallocarray(nc, sizeof(int32_t));
    order = tr_mallocarray(nc, sizeof(int32_t));
    if (!M.parent || !M.size || !M.head || !M.tail || !M.minm || !M.next || !M.acc ||
        !M.touched || !order) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "community: out of memory merging");
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        M.parent[c] = (int32_t)c;
        M.head[c] = M.tail[c] = M.minm[c] = -1;
    }
    for (size_t i = n; i-- > 0;) {
        int32_t c = comm[i];
        M.size[c]++;
        M.next[i] = M.head[c];
        M.head[c] = (int32_t)i;
        if (M.tail[c] < 0) M.tail[c] = (int32_t)i;
        M.minm[c] = (int32_t)i;
    }
    for (int pass = 0; pass < 64; pass++) {
        size_t ns = 0, roots = 0;
        for (size_t c = 0; c < nc; c++) {
            if (M.parent[c] != (int32_t)c || M.size[c] == 0) continue;
            roots++;
            if ((size_t)M.size[c] < min_size) order[ns++] = (int32_t)c;
        }
        if (ns == 0 || roots <= 1) break;
        g_sort_size = M.size;
        g_sort_minm = M.minm;
        qsort(order, ns, sizeof *order, cmp_small);
        size_t did = 0;
        for (size_t s = 0; s < ns; s++) {
            int32_t r = order[s];
            if (M.parent[r] != r || (size_t)M.size[r] >= min_size) continue;
            size_t nt = 0;
            for (int32_t i = M.head[r]; i >= 0; i = M.next[i])
                for (size_t a = 0; a < k; a++) {
                    int32_t j = g->idx[(size_t)i * k + a];
                    int32_t rj = uf_find(M.parent, comm[j]);
                    if (rj == r) continue;
                    float w = g->sim[(size_t)i * k + a];
                    if (!(w >= TR_GRAPH_WEIGHT_FLOOR)) w = TR_GRAPH_WEIGHT_FLOOR;
                    if (M.acc[rj] == 0) M.touched[nt++] = rj;
                    M.acc[rj] += w;
                }
            int32_t best = -1;
            double bw = 0;
            for (size_t t = 0; t < nt; t++) {
                int32_t c = M.touched[t];
                /* ties: the smaller label, for determinism */
                if (M.acc[c] > bw || (M.acc[c] == bw && c < best)) { bw = M.acc[c]; best = c; }
                M.acc[c] = 0;
            }
            if (best < 0 && X) {
                best = nearest_centroid(&M, comm, r, X, d, &rc);
                if (rc != TR_OK) {
                    rc = tr_errorf(err, errlen, rc, "community: out of memory");
                    goto done;
                }
            }
            if (best < 0) {
                for (size_t c = 0; c < nc; c++)
                    if (M.parent[c] == (int32_t)c && (int32_t)c != r &&
                        (best < 0 || M.size[c] > M.size[best]))
                        best = (int32_t)c;
            }
            if (best < 0) continue;
            /* merge r into best */
            M.parent[r] = best;
            M.size[best] += M.size[r];
            M.size[r] = 0;
            M.next[M.tail[best]] = M.head[r];
            M.tail[best] = M.tail[r];
            if (M.minm[r] < M.minm[best]) M.minm[best] = M.minm[r];
            centroid_touch(&M, best);
            (*merged)++;
            did++;
        }
        if (!did) break;
    }
    for (size_t i = 0; i < n; i++) comm[i] = uf_find(M.parent, comm[i]);
done:
    tr_free(M.parent); tr_free(M.size); tr_free(M.head); tr_free(M.tail); tr_free(M.minm);
    tr_free(M.next); tr_free(M.acc); tr_free(M.touched); tr_free(order);
    centroids_free(&M.cent);
    return rc;
}

/* Renumber labels in [0, nc) to 0..T-1 by size desc, ties by smallest member. */
static int renumber(int32_t *comm, size_t n, size_t nc, size_t *T, char *err, size_t errlen)
{
    int32_t *size = tr_calloc(nc, sizeof(int32_t));
    int32_t *minm = tr_mallocarray(nc, sizeof(int32_t));
    int32_t *order = tr_mallocarray(nc, sizeof(int32_t));
    int32_t *map = tr_mallocarray(nc, sizeof(int32_t));
    int rc = TR_OK;
    if (!size || !minm || !order || !map) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "community: out of memory");
        goto done;
    }
    for (size_t c = 0; c < nc; c++) minm[c] = INT32_MAX;
    for (size_t i = 0; i < n; i++) {
        size[comm[i]]++;
        if ((int32_t)i < minm[comm[i]]) minm[comm[i]] = (int32_t)i;
    }
    size_t t = 0;
    for (size_t c = 0; c < nc; c++)
        if (size[c]) order[t++] = (int32_t)c;
    /* descending size: sort ascending by negated size */
    for (size_t c = 0; c < nc; c++) size[c] = -size[c];
    g_sort_size = size;
    g_sort_minm = minm;
    qsort(order, t, sizeof *order, cmp_small);
    for (size_t c = 0; c < t; c++) map[order[c]] = (int32_t)c;
    for (size_t i = 0; i < n; i++) comm[i] = map[comm[i]];
    *T = t;
done:
    tr_free(size); tr_free(minm); tr_free(order); tr_free(map);
    return rc;
}

/* One full run at γ: cluster, merge, renumber into 'out'. */
static int cluster_at(gctx *G, const tr_knn *g, const tr_community_params *p, double gamma,
                      igraph_vector_int_t *memb, int32_t *out, size_t *T, size_t *raw,
                      size_t *merged, int *passes, char *err, size_t errlen)
{
    int rc = run_algo(G, p, gamma, memb, passes, err, errlen);
    if (rc != TR_OK) return rc;
    size_t n = G->n, nc = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (int32_t)VECTOR(*memb)[i];
        if ((size_t)out[i] + 1 > nc) nc = (size_t)out[i] + 1;
    }
    if ((rc = renumber(out, n, nc, raw, err, errlen)) != TR_OK) return rc;
    *merged = 0;
    if (p->min_size > 1 && (rc = merge_small(g, out, *raw, p->min_size, p->X, p->d, merged,
                                             err, errlen)) != TR_OK)
        return rc;
    return renumber(out, n, *raw, T, err, errlen);
}

static int graph_open(gctx *G, const tr_edges *e, char *err, size_t errlen)
{
    int rc = tr_graph_to_igraph(e, &G->graph, &G->weights, err, errlen);
    if (rc != TR_OK) return rc;
    rc = tr_igraph_check(igraph_vector_init(&G->strength, (igraph_integer_t)e->n),
                         "strength", err, errlen);
    if (rc != TR_OK) {
        igraph_vector_destroy(&G->weights);
        igraph_destroy(&G->graph);
        return rc;
    }
    rc = tr_igraph_check(igraph_strength(&G->graph, &G->strength, igraph_vss_all(), IGRAPH_ALL,
                                         IGRAPH_LOOPS, &G->weights),
                         "strength", err, errlen);
    if (rc != TR_OK) {
        igraph_vector_destroy(&G->strength);
        igraph_vector_destroy(&G->weights);
        igraph_destroy(&G->graph);
        return rc;
    }
    G->total_strength = igraph_vector_sum(&G->strength);
    G->n = e->n;
    return TR_OK;
}

static void graph_close(gctx *G)
{
    igraph_vector_destroy(&G->strength);
    igraph_vector_destroy(&G->weights);
    igraph_destroy(&G->graph);
}

int tr_community_detect(const tr_knn *g, const tr_community_params *p,
                        int32_t *membership, size_t *n_tasks, double *modularity,
                        char *err, size_t errlen)
{
    tr_community_params def;
    if (!p) {
        tr_community_params_default(&def);
        p = &def;
    }
    tr_community_info info_local, *info = p->info ? p->info : &info_local;
    memset(info, 0, sizeof *info);
    if (!g || !membership || !n_tasks)
        return tr_errorf(err, errlen, TR_EINVAL, "community: NULL argument");
    if (g->n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "community: empty graph (n=0)");
    if (p->algo != TR_ALGO_LEIDEN && p->algo != TR_ALGO_LOUVAIN)
        return tr_errorf(err, errlen, TR_EINVAL, "community: unknown algo %d", (int)p->algo);
    if (!(p->resolution > 0) || !isfinite(p->resolution))
        return tr_errorf(err, errlen, TR_EINVAL, "community: resolution must be > 0, got %g",
                         p->resolution);
    if (p->X && p->d == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "community: X given with d=0");
    if (p->initial)
        for (size_t i = 0; i < g->n; i++)
            if (p->initial[i] < 0 || (size_t)p->initial[i] >= g->n)
                return tr_errorf(err, errlen, TR_EINVAL, "community: initial label %d of point %zu outside [0, %zu)",
                                 p->initial[i], i, g->n);
    size_t n = g->n;
    info->resolution = p->resolution;
    if (modularity) *modularity = 0;
    /* Fewer points than a task may hold, or a graph too small to have
     * edges: one task (documented fallback). */
    if (n <= g->k || n < p->min_size || g->k == 0) {
        for (size_t i = 0; i < n; i++) membership[i] = 0;
        *n_tasks = 1;
        info->raw_tasks = 1;
        info->fallback_one_task = 1;
        return TR_OK;
    }

    tr_edges e;
    int rc = tr_edges_from_knn(g, p->mutual, &e, err, errlen);
    if (rc != TR_OK) return rc;
    info->isolated = e.isolated;
    info->edges = e.m;
    float wmin = INFINITY;
    for (size_t i = 0; i < e.m; i++) if (e.w[i] < wmin) wmin = e.w[i];

    gctx G;
    igraph_vector_int_t memb;
    int32_t *best = NULL;
    tr_igraph_lock();
    rc = graph_open(&G, &e, err, errlen);
    if (rc != TR_OK) {
        tr_igraph_unlock();
        tr_edges_free(&e);
        return rc;
    }
    rc = tr_igraph_check(igraph_vector_int_init(&memb, (igraph_integer_t)n), "membership",
                         err, errlen);
    if (rc != TR_OK) goto fail_graph;

    /* Identical points: every similarity is 1 and modularity has nothing
     * to find; any split would be noise.  One task. */
    if (e.m > 0 && wmin >= 1.0f - 1e-6f) {
        igraph_bool_t conn = 0;
        rc = tr_igraph_check(igraph_is_connected(&G.graph, &conn, IGRAPH_WEAK), "connected",
                             err, errlen);
        if (rc != TR_OK) goto fail;
        if (conn) {
            for (size_t i = 0; i < n; i++) membership[i] = 0;
            *n_tasks = 1;
            info->raw_tasks = 1;
            info->fallback_one_task = 1;
            goto modularity_out;
        }
    }

    size_t T = 0, raw = 0, merged = 0;
    int passes = 0;
    if (p->target_tasks == 0 || (p->initial && p->algo == TR_ALGO_LEIDEN)) {
        rc = cluster_at(&G, g, p, p->resolution, &memb, membership, &T, &raw, &merged, &passes,
                        err, errlen);
        if (rc != TR_OK) goto fail;
        info->searches = 1;
    } else {
        /* T(γ) grows with γ: bracket the target by factors of 4 (16 when
         * far off), then bisect log γ; keep the closest count (smaller γ on
         * ties). */
        best = tr_mallocarray(n, sizeof(int32_t));
        if (!best) {
            rc = tr_errorf(err, errlen, TR_ENOMEM, "community: out of memory");
            goto fail;
        }
        size_t target = p->target_tasks, bestT = 0, bestraw = 0, bestmerged = 0;
        double bestg = 0, lo = 0, hi = 0, gam = p->resolution;
        int bestpasses = 0;
        size_t tol = target / 20;
        for (int s = 0; s < 40; s++) {
            rc = cluster_at(&G, g, p, gam, &memb, membership, &T, &raw, &merged, &passes, err,
                            errlen);
            if (rc != TR_OK) goto fail;
            info->searches++;
            size_t dT = T > target ? T - target : target - T;
            size_t dB = bestT > target ? bestT - target : target - bestT;
            if (s == 0 || dT < dB || (dT == dB && gam < bestg)) {
                memcpy(best, membership, n * sizeof(int32_t));
                bestT = T; bestg = gam; bestraw = raw; bestmerged = merged; bestpasses = passes;
            }
            if (dT <= tol) break;
            if (T < target) lo = gam; else hi = gam;
            /* bracket by factors of 4, or 16 while the count is more than
             * twice off: each Leiden run is a second or two at 100k */
            double step = T > 2 * target || 2 * T < target ? 16 : 4;
            if (hi == 0) gam *= step;
            else if (lo == 0) gam /= step;
            else gam = sqrt(lo * hi);
            if (gam > 1e4 || gam < 1e-6 || (lo > 0 && hi > 0 && hi / lo < 1.001)) break;
        }
        memcpy(membership, best, n * sizeof(int32_t));
        T = bestT; raw = bestraw; merged = bestmerged; passes = bestpasses;
        info->resolution = bestg;
    }
    *n_tasks = T;
    info->raw_tasks = raw;
    info->merged = merged;
    info->passes = passes;

modularity_out:
    if (modularity) {
        for (size_t i = 0; i < n; i++) VECTOR(memb)[i] = membership[i];
        igraph_real_t q = 0;
        rc = tr_igraph_check(igraph_modularity(&G.graph, &memb, &G.weights, 1.0, IGRAPH_UNDIRECTED,
                                               &q),
                             "modularity", err, errlen);
        if (rc != TR_OK) goto fail;
        *modularity = q;
    }
    rc = TR_OK;
fail:
    igraph_vector_int_destroy(&memb);
fail_graph:
    graph_close(&G);
    tr_igraph_unlock();
    tr_edges_free(&e);
    tr_free(best);
    return rc;
}

int tr_partition_compare(const int32_t *a, const int32_t *b, size_t n,
                         double *nmi, double *ari, char *err, size_t errlen)
{
    if (n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "compare: no points (n=0)");
    for (size_t i = 0; i < n; i++)
        if (a[i] < 0 || b[i] < 0)
            return tr_errorf(err, errlen, TR_EINVAL, "compare: negative label at point %zu", i);
    igraph_vector_int_t va, vb;
    int rc;
    tr_igraph_lock();
    if ((rc = tr_igraph_check(igraph_vector_int_init(&va, (igraph_integer_t)n), "compare",
                              err, errlen)) != TR_OK)
        goto out;
    if ((rc = tr_igraph_check(igraph_vector_int_init(&vb, (igraph_integer_t)n), "compare",
                              err, errlen)) != TR_OK) {
        igraph_vector_int_destroy(&va);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        VECTOR(va)[i] = a[i];
        VECTOR(vb)[i] = b[i];
    }
    igraph_real_t r = 0;
    if (nmi) {
        rc = tr_igraph_check(igraph_compare_communities(&va, &vb, &r, IGRAPH_COMMCMP_NMI),
                             "compare (NMI)", err, errlen);
        if (rc != TR_OK) goto out2;
        *nmi = r;
    }
    if (ari) {
        rc = tr_igraph_check(igraph_compare_communities(&va, &vb, &r,
                                                        IGRAPH_COMMCMP_ADJUSTED_RAND),
                             "compare (ARI)", err, errlen);
        if (rc != TR_OK) goto out2;
        *ari = r;
    }
out2:
    igraph_vector_int_destroy(&va);
    igraph_vector_int_destroy(&vb);
out:
    tr_igraph_unlock();
    return rc;
}

int tr_modularity(const tr_knn *g, int mutual, const int32_t *membership, double gamma,
                  double *q, char *err, size_t errlen)
{
    for (size_t i = 0; i < g->n; i++)
        if (membership[i] < 0)
            return tr_errorf(err, errlen, TR_EINVAL, "modularity: negative label at point %zu", i);
    tr_edges e;
    int rc = tr_edges_from_knn(g, mutual, &e, err, errlen);
    if (rc != TR_OK) return rc;
    igraph_t graph;
    igraph_vector_t w;
    igraph_vector_int_t memb;
    tr_igraph_lock();
    rc = tr_graph_to_igraph(&e, &graph, &w, err, errlen);
    if (rc != TR_OK) goto out;
    rc = tr_igraph_check(igraph_vector_int_init(&memb, (igraph_integer_t)g->n), "modularity",
                         err, errlen);
    if (rc == TR_OK) {
        for (size_t i = 0; i < g->n; i++) VECTOR(memb)[i] = membership[i];
        igraph_real_t r = 0;
        rc = tr_igraph_check(igraph_modularity(&graph, &memb, &w, gamma, IGRAPH_UNDIRECTED, &r),
                             "modularity", err, errlen);
        *q = r;
        igraph_vector_int_destroy(&memb);
    }
    igraph_vector_destroy(&w);
    igraph_destroy(&graph);
out:
    tr_igraph_unlock();
    tr_edges_free(&e);
    return rc;
}
