/* Learning from the server's feedback: merge scored feedback into a
 * training dataset.
 *
 * The feedback log (POST /v1/feedback, src/server/feedback_log.c) holds
 * one JSON object per line:
 *     {"ts": "...", "unix_ms": N, "request_id": "r-1", "model": "m", "score": 0.8}
 * It has no prompt, so it is joined on request_id with a decision log that
 * the server writes for every decision it hands out, one JSON object per
 * line:
 *     {"unix_ms": N, "request_id": "r-1", "prompt": "...", "model": "m", "task": 3}
 * ("task" is the stable task id; only request_id and prompt are required
 * here).  docs/formats.md describes both logs.  A feedback line that carries its own "prompt"
 * needs no decision.  Every request with feedback becomes one training
 * record, id "feedback:<request_id>", with the scores of the models rated
 * (the last rating of a model wins) and no cost; feedback records are
 * always training data (never in the test split).  Unknown models become
 * new columns.  Unparseable lines (a torn last line after a crash) and
 * feedback without a known prompt are counted and skipped, never fatal. */
#ifndef TR_FEEDBACK_MERGE_H
#define TR_FEEDBACK_MERGE_H

#include <stddef.h>

#include "taskroute.h"

typedef struct tr_feedback_stats {
    size_t decision_lines, feedback_lines;   /* lines read */
    size_t bad_lines;                        /* unparseable or missing fields */
    size_t unmatched;                        /* feedback with no prompt for its request_id */
    size_t records_added, models_added;
} tr_feedback_stats;

/* Append the feedback of the nf feedback logs, joined with the nd decision
 * logs, to ds (modified in place).  Paths borrowed; *st the caller's (may
 * be NULL).  TR_EIO (a file cannot be read), TR_EINVAL (ds has caller-
 * supplied embeddings: feedback has none), TR_ENOMEM. */
int tr_feedback_merge(tr_dataset *ds, const char *const *decision_logs, size_t nd,
                      const char *const *feedback_logs, size_t nf, tr_feedback_stats *st,
                      char *err, size_t errlen);

#endif
