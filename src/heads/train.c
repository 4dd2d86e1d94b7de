/* tr_heads_train: fit every head variant, choose one by K-fold
 * cross-validation inside the training rows, calibrate on the out-of-fold
 * predictions, and build the selection tables from them.
 *
 * Cross-validation: rows are split into K folds (the caller's fold ids, or a
 * seeded shuffle).  For each fold every component (priors, ridge, costs) is
 * fitted on the other folds and every variant predicts the held-out rows.
 * Each (quality, cost) variant pair is then swept over the λ grid on the
 * complete rows (a score and a cost for every model), exactly as EVAL.md
 * sweeps a router on the test set, and scored by params->criterion (AIQ on
 * the linear cost axis by default).  The best pair wins; ties go to the
 * simpler pair (lower enum values).  With fewer than 10 complete rows or
 * K < 2 there is nothing to compare on: the forced or default variants are
 * used and calibration falls back to in-sample predictions. */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads/cv.h"
#include "kernels/half.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"
#include "base/hash.h"
#include "base/util.h"


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
static int fit_parts(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows,
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

/* The slot of variant qv (ridge ones at penalty index ai). */
static size_t qv_slot(const tr_cv_slots *sl, int qv, size_t ai)
{
    switch (qv) {
    case TR_QV_RIDGE: return 2 + ai;
    case TR_QV_KNN: return sl->knn;
    case TR_QV_ENSEMBLE: return sl->ens;
    case TR_QV_KNN_TAU: return sl->kt;
    case TR_QV_RIDGE_SURF: return sl->rs + ai;
    case TR_QV_ENS_KT_RS: return sl->ekr;
    case TR_QV_KNN_SUP: return sl->ks;
    case TR_QV_KNN_SUP_RIDGE: return sl->ksr;
    default: return (size_t)qv;
    }
}

static void lambda_grid(double *lam, size_t nl, double scale)
{
    lam[0] = 0;
    for (size_t j = 1; j + 1 < nl; j++)
        lam[j] = pow(10.0, -3.0 + 6.0 * (double)(j - 1) / (double)(nl - 3)) / scale;
    lam[nl - 1] = INFINITY;
}

/* Sweep the λ grid on the eval rows; fills cost/qual per λ and the pooled
 * ECE of the chosen models' predictions. */
static double sweep(const tr_cv_data *D, const float *Q, const float *Cc, const size_t *ev,
                    size_t nev, const double *lam, size_t nl, double *cost, double *qual)
{
    double sp[10] = {0}, sy[10] = {0}, sw[10] = {0}, tot = 0;
    size_t M = D->M;
    for (size_t j = 0; j < nl; j++) {
        double sc = 0, sq = 0;
        for (size_t r = 0; r < nev; r++) {
            size_t i = ev[r];
            int m = tr_select_lambda(Q + i * M, Cc + i * M, M, NULL, lam[j]);
            if (m < 0) continue;
            double s = D->S[i * M + m], p = Q[i * M + m];
            sc += D->C[i * M + m];
            sq += s;
            int b = (int)(p * 10);
            b = b < 0 ? 0 : b > 9 ? 9 : b;
            sp[b] += p; sy[b] += s; sw[b] += 1; tot += 1;
        }
        cost[j] = sc / (double)nev;
        qual[j] = sq / (double)nev;
    }
    double e = 0;
    for (int b = 0; b < 10; b++) if (sw[b] > 0) e += sw[b] / tot * fabs(sp[b] / sw[b] - sy[b] / sw[b]);
    return e;
}

static double criterion(const tr_frontier_figs *f, int crit)
{
    double q = isnan(f->q_at_cbest) ? 0 : f->q_at_cbest;
    switch (crit) {
    case TR_CRIT_AIQ_LOG: return f->aiq_log;
    case TR_CRIT_Q_AT_CBEST: return q;
    case TR_CRIT_AIQ_MEAN: return 0.5 * (f->aiq_lin + f->aiq_log);
    default: return f->aiq_lin;
    }
}

/* TR_CRIT_RANKSUM: crit = -(rank by gap + rank by saving + rank by AIQ_log),
 * rank 0 the best, NaN the worst, ties to the earlier row. */
static double key_of(const tr_heads_cvrow *r, int k)
{
    double v = k == 0 ? r->gap : k == 1 ? r->saving : r->aiq_log;
    return isnan(v) ? -INFINITY : v;
}

/* RECIPE.md's candidate order, which breaks ties: prior, kNN, ridge,
 * ensemble (the hard prior first of all), then the later variants in enum
 * order. */
static int recipe_order(int qv)
{
    static const int ord[TR_QV_COUNT] = {0, 1, 3, 2, 4, 5, 6, 7, 8, 9};
    return qv >= 0 && qv < TR_QV_COUNT ? ord[qv] : TR_QV_COUNT;
}

/* Row j comes before row i in tie-breaking order. */
static int earlier(const tr_heads_cvrow *rows, size_t j, size_t i)
{
    int a = recipe_order(rows[j].qv), b = recipe_order(rows[i].qv);
    return a != b ? a < b : j < i;
}

static void rank_sum(tr_heads_cvrow *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < 3; k++) {
            double v = key_of(&rows[i], k);
            for (size_t j = 0; j < n; j++) {
                if (!rows[j].eligible && j != i) continue;
                double w = key_of(&rows[j], k);
                if (w > v || (w == v && earlier(rows, j, i))) sum += 1;
            }
        }
        rows[i].crit = -sum;
    }
}

static size_t row_alpha_index(const tr_heads_params *p, double alpha)
{
    for (int k = 0; k < p->n_ridge_alphas; k++) if (p->ridge_alphas[k] == alpha) return (size_t)k;
    return 0;
}

int tr_heads_params_check(const tr_heads_params *p, char *err, size_t errlen)
{
    if (p->gate_top_k < 1 || p->gate_top_k > TR_HEADS_MAX_TOPK)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: gate_top_k %d outside [1, %d]", p->gate_top_k, TR_HEADS_MAX_TOPK);
    if (!(p->k0 >= 0) || !(p->cost_k0 >= 0))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: k0 %g and cost_k0 %g must be >= 0", p->k0, p->cost_k0);
    if (p->n_ridge_alphas < 0 || p->n_ridge_alphas > TR_HEADS_MAX_ALPHAS)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: n_ridge_alphas %d outside [0, %d]", p->n_ridge_alphas, TR_HEADS_MAX_ALPHAS);
    for (int k = 0; k < p->n_ridge_alphas; k++)
        if (!(p->ridge_alphas[k] > 0 && p->ridge_alphas[k] < INFINITY))
            return tr_errorf(err, errlen, TR_ERANGE, "heads: ridge_alphas[%d] = %g must be > 0", k, p->ridge_alphas[k]);
    if (p->n_lambda < 3 || p->n_lambda > 100000)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: n_lambda %d outside [3, 100000]", p->n_lambda);
    if (!(p->risk_delta > 0 && p->risk_delta < 1))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: risk_delta %g outside (0, 1)", p->risk_delta);
    if (p->knn_k < 0 || p->knn_tasks < 0 || p->knn_tasks > TR_HEADS_MAX_TOPK || !(p->knn_k0 >= 0) || !(p->knn_p > 0))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: knn_k %d, knn_tasks %d (<= %d), knn_k0 %g, knn_p %g out of range",
                         p->knn_k, p->knn_tasks, TR_HEADS_MAX_TOPK, p->knn_k0, p->knn_p);
    if (!(p->knn_mass >= 0 && p->knn_mass <= 1))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: knn_mass %g outside [0, 1]", p->knn_mass);
    if (p->knn_cap < 0)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: knn_cap %d must be >= 0", p->knn_cap);
    if (p->knn_tau_k < 0 || (p->knn_tau_k > 0 && !(p->knn_tau > 0 && p->knn_tau < INFINITY)))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: knn_tau_k %d, knn_tau %g out of range (tau must be > 0)",
                         p->knn_tau_k, p->knn_tau);
    if (!(p->sup_w >= 0 && p->sup_w < INFINITY))
        return tr_errorf(err, errlen, TR_ERANGE, "heads: sup_w %g out of range (>= 0)", p->sup_w);
    if (p->qvariant < 0 && (p->qv_mask & ((1u << TR_QV_COUNT) - 1)) == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "heads: qv_mask %#x selects no variant", p->qv_mask);
    if (p->criterion < TR_CRIT_AIQ_LIN || p->criterion > TR_CRIT_RANKSUM)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: criterion %d unknown", p->criterion);
    if (p->qvariant >= TR_QV_COUNT || p->cvariant >= TR_CV_COUNT)
        return tr_errorf(err, errlen, TR_ERANGE, "heads: variant %d/%d unknown", p->qvariant, p->cvariant);
    return TR_OK;
}

static int validate(const tr_cv_data *D, const tr_heads_params *p, char *err, size_t errlen)
{
    if (D->n == 0 || D->M == 0 || D->T == 0)
        return tr_errorf(err, errlen, TR_ETOOFEW, "heads: need rows, models and tasks (n=%zu, M=%zu, T=%zu)", D->n, D->M, D->T);
    if (!D->S || !D->C || (!D->P && !D->y))
        return tr_errorf(err, errlen, TR_EINVAL, "heads: scores, costs and P or y are required");
    if (D->d > 0 && !D->X)
        return tr_errorf(err, errlen, TR_EINVAL, "heads: d=%zu but no embeddings", D->d);
    int rc = tr_heads_params_check(p, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < D->n; i++) {
        if (D->y && (D->y[i] < 0 || (size_t)D->y[i] >= D->T))
            return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: task label %d outside [0, %zu)", i, (int)D->y[i], D->T);
        if (D->P)
            for (size_t t = 0; t < D->T; t++) {
                float v = D->P[i * D->T + t];
                if (!(v >= 0 && v <= 1.0001f))
                    return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: P(task %zu) = %g not a probability", i, t, v);
            }
        for (size_t a = 0; a < D->d; a++)
            if (!isfinite(D->X[i * D->d + a]))
                return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: embedding[%zu] = %g not finite", i, a, D->X[i * D->d + a]);
        if (D->L && !(D->L[i] >= 0))
            return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: prompt length %g", i, D->L[i]);
        for (size_t k = 0; D->Z && k < TR_HEADS_SURF; k++)
            if (!isfinite(D->Z[i * TR_HEADS_SURF + k]))
                return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: surface feature %zu = %g not finite", i, k,
                                 D->Z[i * TR_HEADS_SURF + k]);
        for (size_t m = 0; m < D->M; m++) {
            float s = D->S[i * D->M + m], c = D->C[i * D->M + m];
            if (!isnan(s) && !(s >= 0 && s <= 1))
                return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu model %zu: score %g outside [0, 1]", i, m, s);
            if (!isnan(c) && !(c >= 0 && c < INFINITY))
                return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu model %zu: cost %g negative or infinite", i, m, c);
        }
    }
    if (p->fold && p->cv_folds >= 2)
        for (size_t i = 0; i < D->n; i++)
            if (p->fold[i] < 0 || p->fold[i] >= p->cv_folds)
                return tr_errorf(err, errlen, TR_ERANGE, "heads: row %zu: fold %d outside [0, %d)", i, (int)p->fold[i], p->cv_folds);
    return TR_OK;
}

/* Per-model calibration on (OOF) predictions Q against the scores. */
static int fit_calibration(tr_heads *h, const tr_cv_data *D, const float *Q)
{
    size_t n = D->n, M = D->M;
    float *px = tr_mallocarray(n, sizeof *px), *py = tr_mallocarray(n, sizeof *py);
    float *kx = tr_mallocarray(n * M, sizeof *kx), *ky = tr_mallocarray(n * M, sizeof *ky);
    int rc = TR_ENOMEM;
    if (!px || !py || !kx || !ky) goto fail;
    uint32_t off = 0;
    for (size_t m = 0; m < M; m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            float q = Q[i * M + m], s = D->S[i * M + m];
            if (isnan(q) || isnan(s)) continue;
            px[k] = q; py[k] = s; k++;
        }
        h->cal_off[m] = off;
        if (k >= 200) {
            size_t nk;
            if ((rc = tr_isotonic_fit(px, py, k, kx + off, ky + off, &nk))) goto fail;
            h->cal_kind[m] = TR_CAL_ISOTONIC;
            off += (uint32_t)nk;
        } else if (k > 0) {
            tr_platt_fit(px, py, k, &h->cal_ab[2 * m], &h->cal_ab[2 * m + 1]);
            h->cal_kind[m] = TR_CAL_PLATT;
        } else {
            h->cal_kind[m] = TR_CAL_IDENTITY;
        }
    }
    h->cal_off[M] = off;
    h->cal_x = tr_mallocarray(off ? off : 1, sizeof(float));
    h->cal_y = tr_mallocarray(off ? off : 1, sizeof(float));
    if (!h->cal_x || !h->cal_y) goto fail;
    memcpy(h->cal_x, kx, off * sizeof(float));
    memcpy(h->cal_y, ky, off * sizeof(float));
    rc = TR_OK;
fail:
    tr_free(px); tr_free(py); tr_free(kx); tr_free(ky);
    return rc;
}

static float cal_apply(const tr_heads *h, size_t m, float q)
{
    switch (h->cal_kind[m]) {
    case TR_CAL_PLATT: return tr_platt_apply(h->cal_ab[2 * m], h->cal_ab[2 * m + 1], q);
    case TR_CAL_ISOTONIC: return tr_isotonic_apply(h->cal_x + h->cal_off[m], h->cal_y + h->cal_off[m],
                                                   h->cal_off[m + 1] - h->cal_off[m], q);
    default: return q;
    }
}

/* Budget table: for each finite λ of the grid, the mean cost per query on
 * every training row (observed cost of the chosen model, its prediction
 * where unobserved) of λ-selection with the out-of-fold predictions.  Made
 * non-increasing in λ by a running minimum (selection cost is monotone in λ
 * up to ties; the minimum removes the noise). */
static int build_budget(tr_heads *h, const tr_cv_data *D, const float *Q, const float *Cc,
                        const double *lam, size_t nl)
{
    size_t nb = nl - 1, n = D->n, M = D->M;   /* drop λ = inf */
    h->b_lambda = tr_mallocarray(nb, sizeof(float));
    h->b_cost = tr_mallocarray(nb, sizeof(float));
    h->b_quality = tr_mallocarray(nb, sizeof(float));
    if (!h->b_lambda || !h->b_cost || !h->b_quality) return TR_ENOMEM;
    double prev = INFINITY;
    for (size_t j = 0; j < nb; j++) {
        double sc = 0, sq = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            int m = tr_select_lambda(Q + i * M, Cc + i * M, M, NULL, lam[j]);
            if (m < 0) continue;
            float c = D->C[i * M + m], s = D->S[i * M + m];
            sc += isnan(c) ? Cc[i * M + m] : c;
            sq += isnan(s) ? Q[i * M + m] : s;
            cnt++;
        }
        double mc = cnt ? sc / (double)cnt : 0;
        if (mc > prev) mc = prev;
        prev = mc;
        h->b_lambda[j] = (float)lam[j];
        h->b_cost[j] = (float)mc;
        h->b_quality[j] = (float)(cnt ? sq / (double)cnt : 0);
    }
    h->n_budget = (uint32_t)nb;
    return TR_OK;
}

/* Risk table: thresholds t_j = j/200, j = 0..200; at each, the misrouting
 * count on the rows where the chosen and the strongest model are both
 * labelled, its Clopper-Pearson bound, and the running maximum
 * (fixed-sequence test).  The rule's choice on a row is a step function of
 * t (a model becomes admissible at grid index ceil((1 - p_m) * 200)), so
 * each row adds its segments to difference arrays: O(n M log M + grid)
 * instead of O(n M grid). */
#define RISK_STEPS 201
typedef struct adm { int j; int m; } adm;
static int cmp_adm(const void *a, const void *b)
{
    const adm *x = a, *y = b;
    return x->j != y->j ? (x->j > y->j) - (x->j < y->j) : (x->m > y->m) - (x->m < y->m);
}

static int build_risk(tr_heads *h, const tr_cv_data *D, const float *Qcal, const float *Cc,
                      double delta)
{
    size_t n = D->n, M = D->M;
    h->r_t = tr_mallocarray(RISK_STEPS, sizeof(float));
    h->r_ucb = tr_mallocarray(RISK_STEPS, sizeof(float));
    long *dk = tr_calloc(RISK_STEPS + 1, sizeof *dk), *dn = tr_calloc(RISK_STEPS + 1, sizeof *dn);
    adm *a = tr_mallocarray(M, sizeof *a);
    int rc = TR_ENOMEM;
    if (!h->r_t || !h->r_ucb || !dk || !dn || !a) goto fail;
    for (size_t i = 0; i < n; i++) {
        const float *q = Qcal + i * M, *c = Cc + i * M;
        int b = tr_select(q, q, c, M, NULL, TR_SELECT_QUALITY, 0, NULL);
        if (b < 0 || isnan(D->S[i * M + b])) continue;
        float sb = D->S[i * M + b];
        size_t na = 0;
        for (size_t m = 0; m < M; m++) {
            if (isnan(q[m]) || isnan(c[m])) continue;
            double p = (int)m == b ? 1.0 : 1.0 - (double)q[b] * (1.0 - (double)q[m]);
            /* admissible at t_j when p >= 1 - t_j - 1e-9 (as tr_select_risk_t) */
            double jm = ceil((1.0 - p - 1e-9) * (RISK_STEPS - 1) - 1e-9);
            a[na].j = jm < 0 ? 0 : (int)jm;
            a[na].m = (int)m;
            if (a[na].j < RISK_STEPS) na++;
        }
        /* b without a cost: tr_select_risk_t falls back to b until another model is admissible */
        qsort(a, na, sizeof *a, cmp_adm);
        int cur = isnan(c[b]) ? b : -1;
        double cp = 0;
        size_t u = 0;
        int j0 = 0;
        while (j0 < RISK_STEPS) {
            /* admit everything whose index is <= j0 */
            while (u < na && a[u].j <= j0) {
                int m = a[u].m;
                double p = m == b ? 1.0 : 1.0 - (double)q[b] * (1.0 - (double)q[m]);
                if (cur < 0 || (cur == b && isnan(c[b])) || c[m] < c[cur] || (c[m] == c[cur] && p > cp)) { cur = m; cp = p; }
                u++;
            }
            int j1 = u < na ? a[u].j : RISK_STEPS;   /* the choice holds on [j0, j1) */
            float sm = cur >= 0 ? D->S[i * M + cur] : NAN;
            if (cur >= 0 && !isnan(sm)) {
                dn[j0]++; dn[j1]--;
                if (sm < sb) { dk[j0]++; dk[j1]--; }
            }
            j0 = j1;
        }
    }
    double run = 0;
    long kk = 0, nn = 0;
    size_t nmax = 0;
    for (size_t j = 0; j < RISK_STEPS; j++) {
        kk += dk[j]; nn += dn[j];
        double u = tr_cp_upper((size_t)kk, (size_t)nn, delta);
        if (u > run) run = u;
        h->r_t[j] = (float)((double)j / (RISK_STEPS - 1));
        h->r_ucb[j] = (float)run;
        if ((size_t)nn > nmax) nmax = (size_t)nn;
    }
    h->n_risk = RISK_STEPS;
    h->risk_n = (uint32_t)nmax;
    h->risk_delta = (float)delta;
    rc = TR_OK;
fail:
    tr_free(dk); tr_free(dn); tr_free(a);
    return rc;
}

#define MAX_SLOTS (8 + 2 * TR_HEADS_MAX_ALPHAS)
_Static_assert(MAX_SLOTS <= sizeof ((tr_heads_oof *)0)->Q / sizeof(float *), "tr_heads_oof holds every slot");

/* The CV's sweeps are independent (one per quality slot and cost variant),
 * so they run on worker threads first; score_slot then reads them in the
 * usual order, and the CV rows are the same whatever the thread count. */
typedef struct sweeps {
    size_t n;                   /* pairs: slot s, cost variant cv */
    size_t slot[MAX_SLOTS * TR_CV_COUNT];
    int cv[MAX_SLOTS * TR_CV_COUNT];
    double *pc, *pq, ece[MAX_SLOTS * TR_CV_COUNT];   /* n x nl costs and qualities; ECE */
} sweeps;

typedef struct sweep_job {
    const tr_cv_data *D;
    float *const *Q, *const *Cc;
    const size_t *ev;
    size_t nev, nl;
    const double *lam;
    sweeps *W;
    atomic_size_t next;
} sweep_job;

static void *sweep_run(void *arg)
{
    sweep_job *J = arg;
    for (size_t p; (p = atomic_fetch_add(&J->next, 1)) < J->W->n;)
        J->W->ece[p] = sweep(J->D, J->Q[J->W->slot[p]], J->Cc[J->W->cv[p]], J->ev, J->nev, J->lam, J->nl,
                             J->W->pc + p * J->nl, J->W->pq + p * J->nl);
    return NULL;
}

/* Sweep every cost variant of the slots with want[s] set into W (W->pc and
 * W->pq allocated by the caller for every pair). */
static void sweep_all(const tr_cv_data *D, const tr_heads *h, size_t nslots, const unsigned char *want, float *const *Q,
                      float *const *Cc, const size_t *ev, size_t nev, const double *lam, size_t nl, sweeps *W)
{
    W->n = 0;
    for (size_t s = 0; s < nslots; s++)
        for (int cv = 0; want[s] && cv < TR_CV_COUNT; cv++)
            if (h->cmask >> cv & 1u) { W->slot[W->n] = s; W->cv[W->n] = cv; W->n++; }
    sweep_job J = {.D = D, .Q = Q, .Cc = Cc, .ev = ev, .nev = nev, .nl = nl, .lam = lam, .W = W};
    atomic_init(&J.next, 0);
    tr_run_workers(tr_workers(D->threads, W->n), sweep_run, &J, 0);
}

/* Score Q[slot] with every cost variant on the eval rows into new CV rows;
 * the sweeps from W when it holds them, else done here. */
static int score_slot(tr_heads *h, const tr_cv_data *D, const tr_cv_slots *sl, size_t s, float **Q, float **Cc,
                      const size_t *ev, size_t nev, const double *lam, size_t nl, double *pc,
                      double *pq, const tr_frontier_ref *ref, const tr_heads_params *params, const sweeps *W)
{
    for (int cv = 0; cv < TR_CV_COUNT; cv++) {
        if (!(h->cmask >> cv & 1u)) continue;
        const double *c = pc, *q = pq;
        double e = NAN;
        size_t p = 0;
        while (W && p < W->n && !(W->slot[p] == s && W->cv[p] == cv)) p++;
        if (W && p < W->n) {
            c = W->pc + p * nl; q = W->pq + p * nl; e = W->ece[p];
        } else {
            e = sweep(D, Q[s], Cc[cv], ev, nev, lam, nl, pc, pq);
        }
        tr_frontier_figs fg;
        if (tr_frontier_figures(c, q, nl, ref, &fg)) return TR_ENOMEM;
        tr_heads_cvrow *row = &h->cvrows[h->n_cv++];
        row->qv = tr_cv_slot_qv(sl, s); row->cv = cv;
        row->alpha = s >= 2 && s < 2 + sl->na ? params->ridge_alphas[s - 2]
                   : sl->rs && s >= sl->rs && s < sl->rs + sl->na ? params->ridge_alphas[s - sl->rs]
                   : sl->ens && s == sl->ens ? h->ridge_alpha
                   : sl->ekr && s == sl->ekr ? h->rs_alpha : 0;
        row->aiq_lin = fg.aiq_lin; row->aiq_log = fg.aiq_log;
        row->q_at_cbest = fg.q_at_cbest; row->gap = fg.gap; row->saving = fg.saving;
        row->q_max = fg.q_max; row->ece = e;
        row->crit = criterion(&fg, params->criterion);
        row->eligible = (params->qvariant >= 0 ? params->qvariant == row->qv : (int)(params->qv_mask >> row->qv & 1u))
                        && cv == h->cv;   /* h->cv: the cost variant fixed before CV */
    }
    return TR_OK;
}

/* The best allowed CV row (ties -> the earlier, simpler row); -1 if none. */
static long best_row(const tr_heads *h, const tr_heads_params *p, int only_qv)
{
    long b = -1;
    for (size_t r = 0; r < h->n_cv; r++) {
        const tr_heads_cvrow *row = &h->cvrows[r];
        if (only_qv >= 0 && row->qv != only_qv) continue;
        (void)p;
        if (only_qv < 0 && !row->eligible) continue;
        if (b < 0 || row->crit > h->cvrows[b].crit + 1e-12
            || (row->crit >= h->cvrows[b].crit - 1e-12 && earlier(h->cvrows, r, (size_t)b)))
            b = (long)r;
    }
    return b;
}

/* Hand every slot's out-of-fold predictions to params->oof, named as the
 * CV rows are (with "@alpha" when CV tried several ridge penalties). */
static int give_oof(const tr_heads_params *params, const tr_cv_slots *sl, float *const *Q, const int32_t *fold,
                    size_t n, size_t M, size_t best_slot)
{
    tr_heads_oof o = {.n = n, .M = M, .fold = fold};
    char names[MAX_SLOTS][48];
    for (size_t s = 0; s < sl->n; s++) {   /* sl->n <= MAX_SLOTS: asserted above */
        int qv = tr_cv_slot_qv(sl, s);
        size_t ai = sl->na > 1 && s >= 2 && s < 2 + sl->na ? s - 2
                  : sl->na > 1 && sl->rs && s >= sl->rs && s < sl->rs + sl->na ? s - sl->rs : SIZE_MAX;
        if (ai != SIZE_MAX) snprintf(names[s], sizeof names[s], "%s@%g", tr_qvariant_name(qv), params->ridge_alphas[ai]);
        else snprintf(names[s], sizeof names[s], "%s", tr_qvariant_name(qv));
        o.name[o.n_heads] = names[s];
        o.Q[o.n_heads++] = Q[s];
        if (s == best_slot) o.chosen = names[s];
    }
    return params->oof(params->oof_ctx, &o);
}

int tr_heads_train(const float *X, const float *P, const int32_t *y, size_t n,
                   size_t d, size_t T, const float *scores, const float *costs,
                   const float *lens, size_t M, const tr_heads_params *params,
                   tr_heads **out, char *err, size_t errlen)
{
    tr_heads_params defp;
    if (!params) { tr_heads_params_default(&defp); params = &defp; }
    *out = NULL;
    tr_cv_data D = {X, P, scores, costs, lens, y, n, d, T, M, params->surf, NULL,
              params->knn_cap > 0 ? (size_t)params->knn_cap : 0,
              params->threads > 0 ? params->threads : tr_ncpu()};
    int rc = validate(&D, params, err, errlen);
    if (rc) return rc;
    /* One BLAS thread for the whole fit: our workers carry the CV, and
     * OpenBLAS's threaded SYRK and GEMV would make the heads depend on its
     * thread count */
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);

    tr_heads *h = NULL, *f = NULL;
    float *Pown = NULL, *Q[MAX_SLOTS] = {0}, *Cc[TR_CV_COUNT] = {0}, *Qcal = NULL;
    float *Wf[TR_HEADS_MAX_ALPHAS] = {0}, *Wrs[TR_HEADS_MAX_ALPHAS] = {0}, *scr = NULL, *G = NULL, *xb = NULL, *Xf = NULL;
    float *Xa = NULL;
    sweeps sw = {0};
    int32_t *yown = NULL, *fold = NULL;
    size_t *fit = NULL, *hold = NULL, *ev = NULL;
    double *lam = NULL, *pc = NULL, *pq = NULL;
    size_t nl = (size_t)params->n_lambda;
    tr_cv_slots sl = {0, d > 0 ? (size_t)params->n_ridge_alphas : 0, 0, 0, 0, 0, 0, 0, 0};
    int use_knn = d > 0 && params->knn_k > 0;
    int use_kt = d > 0 && params->knn_tau_k > 0;
    size_t nsurf = d > 0 && params->surf ? TR_HEADS_SURF : 0;
    sl.n = 2 + sl.na;
    if (use_knn) sl.knn = sl.n++;
    if (use_knn && sl.na) sl.ens = sl.n++;
    if (use_kt) sl.kt = sl.n++;
    if (nsurf && sl.na) { sl.rs = sl.n; sl.n += sl.na; }
    if (sl.kt && sl.rs) sl.ekr = sl.n++;
    if (sl.kt && sl.na && params->sup_w > 0) { sl.ks = sl.n++; sl.ksr = sl.n++; }
    size_t best_slot = 1;

    /* P from y, or y from P */
    if (!P) {
        Pown = tr_calloc(n * T, sizeof *Pown);
        if (!Pown) goto oom;
        for (size_t i = 0; i < n; i++) Pown[i * T + (size_t)y[i]] = 1;
        D.P = Pown;
    }
    if (!y) {
        yown = tr_mallocarray(n, sizeof *yown);
        if (!yown) goto oom;
        for (size_t i = 0; i < n; i++) {
            size_t b = 0;
            for (size_t t = 1; t < T; t++) if (P[i * T + t] > P[i * T + b]) b = t;
            yown[i] = (int32_t)b;
        }
        D.y = yown;
    }

    h = tr_calloc(1, sizeof *h);
    if (!h) goto oom;
    h->M = (uint32_t)M; h->T = (uint32_t)T; h->d = (uint32_t)d;
    h->top_k = (uint32_t)(params->gate_top_k < (int)T ? params->gate_top_k : (int)T);
    h->k0 = (float)params->k0; h->cost_k0 = (float)params->cost_k0;
    h->ridge_alpha = sl.na ? (float)params->ridge_alphas[0] : 0;
    h->knn_k = (uint32_t)(params->knn_k > 0 ? params->knn_k : 0);
    h->knn_p = (float)params->knn_p; h->knn_k0 = (float)params->knn_k0;
    h->knn_tasks = (uint32_t)params->knn_tasks;
    h->knn_mass = (float)params->knn_mass;
    h->knn_tau_k = (uint32_t)(use_kt ? params->knn_tau_k : 0);
    h->knn_tau = use_kt ? (float)params->knn_tau : 0;
    h->nsurf = (uint32_t)(sl.rs ? nsurf : 0);
    h->rs_alpha = sl.rs ? (float)params->ridge_alphas[0] : 0;
    h->qmask = (1u << TR_QV_PRIOR_HARD) | (1u << TR_QV_PRIOR_SOFT) | (sl.na ? 1u << TR_QV_RIDGE : 0)
               | (sl.knn ? 1u << TR_QV_KNN : 0) | (sl.ens ? 1u << TR_QV_ENSEMBLE : 0)
               | (sl.kt ? 1u << TR_QV_KNN_TAU : 0) | (sl.rs ? 1u << TR_QV_RIDGE_SURF : 0)
               | (sl.ekr ? 1u << TR_QV_ENS_KT_RS : 0) | (sl.ks ? 1u << TR_QV_KNN_SUP : 0)
               | (sl.ksr ? 1u << TR_QV_KNN_SUP_RIDGE : 0);
    h->sup_w = sl.ks ? (float)params->sup_w : 0;
    h->sup_alpha = sl.ks ? (float)(params->sup_alpha > 0 ? params->sup_alpha : params->ridge_alphas[0]) : 0;
    h->cmask = (1u << TR_CV_TASK) | (lens ? 1u << TR_CV_LEN : 0);
    if (params->qvariant >= 0 && !(h->qmask >> params->qvariant & 1u)) {
        static const char *const needs[TR_QV_COUNT] = {
            "", "", " and a ridge penalty", " and knn_k > 0", ", knn_k > 0 and a ridge penalty",
            " and knn_tau_k > 0", ", a ridge penalty and surface features (params.surf)",
            ", knn_tau_k > 0, a ridge penalty and surface features (params.surf)",
            ", knn_tau_k > 0, a ridge penalty and sup_w > 0", ", knn_tau_k > 0, a ridge penalty and sup_w > 0"};
        rc = tr_errorf(err, errlen, TR_EINVAL, "heads: variant %s needs embeddings (d > 0)%s",
                       tr_qvariant_name(params->qvariant), needs[params->qvariant]);
        goto fail;
    }
    if (params->cvariant >= 0 && !(h->cmask >> params->cvariant & 1u)) {
        rc = tr_errorf(err, errlen, TR_EINVAL, "heads: cost variant %s needs prompt lengths", tr_cvariant_name(params->cvariant));
        goto fail;
    }
    if (tr_heads_alloc_parts(h)) goto oom;
    if (h->nsurf) {
        /* standardise on every training row (unsupervised, like the task
         * labels); a feature constant in training gets scale 0 so a new
         * value cannot blow up its z */
        size_t da = d + nsurf;
        Xa = tr_mallocarray(n * da, sizeof *Xa);
        if (!Xa) goto oom;
        for (size_t k = 0; k < nsurf; k++) {
            double s1 = 0, s2 = 0;
            for (size_t i = 0; i < n; i++) s1 += params->surf[i * TR_HEADS_SURF + k];
            double mean = s1 / (double)n;
            for (size_t i = 0; i < n; i++) {
                double v = params->surf[i * TR_HEADS_SURF + k] - mean;
                s2 += v * v;
            }
            double sd = sqrt(s2 / (double)n);
            h->surf_mean[k] = (float)mean;
            h->surf_scale[k] = sd > 1e-6 ? (float)(1.0 / (sd + 1e-9)) : 0.0f;
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(Xa + i * da, X + i * d, d * sizeof *Xa);
            for (size_t k = 0; k < nsurf; k++)
                Xa[i * da + d + k] = (params->surf[i * TR_HEADS_SURF + k] - h->surf_mean[k]) * h->surf_scale[k];
        }
        D.Xa = Xa;
    }
    /* the cost variant: forced, else the first of cv_mask that can be
     * trained, else the task mean */
    h->cv = TR_CV_TASK;
    if (params->cvariant >= 0) h->cv = params->cvariant;
    else
        for (int v = TR_CV_COUNT - 1; v >= 0; v--)
            if ((params->cv_mask >> v & 1u) && (h->cmask >> v & 1u)) h->cv = v;

    for (size_t s = 0; s < sl.n; s++) { Q[s] = tr_mallocarray(n * M, sizeof(float)); if (!Q[s]) goto oom; }
    for (int v = 0; v < TR_CV_COUNT; v++)
        if (h->cmask >> v & 1u) { Cc[v] = tr_mallocarray(n * M, sizeof(float)); if (!Cc[v]) goto oom; }
    lam = tr_mallocarray(nl, sizeof *lam);
    pc = tr_mallocarray(nl, sizeof *pc);
    pq = tr_mallocarray(nl, sizeof *pq);
    ev = tr_mallocarray(n, sizeof *ev);
    scr = tr_mallocarray(TR_CV_SCRATCH(M, n, d), sizeof *scr);
    if (!lam || !pc || !pq || !ev || !scr) goto oom;
    if (sl.knn || sl.kt) {
        G = tr_mallocarray((size_t)TR_CV_KNN_BLOCK * n, sizeof *G);
        xb = tr_mallocarray((size_t)TR_CV_KNN_BLOCK * d, sizeof *xb);
        Xf = tr_mallocarray(n * d > 0 ? n * d : 1, sizeof *Xf);
        if (!G || !xb || !Xf) goto oom;
    }

    /* complete rows: where a sweep can be scored */
    size_t nev = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        for (size_t m = 0; m < M && ok; m++) ok = !isnan(scores[i * M + m]) && !isnan(costs[i * M + m]);
        if (ok) ev[nev++] = i;
    }
    double csum = 0;
    size_t ccnt = 0;
    for (size_t i = 0; i < n * M; i++) if (!isnan(costs[i])) { csum += costs[i]; ccnt++; }
    double scale = ccnt && csum > 0 ? csum / (double)ccnt : 1.0;
    lambda_grid(lam, nl, scale);

    int K = params->cv_folds;
    int do_cv = K >= 2 && n >= (size_t)(2 * K) && nev >= 10;
    if (params->oof && !do_cv) {
        rc = tr_errorf(err, errlen, TR_EINVAL, "out-of-fold predictions need cross-validation: "
                       "%zu rows (%zu with every score and cost), %d folds", n, nev, K);
        goto fail;
    }
    if (do_cv) {
        fold = tr_mallocarray(n, sizeof *fold);
        fit = tr_mallocarray(n, sizeof *fit);
        hold = tr_mallocarray(n, sizeof *hold);
        f = tr_calloc(1, sizeof *f);
        if (!fold || !fit || !hold || !f) goto oom;
        for (size_t k = 0; k < sl.na; k++) {
            Wf[k] = tr_mallocarray(M * (d + 1), sizeof(float));
            if (!Wf[k]) goto oom;
            if (sl.rs && !(Wrs[k] = tr_mallocarray(M * (d + nsurf + 1), sizeof(float)))) goto oom;
        }
        if (params->fold) {
            memcpy(fold, params->fold, n * sizeof *fold);
        } else {
            /* seeded shuffle, then round-robin: folds differ in size by <= 1 */
            tr_rng rng;
            tr_rng_seed(&rng, params->seed);
            for (size_t i = 0; i < n; i++) hold[i] = i;
            for (size_t i = n; i > 1; i--) {
                size_t j = (size_t)tr_rng_below(&rng, i);
                size_t t = hold[i - 1]; hold[i - 1] = hold[j]; hold[j] = t;
            }
            for (size_t i = 0; i < n; i++) fold[hold[i]] = (int32_t)(i % (size_t)K);
        }
        f->M = h->M; f->T = h->T; f->d = h->d; f->top_k = h->top_k;
        f->k0 = h->k0; f->cost_k0 = h->cost_k0;
        f->knn_k = h->knn_k; f->knn_p = h->knn_p; f->knn_k0 = h->knn_k0; f->knn_tasks = h->knn_tasks;
        f->knn_mass = h->knn_mass;
        f->knn_tau_k = h->knn_tau_k; f->knn_tau = h->knn_tau;
        f->nsurf = h->nsurf;
        f->sup_w = h->sup_w; f->sup_alpha = h->sup_alpha;
        /* ridge weights live in Wf, ridge-surface ones in Wrs */
        f->qmask = h->qmask & ~((1u << TR_QV_RIDGE) | (1u << TR_QV_RIDGE_SURF));
        f->cmask = h->cmask;
        if (tr_heads_alloc_parts(f)) goto oom;
        f->qmask = h->qmask;
        for (size_t k = 0; k < nsurf && f->nsurf; k++) {
            f->surf_mean[k] = h->surf_mean[k];
            f->surf_scale[k] = h->surf_scale[k];
        }
        for (int k = 0; k < K; k++) {
            size_t nf = 0, nh = 0;
            for (size_t i = 0; i < n; i++) { if (fold[i] == k) hold[nh++] = i; else fit[nf++] = i; }
            if (nh == 0) continue;
            if ((rc = fit_parts(f, &D, fit, nf, params->ridge_alphas, sl.na, Wf, Wrs, err, errlen))) goto fail;
            tr_cv_predict_rows(f, &D, hold, nh, Q, &sl, Wf, Wrs, Cc, scr, G, xb, Xf);
            if (params->progress) params->progress(params->progress_ctx, "heads: cross-validation", (k + 1.0) / K);
        }
        f->ridge = NULL;
        f->ridge_surf = NULL;
        /* score every (slot, cost variant) pair; the ensembles last, with the
         * ridge penalties the ridge and ridge-surface rows preferred */
        h->cvrows = tr_calloc(MAX_SLOTS * TR_CV_COUNT, sizeof *h->cvrows);
        if (!h->cvrows) goto oom;
        tr_frontier_ref ref;
        if (tr_frontier_ref_compute(scores, costs, nev, M, ev, &ref)) goto oom;
        unsigned char want[MAX_SLOTS] = {0};
        for (size_t s = 0; s < sl.n; s++) want[s] = (!sl.ens || s != sl.ens) && (!sl.ekr || s != sl.ekr);
        sw.pc = tr_mallocarray(MAX_SLOTS * TR_CV_COUNT * nl, sizeof *sw.pc);
        sw.pq = tr_mallocarray(MAX_SLOTS * TR_CV_COUNT * nl, sizeof *sw.pq);
        if (!sw.pc || !sw.pq) goto oom;
        sweep_all(&D, h, sl.n, want, Q, Cc, ev, nev, lam, nl, &sw);
        for (size_t s = 0; s < sl.n; s++)
            if (want[s] && score_slot(h, &D, &sl, s, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, &sw)) goto oom;
        if (params->criterion == TR_CRIT_RANKSUM) rank_sum(h->cvrows, h->n_cv);
        long br = best_row(h, params, TR_QV_RIDGE);
        if (br >= 0) h->ridge_alpha = (float)h->cvrows[br].alpha;
        br = best_row(h, params, TR_QV_RIDGE_SURF);
        if (br >= 0) h->rs_alpha = (float)h->cvrows[br].alpha;
        if (sl.ens) {
            const float *qs = Q[1], *qk = Q[sl.knn], *qr = Q[2 + row_alpha_index(params, h->ridge_alpha)];
            for (size_t i = 0; i < n * M; i++) Q[sl.ens][i] = (qs[i] + qk[i] + qr[i]) / 3.0f;
            if (score_slot(h, &D, &sl, sl.ens, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, NULL)) goto oom;
        }
        if (sl.ekr) {
            /* the mean of the clipped parts (prediction clips the mean of
             * the unclipped ones: the same unless a part leaves [0, 1]) */
            const float *qk = Q[sl.kt], *qr = Q[sl.rs + row_alpha_index(params, h->rs_alpha)];
            for (size_t i = 0; i < n * M; i++) Q[sl.ekr][i] = 0.5f * (qk[i] + qr[i]);
            if (score_slot(h, &D, &sl, sl.ekr, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, NULL)) goto oom;
        }
        if ((sl.ens || sl.ekr) && params->criterion == TR_CRIT_RANKSUM) rank_sum(h->cvrows, h->n_cv);
        long b = best_row(h, params, -1);
        if (b < 0) {
            rc = tr_errorf(err, errlen, TR_EINVAL, "heads: no trainable variant in qv_mask %#x", params->qv_mask);
            goto fail;
        }
        const tr_heads_cvrow *row = &h->cvrows[b];
        h->qv = row->qv; h->cv = row->cv;
        if (row->qv == TR_QV_RIDGE) h->ridge_alpha = (float)row->alpha;
        if (row->qv == TR_QV_RIDGE_SURF) h->rs_alpha = (float)row->alpha;
        best_slot = qv_slot(&sl, row->qv, row_alpha_index(params, row->alpha));
        if (params->oof && (rc = give_oof(params, &sl, Q, fold, n, M, best_slot))) goto fail;   /* described by oof */
    } else {
        h->qv = params->qvariant >= 0 ? params->qvariant : TR_QV_PRIOR_SOFT;
        best_slot = qv_slot(&sl, h->qv, 0);
    }

    /* the final fit on every row */
    if ((rc = fit_parts(h, &D, NULL, n, NULL, 0, NULL, NULL, err, errlen))) goto fail;
    if (!do_cv) {
        /* in-sample stand-ins for the out-of-fold predictions */
        for (size_t i = 0; i < n; i++) {
            const float *x = X ? X + i * d : NULL;
            tr_heads_predict_variant(h, h->qv, h->cv, x, D.P + i * T, lens ? (size_t)lens[i] : 0,
                                     D.Z ? D.Z + i * TR_HEADS_SURF : NULL, Q[best_slot] + i * M, NULL,
                                     Cc[h->cv] + i * M, scr);
        }
    }
    const float *Qb = Q[best_slot];

    if (fit_calibration(h, &D, Qb)) goto oom;
    Qcal = tr_mallocarray(n * M, sizeof *Qcal);
    if (!Qcal) goto oom;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < M; m++) Qcal[i * M + m] = cal_apply(h, m, Qb[i * M + m]);
    {
        /* out-of-fold ECE over every labelled (row, model) before / after */
        float *a = tr_mallocarray(n * M, sizeof *a), *b = tr_mallocarray(n * M, sizeof *b), *s = tr_mallocarray(n * M, sizeof *s);
        if (!a || !b || !s) { tr_free(a); tr_free(b); tr_free(s); goto oom; }
        size_t k = 0;
        for (size_t i = 0; i < n * M; i++)
            if (!isnan(scores[i]) && !isnan(Qb[i])) { a[k] = Qb[i]; b[k] = Qcal[i]; s[k] = scores[i]; k++; }
        h->ece_raw = (float)tr_ece(a, s, k, 10);
        h->ece_cal = (float)tr_ece(b, s, k, 10);
        tr_free(a); tr_free(b); tr_free(s);
    }
    if (build_budget(h, &D, Qb, Cc[h->cv], lam, nl)) goto oom;
    if (build_risk(h, &D, Qcal, Cc[h->cv], params->risk_delta)) goto oom;
    tr_heads_bind_tables(h);
    *out = h;
    h = NULL;
    rc = TR_OK;
    goto fail;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory training on %zu rows x %zu models", n, M);
fail:
    tr_heads_free(h);
    tr_heads_free(f);
    tr_free(Pown); tr_free(yown); tr_free(fold); tr_free(fit); tr_free(hold); tr_free(ev);
    tr_free(lam); tr_free(pc); tr_free(pq); tr_free(Qcal); tr_free(scr); tr_free(G); tr_free(xb); tr_free(Xf);
    for (size_t s = 0; s < MAX_SLOTS; s++) tr_free(Q[s]);
    for (int v = 0; v < TR_CV_COUNT; v++) tr_free(Cc[v]);
    for (size_t k = 0; k < TR_HEADS_MAX_ALPHAS; k++) { tr_free(Wf[k]); tr_free(Wrs[k]); }
    tr_free(Xa);
    tr_free(sw.pc); tr_free(sw.pq);
    openblas_set_num_threads(blas_threads);
    return rc;
}

void tr_heads_folds_from_ids(const char *const *ids, const size_t *lens, size_t n, int K,
                             int32_t *fold)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(ids[i]);
        fold[i] = K > 0 ? (int32_t)((tr_fnv1a64(ids[i], len) / 5) % (uint64_t)K) : 0;
    }
}
