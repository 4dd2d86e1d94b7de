/* Choosing records the same way whatever the number of processes: every
 * choice goes through a per-record key (a hash of the record's id and the
 * seed), never through which process holds the record. */
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

#endif
