/* The heads' sum-based parameters from sums over any partition of the
 * rows (heads_sums.h): what fit_parts.c fits on every row, for rows spread
 * over several machines. */
#include "heads/heads_sums.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"

static int want_ridge(const tr_heads *h) { return h->ridge || h->ridge_surf || h->sup_W; }

void tr_heads_sums_free(tr_heads_sums *s)
{
    if (!s) return;
    tr_free(s->sum);
    tr_free(s->cmin);
    tr_free(s->v_shift);
    tr_free(s->v_scale);
    memset(s, 0, sizeof *s);
}

int tr_heads_sums_init(tr_heads_sums *s, const tr_heads *h, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!h) return tr_errorf(err, errlen, TR_EINVAL, "heads sums: no heads");
    size_t T = h->T, M = h->M, d = h->d;
    s->T = T; s->M = M; s->d = d;
    s->nsurf = h->ridge_surf ? h->nsurf : 0;
    s->D = want_ridge(h) && d > 0 ? d + s->nsurf + 1 : 0;
    size_t D = s->D;
    s->n_sum = 5 * T * M + 5 * M + (M + 1) * D * D + M * D + T * M * D;
    s->sum = tr_calloc(s->n_sum, sizeof *s->sum);
    s->cmin = tr_mallocarray(M ? M : 1, sizeof *s->cmin);
    s->v_shift = tr_calloc(s->nsurf ? s->nsurf : 1, sizeof *s->v_shift);
    s->v_scale = tr_calloc(s->nsurf ? s->nsurf : 1, sizeof *s->v_scale);
    if (!s->sum || !s->cmin || !s->v_shift || !s->v_scale) {
        tr_heads_sums_free(s);
        return tr_errorf(err, errlen, TR_ENOMEM, "heads sums: out of memory (%zu tasks, %zu models, dim %zu)", T, M, d);
    }
    double *p = s->sum;
    s->ns = p; p += T * M;
    s->ss = p; p += T * M;
    s->nc = p; p += T * M;
    s->sc = p; p += T * M;
    s->sl = p; p += T * M;
    s->len5 = p; p += 5 * M;
    s->G = p; p += (M + 1) * D * D;
    s->R = p; p += M * D;
    s->U = p;
    for (size_t m = 0; m < M; m++) s->cmin[m] = INFINITY;
    /* v = (s - the sample's mean) * its scale: sums of O(1) numbers, not of
     * raw byte counts, whose squares would cancel in the variance */
    for (size_t k = 0; k < s->nsurf; k++) {
        s->v_shift[k] = h->surf_mean[k];
        s->v_scale[k] = h->surf_scale[k] > 0 ? h->surf_scale[k] : 1.0f;
    }
    return TR_OK;
}

/* The rows' u without the trailing 1 ([x, v], nb x (D - 1)) into Xu. */
static void fill_u(const tr_heads_sums *s, const float *X, const float *surf, size_t i0, size_t nb, float *Xu)
{
    size_t d = s->d, w = s->D - 1;
    for (size_t r = 0; r < nb; r++) {
        float *o = Xu + r * w;
        memcpy(o, X + (i0 + r) * d, d * sizeof *o);
        for (size_t k = 0; k < s->nsurf; k++)
            o[d + k] = (surf[(i0 + r) * TR_HEADS_SURF + k] - s->v_shift[k]) * s->v_scale[k];
    }
}

int tr_heads_sums_add(tr_heads_sums *s, const float *X, const float *surf, const float *S,
                      const float *C, const float *L, const int32_t *y, size_t n,
                      char *err, size_t errlen)
{
    size_t T = s->T, M = s->M, D = s->D;
    if (n && (!S || !C || !y || (D && !X) || (s->nsurf && !surf)))
        return tr_errorf(err, errlen, TR_EINVAL, "heads sums: missing scores, costs, tasks, embeddings or surface features");
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= T)
            return tr_errorf(err, errlen, TR_EINVAL, "heads sums: row %zu: task %d outside [0, %zu)", i, (int)y[i], T);
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)y[i];
        double l = L ? (double)L[i] : 0;
        for (size_t m = 0; m < M; m++) {
            float v = S[i * M + m], c = C[i * M + m];
            size_t k = t * M + m;
            if (!isnan(v)) { s->ns[k] += 1; s->ss[k] += v; }
            if (isnan(c)) continue;
            s->nc[k] += 1; s->sc[k] += c; s->sl[k] += l;
            double *q = s->len5 + 5 * m;
            q[0] += 1; q[1] += l; q[2] += c; q[3] += l * l; q[4] += l * c;
            if (c < s->cmin[m]) s->cmin[m] = c;
        }
    }
    if (!D || !n) return TR_OK;
    size_t w = D - 1, B = TR_EXPERT_BLOCK;
    float *Xu = tr_mallocarray(B * w, sizeof *Xu), *buf = tr_mallocarray(B * D, sizeof *buf);
    float *gb = tr_mallocarray(D * D, sizeof *gb);
    size_t *idx = tr_mallocarray(B, sizeof *idx);
    if (!Xu || !buf || !gb || !idx) {
        tr_free(Xu); tr_free(buf); tr_free(gb); tr_free(idx);
        return tr_errorf(err, errlen, TR_ENOMEM, "heads sums: out of memory for the Gram matrices (D = %zu)", D);
    }
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t nb = n - i0 < B ? n - i0 : B;
        fill_u(s, X, surf, i0, nb, Xu);
        for (size_t r = 0; r < nb; r++) idx[r] = r;
        tr_expert_gram_add(Xu, w, idx, nb, 1.0, s->G, buf, gb);
        for (size_t m = 0; m < M; m++) {
            size_t nm = 0;
            for (size_t r = 0; r < nb; r++)
                if (isnan(S[(i0 + r) * M + m])) idx[nm++] = r;
            if (nm) tr_expert_gram_add(Xu, w, idx, nm, 1.0, s->G + (1 + m) * D * D, buf, gb);
        }
        for (size_t r = 0; r < nb; r++) {
            const float *u = Xu + r * w;
            size_t t = (size_t)y[i0 + r];
            for (size_t m = 0; m < M; m++) {
                float v = S[(i0 + r) * M + m];
                if (isnan(v)) continue;
                double *Rm = s->R + m * D, *Um = s->U + (t * M + m) * D;
                for (size_t a = 0; a < w; a++) { Rm[a] += (double)v * u[a]; Um[a] += u[a]; }
                Rm[w] += v;
                Um[w] += 1;
            }
        }
    }
    tr_free(Xu); tr_free(buf); tr_free(gb); tr_free(idx);
    return TR_OK;
}

/* Model m's normal equations on u (D x D full symmetric, D) into A, rhs. */
static void model_system(const tr_heads_sums *s, const float *prior, size_t m, double *A, double *rhs)
{
    size_t D = s->D, M = s->M;
    const double *G0 = s->G, *Gm = s->G + (1 + m) * D * D;
    for (size_t a = 0; a < D; a++)
        for (size_t b = a; b < D; b++) A[a * D + b] = A[b * D + a] = G0[a * D + b] - Gm[a * D + b];
    for (size_t a = 0; a < D; a++) rhs[a] = s->R[m * D + a];
    for (size_t t = 0; t < s->T; t++) {
        double p = prior[t * M + m];
        if (isnan(p)) continue;
        const double *Ut = s->U + (t * M + m) * D;
        for (size_t a = 0; a < D; a++) rhs[a] -= p * Ut[a];
    }
}

/* The [x, 1] part of a system on u = [x, v, 1]. */
static void drop_surface(const tr_heads_sums *s, const double *A, const double *rhs, double *A1, double *r1)
{
    size_t D = s->D, d = s->d, D1 = d + 1;
    for (size_t a = 0; a < D1; a++) {
        size_t ia = a < d ? a : D - 1;
        r1[a] = rhs[ia];
        for (size_t b = 0; b < D1; b++) A1[a * D1 + b] = A[ia * D + (b < d ? b : D - 1)];
    }
}

int tr_heads_sums_apply(tr_heads *h, const tr_heads_sums *s, char *err, size_t errlen)
{
    if (!h || !s || s->T != h->T || s->M != h->M || s->d != h->d)
        return tr_errorf(err, errlen, TR_EINVAL, "heads sums: shape does not match the heads");
    size_t T = s->T, M = s->M, d = s->d, D = s->D, ns = s->nsurf;
    tr_prior_from_sums(s->ss, s->ns, T, M, h->k0, h->prior, h->gmean);
    tr_prior_from_sums(s->sc, s->nc, T, M, h->cost_k0, h->ctask, h->cgmean);
    if (h->cab) tr_cost_len_from_sums(s->len5, s->cmin, s->sc, s->nc, s->sl, M, T, h->cost_k0, h->cab, h->cres, h->cmin);
    if (!D) return TR_OK;
    double n = s->G[(D - 1) * D + (D - 1)];
    if (!(n > 0)) return TR_OK;
    /* z_k = (s_k - mean) * scale = g_k (v_k - mean_v): Bz maps u to [x, z, 1] */
    double *Bm = tr_calloc(D * D, sizeof *Bm), *A = tr_mallocarray(D * D, sizeof *A);
    double *At = tr_mallocarray(D * D, sizeof *At), *rhs = tr_mallocarray(D, sizeof *rhs);
    double *A1 = tr_mallocarray(D * D, sizeof *A1), *r1 = tr_mallocarray(D, sizeof *r1);
    double *A2 = tr_mallocarray(D * D, sizeof *A2), *r2 = tr_mallocarray(D, sizeof *r2);
    int rc = TR_OK;
    if (!Bm || !A || !At || !rhs || !A1 || !r1 || !A2 || !r2) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "heads sums: out of memory solving (D = %zu)", D);
        goto done;
    }
    for (size_t a = 0; a < D; a++) Bm[a * D + a] = 1;
    for (size_t k = 0; k < ns; k++) {
        size_t j = d + k;
        double mv = s->G[j * D + (D - 1)] / n, var = s->G[j * D + j] / n - mv * mv;
        double c = s->v_scale[k], sd = sqrt(var > 0 ? var : 0) / c;
        h->surf_mean[k] = (float)(mv / c + s->v_shift[k]);
        h->surf_scale[k] = sd > 1e-6 ? (float)(1.0 / (sd + 1e-9)) : 0.0f;
        double g = (double)h->surf_scale[k] / c;
        Bm[j * D + j] = g;
        Bm[j * D + (D - 1)] = -g * mv;
    }
    for (size_t m = 0; m < M; m++) {
        double nl = 0;
        for (size_t t = 0; t < T; t++) nl += s->ns[t * M + m];
        if (nl == 0) {
            if (h->ridge) memset(h->ridge + m * (d + 1), 0, (d + 1) * sizeof *h->ridge);
            if (h->sup_W) memset(h->sup_W + m * (d + 1), 0, (d + 1) * sizeof *h->sup_W);
            if (h->ridge_surf) memset(h->ridge_surf + m * D, 0, D * sizeof *h->ridge_surf);
            continue;
        }
        model_system(s, h->prior, m, A, rhs);
        drop_surface(s, A, rhs, A1, r1);
        if (h->ridge && (rc = tr_expert_solve(A1, r1, d, (size_t)nl, h->ridge_alpha, A2, r2, h->ridge + m * (d + 1),
                                              m, err, errlen))) goto done;
        if (h->sup_W && (rc = tr_expert_solve(A1, r1, d, (size_t)nl, h->sup_alpha, A2, r2, h->sup_W + m * (d + 1),
                                              m, err, errlen))) goto done;
        if (!h->ridge_surf) continue;
        /* At = Bz A Bz^T, r1 = Bz rhs */
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++) {
                double v = 0;
                for (size_t c = 0; c < D; c++) if (Bm[a * D + c] != 0) v += Bm[a * D + c] * A[c * D + b];
                A2[a * D + b] = v;
            }
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++) {
                double v = 0;
                for (size_t c = 0; c < D; c++) if (Bm[b * D + c] != 0) v += A2[a * D + c] * Bm[b * D + c];
                At[a * D + b] = v;
            }
        for (size_t a = 0; a < D; a++) {
            double v = 0;
            for (size_t c = 0; c < D; c++) v += Bm[a * D + c] * rhs[c];
            r1[a] = v;
        }
        if ((rc = tr_expert_solve(At, r1, d + ns, (size_t)nl, h->rs_alpha, A2, r2, h->ridge_surf + m * D,
                                  m, err, errlen))) goto done;
    }
done:
    tr_free(Bm); tr_free(A); tr_free(At); tr_free(rhs); tr_free(A1); tr_free(r1); tr_free(A2); tr_free(r2);
    return rc;
}

int tr_heads_has_knn_store(const tr_heads *h) { return h && (h->qmask & TR_QV_KNN_MASK) != 0; }

int tr_heads_set_knn_store(tr_heads *h, const float *X, const float *S, const float *P,
                           const int32_t *y, size_t n, char *err, size_t errlen)
{
    if (!tr_heads_has_knn_store(h)) return TR_OK;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= h->T)
            return tr_errorf(err, errlen, TR_EINVAL, "kNN store: row %zu: task %d outside [0, %u)", i, (int)y[i], h->T);
    if (tr_heads_knn_store(h, X, S, y, NULL, n) ||
        (h->sup_W && tr_heads_sup_store(h, X, P, y, NULL, n)))
        return tr_errorf(err, errlen, TR_ENOMEM, "kNN store: out of memory for %zu rows", n);
    return TR_OK;
}
