/* Training with what the public calls do not take: the warm start's
 * internal parameters, and the knobs only experiments set. */
#ifndef TR_TRAIN_H
#define TR_TRAIN_H

#include "retrain/warm_start.h"
#include "taskroute.h"

/* tr_train_options with the knobs that only experiments set (the CLI's
 * --mutual, --gate-top-k, --cv-predictions; bench/cv_study.py reads the
 * last), kept out of the public header.  Pass &x.pub to tr_train,
 * tr_discover or tr_train_warm_start: tr_train_options_x_default sets
 * pub.struct_size to sizeof x | TR_OPTS_INTERNAL (base/opts.h), which tells
 * them the knobs follow. */
typedef struct tr_train_options_x {
    tr_train_options pub;
    int mutual;                 /* 1: keep only mutual kNN edges [0] */
    int gate_top_k;             /* experts mixed per prompt [4] */
    /* path ("-": standard output): write every head's out-of-fold
     * predictions there as JSONL (one line per training record) [NULL] */
    const char *cv_predictions;
} tr_train_options_x;

/* The public defaults and the knobs' own (the stages' defaults). */
void tr_train_options_x_default(tr_train_options_x *x);

/* tr_train with warm-start parameters.  opt->warm_start names the current
 * router (NULL: a cold run, wp ignored; wp NULL: the defaults).  drift:
 * NULL, or receives the drift report JSON (owned by the caller: tr_free;
 * NULL on a cold run).  Borrows ds, opt, wp.  *out owned by the caller:
 * tr_router_close. */
int tr_train_warm(const tr_dataset *ds, const tr_train_options *opt, const tr_warm_params *wp,
                  tr_router **out, char **drift, char *err, size_t errlen);

#endif
