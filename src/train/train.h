/* Training with the retraining options the public tr_train does not take
 * (yet): the warm start's parameters and the drift report. */
#ifndef TR_TRAIN_H
#define TR_TRAIN_H

#include "retrain/warm_start.h"
#include "taskroute.h"

/* tr_train with warm-start parameters.  opt->warm_start names the current
 * router (NULL: a cold run, wp ignored; wp NULL: the defaults).  drift:
 * NULL, or receives the drift report JSON (owned by the caller: tr_free;
 * NULL on a cold run).  Borrows ds, opt, wp.  *out owned by the caller:
 * tr_router_close. */
int tr_train_warm(const tr_dataset *ds, const tr_train_options *opt, const tr_warm_params *wp,
                  tr_router **out, char **drift, char *err, size_t errlen);

/* A cold tr_train (heads 1) or tr_discover (heads 0; report as there)
 * that also hands over the task stage 1 gave each training record:
 * *membership (owned by the caller: tr_free) has *n entries, one per
 * record of tr_dataset_train_indices(ds, opt->use_all) in that order.  The
 * distributed trainer keeps these tasks for the sample's prompts.  No
 * warm start (TR_EINVAL).  Borrows ds, opt; *out as tr_train's. */
int tr_train_tasks(const tr_dataset *ds, const tr_train_options *opt, int heads, tr_router **out,
                   char **report, int32_t **membership, size_t *n, char *err, size_t errlen);

#endif
