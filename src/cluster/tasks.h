/* The task table: what stage 1 discovered, as the router keeps it.  Per task
 * its stable id, name (the words that distinguish it, cluster/task_names.h,
 * or one a person gave it), a short ASCII slug of the name, size, centroid
 * in embedding space and, where the training data had scores, each model's
 * mean quality and cost.  Used by routing (ids, names and slugs in
 * decisions), by the taxonomy report and by warm-start matching across
 * retrains. */
#ifndef TR_TASKS_H
#define TR_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define TR_SLUG_MAX 40
/* The name was set by a person (tr_router_rename_task): warm-started
 * retraining keeps it. */
#define TR_TASK_NAMED 1u
/* The name is made of subword pieces (a format 1 section): warm-started
 * retraining replaces it with one of words. */
#define TR_TASK_LEGACY_NAME 2u

typedef struct tr_tasks {
    size_t n_tasks, dim, n_models;
    char **names;          /* n_tasks strings, unique */
    char **slugs;          /* n_tasks: [a-z0-9-], <= TR_SLUG_MAX bytes, unique; derived from the
                            * names and ids (tr_tasks_make_slugs), not stored in the file */
    int32_t *ids;          /* stable ids across retrains (warm start); default 0..T-1 */
    uint32_t *flags;       /* TR_TASK_* bits */
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
/* Replace task t's name (copied).  The slugs are stale until
 * tr_tasks_make_slugs. */
int tr_tasks_set_name(tr_tasks *t, size_t task, const char *name);
/* The slug of every task from its name: lower-case ASCII letters and digits,
 * every other run of characters one '-', cut to TR_SLUG_MAX at a '-' where
 * one is near; "task-<id>" when nothing is left; "-<id>" appended to a slug
 * an earlier task already has.  TR_ENOMEM. */
int tr_tasks_make_slugs(tr_tasks *t);
/* The slug of name for the task with this id, before uniqueness, into out
 * (TR_SLUG_MAX + 1 bytes). */
void tr_slugify(const char *name, int32_t id, char *out);
/* Index of the task with this id, or -1. */
int tr_tasks_find_id(const tr_tasks *t, int32_t id);

#endif
