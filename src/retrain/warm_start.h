/* Warm-start retraining: what a new training run takes from the current
 * router (its embedder, unless a refit is asked for, so embeddings stay
 * comparable and training skips the tokenizer/TF-IDF/SVD fit; its task
 * count as the clustering target), and what it gives back to it: the new
 * tasks matched to the old ones (cluster/match.h) so ids and names stay
 * stable, and a drift report (JSON; retrain/drift_report.h renders Markdown).
 *
 * train/train.c calls in at three points (embedder, task target, after assembly);
 * everything else lives here. */
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
