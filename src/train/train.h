/* Training with what the public calls do not take: the warm start's
 * internal parameters, and the knobs only experiments set. */
#ifndef TR_TRAIN_H
#define TR_TRAIN_H

#include "retrain/warm_start.h"
#include "taskroute.h"

/* tr_train_options with the knobs that only experiments and the k-fold
 * evaluation set (the CLI's --mutual, --gate-top-k, --cv-predictions;
 * bench/cv_study.py reads the last; train/kfold.c sets the held-out fold),
 * kept out of the public header.  Pass &x.pub to tr_train, tr_discover or
 * tr_train_warm_start: tr_train_options_x_default sets pub.struct_size to
 * sizeof x | TR_OPTS_INTERNAL (base/opts.h), which tells them the knobs
 * follow. */
typedef struct tr_train_options_x {
    tr_train_options pub;
    int mutual;                 /* 1: keep only mutual kNN edges [0] */
    int gate_top_k;             /* experts mixed per prompt [4] */
    /* path ("-": standard output): write every head's out-of-fold
     * predictions there as JSONL (one line per training record) [NULL] */
    const char *cv_predictions;
    /* The training split: every record outside fold holdout_fold of
     * holdout_folds (the evaluation protocol's k-fold; tr_split_fold).
     * [5, 0] is the protocol's train/test split; holdout_folds 0 or 1 reads
     * as 5, at most 100.  Ignored with pub.use_all.  Only the k-fold
     * evaluation trains on another fold's complement: a public caller has
     * tr_evaluate_kfold for that. */
    int holdout_folds;          /* [5] */
    int holdout_fold;           /* [0] */
} tr_train_options_x;

/* The public defaults and the knobs' own (the stages' defaults). */
void tr_train_options_x_default(tr_train_options_x *x);

/* The caller's options (NULL: the defaults), the public struct (any size
 * the library knows) or the extension, into *x (the caller's), every
 * option checked: what tr_train and the k-fold evaluation take.  TR_OK or
 * TR_EINVAL with a message.  Borrows opt. */
int tr_train_options_take(const tr_train_options *opt, tr_train_options_x *x, char *err, size_t errlen);

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
