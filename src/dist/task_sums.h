/* The task table as sums over prompts: per task its prompt count and the
 * sum of their embeddings (size, centroid), and per task x model the score
 * and cost sums and counts (mean quality and cost).  Added up over the
 * processes, they replace the table's figures; names and ids stay. */
#ifndef TR_TASK_SUMS_H
#define TR_TASK_SUMS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/tasks.h"

typedef struct tr_task_sums {
    size_t T, d, M;
    double *sum;           /* everything, one array to reduce by addition */
    size_t n_sum;
    double *count;         /* T */
    double *xsum;          /* T x d */
    double *qs, *qn, *cs, *cn;   /* T x M: score sum, scored count, cost sum, costed count */
} tr_task_sums;

/* Zeroed sums for T tasks, dimension d, M models.  TR_OK or TR_ENOMEM. */
int tr_task_sums_init(tr_task_sums *s, size_t T, size_t d, size_t M);
void tr_task_sums_free(tr_task_sums *s);
/* Add n prompts: X (n x d), S and C (n x M, NaN = none; NULL when M is 0),
 * y (n tasks).  TR_EINVAL for a task out of range. */
int tr_task_sums_add(tr_task_sums *s, const float *X, const float *S, const float *C, const int32_t *y, size_t n);
/* Overwrite t's sizes, centroids, quality, cost and label counts (t has
 * the same T, d and M).  TR_EINVAL when the shapes differ. */
int tr_task_sums_apply(const tr_task_sums *s, tr_tasks *t);

#endif
