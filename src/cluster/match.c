/* Task matching across retrains: pair scores, the optimal assignment
 * (igraph_maximum_bipartite_matching with weights), splits and merges.
 * See match.h for the why. */
#include "cluster/match.h"

#include <float.h>
#include <igraph.h>
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "cluster/igraph_glue.h"

void tr_match_params_default(tr_match_params *p)
{
    p->centroid_weight = 0.5;
    p->min_score = 0.35;
    p->part_share = 0.2;
    p->pair_share = 0.6;
    p->min_prompts = 10;
}

void tr_match_result_clear(tr_match_result *r)
{
    if (!r) return;
    tr_free(r->new_to_old);
    tr_free(r->old_to_new);
    tr_free(r->score);
    tr_free(r->cosine);
    tr_free(r->dice);
    tr_free(r->splits);
    tr_free(r->merges);
    memset(r, 0, sizeof *r);
}

/* Fill the score tables. */
static void pair_scores(const tr_match_input *in, const tr_match_params *p, tr_match_result *r,
                        const double *row, const double *col)
{
    size_t A = in->T_old, B = in->T_new, d = in->dim;
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < B; b++) {
            double cs = 0;
            for (size_t j = 0; j < d; j++) cs += (double)in->old_centroids[a * d + j] * in->new_centroids[b * d + j];
            double o = in->overlap[a * B + b], den = row[a] + col[b];
            double dice = den > 0 ? 2 * o / den : 0;
            r->cosine[a * B + b] = cs;
            r->dice[a * B + b] = dice;
            r->score[a * B + b] = p->centroid_weight * (cs > 0 ? cs : 0) + (1 - p->centroid_weight) * dice;
        }
}

/* The optimal one-to-one assignment over pairs scoring >= min_score.  Old
 * tasks are vertices 0..A-1 (type false), new ones A..A+B-1 (type true). */
static int assign(const tr_match_params *p, tr_match_result *r, char *err, size_t errlen)
{
    size_t A = r->T_old, B = r->T_new, ne = 0;
    for (size_t k = 0; k < A * B; k++) ne += r->score[k] >= p->min_score;
    if (ne == 0) return TR_OK;
    int rc;
    igraph_t g;
    igraph_vector_int_t edges, matching;
    igraph_vector_t w;
    igraph_vector_bool_t types;
    int have_g = 0, have_e = 0, have_m = 0, have_w = 0, have_t = 0;
    tr_igraph_lock();
    if ((rc = tr_igraph_check(igraph_vector_int_init(&edges, (igraph_integer_t)(2 * ne)), "matching", err, errlen))) goto done;
    have_e = 1;
    if ((rc = tr_igraph_check(igraph_vector_init(&w, (igraph_integer_t)ne), "matching", err, errlen))) goto done;
    have_w = 1;
    if ((rc = tr_igraph_check(igraph_vector_bool_init(&types, (igraph_integer_t)(A + B)), "matching", err, errlen))) goto done;
    have_t = 1;
    if ((rc = tr_igraph_check(igraph_vector_int_init(&matching, 0), "matching", err, errlen))) goto done;
    have_m = 1;
    size_t e = 0;
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < B; b++) {
            double s = r->score[a * B + b];
            if (s < p->min_score) continue;
            VECTOR(edges)[2 * e] = (igraph_integer_t)a;
            VECTOR(edges)[2 * e + 1] = (igraph_integer_t)(A + b);
            /* scaled so that igraph's eps test works on well-separated values */
            VECTOR(w)[e] = s * 1000.0;
            e++;
        }
    for (size_t b = 0; b < B; b++) VECTOR(types)[A + b] = 1;
    if ((rc = tr_igraph_check(igraph_create(&g, &edges, (igraph_integer_t)(A + B), IGRAPH_UNDIRECTED), "matching graph",
                              err, errlen)))
        goto done;
    have_g = 1;
    igraph_integer_t size = 0;
    igraph_real_t weight = 0;
    if ((rc = tr_igraph_check(igraph_maximum_bipartite_matching(&g, &types, &size, &weight, &matching, &w, DBL_EPSILON * 1000),
                              "weighted bipartite matching", err, errlen)))
        goto done;
    for (size_t a = 0; a < A; a++) {
        igraph_integer_t m = VECTOR(matching)[a];
        if (m < (igraph_integer_t)A || m >= (igraph_integer_t)(A + B)) continue;
        size_t b = (size_t)m - A;
        if (r->score[a * B + b] < p->min_score) continue;  /* not an edge: cannot happen, but never trust it */
        r->old_to_new[a] = (int32_t)b;
        r->new_to_old[b] = (int32_t)a;
        r->total += r->score[a * B + b];
        r->n_matched++;
    }
done:
    if (have_g) igraph_destroy(&g);
    if (have_m) igraph_vector_int_destroy(&matching);
    if (have_t) igraph_vector_bool_destroy(&types);
    if (have_w) igraph_vector_destroy(&w);
    if (have_e) igraph_vector_int_destroy(&edges);
    tr_igraph_unlock();
    return rc;
}

/* The two largest entries of v[0..n) with stride s: indices in i1, i2. */
static void top2(const uint32_t *v, size_t n, size_t s, size_t *i1, size_t *i2)
{
    *i1 = *i2 = (size_t)-1;
    for (size_t k = 0; k < n; k++) {
        uint32_t x = v[k * s];
        if (*i1 == (size_t)-1 || x > v[*i1 * s]) { *i2 = *i1; *i1 = k; }
        else if (*i2 == (size_t)-1 || x > v[*i2 * s]) *i2 = k;
    }
}

/* An event when the two largest parts of a total each hold part_share and
 * together pair_share. */
static int event(const tr_match_params *p, const uint32_t *v, size_t n, size_t stride, double total, size_t one,
                 tr_match_event *ev)
{
    if (n < 2 || total < (double)p->min_prompts || total <= 0) return 0;
    size_t i1, i2;
    top2(v, n, stride, &i1, &i2);
    double s1 = v[i1 * stride] / total, s2 = v[i2 * stride] / total;
    if (s1 < p->part_share || s2 < p->part_share || s1 + s2 < p->pair_share) return 0;
    ev->one = (int32_t)one;
    ev->two[0] = (int32_t)i1;
    ev->two[1] = (int32_t)i2;
    ev->share[0] = s1;
    ev->share[1] = s2;
    return 1;
}

int tr_match_tasks(const tr_match_input *in, const tr_match_params *pp, tr_match_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!in || !in->T_old || !in->T_new || !in->old_centroids || !in->new_centroids || !in->overlap)
        return tr_errorf(err, errlen, TR_EINVAL, "task matching: empty input (%zu old, %zu new tasks)",
                         in ? in->T_old : 0, in ? in->T_new : 0);
    tr_match_params dp;
    if (!pp) { tr_match_params_default(&dp); pp = &dp; }
    size_t A = in->T_old, B = in->T_new;
    r->T_old = A;
    r->T_new = B;
    r->new_to_old = tr_mallocarray(B, sizeof *r->new_to_old);
    r->old_to_new = tr_mallocarray(A, sizeof *r->old_to_new);
    r->score = tr_mallocarray(A * B, sizeof *r->score);
    r->cosine = tr_mallocarray(A * B, sizeof *r->cosine);
    r->dice = tr_mallocarray(A * B, sizeof *r->dice);
    r->splits = tr_mallocarray(A, sizeof *r->splits);
    r->merges = tr_mallocarray(B, sizeof *r->merges);
    double *row = tr_calloc(A, sizeof *row), *col = tr_calloc(B, sizeof *col);
    int rc = TR_OK;
    if (!r->new_to_old || !r->old_to_new || !r->score || !r->cosine || !r->dice || !r->splits || !r->merges || !row ||
        !col) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "task matching: out of memory");
        goto done;
    }
    for (size_t a = 0; a < A; a++) r->old_to_new[a] = -1;
    for (size_t b = 0; b < B; b++) r->new_to_old[b] = -1;
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < B; b++) {
            row[a] += in->overlap[a * B + b];
            col[b] += in->overlap[a * B + b];
        }
    pair_scores(in, pp, r, row, col);
    if ((rc = assign(pp, r, err, errlen))) goto done;
    for (size_t a = 0; a < A; a++)
        r->n_splits += event(pp, in->overlap + a * B, B, 1, row[a], a, &r->splits[r->n_splits]);
    for (size_t b = 0; b < B; b++)
        r->n_merges += event(pp, in->overlap + b, A, B, col[b], b, &r->merges[r->n_merges]);
done:
    tr_free(row);
    tr_free(col);
    if (rc) tr_match_result_clear(r);
    return rc;
}
