/* Markdown for the two drift reports, rendered from their JSON so the two
 * forms never disagree:
 *  - "kind":"retrain" (warm_start.c): tasks matched / added / vanished, each
 *    matched task's share before and after and its per-model quality and
 *    cost shifts, splits, merges, models added and retired, and, when the
 *    CLI ran the regression guard, its evidence and verdict under "guard"
 *    (format: regress_guard.h, tr_guard_json);
 *  - "kind":"traffic" (drift.c): task shares of new traffic against the
 *    training shares and the out-of-distribution share. */
#ifndef TR_DRIFT_REPORT_H
#define TR_DRIFT_REPORT_H

/* tr_drift_markdown, the renderer, is public (taskroute.h). */
#include "taskroute.h"

#endif
