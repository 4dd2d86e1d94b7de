/* What POST /v1/feedback needs to update the online state, remembered per
 * request id: the task's stable id, the chosen model's name and the heads'
 * predicted quality for it.
 *
 * A fixed-size table, so memory never grows with traffic: a ring of
 * capacity slots in insertion order (the oldest entry is overwritten when
 * it is full, so an id "expires" after capacity newer decisions) plus a hash
 * index over the ring (chained by slot number) for O(1) look-up.  One mutex
 * guards both; every operation is a few hundred nanoseconds. */
#ifndef TR_SERVER_ONLINE_MEMORY_H
#define TR_SERVER_ONLINE_MEMORY_H

#include <stddef.h>

typedef struct tr_online_memory tr_online_memory;

typedef struct tr_online_memo {
    int task_id;          /* stable task id (tr_router_task_id) */
    double q_hat;         /* predicted quality of model, NaN if none */
    char model[128];      /* the chosen model's name */
} tr_online_memo;

/* capacity >= 1 entries.  *out owned by the caller: tr_online_memory_free.
 * TR_OK, TR_EINVAL or TR_ENOMEM. */
int tr_online_memory_new(size_t capacity, tr_online_memory **out);
void tr_online_memory_free(tr_online_memory *mm);   /* NULL: no-op */

/* Remember id -> *v (both borrowed; ids longer than 63 bytes are refused
 * with TR_EINVAL).  A re-used id replaces its old entry. */
int tr_online_memory_put(tr_online_memory *mm, const char *id, const tr_online_memo *v);
/* Look id up; when found, copy it to *v and forget it (feedback counts once).
 * 1 found, 0 unknown or expired. */
int tr_online_memory_take(tr_online_memory *mm, const char *id, tr_online_memo *v);
/* Entries held now (<= capacity). */
size_t tr_online_memory_count(tr_online_memory *mm);

#endif
