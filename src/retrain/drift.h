/* Traffic drift without retraining: how a batch of new prompts spreads over
 * the router's tasks against the training shares (the task table's sizes),
 * and how many prompts look like no task at all: out of distribution by the
 * rule every decision applies (classify/ood.h: the score above the
 * threshold calibrated at training). */
#ifndef TR_DRIFT_H
#define TR_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

/* The drift of every record of ds (prompts only; scores ignored) against r.
 * threshold: NULL for the router's OOD threshold, else a threshold on the
 * same score (a decision's ood_score) to use instead (borrowed).  A router
 * without an OOD calibration (an older file): OOD is not counted
 * ("ood_count", "ood_share" and "ood_threshold" null, "threshold_source"
 * "none") and every prompt goes to its task.  *json owned by the caller:
 * tr_free.
 * Format:
 * {"kind":"traffic","traffic","n","ood_threshold","threshold_source"
 *  ("router", "option" or "none"),"ood_count","ood_share",
 *  "tv_distance","js_divergence",
 *  "tasks":[{"id","slug","name","share_train","share_traffic","delta","ood_nearest"}]}
 * share_traffic is among the in-distribution prompts; ood_nearest counts the
 * OOD prompts whose most probable task it is. */
int tr_drift_traffic(const tr_router *r, const tr_dataset *ds, const double *threshold, char **json,
                     char *err, size_t errlen);

#endif
