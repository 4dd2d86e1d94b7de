/* Choosing the head variant by cross-validation: each (quality slot, cost
 * variant) pair's out-of-fold predictions are swept over the λ grid on the
 * complete rows, exactly as the evaluation protocol (docs/evaluation.md) sweeps a router
 * on the test set, scored by the criterion (or the rank sum of three
 * figures) and the best allowed row wins, ties to the simpler variant.
 * Also the CV folds from record ids and handing the out-of-fold predictions
 * to the caller. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"
#include "heads/cv.h"
#include "heads/parts.h"

void tr_cv_lambda_grid(double *lam, size_t nl, double scale)
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

/* The reference recipe's candidate order, which breaks ties: prior, kNN, ridge,
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

void tr_cv_rank_sum(tr_heads_cvrow *rows, size_t n)
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

size_t tr_cv_alpha_index(const tr_heads_params *p, double alpha)
{
    for (int k = 0; k < p->n_ridge_alphas; k++) if (p->ridge_alphas[k] == alpha) return (size_t)k;
    return 0;
}

/* The slot of variant qv (ridge ones at penalty index ai). */
size_t tr_cv_qv_slot(const tr_cv_slots *sl, int qv, size_t ai)
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

typedef struct sweep_job {
    const tr_cv_data *D;
    float *const *Q, *const *Cc;
    const size_t *ev;
    size_t nev, nl;
    const double *lam;
    tr_cv_sweeps *W;
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
void tr_cv_sweep_all(const tr_cv_data *D, const tr_heads *h, size_t nslots, const unsigned char *want, float *const *Q,
                      float *const *Cc, const size_t *ev, size_t nev, const double *lam, size_t nl, tr_cv_sweeps *W)
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
int tr_cv_score_slot(tr_heads *h, const tr_cv_data *D, const tr_cv_slots *sl, size_t s, float **Q, float **Cc,
                      const size_t *ev, size_t nev, const double *lam, size_t nl, double *pc,
                      double *pq, const tr_frontier_ref *ref, const tr_heads_params *params, const tr_cv_sweeps *W)
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
long tr_cv_best_row(const tr_heads *h, const tr_heads_params *p, int only_qv)
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
int tr_cv_give_oof(const tr_heads_params *params, const tr_cv_slots *sl, float *const *Q, const int32_t *fold,
                    size_t n, size_t M, size_t best_slot)
{
    tr_heads_oof o = {.n = n, .M = M, .fold = fold};
    char names[TR_CV_MAX_SLOTS][48];
    for (size_t s = 0; s < sl->n; s++) {   /* sl->n <= TR_CV_MAX_SLOTS: asserted in cv.h */
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

void tr_heads_folds_from_ids(const char *const *ids, const size_t *lens, size_t n, int K,
                             int32_t *fold)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(ids[i]);
        fold[i] = K > 0 ? (int32_t)((tr_fnv1a64(ids[i], len) / 5) % (uint64_t)K) : 0;
    }
}
