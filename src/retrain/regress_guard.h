/* The regression guard of scheduled retraining: before a new router
 * replaces the current one, both are scored on the same held-out prompts
 * (the EVAL.md test split of the new dataset) and compared by a paired
 * test, so that a retrain is refused for being worse, not for being
 * unlucky on a few prompts.
 *
 * The test: B = TR_GUARD_RESAMPLES bootstrap resamples of the test prompts
 * (fixed seed), the same resample for both routers; in each, the best single
 * model, C_best and both routers' hulls are recomputed, and so Q@C_best and
 * AIQ (log cost axis) of each router and their differences new − current.
 * The 2.5% and 97.5% quantiles of a difference are its 95% interval.  The
 * new router is refused (TR_EREGRESS) when
 *   - for Q@C_best or AIQ(log), the whole interval lies below
 *     −max_regression: worse by more than the limit beyond noise; or
 *   - the current router beats the best single model beyond noise (the
 *     interval of its Q@C_best − Q_best lies above 0) and the new one does
 *     not beat it (its Q@C_best <= Q_best on the test prompts).
 * The current router routes only among the models it knows: a model added
 * since can only help the new one, as it would in production. */
#ifndef TR_REGRESS_GUARD_H
#define TR_REGRESS_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

#define TR_GUARD_RESAMPLES 1000
#define TR_GUARD_LEVEL 0.95
#define TR_GUARD_SEED 20260101u

/* One figure of both routers on the whole test set, and the interval of
 * the difference. */
typedef struct tr_guard_figure {
    double before, after;   /* current, new */
    double diff;            /* after − before */
    double lo, hi;          /* TR_GUARD_LEVEL bootstrap interval of diff */
} tr_guard_figure;

typedef struct tr_guard_result {
    tr_guard_figure q_at_cbest, aiq_log;
    double q_best;              /* the best single model's quality on the test prompts */
    double beat_lo, beat_hi;    /* interval of the current router's Q@C_best − Q_best */
    int beat_before;            /* the current router beats the best single model beyond noise */
    int beat_after;             /* the new router's Q@C_best > Q_best */
    size_t n_test;
    int old_usable;     /* 0: the current router knows none of the dataset's models */
    int refused;        /* 1: refused; 'reason' says why */
    char reason[256];   /* "" when accepted */
} tr_guard_result;

/* tr_regression_guard, the public form (taskroute.h), runs this check with
 * its options and hands back the evidence as tr_guard_json's JSON.
 *
 * Compare cand against cur on ds's test split.  TR_OK (accept), TR_EREGRESS
 * (refused; err says why, with the figures) or an evaluation error.  *res
 * (the caller's) holds the evidence in every case but an error.  Borrows
 * all. */
int tr_regression_check(const tr_router *cur, const tr_router *cand, const tr_dataset *ds, double max_regression,
                        tr_guard_result *res, char *err, size_t errlen);

/* The evidence and verdict as one JSON object (owned by the caller:
 * tr_free; NULL when out of memory):
 *   {"test", "n_test", "resamples", "level", "seed", "max_regression",
 *    "current_usable", "q_at_c_best": F, "aiq_log": F, "q_best",
 *    "beats_best_single": {"before", "before_ci": [lo, hi], "after"},
 *    "verdict": "accepted" | "refused", "reason"}
 * with F = {"before", "after", "diff", "ci": [lo, hi]}. */
char *tr_guard_json(const tr_guard_result *res, double max_regression);

#endif
