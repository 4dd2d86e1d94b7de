/* The order a policy prefers the models in for one prompt, from the
 * predictions a route left in its scratch: what a gateway falls back along
 * when the chosen model fails.  Allocation-free (an insertion sort into the
 * caller's array: a router has tens of models, not thousands). */
#include <math.h>

#include "heads/heads.h"
#include "heads/select.h"
#include "router/router.h"

double tr_route_lambda(const tr_router *r, const tr_route_options *opt)
{
    if (!opt) return 0;
    switch (opt->mode) {
    case TR_SELECT_LAMBDA: return opt->value < 0 || isnan(opt->value) ? 0 : opt->value;
    case TR_SELECT_QUALITY: return 0;
    case TR_SELECT_BUDGET: {
        const tr_select_tables *tab = r && r->heads ? tr_heads_tables(r->heads) : NULL;
        return tab && tab->n_budget ? tr_select_budget_lambda(tab, opt->value) : 0;
    }
    case TR_SELECT_TOLERANCE:
    case TR_SELECT_RISK: return NAN;
    }
    return NAN;
}

typedef struct rank_key {
    int group;      /* lower first */
    double key;     /* higher first */
    double cost;    /* ties: cheaper first */
} rank_key;

static rank_key key_of(const tr_decision *d, size_t m, tr_select_mode mode, double lambda, double floor_q)
{
    double q = d->quality[m], c = d->cost && !isnan(d->cost[m]) ? d->cost[m] : INFINITY;
    rank_key k = {0, q, c};
    switch (mode) {
    case TR_SELECT_LAMBDA:
    case TR_SELECT_BUDGET:
        if (isinf(lambda)) k.key = -c;     /* the cheapest first; ties: better */
        else if (lambda > 0) k.key = q - lambda * c;
        if (isinf(lambda)) k.cost = -q;
        break;
    case TR_SELECT_TOLERANCE:
        /* 1e-6 of slack, as selection has */
        if (q >= floor_q - 1e-6) { k.key = -c; k.cost = -q; }
        else k.group = 1;
        break;
    case TR_SELECT_QUALITY:
    case TR_SELECT_RISK:
        break;
    }
    return k;
}

static int before(rank_key a, int ma, rank_key b, int mb)
{
    if (a.group != b.group) return a.group < b.group;
    if (a.key != b.key) return a.key > b.key;
    if (a.cost != b.cost) return a.cost < b.cost;
    return ma < mb;
}

size_t tr_decision_rank(const tr_router *r, const tr_decision *d, const tr_route_options *opt, int *order,
                        size_t cap)
{
    if (!d || !order || !cap || !d->quality) return 0;
    static const tr_route_options defaults = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_LAMBDA, .value = 0, .allowed = NULL};
    if (!opt) opt = &defaults;
    size_t M = d->n_models;
    double lambda = tr_route_lambda(r, opt);
    int need_cost = opt->mode != TR_SELECT_QUALITY && opt->mode != TR_SELECT_RISK;
    if (opt->mode == TR_SELECT_BUDGET && lambda == 0) need_cost = 0;
    double qmax = -INFINITY;
    for (size_t m = 0; m < M; m++)
        if ((!opt->allowed || opt->allowed[m]) && !isnan(d->quality[m]) && d->quality[m] > qmax) qmax = d->quality[m];
    double floor_q = qmax - (opt->value >= 0 ? opt->value : 0);
    size_t n = 0;
    if (d->model >= 0 && (size_t)d->model < M) order[n++] = d->model;
    size_t fixed = n;
    for (size_t m = 0; m < M; m++) {
        if ((int)m == d->model) continue;
        if (opt->allowed && !opt->allowed[m]) continue;
        if (isnan(d->quality[m]) || (need_cost && (!d->cost || isnan(d->cost[m])))) continue;
        rank_key k = key_of(d, m, opt->mode, lambda, floor_q);
        /* insertion into order[fixed..n), keeping at most cap entries */
        size_t at = n;
        while (at > fixed && before(k, (int)m, key_of(d, (size_t)order[at - 1], opt->mode, lambda, floor_q),
                                    order[at - 1]))
            at--;
        if (at >= cap) continue;
        size_t last = n < cap ? n : cap - 1;
        for (size_t i = last; i > at; i--) order[i] = order[i - 1];
        order[at] = (int)m;
        if (n < cap) n++;
    }
    return n;
}
