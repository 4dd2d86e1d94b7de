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

/* tr_drift_traffic, the drift of a batch of prompts against r, is public
 * (taskroute.h).  Its JSON:
 * {"kind":"traffic","traffic","n","ood_threshold","threshold_source"
 *  ("router", "option" or "none"),"ood_count","ood_share",
 *  "tv_distance","js_divergence",
 *  "tasks":[{"id","slug","name","share_train","share_traffic","delta","ood_nearest"}]}
 * share_traffic is among the in-distribution prompts; ood_nearest counts the
 * OOD prompts whose most probable task it is. */

#endif
