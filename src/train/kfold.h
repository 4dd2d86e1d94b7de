/* The evaluation protocol's k-fold evaluation (tr_evaluate_kfold in taskroute.h): train a
 * router on every fold's training part, score it on the fold's test set,
 * and summarise each figure as mean ± standard error over the folds, with
 * paired differences between our router and every other one.
 *
 * The summary is split from the training so that it can be tested on
 * hand-made fold results: tr_kfold_summary reads the trees that
 * tr_evaluate_fold (eval/eval_fold.h) returns, one per fold. */
#ifndef TR_KFOLD_H
#define TR_KFOLD_H

#include <cJSON.h>
#include <stddef.h>

#include "taskroute.h"

/* The k-fold JSON (format in taskroute.h, tr_evaluate_kfold) from the K
 * per-fold evaluation trees (borrowed) and, per fold, the heads the router
 * chose (heads_quality / heads_cost of each tree).  A router appears only
 * when every fold scored it (an ablation of the heads is missing from the
 * folds whose cross-validation chose that variant).  NULL when out of
 * memory.  Owned by the caller: cJSON_Delete. */
cJSON *tr_kfold_summary(const char *dataset, cJSON *const *folds, size_t K);

/* {mean, se, folds: [...]} of x[0..K) (tr_stats_mean_se; null where not
 * finite).  Owned by the caller; NULL when out of memory. */
cJSON *tr_kfold_stat_json(const double *x, size_t K);

/* tr_kfold_stat_json of the per-fold differences a − b, plus (better != 0)
 * "won", "lost", "tied": the folds where a is better, worse, equal, better
 * meaning higher (better > 0) or lower (better < 0).  K <= 100. */
cJSON *tr_kfold_paired_json(const double *a, const double *b, size_t K, int better);

/* What is scored on each fold, once the fold's router is trained. */
typedef struct tr_kfold_scorer {
    /* Score r (trained on every record outside fold f of K; borrowed) on
     * fold f: *out receives the fold's tree, whose "n_test" the progress
     * line reports (owned by the caller of tr_kfold_run).  Called from the
     * worker threads, several folds at once: ctx must be read-only or
     * guarded.  TR_OK or a status with err set. */
    int (*score)(void *ctx, const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, cJSON **out,
                 char *err, size_t errlen);
    /* The figures of a fold's tree for its progress line, or NULL. */
    void (*describe)(const cJSON *tree, char *buf, size_t n);
    void *ctx;
} tr_kfold_scorer;

/* The folds of tr_evaluate_kfold with another scorer: the same option
 * checks, fold assignment, training options per fold, parallel folds and
 * progress lines (kopt->baselines is for the scorer to read).  On TR_OK
 * *trees is an array of *folds trees, fold by fold (the caller's:
 * cJSON_Delete each, tr_free the array); on an error (the first failing
 * fold's), *trees is NULL.  Borrows ds, train, kopt and scorer. */
int tr_kfold_run(const tr_dataset *ds, const tr_train_options *train, const tr_kfold_options *kopt,
                 const tr_kfold_scorer *scorer, cJSON ***trees, int *folds, char *err, size_t errlen);

#endif
