/* Selection: given each model's predicted quality q[m], calibrated quality
 * qcal[m] and predicted cost c[m], pick the model to call.
 *
 * Modes (tr_select_mode in taskroute.h):
 *   LAMBDA     argmax q - λ c  (λ per USD; λ = +inf: cheapest); ties -> cheaper, then lower index
 *   TOLERANCE  cheapest model with q >= max q - τ
 *   QUALITY    argmax q (ties -> cheaper)
 *   BUDGET     mean cost per query <= B USD: λ(B) read from a table of
 *              (λ, mean cost) built at training on out-of-fold predictions
 *   RISK       cheapest model whose probability of being no worse than the
 *              strongest predicted model is >= 1 - t(α), with t(α) from a
 *              Learn-then-Test table (see heads/risk.c for the guarantee)
 * Every mode honours the allowed mask (NULL = all) and skips models without
 * a prediction (q NaN, or c NaN in a mode that uses cost).  Nothing here
 * allocates.  It lives with the heads, not with routing, because the heads'
 * training runs it to fit the budget and risk tables. */
#ifndef TR_SELECT_H
#define TR_SELECT_H

#include <stddef.h>

#include "taskroute.h"

/* Tables fitted at training time (owned by the heads that hold them). */
typedef struct tr_select_tables {
    /* Budget: n_budget points, lambda ascending (lambda[0] = 0), cost
     * non-increasing: the mean cost per query on the training distribution. */
    size_t n_budget;
    const float *budget_lambda;
    const float *budget_cost;
    const float *budget_quality;   /* mean quality at that λ (information only) */
    /* Risk: n_risk thresholds t ascending (t[0] = 0) with the running maximum
     * of the Clopper-Pearson upper bound on the misrouting rate. */
    size_t n_risk;
    const float *risk_t;
    const float *risk_ucb;
} tr_select_tables;

/* The model to call, or -1 when no allowed model has a prediction.
 * All arguments borrowed.  tab may be NULL: BUDGET then behaves as QUALITY
 * and RISK picks the strongest model.  qcal may be NULL (q is used). */
int tr_select(const float *q, const float *qcal, const float *c, size_t M,
              const unsigned char *allowed, tr_select_mode mode, double value,
              const tr_select_tables *tab);

/* argmax q - λ c over usable models (λ may be +inf). */
int tr_select_lambda(const float *q, const float *c, size_t M,
                     const unsigned char *allowed, double lambda);
/* cheapest model with q >= max q - tau. */
int tr_select_tolerance(const float *q, const float *c, size_t M,
                        const unsigned char *allowed, double tau);
/* Risk rule with threshold t: the strongest b = argmax qcal; each model's
 * probability of being no worse than b, assuming independent Bernoulli
 * outcomes, is p_m = 1 - qcal_b (1 - qcal_m) (p_b = 1); choose the cheapest
 * with p_m >= 1 - t. */
int tr_select_risk_t(const float *qcal, const float *c, size_t M,
                     const unsigned char *allowed, double t);

/* λ for a budget B (USD per query): the table's cost curve interpolated
 * linearly in log λ between its two grid points around B; 0 when B is above
 * the cost at λ = 0; +inf when B is below every tabulated cost. */
double tr_select_budget_lambda(const tr_select_tables *tab, double budget);
/* Threshold t for risk level α: the largest tabulated t whose bound (and
 * every smaller t's) is <= α (fixed-sequence testing); 0 when none. */
double tr_select_risk_threshold(const tr_select_tables *tab, double alpha);

#endif
