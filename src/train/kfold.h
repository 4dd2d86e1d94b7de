/* EVAL.md's k-fold evaluation (tr_evaluate_kfold in taskroute.h): train a
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

/* The k-fold JSON (format in taskroute.h, tr_evaluate_kfold) from the K
 * per-fold evaluation trees (borrowed) and, per fold, the heads the router
 * chose (heads_quality / heads_cost of each tree).  A router appears only
 * when every fold scored it (an ablation of the heads is missing from the
 * folds whose cross-validation chose that variant).  NULL when out of
 * memory.  Owned by the caller: cJSON_Delete. */
cJSON *tr_kfold_summary(const char *dataset, cJSON *const *folds, size_t K);

#endif
