/* Selection rules over per-model predictions; see select.h for the modes.
 * Kept apart from the heads so a caller with its own quality and cost
 * estimates (a baseline, a peer's predictions) routes with the same rules. */
#include "heads/select.h"

#include <math.h>

static int usable(const float *q, const float *c, const unsigned char *allowed,
                  size_t m, int need_cost)
{
    if (allowed && !allowed[m]) return 0;
    if (isnan(q[m])) return 0;
    if (need_cost && (!c || isnan(c[m]))) return 0;
    return 1;
}

/* Ties on utility go to the cheaper model, then the lower index; comparing
 * exact doubles is deliberate: ties arise from equal inputs. */
int tr_select_lambda(const float *q, const float *c, size_t M,
                     const unsigned char *allowed, double lambda)
{
    int best = -1;
    int cheapest = isinf(lambda) && lambda > 0;
    double bu = 0;
    for (size_t m = 0; m < M; m++) {
        if (!usable(q, c, allowed, m, 1)) continue;
        if (best < 0) { best = (int)m; bu = (double)q[m] - (cheapest ? 0 : lambda * c[m]); continue; }
        int better;
        if (cheapest) {
            better = c[m] < c[best] || (c[m] == c[best] && q[m] > q[best]);
        } else {
            double u = (double)q[m] - lambda * c[m];
            better = u > bu || (u == bu && c[m] < c[best]);
        }
        if (better) { best = (int)m; bu = (double)q[m] - (cheapest ? 0 : lambda * c[m]); }
    }
    return best;
}

int tr_select_tolerance(const float *q, const float *c, size_t M,
                        const unsigned char *allowed, double tau)
{
    double qmax = -INFINITY;
    for (size_t m = 0; m < M; m++)
        if (usable(q, c, allowed, m, 1) && q[m] > qmax) qmax = q[m];
    if (qmax == -INFINITY) return -1;
    if (!(tau >= 0)) tau = 0;
    int best = -1;
    for (size_t m = 0; m < M; m++) {
        /* 1e-6 of slack: a τ typed as 0.1 must admit 0.7f below 0.8f */
        if (!usable(q, c, allowed, m, 1) || q[m] < qmax - tau - 1e-6) continue;
        if (best < 0 || c[m] < c[best] || (c[m] == c[best] && q[m] > q[best])) best = (int)m;
    }
    return best;
}

static int select_quality(const float *q, const float *c, size_t M,
                          const unsigned char *allowed)
{
    int best = -1;
    for (size_t m = 0; m < M; m++) {
        if (!usable(q, c, allowed, m, 0)) continue;
        double cm = c && !isnan(c[m]) ? c[m] : INFINITY;
        double cb = best >= 0 && c && !isnan(c[best]) ? c[best] : INFINITY;
        if (best < 0 || q[m] > q[best] || (q[m] == q[best] && cm < cb)) best = (int)m;
    }
    return best;
}

int tr_select_risk_t(const float *qcal, const float *c, size_t M,
                     const unsigned char *allowed, double t)
{
    int b = select_quality(qcal, c, M, allowed);
    if (b < 0) return -1;
    double qb = qcal[b];
    int best = -1;
    double bp = 0;
    for (size_t m = 0; m < M; m++) {
        if (!usable(qcal, c, allowed, m, 1)) continue;
        double p = (int)m == b ? 1.0 : 1.0 - qb * (1.0 - (double)qcal[m]);
        if (p < 1.0 - t - 1e-9) continue;
        if (best < 0 || c[m] < c[best] || (c[m] == c[best] && p > bp)) {
            best = (int)m;
            bp = p;
        }
    }
    /* b may lack a cost: then it still is the safe answer */
    return best >= 0 ? best : b;
}

double tr_select_budget_lambda(const tr_select_tables *tab, double budget)
{
    if (!tab || tab->n_budget == 0) return 0;
    size_t n = tab->n_budget;
    const float *L = tab->budget_lambda, *C = tab->budget_cost;
    if (budget >= C[0]) return 0;
    if (budget < C[n - 1]) return INFINITY;
    /* C non-increasing: find j with C[j] > budget >= C[j+1] */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (C[mid] > budget) lo = mid; else hi = mid;
    }
    double c0 = C[lo], c1 = C[hi], l0 = L[lo], l1 = L[hi];
    double f = c0 > c1 ? (c0 - budget) / (c0 - c1) : 1.0;
    if (l0 <= 0) return l1 * f;  /* the first segment starts at λ = 0: linear */
    return exp(log(l0) + f * (log(l1) - log(l0)));
}

double tr_select_risk_threshold(const tr_select_tables *tab, double alpha)
{
    if (!tab || tab->n_risk == 0) return 0;
    double t = 0;
    for (size_t j = 0; j < tab->n_risk && tab->risk_ucb[j] <= alpha; j++) t = tab->risk_t[j];
    return t;
}

int tr_select(const float *q, const float *qcal, const float *c, size_t M,
              const unsigned char *allowed, tr_select_mode mode, double value,
              const tr_select_tables *tab)
{
    if (!q) return -1;
    switch (mode) {
    case TR_SELECT_LAMBDA:
        return tr_select_lambda(q, c, M, allowed, value < 0 ? 0 : value);
    case TR_SELECT_TOLERANCE:
        return tr_select_tolerance(q, c, M, allowed, value);
    case TR_SELECT_QUALITY:
        return select_quality(q, c, M, allowed);
    case TR_SELECT_BUDGET:
        if (!tab || tab->n_budget == 0) return select_quality(q, c, M, allowed);
        return tr_select_lambda(q, c, M, allowed, tr_select_budget_lambda(tab, value));
    case TR_SELECT_RISK:
        return tr_select_risk_t(qcal ? qcal : q, c, M, allowed,
                                tr_select_risk_threshold(tab, value));
    }
    return -1;
}
