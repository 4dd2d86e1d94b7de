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
 * used and calibration falls back to in-sample predictions.
 *
 * This file assembles the steps: fitting (fit_parts.c), the folds'
 * predictions (cv_fold_predict.c), the choice (cv_choose.c), calibration
 * (calibrate.c) and the selection tables (select_tables.c). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "heads/cv.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"
#include "heads/train_steps.h"

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
    /* Our workers carry the CV.  OpenBLAS's thread count is the caller's
     * (tr_train_options.blas_threads): on one thread, as the CLI runs it,
     * the heads do not depend on any thread count; threaded SYRK and GEMV
     * would sum in another order. */

    tr_heads *h = NULL, *f = NULL;
    float *Pown = NULL, *Q[TR_CV_MAX_SLOTS] = {0}, *Cc[TR_CV_COUNT] = {0}, *Qcal = NULL;
    float *Wf[TR_HEADS_MAX_ALPHAS] = {0}, *Wrs[TR_HEADS_MAX_ALPHAS] = {0}, *scr = NULL, *G = NULL, *xb = NULL, *Xf = NULL;
    float *Xa = NULL;
    tr_cv_sweeps sw = {0};
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
        if (!(Xa = tr_heads_fit_surface(h, X, params->surf, n, d))) goto oom;
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
    tr_cv_lambda_grid(lam, nl, scale);

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
        if (tr_heads_fold_twin(f, h)) goto oom;
        for (int k = 0; k < K; k++) {
            size_t nf = 0, nh = 0;
            for (size_t i = 0; i < n; i++) { if (fold[i] == k) hold[nh++] = i; else fit[nf++] = i; }
            if (nh == 0) continue;
            if ((rc = tr_heads_fit_parts(f, &D, fit, nf, params->ridge_alphas, sl.na, Wf, Wrs, err, errlen))) goto fail;
            tr_cv_predict_rows(f, &D, hold, nh, Q, &sl, Wf, Wrs, Cc, scr, G, xb, Xf);
            if (params->progress) params->progress(params->progress_ctx, "heads: cross-validation", (k + 1.0) / K);
        }
        f->ridge = NULL;
        f->ridge_surf = NULL;
        /* score every (slot, cost variant) pair; the ensembles last, with the
         * ridge penalties the ridge and ridge-surface rows preferred */
        h->cvrows = tr_calloc(TR_CV_MAX_SLOTS * TR_CV_COUNT, sizeof *h->cvrows);
        if (!h->cvrows) goto oom;
        tr_frontier_ref ref;
        if (tr_frontier_ref_compute(scores, costs, nev, M, ev, &ref)) goto oom;
        unsigned char want[TR_CV_MAX_SLOTS] = {0};
        for (size_t s = 0; s < sl.n; s++) want[s] = (!sl.ens || s != sl.ens) && (!sl.ekr || s != sl.ekr);
        sw.pc = tr_mallocarray(TR_CV_MAX_SLOTS * TR_CV_COUNT * nl, sizeof *sw.pc);
        sw.pq = tr_mallocarray(TR_CV_MAX_SLOTS * TR_CV_COUNT * nl, sizeof *sw.pq);
        if (!sw.pc || !sw.pq) goto oom;
        tr_cv_sweep_all(&D, h, sl.n, want, Q, Cc, ev, nev, lam, nl, &sw);
        for (size_t s = 0; s < sl.n; s++)
            if (want[s] && tr_cv_score_slot(h, &D, &sl, s, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, &sw)) goto oom;
        if (params->criterion == TR_CRIT_RANKSUM) tr_cv_rank_sum(h->cvrows, h->n_cv);
        long br = tr_cv_best_row(h, params, TR_QV_RIDGE);
        if (br >= 0) h->ridge_alpha = (float)h->cvrows[br].alpha;
        br = tr_cv_best_row(h, params, TR_QV_RIDGE_SURF);
        if (br >= 0) h->rs_alpha = (float)h->cvrows[br].alpha;
        if (sl.ens) {
            const float *qs = Q[1], *qk = Q[sl.knn], *qr = Q[2 + tr_cv_alpha_index(params, h->ridge_alpha)];
            for (size_t i = 0; i < n * M; i++) Q[sl.ens][i] = (qs[i] + qk[i] + qr[i]) / 3.0f;
            if (tr_cv_score_slot(h, &D, &sl, sl.ens, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, NULL)) goto oom;
        }
        if (sl.ekr) {
            /* the mean of the clipped parts (prediction clips the mean of
             * the unclipped ones: the same unless a part leaves [0, 1]) */
            const float *qk = Q[sl.kt], *qr = Q[sl.rs + tr_cv_alpha_index(params, h->rs_alpha)];
            for (size_t i = 0; i < n * M; i++) Q[sl.ekr][i] = 0.5f * (qk[i] + qr[i]);
            if (tr_cv_score_slot(h, &D, &sl, sl.ekr, Q, Cc, ev, nev, lam, nl, pc, pq, &ref, params, NULL)) goto oom;
        }
        if ((sl.ens || sl.ekr) && params->criterion == TR_CRIT_RANKSUM) tr_cv_rank_sum(h->cvrows, h->n_cv);
        long b = tr_cv_best_row(h, params, -1);
        if (b < 0) {
            rc = tr_errorf(err, errlen, TR_EINVAL, "heads: no trainable variant in qv_mask %#x", params->qv_mask);
            goto fail;
        }
        const tr_heads_cvrow *row = &h->cvrows[b];
        h->qv = row->qv; h->cv = row->cv;
        if (row->qv == TR_QV_RIDGE) h->ridge_alpha = (float)row->alpha;
        if (row->qv == TR_QV_RIDGE_SURF) h->rs_alpha = (float)row->alpha;
        best_slot = tr_cv_qv_slot(&sl, row->qv, tr_cv_alpha_index(params, row->alpha));
        if (params->oof && (rc = tr_cv_give_oof(params, &sl, Q, fold, n, M, best_slot))) goto fail;   /* described by oof */
    } else {
        h->qv = params->qvariant >= 0 ? params->qvariant : TR_QV_PRIOR_SOFT;
        best_slot = tr_cv_qv_slot(&sl, h->qv, 0);
    }

    /* the final fit on every row */
    if ((rc = tr_heads_fit_parts(h, &D, NULL, n, NULL, 0, NULL, NULL, err, errlen))) goto fail;
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

    if (tr_heads_fit_calibration(h, &D, Qb)) goto oom;
    Qcal = tr_mallocarray(n * M, sizeof *Qcal);
    if (!Qcal) goto oom;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < M; m++) Qcal[i * M + m] = tr_heads_cal_apply(h, m, Qb[i * M + m]);
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
    if (tr_heads_build_budget(h, &D, Qb, Cc[h->cv], lam, nl)) goto oom;
    if (tr_heads_fit_default(h, &D, Qb, Cc[h->cv], lam, nl)) goto oom;
    if (tr_heads_build_risk(h, &D, Qcal, Cc[h->cv], params->risk_delta)) goto oom;
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
    for (size_t s = 0; s < TR_CV_MAX_SLOTS; s++) tr_free(Q[s]);
    for (int v = 0; v < TR_CV_COUNT; v++) tr_free(Cc[v]);
    for (size_t k = 0; k < TR_HEADS_MAX_ALPHAS; k++) { tr_free(Wf[k]); tr_free(Wrs[k]); }
    tr_free(Xa);
    tr_free(sw.pc); tr_free(sw.pq);
    return rc;
}

