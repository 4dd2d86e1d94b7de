/* Expert heads: fitting every quality and cost variant on a set of rows, and
 * the per-prompt prediction (no allocation).  Training with
 * cross-validation, calibration and the selection tables lives in
 * heads_train.c and the files it names. */
#include "heads/heads_impl.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "heads/parts.h"
#include "kernels/half.h"

void tr_heads_params_default(tr_heads_params *p)
{
    memset(p, 0, sizeof *p);
    p->k0 = 30;
    p->cost_k0 = 10;
    p->gate_top_k = 4;
    p->ridge_alphas[0] = 100;
    p->n_ridge_alphas = 1;
    p->knn_k = 200;
    p->knn_k0 = 5;
    p->knn_p = 3;
    p->knn_tasks = 2;
    p->knn_mass = 0.9;
    p->knn_cap = 1024;
    p->knn_tau_k = 400;
    p->knn_tau = 0.1;
    p->sup_w = 0.25;
    p->cv_folds = 5;
    p->qvariant = -1;
    p->cvariant = -1;
    p->criterion = TR_CRIT_RANKSUM;
    p->qv_mask = ((1u << TR_QV_COUNT) - 1) & ~(1u << TR_QV_PRIOR_HARD);
    p->cv_mask = 1u << TR_CV_LEN;
    p->n_lambda = 101;
    p->risk_delta = 0.1;
    p->seed = 42;
}

static const char *const QV_NAMES[TR_QV_COUNT] = {"prior-hard", "prior-soft", "prior+ridge", "knn", "ensemble",
                                                   "knn-tau", "prior+ridge-surface", "knn-tau/ridge-surface",
                                                   "knn-sup", "knn-sup-ridge"};
static const char *const CV_NAMES[TR_CV_COUNT] = {"task-mean", "length+task"};

const char *tr_qvariant_name(int qv) { return qv >= 0 && qv < TR_QV_COUNT ? QV_NAMES[qv] : "?"; }
const char *tr_cvariant_name(int cv) { return cv >= 0 && cv < TR_CV_COUNT ? CV_NAMES[cv] : "?"; }

/* Variants that read the kNN store (either kernel) or the surface features. */
static const unsigned QV_READS_KNN = (1u << TR_QV_KNN) | (1u << TR_QV_ENSEMBLE);
static const unsigned QV_READS_KNN_TAU = (1u << TR_QV_KNN_TAU) | (1u << TR_QV_ENS_KT_RS) | (1u << TR_QV_KNN_SUP)
                                        | (1u << TR_QV_KNN_SUP_RIDGE);
static const unsigned QV_READS_SURF = (1u << TR_QV_RIDGE_SURF) | (1u << TR_QV_ENS_KT_RS);

int tr_heads_params_restrict(tr_heads_params *p, const char *list, char *err, size_t errlen)
{
    unsigned mask = 0;
    if (!list || !*list) return tr_errorf(err, errlen, TR_EINVAL, "heads: the list '' names no head variant");
    for (const char *at = list;;) {
        const char *e = strchr(at, ',');
        size_t n = e ? (size_t)(e - at) : strlen(at);
        if (n == 0) return tr_errorf(err, errlen, TR_EINVAL, "heads: an empty name in the list '%s'", list);
        int found = -1;
        for (int v = 0; v < TR_QV_COUNT; v++)
            if (strlen(QV_NAMES[v]) == n && !strncmp(QV_NAMES[v], at, n)) found = v;
        if (found < 0) {
            char known[512] = "";
            for (int v = 0; v < TR_QV_COUNT; v++) {
                strncat(known, v ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, QV_NAMES[v], sizeof known - strlen(known) - 1);
            }
            return tr_errorf(err, errlen, TR_EINVAL, "heads: unknown head variant '%.*s' (known: %s)",
                             (int)(n > 64 ? 64 : n), at, known);
        }
        mask |= 1u << found;
        if (!e) break;
        at = e + 1;
    }
    p->qv_mask = mask;
    if (!(mask & QV_READS_KNN)) p->knn_k = 0;
    if (!(mask & QV_READS_KNN_TAU)) p->knn_tau_k = 0;
    if (!(mask & QV_READS_SURF)) p->surf = NULL;
    if (!(mask & ((1u << TR_QV_KNN_SUP) | (1u << TR_QV_KNN_SUP_RIDGE)))) p->sup_w = 0;
    return TR_OK;
}

int tr_heads_params_want_surface(const tr_heads_params *p)
{
    unsigned mask = p->qvariant >= 0 ? 1u << p->qvariant : p->qv_mask;
    return (mask & QV_READS_SURF) != 0;
}

int tr_heads_alloc_parts(tr_heads *h)
{
    size_t M = h->M, T = h->T, D = (size_t)h->d + 1;
    h->prior = tr_calloc(T * M, sizeof(float));
    h->gmean = tr_calloc(M, sizeof(float));
    h->ctask = tr_calloc(T * M, sizeof(float));
    h->cgmean = tr_calloc(M, sizeof(float));
    if (h->qmask & (1u << TR_QV_RIDGE)) h->ridge = tr_calloc(M * D, sizeof(float));
    if (h->qmask & (1u << TR_QV_RIDGE_SURF)) h->ridge_surf = tr_calloc(M * (D + h->nsurf), sizeof(float));
    if (h->qmask & (1u << TR_QV_KNN_SUP)) {
        h->sup_W = tr_calloc(M * D, sizeof(float));
        h->sup_mean = tr_calloc(M, sizeof(float));
        h->sup_scale = tr_calloc(M, sizeof(float));
    }
    if (h->nsurf) {
        h->surf_mean = tr_calloc(h->nsurf, sizeof(float));
        h->surf_scale = tr_calloc(h->nsurf, sizeof(float));
    }
    if (h->cmask & (1u << TR_CV_LEN)) {
        h->cab = tr_calloc(2 * M, sizeof(float));
        h->cres = tr_calloc(T * M, sizeof(float));
        h->cmin = tr_calloc(M, sizeof(float));
    }
    h->cal_kind = tr_calloc(M, 1);
    h->cal_ab = tr_calloc(2 * M, sizeof(float));
    h->cal_off = tr_calloc(M + 1, sizeof(uint32_t));
    if (!h->prior || !h->gmean || !h->ctask || !h->cgmean || !h->cal_kind || !h->cal_ab || !h->cal_off
        || ((h->qmask & (1u << TR_QV_RIDGE)) && !h->ridge)
        || ((h->qmask & (1u << TR_QV_RIDGE_SURF)) && !h->ridge_surf)
        || ((h->qmask & (1u << TR_QV_KNN_SUP)) && (!h->sup_W || !h->sup_mean || !h->sup_scale))
        || (h->nsurf && (!h->surf_mean || !h->surf_scale))
        || ((h->cmask & (1u << TR_CV_LEN)) && (!h->cab || !h->cres || !h->cmin)))
        return TR_ENOMEM;
    return TR_OK;
}

void tr_heads_bind_tables(tr_heads *h)
{
    h->tabs.n_budget = h->n_budget;
    h->tabs.budget_lambda = h->b_lambda;
    h->tabs.budget_cost = h->b_cost;
    h->tabs.budget_quality = h->b_quality;
    h->tabs.n_risk = h->n_risk;
    h->tabs.risk_t = h->r_t;
    h->tabs.risk_ucb = h->r_ucb;
}

void tr_heads_free(tr_heads *h)
{
    if (!h) return;
    tr_free(h->prior); tr_free(h->gmean); tr_free(h->ridge);
    tr_free(h->ridge_surf); tr_free(h->surf_mean); tr_free(h->surf_scale);
    tr_free(h->knn_X); tr_free(h->knn_Xh); tr_free(h->knn_S); tr_free(h->knn_off);
    tr_free(h->sup_W); tr_free(h->sup_mean); tr_free(h->sup_scale); tr_free(h->knn_Z); tr_free(h->knn_zn);
    tr_free(h->ctask); tr_free(h->cgmean); tr_free(h->cab); tr_free(h->cres); tr_free(h->cmin);
    tr_free(h->cal_kind); tr_free(h->cal_ab); tr_free(h->cal_off); tr_free(h->cal_x); tr_free(h->cal_y);
    tr_free(h->b_lambda); tr_free(h->b_cost); tr_free(h->b_quality);
    tr_free(h->r_t); tr_free(h->r_ucb);
    tr_free(h->cvrows);
    tr_free(h);
}

size_t tr_heads_models(const tr_heads *h) { return h->M; }
size_t tr_heads_tasks(const tr_heads *h) { return h->T; }
size_t tr_heads_dim(const tr_heads *h) { return h->d; }
int tr_heads_qvariant(const tr_heads *h) { return h->qv; }
int tr_heads_cvariant(const tr_heads *h) { return h->cv; }
double tr_heads_ridge_alpha(const tr_heads *h) { return h->ridge_alpha; }
double tr_heads_surf_alpha(const tr_heads *h) { return h->ridge_surf ? h->rs_alpha : 0; }
int tr_heads_uses_surface(const tr_heads *h) { return h && (h->qv == TR_QV_RIDGE_SURF || h->qv == TR_QV_ENS_KT_RS); }
int tr_heads_has_qvariant(const tr_heads *h, int qv) { return qv >= 0 && qv < TR_QV_COUNT && (h->qmask >> qv & 1u); }
int tr_heads_has_cvariant(const tr_heads *h, int cv) { return cv >= 0 && cv < TR_CV_COUNT && (h->cmask >> cv & 1u); }
const tr_select_tables *tr_heads_tables(const tr_heads *h) { return &h->tabs; }

int tr_heads_default_policy(const tr_heads *h, tr_policy_estimate *out)
{
    if (!h || !h->dp_ok) return 0;
    *out = h->dp;
    return 1;
}
void tr_heads_ece(const tr_heads *h, double *raw, double *calibrated) { *raw = h->ece_raw; *calibrated = h->ece_cal; }
int tr_heads_calibration_kind(const tr_heads *h, size_t m) { return m < h->M ? h->cal_kind[m] : -1; }

const tr_heads_cvrow *tr_heads_cv_table(const tr_heads *h, size_t *n_rows)
{
    *n_rows = h->n_cv;
    return h->cvrows;
}

/* Where the surface variants' scratch starts (after the kNN part). */
static size_t surf_scratch_off(const tr_heads *h) { return 5 * (size_t)h->M + 2 * (size_t)h->knn_n + 1; }

size_t tr_heads_scratch_floats(const tr_heads *h)
{
    /* [ridge correction M][prior M][kNN M][kNN work 2M + n][sims n][1]
     * [ridge-surface design row d + nsurf][kNN-sup z M]; top-k indices
     * and weights live on the stack (k <= 64) */
    return surf_scratch_off(h) + (size_t)h->d + h->nsurf + h->M;
}

int tr_heads_knn_store(tr_heads *h, const float *X, const float *S, const int32_t *y,
                       const size_t *rows, size_t nrows)
{
    size_t d = h->d, M = h->M, T = h->T;
    uint16_t *kx = tr_mallocarray(nrows ? nrows * d : 1, sizeof *kx);
    float *ks = tr_mallocarray(nrows ? nrows * 2 * M : 1, sizeof *ks);
    uint32_t *off = tr_calloc(T + 1, sizeof *off);
    if (!kx || !ks || !off) { tr_free(kx); tr_free(ks); tr_free(off); return TR_ENOMEM; }
    /* counting sort by task: stable, so the order inside a task is the rows' */
    for (size_t r = 0; r < nrows; r++) off[(size_t)y[rows ? rows[r] : r] + 1]++;
    for (size_t t = 0; t < T; t++) off[t + 1] += off[t];
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r, t = (size_t)y[i];
        size_t j = off[t]++;
        tr_half_from_floats(X + i * d, d, kx + j * d);
        tr_knn_pack(S + i * M, 1, M, ks + j * 2 * M);
    }
    for (size_t t = T; t > 0; t--) off[t] = off[t - 1];
    off[0] = 0;
    tr_free(h->knn_X); tr_free(h->knn_Xh); tr_free(h->knn_S); tr_free(h->knn_off);
    h->knn_X = NULL; h->knn_Xh = kx; h->knn_S = ks; h->knn_off = off;
    h->knn_n = (uint32_t)nrows;
    return TR_OK;
}

/* The kNN estimate for x into out (M), from the soft prior 'prior', with k
 * neighbours weighted by cos^p (tau == 0) or exp((cos-1)/tau). */
static void knn_estimate(const tr_heads *h, const float *x, const float *p_task,
                         const float *prior, float *out, float *work, size_t k, float p, float tau,
                         const float *zq)
{
    uint32_t lo[TR_HEADS_MAX_TOPK], hi[TR_HEADS_MAX_TOPK];
    size_t nseg = 0;
    if (tr_knn_whole_store(h)) {
        lo[0] = 0; hi[0] = h->knn_n; nseg = 1;
    } else {
        int32_t idx[TR_HEADS_MAX_TOPK];
        nseg = tr_gate_search(p_task, h->T, h->knn_tasks, h->knn_mass, idx);
        for (size_t s = 0; s < nseg; s++) { lo[s] = h->knn_off[idx[s]]; hi[s] = h->knn_off[idx[s] + 1]; }
    }
    float *sims = work + 2 * (size_t)h->M + h->knn_n;
    if (h->knn_Xh) tr_knn_sims_half(h->knn_Xh, h->d, lo, hi, nseg, x, sims);
    else tr_knn_sims(h->knn_X, h->d, lo, hi, nseg, x, sims);
    if (zq) tr_heads_sup_sims(h, lo, hi, nseg, zq, sims, work + 2 * (size_t)h->M);
    tr_knn_combine(h->knn_S, h->M, lo, hi, nseg, sims, k, p, tau, h->knn_k0, prior, out, work);
}

/* Calibrated quality of model m. */
static float calibrate(const tr_heads *h, size_t m, float q)
{
    if (isnan(q)) return q;
    switch (h->cal_kind[m]) {
    case TR_CAL_PLATT: return tr_platt_apply(h->cal_ab[2 * m], h->cal_ab[2 * m + 1], q);
    case TR_CAL_ISOTONIC: {
        uint32_t o = h->cal_off[m];
        return tr_isotonic_apply(h->cal_x + o, h->cal_y + o, h->cal_off[m + 1] - o, q);
    }
    default: return q;
    }
}

/* out[m] += the ridge-surface correction: the design row [x, z] is built
 * in u (d + nsurf floats), z standardised from the raw features surf
 * (NULL: the training mean, z = 0); corr: M floats. */
static void surf_apply(const tr_heads *h, const float *x, const float *surf, float *out,
                       float *corr, float *u)
{
    size_t d = h->d;
    memcpy(u, x, d * sizeof *u);
    for (size_t k = 0; k < h->nsurf; k++)
        u[d + k] = surf ? (surf[k] - h->surf_mean[k]) * h->surf_scale[k] : 0.0f;
    tr_expert_apply(h->ridge_surf, d + h->nsurf, h->M, u, out, corr);
}

int tr_heads_predict_variant(const tr_heads *h, int qv, int cv, const float *x,
                             const float *p_task, size_t prompt_len, const float *surf,
                             float *q_out, float *qcal_out, float *c_out,
                             float *scratch)
{
    if (!h || !p_task) return TR_EINVAL;
    if (!tr_heads_has_qvariant(h, qv) || !tr_heads_has_cvariant(h, cv)) return TR_EINVAL;
    if (q_out && qv >= TR_QV_RIDGE && (!x || !scratch)) return TR_EINVAL;
    size_t M = h->M;
    int32_t idx[TR_HEADS_MAX_TOPK];
    float w[TR_HEADS_MAX_TOPK];
    size_t k = tr_gate_topk(p_task, h->T, h->top_k, idx, w);
    if (q_out) {
        if (qv == TR_QV_PRIOR_HARD) {
            int32_t i1 = idx[0];
            float w1 = 1;
            tr_gate_mix(h->prior, M, &i1, &w1, 1, q_out);
        } else {
            tr_gate_mix(h->prior, M, idx, w, k, q_out);
        }
        if (qv == TR_QV_RIDGE) tr_expert_apply(h->ridge, h->d, M, x, q_out, scratch);
        if (qv == TR_QV_KNN || qv == TR_QV_ENSEMBLE) {
            float *prior = scratch + M, *qk = scratch + 2 * M, *work = scratch + 3 * M;
            memcpy(prior, q_out, M * sizeof *prior);
            knn_estimate(h, x, p_task, prior, qk, work, h->knn_k, h->knn_p, 0.0f, NULL);
            if (qv == TR_QV_KNN) {
                memcpy(q_out, qk, M * sizeof *q_out);
            } else {
                /* (prior + kNN + (prior + ridge correction)) / 3 */
                tr_expert_apply(h->ridge, h->d, M, x, q_out, scratch);
                for (size_t m = 0; m < M; m++) q_out[m] = (prior[m] + qk[m] + q_out[m]) / 3.0f;
            }
        }
        if (qv == TR_QV_RIDGE_SURF) {
            float *u = scratch + surf_scratch_off(h);
            surf_apply(h, x, surf, q_out, scratch, u);
        }
        if (qv == TR_QV_KNN_TAU || qv == TR_QV_ENS_KT_RS) {
            float *prior = scratch + M, *qk = scratch + 2 * M, *work = scratch + 3 * M;
            memcpy(prior, q_out, M * sizeof *prior);
            knn_estimate(h, x, p_task, prior, qk, work, h->knn_tau_k, 0.0f, h->knn_tau, NULL);
            if (qv == TR_QV_KNN_TAU) {
                memcpy(q_out, qk, M * sizeof *q_out);
            } else {
                /* (kNN-tau + (prior + ridge-surface correction)) / 2 */
                float *u = scratch + surf_scratch_off(h);
                surf_apply(h, x, surf, q_out, scratch, u);
                for (size_t m = 0; m < M; m++) q_out[m] = 0.5f * (qk[m] + q_out[m]);
            }
        }
        if (qv == TR_QV_KNN_SUP || qv == TR_QV_KNN_SUP_RIDGE) {
            /* the shrinkage target: the soft prior, or (kNN-sup-ridge) the
             * clipped prior+ridge prediction z is made from */
            float *prior = scratch + M, *qk = scratch + 2 * M, *work = scratch + 3 * M;
            float *zq = scratch + surf_scratch_off(h) + h->d + h->nsurf;
            memcpy(prior, q_out, M * sizeof *prior);
            tr_heads_sup_z(h, x, p_task, zq, scratch, qv == TR_QV_KNN_SUP_RIDGE ? prior : NULL);
            knn_estimate(h, x, p_task, prior, qk, work, h->knn_tau_k, 0.0f, h->knn_tau, zq);
            memcpy(q_out, qk, M * sizeof *q_out);
        }
        for (size_t m = 0; m < M; m++) {
            if (q_out[m] < 0) q_out[m] = 0;
            else if (q_out[m] > 1) q_out[m] = 1;
        }
        if (qcal_out)
            for (size_t m = 0; m < M; m++) qcal_out[m] = calibrate(h, m, q_out[m]);
    }
    if (!c_out) return TR_OK;
    if (cv == TR_CV_LEN) {
        tr_gate_mix(h->cres, M, idx, w, k, c_out);
        for (size_t m = 0; m < M; m++) {
            float c = h->cab[2 * m] + h->cab[2 * m + 1] * (float)prompt_len + c_out[m];
            c_out[m] = c < h->cmin[m] ? h->cmin[m] : c;   /* NaN stays NaN */
        }
    } else {
        tr_gate_mix(h->ctask, M, idx, w, k, c_out);
    }
    return TR_OK;
}

int tr_heads_predict(const tr_heads *h, const float *x, const float *p_task,
                     size_t prompt_len, const float *surf, float *q_out, float *qcal_out,
                     float *c_out, float *scratch)
{
    if (!h) return TR_EINVAL;
    return tr_heads_predict_variant(h, h->qv, h->cv, x, p_task, prompt_len, surf, q_out,
                                    qcal_out, c_out, scratch);
}
