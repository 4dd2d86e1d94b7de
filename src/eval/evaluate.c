/* tr_evaluate: the one protocol of docs/evaluation.md, for our router, its ablations and
 * the baselines, in one run on the same test prompts.
 *
 * Every router here is reduced to the same thing: per test prompt and model,
 * a predicted quality and a predicted cost.  The sweep then picks, for each
 * λ of a log-spaced grid, argmax q̂ − λĉ per prompt (our router through its
 * real selection code) and records the realised mean cost and quality; the
 * figures come from eval_metrics.c.  Baselines are trained here on the
 * fold's training part with the router's own embedder, so they see exactly
 * what the router saw (when it was trained on the same fold). */
#include "eval/eval_fold.h"

#include <cJSON.h>
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "data/dataset.h"
#include "eval/by_label.h"
#include "heads/heads.h"
#include "heads/select.h"
#include "router/router.h"

#define N_LAMBDA 121        /* sweep settings (docs/evaluation.md asks for >= 41) */
#define KNN_K 50            /* neighbours of the kNN baseline */

typedef struct ev {
    const tr_router *r;
    const tr_dataset *ds;
    unsigned K, f;          /* the fold */
    size_t nt, M, d, T;     /* test prompts, dataset models, dim, tasks */
    size_t *test;
    double *S, *C;          /* nt x M true scores and costs */
    int *rm;                /* dataset model -> router model, or -1 */
    float *X, *P;           /* nt x d, nt x T */
    size_t ntr;
    size_t *train;
    float *Xtr;             /* ntr x d (baselines only) */
    tr_eval_ref ref;
    cJSON *routers;
    char *err;
    size_t errlen;
} ev;

/* Predictions of one router: nt x M (dataset model order), NaN = cannot. */
typedef struct pred {
    float *q, *c, *qcal;
} pred;

static void pred_free(pred *p) { tr_free(p->q); tr_free(p->c); tr_free(p->qcal); }

static int pred_alloc(const ev *e, pred *p, int with_cal)
{
    size_t n = e->nt * e->M;
    p->q = tr_mallocarray(n, sizeof *p->q);
    p->c = tr_mallocarray(n, sizeof *p->c);
    p->qcal = with_cal ? tr_mallocarray(n, sizeof *p->qcal) : NULL;
    if (!p->q || !p->c || (with_cal && !p->qcal)) { pred_free(p); return TR_ENOMEM; }
    for (size_t i = 0; i < n; i++) { p->q[i] = p->c[i] = NAN; if (p->qcal) p->qcal[i] = NAN; }
    return TR_OK;
}

/* The λ grid: 0, then log-spaced over the range where the choice can change
 * (quality gaps of 1e-3..1 against the predicted cost spread), then +inf. */
static void lambda_grid(const pred *p, const ev *e, double *lam)
{
    double cmin = INFINITY, cmax = 0;
    for (size_t i = 0; i < e->nt * e->M; i++) {
        double c = p->c[i];
        if (!isfinite(c) || c <= 0) continue;
        if (c < cmin) cmin = c;
        if (c > cmax) cmax = c;
    }
    if (!(cmax > 0)) { cmin = 1e-6; cmax = 1; }
    double lo = log10(1e-4 / cmax), hi = log10(10.0 / cmin);
    lam[0] = 0;
    for (int k = 1; k < N_LAMBDA - 1; k++) lam[k] = pow(10, lo + (hi - lo) * (k - 1) / (N_LAMBDA - 3));
    lam[N_LAMBDA - 1] = INFINITY;
}

/* A router's figures (and hull) as the JSON object `eval --json` prints. */
static cJSON *figures_json(const tr_eval_figures *f, const tr_point *hull, double ece)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "q_at_c_best", tr_json_num(f->q_at_cbest));
    cJSON_AddItemToObject(o, "gap_captured", tr_json_num(f->gap));
    cJSON_AddItemToObject(o, "c_at_q_best", tr_json_num(f->c_at_qbest));
    cJSON_AddItemToObject(o, "cost_saving", tr_json_num(f->saving));
    cJSON_AddItemToObject(o, "q_max", tr_json_num(f->q_max));
    cJSON_AddItemToObject(o, "c_at_q_max", tr_json_num(f->c_at_qmax));
    cJSON_AddItemToObject(o, "aiq_lin", tr_json_num(f->aiq_lin));
    cJSON_AddItemToObject(o, "aiq_log", tr_json_num(f->aiq_log));
    cJSON_AddItemToObject(o, "ece", tr_json_num(ece));
    cJSON *h = cJSON_AddArrayToObject(o, "hull");
    for (size_t k = 0; k < f->hull_n; k++) {
        cJSON *pt = cJSON_CreateArray();
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(hull[k].cost));
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(hull[k].quality));
        cJSON_AddItemToArray(h, pt);
    }
    return o;
}

/* The model one router picks for test prompt i at knob setting lam. */
static int pick_at(const ev *e, const pred *p, int ours, const unsigned char *allowed, double lam,
                   const tr_select_tables *tab, size_t i)
{
    const float *q = p->q + i * e->M, *c = p->c + i * e->M;
    int m = ours ? tr_select(q, p->qcal ? p->qcal + i * e->M : NULL, c, e->M, allowed, TR_SELECT_LAMBDA, lam, tab)
                 : tr_select_lambda(q, c, e->M, allowed, lam);
    return m < 0 ? (int)e->ref.best : m;   /* nothing predicted: the best single model */
}

/* Sweep λ; write the points, the chosen-model predictions at the point
 * closest in cost to C_best (for ECE) and the figures into the JSON.
 * qmax_pick (NULL: not wanted): each test prompt's model at the setting of
 * highest quality (the first such), whose λ goes in *qmax_lam.  picks
 * (NULL: not wanted): N_LAMBDA x nt, every choice of the sweep. */
static int sweep_and_score(ev *e, const char *name, const pred *p, int ours, const unsigned char *allowed,
                           int *qmax_pick, double *qmax_lam, int *picks)
{
    double lam[N_LAMBDA];
    lambda_grid(p, e, lam);
    tr_point pts[N_LAMBDA], hull[N_LAMBDA];
    double *pq = tr_mallocarray(e->nt, sizeof *pq), *ps = tr_mallocarray(e->nt, sizeof *ps);
    double best_gap = INFINITY, ece = NAN;
    if (!pq || !ps) { tr_free(pq); tr_free(ps); return TR_ENOMEM; }
    const tr_select_tables *tab = ours ? tr_heads_tables(e->r->heads) : NULL;
    for (int k = 0; k < N_LAMBDA; k++) {
        double sq = 0, sc = 0;
        for (size_t i = 0; i < e->nt; i++) {
            const float *q = p->q + i * e->M;
            int m = pick_at(e, p, ours, allowed, lam[k], tab, i);
            if (picks) picks[(size_t)k * e->nt + i] = m;
            sq += e->S[i * e->M + (size_t)m];
            sc += e->C[i * e->M + (size_t)m];
            pq[i] = p->qcal && !isnan(p->qcal[i * e->M + (size_t)m]) ? p->qcal[i * e->M + (size_t)m] : q[m];
            ps[i] = e->S[i * e->M + (size_t)m];
        }
        pts[k].cost = sc / (double)e->nt;
        pts[k].quality = sq / (double)e->nt;
        double g = fabs(pts[k].cost - e->ref.c_best);
        if (g < best_gap && !isnan(pq[0])) {
            best_gap = g;
            ece = tr_eval_ece(pq, ps, e->nt, 10);
        }
    }
    tr_free(pq);
    tr_free(ps);
    if (qmax_pick) {
        int kb = 0;
        for (int k = 1; k < N_LAMBDA; k++) if (pts[k].quality > pts[kb].quality) kb = k;
        for (size_t i = 0; i < e->nt; i++) qmax_pick[i] = pick_at(e, p, ours, allowed, lam[kb], tab, i);
        *qmax_lam = lam[kb];
    }
    tr_eval_figures f;
    int rc = tr_eval_figures_compute(pts, N_LAMBDA, &e->ref, hull, &f, e->err, e->errlen);
    if (rc) return rc;
    cJSON *o = figures_json(&f, hull, ece);
    cJSON *sw = cJSON_AddArrayToObject(o, "sweep");
    for (int k = 0; k < N_LAMBDA; k++) {
        cJSON *pt = cJSON_CreateArray();
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(pts[k].cost));
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(pts[k].quality));
        cJSON_AddItemToArray(sw, pt);
    }
    cJSON_AddItemToObject(e->routers, name, o);
    return TR_OK;
}

/* Our router's predictions with heads variant (qv, cv); -1 = the chosen one. */
static int predict_heads(ev *e, int qv, int cv, pred *p)
{
    const tr_router *r = e->r;
    int rc = pred_alloc(e, p, 1);
    if (rc) return rc;
    size_t RM = r->n_models;
    float *q = tr_mallocarray(RM + 1, sizeof *q), *qc = tr_mallocarray(RM + 1, sizeof *qc),
          *c = tr_mallocarray(RM + 1, sizeof *c);
    float *scr = tr_mallocarray(tr_heads_scratch_floats(r->heads) + 1, sizeof *scr);
    float surf[TR_HEADS_SURF];
    if (!q || !qc || !c || !scr) rc = TR_ENOMEM;
    for (size_t i = 0; i < e->nt && !rc; i++) {
        const tr_record *rec = &e->ds->rec[e->test[i]];
        size_t len = rec->prompt_len;
        /* a router on caller-supplied embeddings never sees the prompt */
        if (!r->emb) len = 0;
        else tr_surface_features(rec->prompt, tr_prompt_cut(rec->prompt, rec->prompt_len), surf);
        const float *sv = r->emb ? surf : NULL;
        rc = qv < 0 ? tr_heads_predict(r->heads, e->X + i * e->d, e->P + i * e->T, len, sv, q, qc, c, scr)
                    : tr_heads_predict_variant(r->heads, qv, cv, e->X + i * e->d, e->P + i * e->T, len, sv, q, qc, c,
                                               scr);
        for (size_t m = 0; m < e->M && !rc; m++) {
            int k = e->rm[m];
            if (k < 0) continue;
            p->q[i * e->M + m] = q[k];
            p->qcal[i * e->M + m] = qc[k];
            p->c[i * e->M + m] = c[k];
        }
    }
    tr_free(q); tr_free(qc); tr_free(c); tr_free(scr);
    if (rc) pred_free(p);
    return rc;
}

/* Task-prior baselines from the router's task table (plain means). */
static int predict_task_prior(ev *e, int soft, pred *p)
{
    int rc = pred_alloc(e, p, 0);
    if (rc) return rc;
    const tr_tasks *tk = &e->r->tasks;
    size_t RM = tk->n_models;
    if (!RM) return TR_OK;
    for (size_t i = 0; i < e->nt; i++) {
        const float *pt = e->P + i * e->T;
        size_t best = 0;
        for (size_t t = 1; t < e->T; t++)
            if (pt[t] > pt[best]) best = t;
        for (size_t m = 0; m < e->M; m++) {
            int k = e->rm[m];
            if (k < 0) continue;
            double sq = 0, wq = 0, sc = 0, wc = 0;
            for (size_t t = 0; t < e->T; t++) {
                double w = soft ? pt[t] : (t == best);
                float q = tk->quality[t * RM + (size_t)k], c = tk->cost[t * RM + (size_t)k];
                if (w <= 0) continue;
                if (!isnan(q)) { sq += w * q; wq += w; }
                if (!isnan(c)) { sc += w * c; wc += w; }
            }
            p->q[i * e->M + m] = wq > 0 ? (float)(sq / wq) : NAN;
            p->c[i * e->M + m] = wc > 0 ? (float)(sc / wc) : NAN;
        }
    }
    return TR_OK;
}

/* kNN router: each model's mean score and cost over the KNN_K most similar
 * training prompts that have a label for it. */
static int predict_knn(ev *e, pred *p)
{
    int rc = pred_alloc(e, p, 0);
    if (rc) return rc;
    const size_t B = 256, k = KNN_K < e->ntr ? KNN_K : e->ntr;
    float *G = tr_mallocarray(B * e->ntr, sizeof *G);
    size_t *top = tr_mallocarray(k + 1, sizeof *top);
    if (!G || !top) { tr_free(G); tr_free(top); pred_free(p); return TR_ENOMEM; }
    const tr_dataset *ds = e->ds;
    for (size_t i0 = 0; i0 < e->nt; i0 += B) {
        size_t b = e->nt - i0 < B ? e->nt - i0 : B;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)e->ntr, (int)e->d, 1.0f, e->X + i0 * e->d,
                    (int)e->d, e->Xtr, (int)e->d, 0.0f, G, (int)e->ntr);
        for (size_t a = 0; a < b; a++) {
            const float *g = G + a * e->ntr;
            /* insertion top-k: k is small */
            size_t nk = 0;
            for (size_t j = 0; j < e->ntr; j++) {
                if (nk == k && g[j] <= g[top[nk - 1]]) continue;
                size_t pos = nk < k ? nk++ : k - 1;
                while (pos > 0 && g[top[pos - 1]] < g[j]) { top[pos] = top[pos - 1]; pos--; }
                top[pos] = j;
            }
            size_t i = i0 + a;
            for (size_t m = 0; m < e->M; m++) {
                double sq = 0, sc = 0;
                size_t nq = 0, nc = 0;
                for (size_t t = 0; t < nk; t++) {
                    size_t rec = e->train[top[t]];
                    float q = tr_ds_score(ds, rec, m), c = tr_ds_cost(ds, rec, m);
                    if (!isnan(q)) { sq += q; nq++; }
                    if (!isnan(c)) { sc += c; nc++; }
                }
                p->q[i * e->M + m] = nq ? (float)(sq / nq) : NAN;
                p->c[i * e->M + m] = nc ? (float)(sc / nc) : NAN;
            }
        }
    }
    tr_free(G);
    tr_free(top);
    return TR_OK;
}

/* Ridge fit of y on [X, 1] over the rows with labels; w has d+1 entries. */
static int ridge(const float *X, size_t n, size_t d, const float *y, double alpha, float *w)
{
    size_t D = d + 1;
    double *A = tr_calloc(D * D, sizeof *A), *b = tr_calloc(D, sizeof *b);
    if (!A || !b) { tr_free(A); tr_free(b); return TR_ENOMEM; }
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i])) continue;
        const float *x = X + i * d;
        for (size_t a = 0; a < D; a++) {
            double xa = a < d ? x[a] : 1.0;
            b[a] += xa * y[i];
            for (size_t c = 0; c <= a; c++) A[a * D + c] += xa * (c < d ? x[c] : 1.0);
        }
    }
    for (size_t a = 0; a < d; a++) A[a * D + a] += alpha;   /* the intercept is not penalised */
    A[d * D + d] += 1e-6;
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)D, 1, A, (lapack_int)D, b, 1);
    for (size_t a = 0; a < D; a++) w[a] = info == 0 ? (float)b[a] : 0.0f;
    tr_free(A);
    tr_free(b);
    return info == 0 ? TR_OK : TR_EDEP;
}

/* One ridge regression per model on the embedding, no tasks; cost = the
 * model's mean training cost. */
static int predict_linear(ev *e, pred *p)
{
    int rc = pred_alloc(e, p, 0);
    if (rc) return rc;
    float *y = tr_mallocarray(e->ntr, sizeof *y), *w = tr_mallocarray(e->d + 1, sizeof *w);
    if (!y || !w) { tr_free(y); tr_free(w); pred_free(p); return TR_ENOMEM; }
    for (size_t m = 0; m < e->M && !rc; m++) {
        double sc = 0;
        size_t nc = 0, nq = 0;
        for (size_t j = 0; j < e->ntr; j++) {
            y[j] = tr_ds_score(e->ds, e->train[j], m);
            nq += !isnan(y[j]);
            float c = tr_ds_cost(e->ds, e->train[j], m);
            if (!isnan(c)) { sc += c; nc++; }
        }
        if (!nq) continue;
        if (ridge(e->Xtr, e->ntr, e->d, y, 10.0, w)) continue;   /* a singular model: no prediction */
        for (size_t i = 0; i < e->nt; i++) {
            const float *x = e->X + i * e->d;
            double s = w[e->d];
            for (size_t a = 0; a < e->d; a++) s += w[a] * x[a];
            p->q[i * e->M + m] = (float)(s < 0 ? 0 : s > 1 ? 1 : s);
            p->c[i * e->M + m] = nc ? (float)(sc / nc) : NAN;
        }
    }
    tr_free(y);
    tr_free(w);
    return TR_OK;
}

/* Random mixing of two single models: every mix of two models is a segment
 * between their points, so its curve is the single models' hull. */
static int score_random_mix(ev *e, const double *qm, const double *cm)
{
    tr_point *pts = tr_mallocarray(e->M, sizeof *pts), *hull = tr_mallocarray(e->M, sizeof *hull);
    if (!pts || !hull) { tr_free(pts); tr_free(hull); return TR_ENOMEM; }
    for (size_t m = 0; m < e->M; m++) { pts[m].cost = cm[m]; pts[m].quality = qm[m]; }
    tr_eval_figures f;
    int rc = tr_eval_figures_compute(pts, e->M, &e->ref, hull, &f, e->err, e->errlen);
    if (!rc) cJSON_AddItemToObject(e->routers, "random-mix", figures_json(&f, hull, NAN));
    tr_free(pts);
    tr_free(hull);
    return rc;
}

/* Realised risk and budget adherence of our router's RISK and BUDGET modes. */
static void add_modes(ev *e, cJSON *root, const pred *p)
{
    const tr_select_tables *tab = tr_heads_tables(e->r->heads);
    cJSON *risk = cJSON_AddArrayToObject(root, "risk");
    static const double alphas[] = {0.02, 0.05, 0.1, 0.2, 0.3};
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
        double sq = 0, sc = 0;
        size_t bad = 0;
        for (size_t i = 0; i < e->nt; i++) {
            const float *q = p->q + i * e->M, *qc = p->qcal + i * e->M, *c = p->c + i * e->M;
            int m = tr_select(q, qc, c, e->M, NULL, TR_SELECT_RISK, alphas[a], tab);
            /* the strongest model as the risk rule defines it: highest calibrated quality */
            int s = tr_select(qc, NULL, c, e->M, NULL, TR_SELECT_QUALITY, 0, tab);
            if (m < 0) m = (int)e->ref.best;
            if (s < 0) s = m;
            sq += e->S[i * e->M + (size_t)m];
            sc += e->C[i * e->M + (size_t)m];
            bad += e->S[i * e->M + (size_t)m] < e->S[i * e->M + (size_t)s];
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "alpha", alphas[a]);
        cJSON_AddNumberToObject(o, "realised_risk", (double)bad / (double)e->nt);
        cJSON_AddNumberToObject(o, "mean_quality", sq / (double)e->nt);
        cJSON_AddNumberToObject(o, "mean_cost", sc / (double)e->nt);
        cJSON_AddItemToArray(risk, o);
    }
    cJSON *bud = cJSON_AddArrayToObject(root, "budget");
    static const double fr[] = {0.1, 0.25, 0.5, 1.0};
    for (size_t a = 0; a < sizeof fr / sizeof fr[0]; a++) {
        double B = fr[a] * e->ref.c_best, sq = 0, sc = 0;
        for (size_t i = 0; i < e->nt; i++) {
            const float *q = p->q + i * e->M, *qc = p->qcal + i * e->M, *c = p->c + i * e->M;
            int m = tr_select(q, qc, c, e->M, NULL, TR_SELECT_BUDGET, B, tab);
            if (m < 0) m = (int)e->ref.best;
            sq += e->S[i * e->M + (size_t)m];
            sc += e->C[i * e->M + (size_t)m];
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "budget", B);
        cJSON_AddNumberToObject(o, "realised_cost", sc / (double)e->nt);
        cJSON_AddNumberToObject(o, "mean_quality", sq / (double)e->nt);
        cJSON_AddItemToArray(bud, o);
    }
}

/* The router's default policy (tr_router_default_policy) on the test
 * split, against the best single model: what `serve` does with no knob. */
static void add_default_policy(ev *e, cJSON *root, const pred *p)
{
    tr_route_options opt;
    tr_route_options_default(&opt);
    opt.mode = TR_SELECT_QUALITY;
    tr_policy_estimate est;
    int stored = tr_router_default_policy(e->r, &opt, &est) == TR_OK;
    const tr_select_tables *tab = tr_heads_tables(e->r->heads);
    double sq = 0, sc = 0, sd = 0, sd2 = 0;
    for (size_t i = 0; i < e->nt; i++) {
        const float *q = p->q + i * e->M, *qc = p->qcal + i * e->M, *c = p->c + i * e->M;
        int m = tr_select(q, qc, c, e->M, NULL, opt.mode, opt.value, tab);
        if (m < 0) m = (int)e->ref.best;
        sq += e->S[i * e->M + (size_t)m];
        sc += e->C[i * e->M + (size_t)m];
        /* paired with the best single model on the same prompt */
        double d = (double)e->S[i * e->M + (size_t)m] - (double)e->S[i * e->M + e->ref.best];
        sd += d;
        sd2 += d * d;
    }
    double n = (double)e->nt, md = sd / n;
    double se = e->nt > 1 ? sqrt((sd2 - n * md * md) / (n - 1) / n) : NAN;
    cJSON *o = cJSON_AddObjectToObject(root, "default_policy");
    if (!o) return;
    cJSON_AddBoolToObject(o, "stored", stored);
    cJSON_AddStringToObject(o, "mode", opt.mode == TR_SELECT_LAMBDA ? "lambda" : "quality");
    cJSON_AddItemToObject(o, "lambda", tr_json_num(tr_route_lambda(e->r, &opt)));
    cJSON_AddNumberToObject(o, "mean_quality", sq / (double)e->nt);
    cJSON_AddNumberToObject(o, "mean_cost", sc / (double)e->nt);
    cJSON_AddNumberToObject(o, "quality_vs_best", sq / (double)e->nt - e->ref.q_best);
    cJSON_AddItemToObject(o, "quality_vs_best_se", tr_json_num(se));
    cJSON_AddItemToObject(o, "cost_share_of_best", tr_json_num(e->ref.c_best > 0 ? sc / (double)e->nt / e->ref.c_best : NAN));
    if (stored) {
        cJSON_AddItemToObject(o, "training_quality", tr_json_num(est.quality));
        cJSON_AddItemToObject(o, "training_cost", tr_json_num(est.cost));
        cJSON_AddItemToObject(o, "training_best_quality", tr_json_num(est.best_quality));
    }
}

/* Embed records idx[0..n) with the router's embedder (or the dataset's own
 * embeddings) into X (n x d). */
static int embed_records(const ev *e, const size_t *idx, size_t n, float *X)
{
    const tr_dataset *ds = e->ds;
    if (!e->r->emb) {
        if (!ds->emb || ds->emb_dim != e->d)
            return tr_errorf(e->err, e->errlen, TR_EINVAL, "%s: the router wants %zu-dimensional \"embedding\" arrays",
                             ds->path, e->d);
        for (size_t i = 0; i < n; i++) tr_vec_unit(X + i * e->d, ds->emb + idx[i] * e->d, e->d);
        return TR_OK;
    }
    const char **texts = tr_mallocarray(n ? n : 1, sizeof *texts);
    size_t *lens = tr_mallocarray(n ? n : 1, sizeof *lens);
    if (!texts || !lens) { tr_free(texts); tr_free(lens); return TR_ENOMEM; }
    for (size_t i = 0; i < n; i++) {
        texts[i] = ds->rec[idx[i]].prompt;
        lens[i] = ds->rec[idx[i]].prompt_len < TR_MAX_PROMPT_BYTES ? ds->rec[idx[i]].prompt_len : TR_MAX_PROMPT_BYTES;
    }
    int rc = tr_embedder_embed_batch(e->r->emb, texts, lens, n, X, 0, e->err, e->errlen);
    tr_free(texts);
    tr_free(lens);
    return rc;
}

static void ev_clear(ev *e)
{
    tr_free(e->test); tr_free(e->train); tr_free(e->S); tr_free(e->C); tr_free(e->rm);
    tr_free(e->X); tr_free(e->P); tr_free(e->Xtr);
}

void tr_eval_sweep_free(tr_eval_sweep *s)
{
    if (!s) return;
    tr_free(s->S); tr_free(s->C); tr_free(s->pick);
    memset(s, 0, sizeof *s);
}

int tr_evaluate_fold(const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, int flags, cJSON **out,
                     tr_eval_sweep *sweep, char *err, size_t errlen)
{
    *out = NULL;
    if (sweep) memset(sweep, 0, sizeof *sweep);
    if (!r || !ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate: %s is NULL", r ? "ds" : "r");
    if (K < 2 || f >= K) return tr_errorf(err, errlen, TR_EINVAL, "evaluation: fold %u of %u does not exist", f, K);
    if (!r->heads) return tr_errorf(err, errlen, TR_EINVAL, "a stage-1 router (from discover) has no heads to evaluate: use train");
    ev e = {0};
    e.r = r; e.ds = ds; e.err = err; e.errlen = errlen; e.K = K; e.f = f;
    e.M = ds->n_models; e.d = r->dim; e.T = r->tasks.n_tasks;
    cJSON *root = NULL;
    pred ours = {0};
    double *qm = NULL, *cm = NULL, pick_lam = NAN;
    int *pick = NULL, *picks = NULL;
    int rc = tr_dataset_fold_indices(ds, K, f, 1, &e.test, &e.nt);
    if (rc) goto fail;
    if (e.nt == 0) {
        rc = tr_errorf(err, errlen, TR_ETOOFEW,
                       "%s: no test record (fnv1a64(id) %% %u == %u) has a score and a cost for every model", ds->path,
                       K, f);
        goto fail;
    }
    e.S = tr_mallocarray(e.nt * e.M, sizeof *e.S);
    e.C = tr_mallocarray(e.nt * e.M, sizeof *e.C);
    e.rm = tr_mallocarray(e.M, sizeof *e.rm);
    e.X = tr_mallocarray(e.nt * e.d, sizeof *e.X);
    e.P = tr_mallocarray(e.nt * e.T, sizeof *e.P);
    qm = tr_mallocarray(e.M, sizeof *qm);
    cm = tr_mallocarray(e.M, sizeof *cm);
    pick = tr_mallocarray(e.nt, sizeof *pick);
    if (sweep) picks = tr_mallocarray((size_t)N_LAMBDA * e.nt, sizeof *picks);
    if (!e.S || !e.C || !e.rm || !e.X || !e.P || !qm || !cm || !pick || (sweep && !picks)) { rc = TR_ENOMEM; goto fail; }
    for (size_t i = 0; i < e.nt; i++)
        for (size_t m = 0; m < e.M; m++) {
            e.S[i * e.M + m] = tr_ds_score(ds, e.test[i], m);
            e.C[i * e.M + m] = tr_ds_cost(ds, e.test[i], m);
        }
    size_t known = 0;
    for (size_t m = 0; m < e.M; m++) {
        e.rm[m] = tr_router_find_model(r, ds->models[m]);
        known += e.rm[m] >= 0;
    }
    if (!known) {
        rc = tr_errorf(err, errlen, TR_EINVAL, "%s: none of its models is known to the router", ds->path);
        goto fail;
    }
    if ((rc = tr_eval_reference(e.S, e.C, e.nt, e.M, &e.ref, err, errlen))) goto fail;
    tr_eval_model_means(e.S, e.C, e.nt, e.M, qm, cm);
    if ((rc = embed_records(&e, e.test, e.nt, e.X))) goto fail;
    tr_softmax_predict_batch(r->clf, e.X, e.nt, e.P);

    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dataset", ds->path ? ds->path : "");
    cJSON_AddNumberToObject(root, "n_test", (double)e.nt);
    cJSON_AddStringToObject(root, "best_model", ds->models[e.ref.best]);
    cJSON_AddNumberToObject(root, "q_best", e.ref.q_best);
    cJSON_AddNumberToObject(root, "c_best", e.ref.c_best);
    cJSON_AddNumberToObject(root, "q_oracle", e.ref.q_oracle);
    cJSON_AddNumberToObject(root, "c_oracle", e.ref.c_oracle);
    cJSON_AddNumberToObject(root, "c_lo", e.ref.c_lo);
    cJSON_AddNumberToObject(root, "c_hi", e.ref.c_hi);
    cJSON_AddNumberToObject(root, "n_lambda", N_LAMBDA);
    cJSON *models = cJSON_AddObjectToObject(root, "models");
    for (size_t m = 0; m < e.M; m++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "quality", qm[m]);
        cJSON_AddNumberToObject(o, "cost", cm[m]);
        cJSON_AddBoolToObject(o, "routable", e.rm[m] >= 0);
        cJSON_AddItemToObject(models, ds->models[m], o);
    }
    e.routers = cJSON_AddObjectToObject(root, "routers");
    cJSON_AddStringToObject(root, "heads_quality", tr_qvariant_name(tr_heads_qvariant(r->heads)));
    cJSON_AddStringToObject(root, "heads_cost", tr_cvariant_name(tr_heads_cvariant(r->heads)));

    if ((rc = predict_heads(&e, -1, -1, &ours))) goto fail;
    if ((rc = sweep_and_score(&e, "taskroute", &ours, 1, NULL, pick, &pick_lam, picks))) goto fail;
    add_modes(&e, root, &ours);
    add_default_policy(&e, root, &ours);
    if (flags & TR_EVAL_BY_LABEL) {
        if ((rc = tr_eval_by_label(ds, K, f, e.test, e.nt, e.S, e.M, pick, e.ref.best, root, err, errlen))) goto fail;
        cJSON *lo = cJSON_GetObjectItem(root, "label_oracle");   /* the setting the labels were read at */
        if (lo) cJSON_AddItemToObject(lo, "lambda", tr_json_num(pick_lam));
    }
    /* ablations: every other trained variant pair of the heads */
    for (int qv = 0; qv < TR_QV_COUNT && (flags & TR_EVAL_ABLATIONS); qv++)
        for (int cv = 0; cv < TR_CV_COUNT; cv++) {
            if (!tr_heads_has_qvariant(r->heads, qv) || !tr_heads_has_cvariant(r->heads, cv)) continue;
            if (qv == tr_heads_qvariant(r->heads) && cv == tr_heads_cvariant(r->heads)) continue;
            pred p = {0};
            char name[96];
            snprintf(name, sizeof name, "heads:%s+%s", tr_qvariant_name(qv), tr_cvariant_name(cv));
            if ((rc = predict_heads(&e, qv, cv, &p))) goto fail;
            rc = sweep_and_score(&e, name, &p, 1, NULL, NULL, NULL, NULL);
            pred_free(&p);
            if (rc) goto fail;
        }
    if (flags & TR_EVAL_BASELINES) {
        if ((rc = tr_dataset_fold_indices(ds, K, f, 0, &e.train, &e.ntr))) goto fail;
        if (e.ntr == 0) { rc = tr_errorf(err, errlen, TR_ETOOFEW, "%s: no training records for the baselines", ds->path); goto fail; }
        e.Xtr = tr_mallocarray(e.ntr * e.d, sizeof *e.Xtr);
        if (!e.Xtr) { rc = TR_ENOMEM; goto fail; }
        if ((rc = embed_records(&e, e.train, e.ntr, e.Xtr))) goto fail;
        if ((rc = score_random_mix(&e, qm, cm))) goto fail;
        struct { const char *name; int kind; } bl[] = {
            {"knn", 0}, {"linear", 1}, {"task-prior-hard", 2}, {"task-prior-soft", 3}};
        for (size_t b = 0; b < sizeof bl / sizeof bl[0]; b++) {
            pred p = {0};
            switch (bl[b].kind) {
            case 0: rc = predict_knn(&e, &p); break;
            case 1: rc = predict_linear(&e, &p); break;
            default: rc = predict_task_prior(&e, bl[b].kind == 3, &p); break;
            }
            if (!rc) rc = sweep_and_score(&e, bl[b].name, &p, 0, NULL, NULL, NULL, NULL);
            pred_free(&p);
            if (rc) goto fail;
        }
    }
    if (sweep) {
        /* the test matrices move to the caller */
        sweep->nt = e.nt; sweep->M = e.M; sweep->n_lambda = N_LAMBDA;
        sweep->S = e.S; sweep->C = e.C; sweep->pick = picks;
        e.S = e.C = NULL;
        picks = NULL;
    }
    *out = root;
    pred_free(&ours);
    tr_free(qm); tr_free(cm); tr_free(pick);
    ev_clear(&e);
    return TR_OK;
fail:
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "evaluation: out of memory");
    cJSON_Delete(root);
    pred_free(&ours);
    tr_free(qm); tr_free(cm); tr_free(pick); tr_free(picks);
    ev_clear(&e);
    return rc;
}

int tr_evaluate(const tr_router *r, const tr_dataset *ds, int with_baselines, char **json, char *err, size_t errlen)
{
    if (!json) return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate: json is NULL");
    *json = NULL;
    if (!r || !ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate: %s is NULL", r ? "ds" : "r");
    if (with_baselines != 0 && with_baselines != 1)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate: with_baselines %d is not 0 or 1", with_baselines);
    cJSON *root = NULL;
    int rc = tr_evaluate_fold(r, ds, 5, 0, TR_EVAL_ABLATIONS | TR_EVAL_BY_LABEL | (with_baselines ? TR_EVAL_BASELINES : 0),
                              &root, NULL, err, errlen);
    if (rc) return rc;
    *json = tr_json_print(root);
    cJSON_Delete(root);
    return *json ? TR_OK : tr_errorf(err, errlen, TR_ENOMEM, "evaluation: out of memory");
}
