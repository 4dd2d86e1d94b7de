/* The one client of upstream model providers (OpenAI-shaped chat APIs):
 * the server's proxy and any CLI command that calls models go through it.
 *
 * A call names its candidates in order (entries of an upstream table) and
 * runs on the caller's thread, blocking: for each candidate in turn it
 * skips one whose circuit is open (breaker.h) or that is at its
 * max_concurrency, else tries it, retrying connection errors, 5xx and
 * 429 answers with backoff (backoff.h; a Retry-After beyond the cap moves
 * on at once), and moves to the next candidate when the retries are spent
 * or the attempt timed out (a time-out has cost the whole time budget
 * already).  A 2xx answer ends the call; so does any other answer (a 4xx
 * is about the request: the next model would refuse it too), which is
 * handed back as it came.  A stream (call.stream) is handed to the
 * caller's sink from its first byte on; from then on nothing is retried,
 * and a failure cuts the stream.
 *
 * Every answer that reached a 2xx is read (answer.h) for its usage: tokens
 * and, with a price in the table, USD.  The client counts per model
 * (attempts, retries, failures by kind, skips, breaker state, tokens, USD),
 * by name, across table reloads; tr_upstream_client_metrics prints them.
 * No server types: the caller's sink is three callbacks. */
#ifndef TR_UPSTREAM_CLIENT_H
#define TR_UPSTREAM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "upstream/table.h"

typedef struct tr_upstream_client tr_upstream_client;

/* seed: the retry jitter's (any value; a fixed one makes schedules
 * repeat).  *out owned by the caller: tr_upstream_client_free.  The caller
 * runs curl_global_init first. */
int tr_upstream_client_new(uint64_t seed, tr_upstream_client **out, char *err, size_t errlen);
/* No call may be running.  NULL: no-op. */
void tr_upstream_client_free(tr_upstream_client *c);

/* Make t the table later calls use (takes a reference; the old table's
 * reference is dropped once no call holds it).  Per-model counters and
 * breakers are kept by model name.  TR_OK or TR_ENOMEM. */
int tr_upstream_client_set_table(tr_upstream_client *c, tr_upstream_table *t);
/* The current table, with a reference for the caller (unref it), or NULL. */
tr_upstream_table *tr_upstream_client_table(tr_upstream_client *c);

/* What the caller hands over (all borrowed for the call). */
typedef struct tr_upstream_call {
    tr_upstream_table *table;   /* the table the candidates index (NULL: the current one) */
    const int *candidates;      /* entries to try, in order */
    size_t n_candidates;
    /* The request body for one candidate, with "model" set to
     * upstream_model; owned by the caller's allocator (tr_free), NULL when
     * out of memory. */
    char *(*make_body)(void *ctx, const char *upstream_model);
    void *body_ctx;
    const char *const *headers; /* extra request lines "Name: value" forwarded as is */
    size_t n_headers;
    int stream;                 /* the client asked for "stream": true */
    /* Streams: a 2xx answer starts (status, content type, the provider's
     * rate-limit header lines "Name: value\n"...); return 0 to abandon
     * it.  Then its bytes as they come; return 0 to stop (client gone). */
    int (*on_start)(void *ctx, int model, long status, const char *content_type, const char *rate_headers);
    int (*on_data)(void *ctx, const char *bytes, size_t n);
    /* Polled while waiting; 1 stops the call (its outcome: cancelled). */
    int (*cancelled)(void *ctx);
    void *sink_ctx;
} tr_upstream_call;

enum tr_upstream_outcome {
    TR_UPSTREAM_ANSWERED = 0,   /* an answer to hand on: status, body (or the stream) */
    TR_UPSTREAM_FAILED = 1,     /* every candidate failed or was skipped: message says why */
    TR_UPSTREAM_CANCELLED = 2
};

enum tr_upstream_fail_kind {
    TR_FAIL_NONE = 0, TR_FAIL_CONNECT, TR_FAIL_TIMEOUT, TR_FAIL_HTTP_5XX, TR_FAIL_HTTP_429,
    TR_FAIL_SKIPPED,            /* every candidate skipped: open circuits, full concurrency */
    TR_FAIL_OTHER
};

/* The answer's reading for the accounting (answer.h). */
enum tr_upstream_answer_kind { TR_READ_NONE = 0, TR_READ_OK, TR_READ_ERROR_OBJECT, TR_READ_MALFORMED };

typedef struct tr_upstream_result {
    int outcome;                /* enum tr_upstream_outcome */
    int fail_kind;              /* the last failure's enum tr_upstream_fail_kind */
    int model;                  /* the entry that answered (or failed last), -1 none */
    int position;               /* its position among the candidates, -1 none */
    long status;                /* HTTP status of the answer or the last failed one, 0 none */
    int streamed;               /* the answer went to on_start/on_data */
    int stream_ok;              /* streams: it ended cleanly */
    char content_type[128];
    char *body;                 /* non-streamed answer, or the last failed answer's body (tr_free) */
    size_t len;
    char *rate_headers;         /* the provider's x-ratelimit-* and retry-after lines (tr_free), or NULL */
    int attempts, retries, fallbacks;
    int read_kind;              /* enum tr_upstream_answer_kind of a 2xx answer */
    char read_error[256];       /* why it read as malformed */
    long long prompt_tokens, completion_tokens;   /* -1: not given */
    double usd;                 /* tokens x the entry's price; NaN without usage or price */
    char message[512];          /* failures: what happened, naming the model */
} tr_upstream_result;

/* Run a call; blocks.  Fills *res (release with tr_upstream_result_free).
 * TR_OK (look at res->outcome), or TR_EINVAL (no candidates, no table),
 * TR_ENOMEM. */
int tr_upstream_client_call(tr_upstream_client *c, const tr_upstream_call *call, tr_upstream_result *res);
void tr_upstream_result_free(tr_upstream_result *res);

/* The counters as Prometheus text (taskroute_upstream_*{model=...}),
 * appended to *buf (tr_realloc'd, *len and *cap updated).  TR_OK or
 * TR_ENOMEM. */
int tr_upstream_client_metrics(tr_upstream_client *c, char **buf, size_t *len, size_t *cap);

/* One model's counters, for tests and reports (a snapshot). */
typedef struct tr_upstream_stats {
    unsigned long long attempts, retries, answers, failures_connect, failures_timeout, failures_5xx,
        failures_429, skipped_breaker, skipped_concurrency, prompt_tokens, completion_tokens;
    double usd;
    int breaker_state;
    unsigned long breaker_opens;
    long inflight;
} tr_upstream_stats;
/* TR_OK, or TR_ENOTFOUND when the client never saw the model. */
int tr_upstream_client_stats(tr_upstream_client *c, const char *model, tr_upstream_stats *out);

#endif
