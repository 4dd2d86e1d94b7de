/* The verified cascade's figures on data with verifier confidences
 * (docs/cascade.md), shared by `tune-cascade` and `eval`: one split
 * (cascade_figures.c) or k folds (cascade_kfold.c). */
#ifndef TR_CLI_CASCADE_FIGURES_H
#define TR_CLI_CASCADE_FIGURES_H

#include <cJSON.h>
#include <stddef.h>

#include "eval/cascade_tune.h"
#include "taskroute.h"

typedef struct tr_cascade_opts {
    double lambda;              /* NaN: the router's default policy's */
    long max_steps, k;
    double verify_cost_share;
} tr_cascade_opts;

/* The confidences of a data file by 1-based line: v[(line-1) * m + j] for
 * the dataset's model j, NaN where absent. */
typedef struct cli_cascade_verify {
    float *v;
    size_t lines;
} cli_cascade_verify;

/* Read "verify" of every line of path (the file ds was loaded from).
 * Returns how many confidences were read, with *out filled (tr_free
 * out->v), or 0 (none) or -1 (message printed, prefixed by cmd), with
 * out->v NULL. */
long cli_cascade_read_verify(const char *cmd, const char *path, const tr_dataset *ds, cli_cascade_verify *out);

/* Tune the cascade on the complete records outside fold f of K and score
 * it, and plain routing on the same predictions, on fold f's complete
 * records (K = 5, f = 0: the protocol's split), r routing every one.
 * Adds to the object t: lambda, verify_cost_share, n_train, n_test,
 * escalated_test, steps_test, test {best_single, plain_routing, cascade},
 * plain_lambda_points; *best: the tuned parameters.  0, or -1 with err set.
 * Reads r, ds and cv only: folds may run at once. */
int cli_cascade_fold(const tr_router *r, const tr_dataset *ds, const cli_cascade_verify *cv, unsigned K, unsigned f,
                     const tr_cascade_opts *opts, cJSON *t, tr_cascade_params *best, char *err, size_t errlen);

/* Tune on ds's training split, score on its test split (docs/cascade.md).
 * 0 and *out (the cascade file's JSON, with "tuned" figures; cJSON_Delete),
 * 1 when dpath holds no "verify" confidences, -1 on an error (printed,
 * prefixed by cmd). */
int cli_cascade_figures(const char *cmd, const tr_router *r, const tr_dataset *ds, const char *rpath,
                        const char *dpath, const tr_cascade_opts *opts, cJSON **out);
/* The figures as a table on stdout. */
void cli_cascade_print(const cJSON *res);

/* The k-fold figures: per fold, a router trained with train on the
 * records outside it (as `eval --folds`), the cascade tuned on those and
 * scored on the fold beside plain routing; every figure as mean +- SE over
 * the folds and the paired differences cascade - plain.  0 and *out
 * (cJSON_Delete), 1 when dpath holds no confidences, -1 on an error
 * (printed).  Borrows everything. */
int cli_cascade_kfold(const char *cmd, const tr_dataset *ds, const char *dpath, const tr_train_options *train,
                      const tr_kfold_options *kopt, const tr_cascade_opts *opts, cJSON **out);
/* The k-fold figures as tables on stdout. */
void cli_cascade_kfold_print(const cJSON *j);

#endif
