/* The cascade's simulation on labelled data and its threshold tuning
 * (cascade_tune.h). */
#include <math.h>

#include "eval/cascade_tune.h"
#include "heads/select.h"
#include "route/cascade.h"
#include "taskroute.h"

#define CHAIN_MAX 64

static const double TOLERANCES[] = {0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0};
#define N_TOL (sizeof TOLERANCES / sizeof TOLERANCES[0])
#define N_START (N_TOL + 1)   /* the tolerances, then the router's choice */
#define N_THR 21   /* thresholds 0, 0.05, ..., 1 */

size_t tr_cascade_grid_size(void)
{
    return N_START * N_THR;
}

void tr_cascade_grid_point(size_t g, tr_cascade_params *p)
{
    size_t s = (g / N_THR) % N_START;
    p->from_router = s == N_TOL;
    p->tolerance = p->from_router ? 0 : TOLERANCES[s];
    p->threshold = (double)(g % N_THR) / (N_THR - 1);
}

void tr_cascade_simulate(const tr_cascade_data *d, const tr_cascade_params *p, const unsigned char *rows,
                         tr_cascade_outcome *out)
{
    double sq = 0, sc = 0, se = 0, ss = 0;
    size_t used = 0;
    int chain[CHAIN_MAX];
    for (size_t i = 0; i < d->n; i++) {
        if (rows && !rows[i]) continue;
        size_t o = i * d->m;
        int start = p->from_router ? tr_select_lambda(d->qhat + o, d->chat + o, d->m, NULL, d->lambda) : -1;
        size_t k = tr_cascade_chain(d->qhat + o, d->chat + o, NULL, d->m, p->tolerance, start, chain, CHAIN_MAX);
        if (!k) continue;
        size_t last = k < (size_t)p->max_steps ? k - 1 : (size_t)p->max_steps - 1;
        double cost = 0;
        size_t s = 0;
        for (;; s++) {
            int m = chain[s];
            cost += d->c[o + (size_t)m];
            if (s == last || p->threshold <= 0) break;   /* threshold 0 accepts unverified */
            float v = d->v[o + (size_t)m];
            if (isnan(v)) break;    /* the verifier failed: the answer stands */
            cost += d->verify_cost_share * d->c[o + (size_t)m];
            if (v >= p->threshold) break;
        }
        sq += d->q[o + (size_t)chain[s]];
        sc += cost;
        se += s > 0;
        ss += (double)(s + 1);
        used++;
    }
    out->n = used;
    out->quality = used ? sq / (double)used : NAN;
    out->cost = used ? sc / (double)used : NAN;
    out->escalated = used ? se / (double)used : NAN;
    out->steps = used ? ss / (double)used : NAN;
}

int tr_cascade_tune(const tr_cascade_data *d, const unsigned char *rows, double lambda, int max_steps,
                    tr_cascade_params *best, tr_point *sweep)
{
    if (!d || !best || !isfinite(lambda) || max_steps < 1) return TR_EINVAL;
    double best_obj = -INFINITY, best_cost = INFINITY;
    int found = 0;
    for (size_t g = 0; g < tr_cascade_grid_size(); g++) {
        tr_cascade_params p = {0, 0, max_steps, 0};
        tr_cascade_grid_point(g, &p);
        tr_cascade_outcome o;
        tr_cascade_simulate(d, &p, rows, &o);
        if (!o.n) return TR_EINVAL;
        if (sweep) sweep[g] = (tr_point){o.cost, o.quality};
        double obj = o.quality - lambda * o.cost;
        if (obj > best_obj + 1e-12 || (fabs(obj - best_obj) <= 1e-12 && o.cost < best_cost)) {
            best_obj = obj;
            best_cost = o.cost;
            *best = p;
            found = 1;
        }
    }
    return found ? TR_OK : TR_EINVAL;
}

double tr_cascade_dibc(double q, double c, double q_slm, double c_slm, double q_llm, double c_llm)
{
    double base = c_llm - c_slm != 0 ? (q_llm - q_slm) / (c_llm - c_slm) : NAN;
    double ibc = c - c_slm != 0 ? (q - q_slm) / (c - c_slm) : NAN;
    if (!isfinite(base) || !isfinite(ibc) || base == 0) return NAN;
    return (ibc / base - 1.0) * 100.0;
}
