/* The task table: what stage 1 discovered, as the router keeps it.  Per task
 * its name (distinctive pieces), size, centroid in embedding space and, where
 * the training data had scores, each model's mean quality and cost.  Used by
 * routing (centroids for out-of-distribution checks, names in decisions), by
 * the taxonomy report and by warm-start matching across retrains. */
#ifndef TR_TASKS_H
#define TR_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct tr_tasks {
    size_t n_tasks, dim, n_models;
    char **names;          /* n_tasks strings */
    int32_t *ids;          /* stable ids across retrains (warm start); default 0..T-1 */
    uint32_t *sizes;       /* training prompts per task */
    float *centroids;      /* n_tasks x dim, unit norm (zero for an empty task) */
    float *quality;        /* n_tasks x n_models mean score, NaN = no label */
    float *cost;           /* n_tasks x n_models mean cost, NaN = none */
    uint32_t *n_labels;    /* n_tasks x n_models labelled prompts */
} tr_tasks;

/* Build the table from a membership (n labels in [0, T)) over the embeddings
 * X (n x dim) and, when scores is non-NULL, the per-model means (n x M, NaN =
 * absent).  Names default to "task-<id>" until tr_tasks_name() runs.
 * *out's arrays are owned by *out: tr_tasks_clear. */
int tr_tasks_build(const int32_t *membership, size_t n, size_t T, const float *X,
                   size_t dim, const float *scores, const float *costs,
                   size_t M, tr_tasks *out, char *err, size_t errlen);
void tr_tasks_clear(tr_tasks *t);
int tr_tasks_save(const tr_tasks *t, tr_buf *b);
int tr_tasks_load(const void *data, size_t len, tr_tasks *out, char *err, size_t errlen);
/* Replace task t's name (copied). */
int tr_tasks_set_name(tr_tasks *t, size_t task, const char *name);

#endif
