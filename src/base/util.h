/* Internal helpers every module uses: error messages, allocation with fault
 * injection, a seeded RNG, a clock.  Not part of the public API. */
#ifndef TR_UTIL_H
#define TR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

#if defined(__GNUC__)
#define TR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TR_PRINTF(a, b)
#endif

/* Write a formatted message into err (if err and errlen) and return code.
 * Lets a failure path read: return tr_errorf(err, errlen, TR_EFORMAT, "...") */
int tr_errorf(char *err, size_t errlen, int code, const char *fmt, ...) TR_PRINTF(4, 5);

/* Prefix an existing message: "ctx: old message".  Returns code. */
int tr_error_prefix(char *err, size_t errlen, int code, const char *fmt, ...) TR_PRINTF(4, 5);

/* Allocation goes through these so tests can fail the Nth allocation
 * (SQLite-style fault injection).  Same contracts as the libc calls. */
void *tr_malloc(size_t n);
void *tr_calloc(size_t n, size_t size);
void *tr_realloc(void *p, size_t n);
char *tr_strdup(const char *s);
char *tr_strndup(const char *s, size_t n);
/* n*size with overflow check; NULL on overflow or failure. */
void *tr_mallocarray(size_t n, size_t size);
/* Like tr_malloc, for the arrays a route reads at random (the projection,
 * the kNN store): aligned to a cache line, and from TR_BIG_ALLOC bytes up to
 * 2 MiB and offered to the kernel for transparent huge pages.  Freed by
 * tr_free. */
#define TR_BIG_ALLOC ((size_t)4 << 20)
void *tr_malloc_big(size_t n);
/* tr_free is public (taskroute.h). */

/* Test hook: after 'n' more successful allocations every allocation fails;
 * n < 0 disables.  Returns how many allocations have failed since the last call. */
long tr_alloc_fail_after(long n);

/* Deterministic RNG (splitmix64 seeding xoshiro256**): the same seed gives
 * the same stream on every platform. */
typedef struct tr_rng { uint64_t s[4]; } tr_rng;
void tr_rng_seed(tr_rng *r, uint64_t seed);
/* splitmix64's finaliser: a bijective scramble of 64 bits, for hashing
 * integer keys. */
static inline uint64_t tr_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
uint64_t tr_rng_next(tr_rng *r);
double tr_rng_uniform(tr_rng *r);           /* [0, 1) */
double tr_rng_normal(tr_rng *r);            /* N(0, 1) */
uint64_t tr_rng_below(tr_rng *r, uint64_t n); /* [0, n), n > 0 */

/* Monotonic seconds. */
double tr_now(void);

/* Number of online CPUs (>= 1). */
int tr_ncpu(void);

/* Run fn on nth workers (at most TR_RUN_MAX_THREADS), the calling thread
 * as the first; worker t gets (char *)arg + t * size, so size 0 hands every
 * worker the same shared job.  A worker whose thread cannot start runs on
 * the calling thread afterwards, so every worker's share is done. */
#define TR_RUN_MAX_THREADS 64
void tr_run_workers(int nth, void *(*fn)(void *), void *arg, size_t size);

/* How many workers to run for 'jobs' pieces of work: 'threads', or every
 * core when <= 0, and never more than the pieces or TR_RUN_MAX_THREADS
 * (at least 1). */
int tr_workers(int threads, size_t jobs);

/* Offset of the first byte of s[0..len) that breaks UTF-8 (RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF), or len when valid. */
size_t tr_utf8_invalid_at(const unsigned char *s, size_t len);

#endif
