/* When to try an upstream again: exponential backoff with jitter, and the
 * provider's Retry-After honoured up to a cap.
 *
 * Retry k (1-based) waits a delay drawn uniformly from [d/2, d], d =
 * min(max_ms, base_ms * 2^(k-1)) ("equal jitter": spread out so that
 * clients that failed together do not retry together, yet never much
 * sooner than the schedule).  A Retry-After the provider sent replaces
 * the schedule when it is at most retry_after_max_ms; a longer one means
 * "not this model for now": the caller falls back instead of waiting.
 * Pure functions of their arguments and a caller-owned RNG state, so a
 * seeded test sees the same schedule every run. */
#ifndef TR_UPSTREAM_BACKOFF_H
#define TR_UPSTREAM_BACKOFF_H

#include <stdint.h>
#include <time.h>

typedef struct tr_retry_policy {
    int max_retries;           /* retries per model after the first attempt [2] */
    long base_ms;              /* first retry's delay, before jitter [250] */
    long max_ms;               /* cap on one delay [4000] */
    long retry_after_max_ms;   /* longest Retry-After waited for [10000] */
} tr_retry_policy;

void tr_retry_policy_default(tr_retry_policy *p);

/* The delay before retry k >= 1 without a Retry-After.  *rng is the
 * caller's state (any seed; advanced). */
long tr_backoff_delay_ms(const tr_retry_policy *p, int k, uint64_t *rng);

/* A Retry-After header's value in milliseconds from now: delta-seconds
 * ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", against now);
 * a date in the past is 0.  -1 when the value is neither. */
long tr_retry_after_ms(const char *value, time_t now);

/* The wait before retry k: the Retry-After (ms, -1 when none) when it is
 * at most the cap, else the schedule's delay; -1 when the Retry-After is
 * beyond the cap (do not retry this model). */
long tr_retry_wait_ms(const tr_retry_policy *p, int k, long retry_after_ms, uint64_t *rng);

#endif
