/* `train --cv-predictions FILE`: every head's out-of-fold predictions as
 * JSONL, one line per training record, so a user can audit the heads CV
 * chose among, or stack and calibrate them outside taskroute. */
#ifndef TR_CV_PREDICTIONS_H
#define TR_CV_PREDICTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "heads/heads.h"

typedef struct tr_cv_predictions {
    const char *path;          /* written atomically (a temporary, then rename); "-": standard output */
    const tr_dataset *ds;
    const size_t *idx;         /* heads row i is record idx[i] */
    const int32_t *task;       /* each row's discovered task (index) */
    char *err;                 /* where a failure is described */
    size_t errlen;
} tr_cv_predictions;

/* A tr_heads_params.oof callback; ctx is a tr_cv_predictions (borrowed).
 * Each line: {"id", "line", "fold", "task_index", "chosen", "q": {head:
 * {model: predicted quality or null}}}.  task_index is the record's
 * discovered task as its position in `inspect --json`'s "tasks": the task
 * ids --warm-start keeps stable are given only after the heads train. */
int tr_cv_predictions_write(void *ctx, const tr_heads_oof *o);

#endif
