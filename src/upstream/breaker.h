/* A circuit breaker per upstream: after `failures` failed attempts in a
 * row the upstream is skipped (open) for a cool-down, so a dead provider
 * costs each request nothing instead of a time-out; after the cool-down
 * one request goes through as a probe (half-open): its success closes the
 * circuit, its failure opens it again for twice the cool-down (up to
 * cooldown_max_ms).  While a probe is out, other requests skip the
 * upstream.
 *
 * Failures are what says the provider is unwell: connection errors,
 * time-outs and 5xx answers.  A 429 is the provider asking to slow down,
 * handled by backoff and fallback, and neither opens nor closes the
 * circuit; a 4xx is about the request.
 *
 * Time is the caller's (milliseconds on any monotonic clock), so tests
 * drive the state machine without sleeping.  Thread-safe: one mutex per
 * breaker, held for a few instructions. */
#ifndef TR_UPSTREAM_BREAKER_H
#define TR_UPSTREAM_BREAKER_H

#include <pthread.h>

typedef struct tr_breaker_params {
    int failures;              /* failed attempts in a row that open the circuit [5]; 0: never */
    long cooldown_ms;          /* first cool-down [30000] */
    long cooldown_max_ms;      /* cool-downs double up to this [300000] */
} tr_breaker_params;

void tr_breaker_params_default(tr_breaker_params *p);

enum tr_breaker_state { TR_BREAKER_CLOSED = 0, TR_BREAKER_OPEN = 1, TR_BREAKER_HALF_OPEN = 2 };

typedef struct tr_breaker {
    pthread_mutex_t mu;
    int state;
    int fails;                 /* failures in a row (closed) */
    int probing;               /* half-open: a probe is out */
    long long open_until;      /* open: skip until then */
    long cooldown;             /* the cool-down the next opening uses */
    unsigned long opens;       /* times it opened */
} tr_breaker;

/* 0 or a pthread error. */
int tr_breaker_init(tr_breaker *b, const tr_breaker_params *p);
void tr_breaker_destroy(tr_breaker *b);

/* May a request use the upstream now?  1 yes (*probe = 1 when it is the
 * half-open probe, whose outcome must be reported), 0 skip it. */
int tr_breaker_allow(tr_breaker *b, const tr_breaker_params *p, long long now_ms, int *probe);
/* Report an attempt's outcome.  probe: what tr_breaker_allow said. */
void tr_breaker_success(tr_breaker *b, const tr_breaker_params *p, int probe);
void tr_breaker_failure(tr_breaker *b, const tr_breaker_params *p, int probe, long long now_ms);
/* A probe that ended without an outcome (the client went away, a 429):
 * the next request may probe. */
void tr_breaker_abandon(tr_breaker *b, int probe);

/* The state as of now_ms (an open circuit past its cool-down reads
 * half-open); *opens (may be NULL) the times it opened. */
int tr_breaker_state(tr_breaker *b, long long now_ms, unsigned long *opens);
const char *tr_breaker_state_name(int state);   /* static */

#endif
