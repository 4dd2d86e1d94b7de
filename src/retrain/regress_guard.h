/* The regression guard of scheduled retraining: before a new router replaces
 * the current one, both are scored by tr_evaluate on the same held-out data
 * (the EVAL.md test split of the new dataset) and the new one is refused
 * when its AIQ (log cost axis) or its Q@C_best is lower by more than
 * max_regression.  The current router routes only among the models it
 * knows: a model added since can only help the new one, as it would in
 * production. */
#ifndef TR_REGRESS_GUARD_H
#define TR_REGRESS_GUARD_H

#include <stddef.h>

#include "taskroute.h"

typedef struct tr_guard_result {
    double old_aiq_log, new_aiq_log;
    double old_q_at_cbest, new_q_at_cbest;
    size_t n_test;
    int old_usable;     /* 0: the current router knows none of the dataset's models */
    int refused;        /* 1: the new router is worse by more than the limit */
} tr_guard_result;

/* tr_regression_guard, the public form (taskroute.h), runs this check with
 * its options and hands back the verdict's JSON.
 *
 * Compare cand against cur on ds's test split.  TR_OK (accept), TR_EREGRESS
 * (refused; err says by how much) or an evaluation error.  Borrows all;
 * *res the caller's. */
int tr_regression_check(const tr_router *cur, const tr_router *cand, const tr_dataset *ds, double max_regression,
                        tr_guard_result *res, char *err, size_t errlen);

/* The verdict as one JSON object (owned by the caller: tr_free). */
char *tr_guard_json(const tr_guard_result *res, double max_regression);

#endif
