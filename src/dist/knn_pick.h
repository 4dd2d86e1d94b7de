/* The kNN store's rows chosen in one pass over a process's rows: per task,
 * the cap rows with the smallest store keys seen so far (a max-heap per
 * task), each with its payload (embedding, scores, task probabilities).
 * Across processes the store is then, per task, the cap smallest keys of
 * every process's candidates: tr_task_cuts finds each task's cut and every
 * process keeps the candidates at or below it. */
#ifndef TR_KNN_PICK_H
#define TR_KNN_PICK_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_knn_pick {
    size_t T, cap, width;  /* tasks, rows per task, floats of payload per row */
    size_t *count;         /* T: rows held */
    uint64_t *key;         /* T x cap: a max-heap of keys per task */
    size_t *slot;          /* T x cap: heap position -> payload slot */
    uint64_t *row;         /* T x cap, by slot: the row's index on this process */
    uint64_t *skey;        /* T x cap, by slot: its key */
    float *data;           /* T x cap x width, by slot */
} tr_knn_pick;

/* Empty picks for T tasks of at most cap rows of width floats.  TR_OK or
 * TR_ENOMEM; p is the caller's, freed by tr_knn_pick_free. */
int tr_knn_pick_init(tr_knn_pick *p, size_t T, size_t cap, size_t width);
void tr_knn_pick_free(tr_knn_pick *p);

/* Offer row (its index here, its key, its payload of width floats) of task
 * t: kept when among the cap smallest keys of t so far. */
void tr_knn_pick_offer(tr_knn_pick *p, size_t t, uint64_t key, uint64_t row, const float *payload);

/* The held (task, key) pairs, for the cut: n = sum of counts entries into
 * task and key (the caller's).  Returns n. */
size_t tr_knn_pick_keys(const tr_knn_pick *p, uint32_t *task, uint64_t *key);

/* The held rows with key <= cut[task], as (task, slot) pairs sorted by row
 * index (this process's order), into task and slot (capacity: sum of
 * counts).  Returns how many.  TR_ENOMEM is reported as (size_t)-1. */
size_t tr_knn_pick_select(const tr_knn_pick *p, const uint64_t *cut, uint32_t *task, size_t *slot);

/* The payload of task t's slot s. */
static inline const float *tr_knn_pick_data(const tr_knn_pick *p, size_t t, size_t s)
{
    return p->data + (t * p->cap + s) * p->width;
}

#endif
