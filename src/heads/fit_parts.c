/* Fitting every component of the heads on a set of rows: task priors,
 * costs, the ridge corrections at one or several penalties, the kNN store
 * (capped per task by a fixed pseudo-random sample) and the kNN-sup space.
 * tr_heads_train runs it once per CV fold and once on every row.  Also the
 * surface features' standardisation and the CV folds' twin of the heads. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "heads/parts.h"
#include "heads/train_steps.h"

/* A fixed pseudo-random key per row index (splitmix64's step). */
static uint64_t row_key(size_t i) { return tr_mix64((uint64_t)i + 0x9e3779b97f4a7c15ULL); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The rows of the kNN store: all of rows, but for a task with more than
 * D->knn_cap of them the knn_cap with the smallest hash of their row index
 * (a fixed pseudo-random sample), in rows' order.  NULL with *nk = nrows
 * when no task is over the cap; *nk = 0 and NULL when out of memory. */
static size_t *knn_rows(const tr_cv_data *D, const size_t *rows, size_t nrows, size_t *nk)
{
    *nk = nrows;
    if (!D->knn_cap) return NULL;
    size_t *cnt = tr_calloc(D->T, sizeof *cnt);
    if (!cnt) { *nk = 0; return NULL; }
    int over = 0;
    for (size_t r = 0; r < nrows; r++) over |= ++cnt[(size_t)D->y[rows ? rows[r] : r]] > D->knn_cap;
    if (!over) { tr_free(cnt); return NULL; }
    /* per task, the cap-th smallest key: keys sorted within each task */
    size_t *start = tr_calloc(D->T + 1, sizeof *start);
    uint64_t *key = tr_mallocarray(nrows, sizeof *key), *thr = tr_mallocarray(D->T, sizeof *thr);
    size_t *out = tr_mallocarray(nrows, sizeof *out);
    if (!start || !key || !thr || !out) {
        tr_free(cnt); tr_free(start); tr_free(key); tr_free(thr); tr_free(out);
        *nk = 0;
        return NULL;
    }
    for (size_t t = 0; t < D->T; t++) start[t + 1] = start[t] + cnt[t];
    for (size_t t = 0; t < D->T; t++) cnt[t] = start[t];
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r;
        key[cnt[(size_t)D->y[i]]++] = row_key(i);
    }
    for (size_t t = 0; t < D->T; t++) {
        size_t m = start[t + 1] - start[t];
        thr[t] = UINT64_MAX;
        if (m <= D->knn_cap) continue;
        qsort(key + start[t], m, sizeof *key, cmp_u64);
        thr[t] = key[start[t] + D->knn_cap - 1];
    }
    size_t k = 0;
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r;
        if (row_key(i) <= thr[(size_t)D->y[i]]) out[k++] = i;
    }
    tr_free(cnt); tr_free(start); tr_free(key); tr_free(thr);
    *nk = k;
    return out;
}

/* Fit h's components (allocated, masks set) on rows.  Ridge: one fit per
 * penalty into Ws[k] when Ws is given, else h->ridge at h->ridge_alpha;
 * the ridge-surface head likewise into Wrs[k] or h->ridge_surf at
 * h->rs_alpha. */
int tr_heads_fit_parts(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows,
                     const double *alphas, size_t na, float *const *Ws, float *const *Wrs,
                     char *err, size_t errlen)
{
    tr_prior_fit(D->S, D->M, D->y, D->T, rows, nrows, h->k0, h->prior, h->gmean, NULL);
    tr_prior_fit(D->C, D->M, D->y, D->T, rows, nrows, h->cost_k0, h->ctask, h->cgmean, NULL);
    if (h->cmask & (1u << TR_CV_LEN))
        tr_cost_fit_len(D->C, D->L, D->M, D->y, D->T, rows, nrows, h->cost_k0, h->cab, h->cres, h->cmin);
    if (h->qmask & (1u << TR_QV_RIDGE)) {
        double a1 = h->ridge_alpha;
        float *w1 = h->ridge;
        int rc = Ws ? tr_expert_fit(D->X, D->d, D->S, D->M, h->prior, D->y, rows, nrows, alphas, na, Ws, err, errlen)
                    : tr_expert_fit(D->X, D->d, D->S, D->M, h->prior, D->y, rows, nrows, &a1, 1, &w1, err, errlen);
        if (rc) return rc;
    }
    if (h->qmask & (1u << TR_QV_RIDGE_SURF)) {
        double a1 = h->rs_alpha;
        float *w1 = h->ridge_surf;
        size_t da = D->d + h->nsurf;
        int rc = Wrs ? tr_expert_fit(D->Xa, da, D->S, D->M, h->prior, D->y, rows, nrows, alphas, na, Wrs, err, errlen)
                     : tr_expert_fit(D->Xa, da, D->S, D->M, h->prior, D->y, rows, nrows, &a1, 1, &w1, err, errlen);
        if (rc) return rc;
    }
    size_t nk = nrows, *krows = NULL;
    if (h->qmask & TR_QV_KNN_MASK) {
        krows = knn_rows(D, rows, nrows, &nk);
        /* nk == 0 with rows to store: out of memory choosing them */
        if ((nrows && !nk) || tr_heads_knn_store(h, D->X, D->S, D->y, krows ? krows : rows, nk)) {
            tr_free(krows);
            return tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory storing %zu kNN rows", nrows);
        }
    }
    const size_t *kr = krows ? krows : rows;
    if (h->qmask & (1u << TR_QV_KNN_SUP)) {
        /* the ridge head at sup_alpha: in CV the fold's fit at alphas[0]
         * (sup_alpha), in the final fit h->ridge when CV kept that penalty */
        size_t DD = D->d + 1;
        if (Ws && na > 0 && alphas[0] == h->sup_alpha) {
            memcpy(h->sup_W, Ws[0], D->M * DD * sizeof *h->sup_W);
        } else if (h->ridge && h->ridge_alpha == h->sup_alpha) {
            memcpy(h->sup_W, h->ridge, D->M * DD * sizeof *h->sup_W);
        } else {
            double a1 = h->sup_alpha;
            float *w1 = h->sup_W;
            int rc = tr_expert_fit(D->X, D->d, D->S, D->M, h->prior, D->y, rows, nrows, &a1, 1, &w1, err, errlen);
            if (rc) { tr_free(krows); return rc; }
        }
        if (tr_heads_sup_store(h, D->X, D->P, D->y, kr, nk)) {
            tr_free(krows);
            return tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory storing %zu kNN-sup rows", nrows);
        }
    }
    tr_free(krows);
    return TR_OK;
}

float *tr_heads_fit_surface(tr_heads *h, const float *X, const float *surf, size_t n, size_t d)
{
    /* standardise on every training row (unsupervised, like the task
     * labels); a feature constant in training gets scale 0 so a new value
     * cannot blow up its z */
    size_t nsurf = h->nsurf, da = d + nsurf;
    float *Xa = tr_mallocarray(n * da, sizeof *Xa);
    if (!Xa) return NULL;
    for (size_t k = 0; k < nsurf; k++) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) s1 += surf[i * TR_HEADS_SURF + k];
        double mean = s1 / (double)n;
        for (size_t i = 0; i < n; i++) {
            double v = surf[i * TR_HEADS_SURF + k] - mean;
            s2 += v * v;
        }
        double sd = sqrt(s2 / (double)n);
        h->surf_mean[k] = (float)mean;
        h->surf_scale[k] = sd > 1e-6 ? (float)(1.0 / (sd + 1e-9)) : 0.0f;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(Xa + i * da, X + i * d, d * sizeof *Xa);
        for (size_t k = 0; k < nsurf; k++)
            Xa[i * da + d + k] = (surf[i * TR_HEADS_SURF + k] - h->surf_mean[k]) * h->surf_scale[k];
    }
    return Xa;
}

int tr_heads_fold_twin(tr_heads *f, const tr_heads *h)
{
    f->M = h->M; f->T = h->T; f->d = h->d; f->top_k = h->top_k;
    f->k0 = h->k0; f->cost_k0 = h->cost_k0;
    f->knn_k = h->knn_k; f->knn_p = h->knn_p; f->knn_k0 = h->knn_k0; f->knn_tasks = h->knn_tasks;
    f->knn_mass = h->knn_mass;
    f->knn_tau_k = h->knn_tau_k; f->knn_tau = h->knn_tau;
    f->nsurf = h->nsurf;
    f->sup_w = h->sup_w; f->sup_alpha = h->sup_alpha;
    /* the folds' ridge weights live in the caller's arrays (Ws, Wrs of
     * tr_heads_fit_parts), not in f */
    f->qmask = h->qmask & ~((1u << TR_QV_RIDGE) | (1u << TR_QV_RIDGE_SURF));
    f->cmask = h->cmask;
    if (tr_heads_alloc_parts(f)) return TR_ENOMEM;
    f->qmask = h->qmask;
    for (size_t k = 0; k < f->nsurf; k++) {
        f->surf_mean[k] = h->surf_mean[k];
        f->surf_scale[k] = h->surf_scale[k];
    }
    return TR_OK;
}
