/* Traffic drift without retraining: how a batch of new prompts spreads over
 * the router's tasks against the training shares (the task table's sizes),
 * and how many prompts look like no task at all (out of distribution: the
 * cosine to every task centroid below a threshold fixed at training time).
 *
 * The threshold is the TR_OOD_QUANTILE quantile of the training prompts'
 * cosine to their own task's centroid, stored in the router's CONF JSON as
 * "ood_threshold"; a router file written before it existed falls back to
 * TR_OOD_DEFAULT. */
#ifndef TR_DRIFT_H
#define TR_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

#define TR_OOD_QUANTILE 0.01
#define TR_OOD_DEFAULT 0.2

/* The q-quantile of cos(x_i, centroid of its task) over n unit rows of X
 * (n x dim) with tasks membership in [0, T).  Borrows all; *out the caller's. */
int tr_ood_threshold(const float *X, const int32_t *membership, size_t n, size_t dim, size_t T, double q,
                     double *out, char *err, size_t errlen);

/* The router's stored threshold, or TR_OOD_DEFAULT (and *stored = 0). */
double tr_router_ood_threshold(const tr_router *r, int *stored);

/* tr_drift_traffic, the drift of a batch of prompts against r, is public
 * (taskroute.h).  Its JSON: {"kind":"traffic","router","traffic","n",
 * "ood_threshold","threshold_stored","ood_share","ood_count","tv_distance",
 * "js_divergence","tasks":[{"id","name","share_train","share_traffic",
 * "delta","ood_nearest"}]} */

#endif
