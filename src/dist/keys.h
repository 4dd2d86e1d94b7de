/* Choosing records the same way whatever the number of processes: every
 * choice goes through a per-record key (a hash of the record's id and the
 * seed), never through which process holds the record.  Also the exact
 * k-th smallest of numbers spread over processes, by bisection on counts. */
#ifndef TR_DIST_KEYS_H
#define TR_DIST_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* Salts: the sample and the kNN store draw independent keys. */
#define TR_KEY_SAMPLE 0x73616d706c65ULL
#define TR_KEY_STORE 0x73746f7265ULL

/* The key of the record with this id (len bytes) for seed and salt. */
uint64_t tr_dist_key(const char *id, size_t len, uint64_t seed, uint64_t salt);

/* Sort keys (n) ascending in place and return the k-th smallest (k >= 1),
 * so that the keys <= it are the k smallest; UINT64_MAX when k > n (every
 * key, and any key elsewhere: with k = n the cut is the largest key here,
 * which is right when these keys are the k smallest of many).  Equal keys
 * (a 64-bit collision) may let one more through. */
uint64_t tr_keys_cut(uint64_t *keys, size_t n, size_t k);

/* For keys of records of tasks task[i] (n of each; reordered in place),
 * each task's cut (T entries of cut): the cap-th smallest key of the task,
 * UINT64_MAX for a task with fewer than cap keys.  TR_OK, TR_ENOMEM or
 * TR_EINVAL (a task >= T). */
int tr_task_cuts(uint32_t *task, uint64_t *keys, size_t n, size_t T, size_t cap, uint64_t *cut);

/* A map of doubles to integers that keeps their order (NaN above +inf). */
uint64_t tr_double_order(double v);
double tr_double_from_order(uint64_t o);

/* The k-th smallest (0-based) of numbers held elsewhere, exactly: count_le
 * returns how many of them have tr_double_order <= o (over every process:
 * the caller's reduction).  64 calls.  TR_EINVAL when fewer than k + 1
 * numbers exist. */
int tr_kth_bisect(uint64_t k, uint64_t (*count_le)(void *ctx, uint64_t o), void *ctx, double *out);

/* How many of sorted (ascending by tr_double_order, n) are <= o. */
size_t tr_count_le_sorted(const double *sorted, size_t n, uint64_t o);
/* Sort doubles ascending by tr_double_order (NaN last). */
void tr_sort_doubles(double *v, size_t n);

#endif
