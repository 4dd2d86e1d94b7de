/* Where a router wins and loses, per human label (the dataset's optional
 * "task" field, never a router input): for each label of the test split,
 * the router's mean score at one knob setting beside the best single
 * model's, the label's own training-best model's and the per-prompt
 * oracle's.  The label's training-best model is the "label oracle": what a
 * router that knew the human task, and nothing finer, would reach. */
#ifndef TR_EVAL_LABELS_H
#define TR_EVAL_LABELS_H

#include <cJSON.h>
#include <stddef.h>

#include "data/dataset.h"

/* Adds "by_label" (labels sorted by prompts lost to their training-best
 * model, most first) and "label_oracle" to root.  K, f: the fold whose
 * training part (tr_dataset_fold_indices) says each label's best model;
 * test: nt test record indices of ds; S: nt x M true scores of them; pick: the router's model
 * per test prompt; best: the best single model's index.  Does nothing when
 * no test record has a label.  All borrowed; root gains new items. */
int tr_eval_by_label(const tr_dataset *ds, unsigned K, unsigned f, const size_t *test, size_t nt, const double *S, size_t M,
                     const int *pick, size_t best, cJSON *root, char *err, size_t errlen);

#endif
