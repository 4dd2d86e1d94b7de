/* tr_evaluate on any fold of EVAL.md's k-fold, for the callers that go
 * further than the JSON: the k-fold evaluation (train/kfold.c) reads the
 * figures of each fold from the tree, and the regression guard
 * (retrain/regress_guard.c) also reads the sweep's choice per test prompt,
 * so that it can resample prompts.  Implemented in evaluate.c. */
#ifndef TR_EVAL_FOLD_H
#define TR_EVAL_FOLD_H

#include <cJSON.h>
#include <stddef.h>

#include "taskroute.h"

enum {
    TR_EVAL_BASELINES = 1,   /* the baseline routers, trained on the fold's training part */
    TR_EVAL_ABLATIONS = 2,   /* every other trained variant pair of the heads */
    TR_EVAL_BY_LABEL = 4     /* the breakdown by human label */
};

/* The sweep of router "taskroute" on the fold's test prompts. */
typedef struct tr_eval_sweep {
    size_t nt, M;        /* test prompts, dataset models */
    size_t n_lambda;     /* knob settings */
    double *S, *C;       /* nt x M true scores and costs */
    int *pick;           /* n_lambda x nt: the model (dataset order) chosen per setting and prompt */
} tr_eval_sweep;

void tr_eval_sweep_free(tr_eval_sweep *s);   /* frees the arrays; NULL: no-op */

/* Score r on fold f of K of ds (test set: the complete records with
 * fnv1a64(id) % K == f; baselines train on the other records).  flags:
 * TR_EVAL_*.  *out: the tree tr_evaluate prints (owned by the caller:
 * cJSON_Delete).  sweep: NULL, or receives the taskroute sweep (the
 * caller's; tr_eval_sweep_free).  Borrows r and ds. */
int tr_evaluate_fold(const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, int flags, cJSON **out,
                     tr_eval_sweep *sweep, char *err, size_t errlen);

#endif
