/* Warm-start retraining: what a new training run takes from the current
 * router (its embedder, unless a refit is asked for, so embeddings stay
 * comparable and training skips the tokenizer/TF-IDF/SVD fit; its tasks,
 * kept where the data did not move, see "Stable tasks" below), and what it
 * gives back to it: the new tasks matched to the old ones (cluster/match.h)
 * so ids and names stay stable, and a drift report (JSON;
 * retrain/drift_report.h renders Markdown).
 *
 * train/train.c calls in at four points (embedder, clustering, after it,
 * after assembly); everything else lives here. */
#ifndef TR_WARM_START_H
#define TR_WARM_START_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/match.h"
#include "data/dataset.h"
#include "embed/embedder.h"
#include "taskroute.h"

typedef struct tr_warm_params {
    int refit_embedder;       /* 1: fit a new embedder instead of reusing the old one [0] */
    tr_match_params match;    /* [tr_match_params_default] */
} tr_warm_params;

void tr_warm_params_default(tr_warm_params *p);

typedef struct tr_warm tr_warm;

/* Open the current router at path.  p borrowed (NULL = defaults).  *out
 * owned by the caller: tr_warm_free.  The router must have a task
 * classifier (any router file has). */
int tr_warm_open(const char *path, const tr_warm_params *p, tr_warm **out, char *err, size_t errlen);

/* The same from a router the caller holds: cur is borrowed (only read; it
 * may keep routing on other threads) and must outlive *out.  name (borrowed;
 * NULL: "current") names it in the drift report and the new router's
 * config. */
int tr_warm_from(const tr_router *cur, const char *name, const tr_warm_params *p, tr_warm **out, char *err,
                 size_t errlen);
void tr_warm_free(tr_warm *w);   /* NULL: no-op */

/* The old router (owned by w). */
const tr_router *tr_warm_router(const tr_warm *w);

/* A copy of the old embedder for the new run (owned by the caller:
 * tr_embedder_free), or *out = NULL when a refit was asked for or the old
 * router has none (caller-supplied embeddings). */
int tr_warm_embedder(const tr_warm *w, tr_embedder **out, char *err, size_t errlen);

/* The old router's task count (the new run's clustering target when the
 * caller set neither a resolution nor a task count). */
size_t tr_warm_task_count(const tr_warm *w);

/* Stable tasks.  A fresh clustering of slightly different data merges and
 * splits tasks differently, which no matching of its tasks to the old ones
 * can undo, so a warm-started run keeps the old tasks and adds only what is
 * new:
 *  1. tr_warm_prepare: the old router looks at the new training prompts:
 *     its task for each (where the clustering starts: Leiden improves that
 *     partition at the old resolution, tr_warm_resolution) and whether it is
 *     out of distribution for it;
 *  2. tr_warm_reconcile, given the clustering: a community of at least
 *     min_size prompts of which TR_WARM_NEW_SHARE or more are out of
 *     distribution for the old router becomes a new task; every other
 *     prompt stays in its old task; an old task left with fewer than
 *     min_size / 2 prompts vanishes (they go to their next most probable
 *     old task; half the bar for a new task, so that a task near it does
 *     not come and go with sampling noise).
 * Then tr_warm_apply matches tasks as before (the kept ones to themselves),
 * so ids, names and the drift report follow.  A retrain without
 * --warm-start discovers the tasks afresh. */
#define TR_WARM_NEW_SHARE 0.25

/* Step 1 for the training prompts idx[0..n) of ds with embeddings X (n x dim,
 * the new run's space) and kept shares (n, raw, from the same embedder;
 * NULL: none); same_space as for tr_warm_apply.  Borrows everything. */
int tr_warm_prepare(tr_warm *w, const tr_dataset *ds, const size_t *idx, size_t n, const float *X,
                    const float *kept, size_t dim, int same_space, char *err, size_t errlen);
/* After prepare: the old router's task for each prompt (n, owned by w). */
const int32_t *tr_warm_old_tasks(const tr_warm *w);
/* The resolution the old router's clustering ended at, 0 when its file does
 * not say. */
double tr_warm_resolution(const tr_warm *w);
/* 1 when reconcile can run: prepared, and the old router has an OOD
 * calibration to tell new prompts by (files that predate it have none). */
int tr_warm_can_reconcile(const tr_warm *w);
/* Step 2: clusters (n labels >= 0, the new clustering) -> membership (n,
 * the caller's, labels 0..*T-1).  Borrows clusters. */
int tr_warm_reconcile(const tr_warm *w, const int32_t *clusters, size_t n, size_t min_size, int32_t *membership,
                      size_t *T, char *err, size_t errlen);

/* After the new router r is assembled from the training prompts idx[0..n)
 * of ds with embeddings X (n x dim, r's space) and tasks membership: match
 * the tasks, rewrite r->tasks ids and names (a matched task keeps the old id
 * and name; the others get max old id + 1, ... in task order) and build the
 * drift report.  same_space: X is in the old router's embedding space (the
 * embedder was reused), else the prompts are re-embedded with the old one.
 * Borrows everything but r, which it modifies. */
int tr_warm_apply(tr_warm *w, const tr_dataset *ds, const size_t *idx, size_t n, const float *X,
                  const int32_t *membership, int same_space, tr_router *r, char *err, size_t errlen);

/* The drift report of the last tr_warm_apply as JSON (owned by the caller:
 * tr_free; NULL before apply).  Format: retrain/drift_report.h. */
char *tr_warm_take_drift(tr_warm *w);

/* A short JSON summary for the new router's CONF ({"from", "matched",
 * "added", "vanished", "embedder"}); borrowed, NULL before apply. */
const char *tr_warm_summary(const tr_warm *w);

#endif
