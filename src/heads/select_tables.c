/* The tables selection reads at routing time, built on the chosen
 * variant's out-of-fold predictions: budget -> λ and risk α -> threshold
 * (heads/select.h says how routing uses them). */
#include <math.h>
#include <stdlib.h>

#include "base/util.h"
#include "heads/parts.h"
#include "heads/train_steps.h"

/* λ-selection with the out-of-fold predictions on every training row: the
 * sums of quality and cost of the chosen models (observed where known, the
 * prediction elsewhere) into *sq and *sc; returns the rows that chose one. */
static size_t select_sums(const tr_cv_data *D, const float *Q, const float *Cc, double lambda, double *sq,
                          double *sc)
{
    size_t n = D->n, M = D->M, cnt = 0;
    *sq = *sc = 0;
    for (size_t i = 0; i < n; i++) {
        int m = tr_select_lambda(Q + i * M, Cc + i * M, M, NULL, lambda);
        if (m < 0) continue;
        float c = D->C[i * M + m], s = D->S[i * M + m];
        *sc += isnan(c) ? Cc[i * M + m] : c;
        *sq += isnan(s) ? Q[i * M + m] : s;
        cnt++;
    }
    return cnt;
}

/* Budget table: for each finite λ of the grid, the mean cost per query on
 * every training row (observed cost of the chosen model, its prediction
 * where unobserved) of λ-selection with the out-of-fold predictions.  Made
 * non-increasing in λ by a running minimum (selection cost is monotone in λ
 * up to ties; the minimum removes the noise). */
int tr_heads_build_budget(tr_heads *h, const tr_cv_data *D, const float *Q, const float *Cc,
                        const double *lam, size_t nl)
{
    size_t nb = nl - 1;   /* drop λ = inf */
    h->b_lambda = tr_mallocarray(nb, sizeof(float));
    h->b_cost = tr_mallocarray(nb, sizeof(float));
    h->b_quality = tr_mallocarray(nb, sizeof(float));
    if (!h->b_lambda || !h->b_cost || !h->b_quality) return TR_ENOMEM;
    double prev = INFINITY;
    for (size_t j = 0; j < nb; j++) {
        double sc, sq;
        size_t cnt = select_sums(D, Q, Cc, lam[j], &sq, &sc);
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

int tr_heads_fit_default(tr_heads *h, const tr_cv_data *D, const float *Q, const float *Cc,
                         const double *lam, size_t nl)
{
    size_t n = D->n, M = D->M;
    double *qm = tr_calloc(M ? M : 1, sizeof *qm), *cm = tr_calloc(M ? M : 1, sizeof *cm);
    if (!qm || !cm) { tr_free(qm); tr_free(cm); return TR_ENOMEM; }
    /* the best single model on these rows */
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        int whole = 1;
        for (size_t m = 0; m < M && whole; m++) {
            float s = D->S[i * M + m], c = D->C[i * M + m];
            whole = !(isnan(s) && isnan(Q[i * M + m])) && !(isnan(c) && isnan(Cc[i * M + m]));
        }
        if (!whole) continue;
        for (size_t m = 0; m < M; m++) {
            float s = D->S[i * M + m], c = D->C[i * M + m];
            qm[m] += isnan(s) ? Q[i * M + m] : s;
            cm[m] += isnan(c) ? Cc[i * M + m] : c;
        }
        rows++;
    }
    h->dp_ok = 0;
    if (!rows || !M || nl < 2) { tr_free(qm); tr_free(cm); return TR_OK; }
    int best = 0;
    for (size_t m = 0; m < M; m++) {
        qm[m] /= (double)rows;
        cm[m] /= (double)rows;
        if (qm[m] > qm[best] || (qm[m] == qm[best] && cm[m] < cm[best])) best = (int)m;
    }
    /* selection over the finite λ of the grid on every row */
    int pick = -1, top = -1;
    double pq = 0, pc = 0, tq = -INFINITY, tc = 0;
    for (size_t j = 0; j + 1 < nl; j++) {
        double sq, sc;
        size_t cnt = select_sums(D, Q, Cc, lam[j], &sq, &sc);
        if (!cnt) continue;
        sq /= (double)cnt;
        sc /= (double)cnt;
        if (sq >= qm[best] && (pick < 0 || sc <= pc)) { pick = (int)j; pq = sq; pc = sc; }
        if (sq > tq || (sq == tq && sc < tc)) { top = (int)j; tq = sq; tc = sc; }
    }
    if (pick < 0) { pick = top; pq = tq; pc = tc; }
    if (pick >= 0) {
        h->dp.lambda = lam[pick];
        h->dp.quality = pq;
        h->dp.cost = pc;
        h->dp.best_model = best;
        h->dp.best_quality = qm[best];
        h->dp.best_cost = cm[best];
        h->dp_ok = 1;
    }
    tr_free(qm);
    tr_free(cm);
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

int tr_heads_build_risk(tr_heads *h, const tr_cv_data *D, const float *Qcal, const float *Cc,
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
