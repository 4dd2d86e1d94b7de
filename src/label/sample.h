/* Which prompts to label first (`taskroute label --sample N --strategy`):
 *   random      a seeded shuffle;
 *   uncertain   the smallest key first: the caller's key is the gap
 *               between the predicted quality of the router's best and
 *               second-best model, and a negative number for a prompt the
 *               router flags out of distribution, so those come first
 *               (ties, and prompts without a key, in seeded random order);
 *   stratified  round-robin over the router's tasks, each task's prompts
 *               in seeded random order, so N prompts spread evenly over
 *               the tasks (a task with fewer prompts than its share gives
 *               its turn to the others).
 * Deterministic for a seed, so a resumed run picks the same prompts. */
#ifndef TR_LABEL_SAMPLE_H
#define TR_LABEL_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum tr_sample_strategy { TR_SAMPLE_RANDOM = 0, TR_SAMPLE_UNCERTAIN, TR_SAMPLE_STRATIFIED } tr_sample_strategy;

/* The strategy named s: 0 and *out set, or -1. */
int tr_sample_strategy_parse(const char *s, tr_sample_strategy *out);

/* Write the labelling order of n items into order (n indices, the
 * caller's).  margin: n values (NaN: unknown), needed by uncertain; task:
 * n task indices >= 0, needed by stratified; either may be NULL
 * otherwise.  TR_OK, TR_EINVAL (a needed array missing), TR_ENOMEM. */
int tr_sample_order(size_t n, tr_sample_strategy s, const float *margin, const int *task, uint64_t seed,
                    size_t *order);

#endif
