/* The upstream table: which provider answers for each model, at what price,
 * within which time and how many at once, and what to try when it fails.
 * docs/upstreams.md is the user's reference for the format; in short:
 *
 *   {"defaults": {"timeout_ms": {"connect": 3000, "total": 60000},
 *                 "max_concurrency": 64, "retries": 2,
 *                 "backoff_ms": {"base": 250, "max": 4000},
 *                 "retry_after_max_ms": 10000,
 *                 "breaker": {"failures": 5, "cooldown_ms": 30000}},
 *    "models": {"gpt-x": {"base_url": "https://api.example.com/v1",
 *                         "model": "upstream-name", "api_key_env": "X_KEY",
 *                         "price": {"input_per_mtok": 2.5, "output_per_mtok": 10},
 *                         "timeout_ms": 30000, "max_concurrency": 16,
 *                         "fallbacks": ["gpt-y"]}},
 *    "fallback": "gpt-y", "timeout_ms": 30000}
 *
 * Keys of "models" are router model names; "model" (default: the key) is
 * the name sent upstream; the key is read from the environment when the
 * table is loaded and sent as "Authorization: Bearer <key>"; requests go
 * to base_url + "/chat/completions".  A timeout_ms number is the total
 * time (the connect time-out then is the smaller of it and the default's).
 * Top-level "fallback" and "timeout_ms" (the format's first version) stay
 * valid: a fallback for every model, and the default total time-out.  Keys
 * starting with "_" are comments.  Any other unknown key is refused, so a
 * misspelt field is an error, not a silent default.
 *
 * Loading reads the file once; the table is then immutable and reference
 * counted, so a reload swaps in a new one while transfers finish on the
 * one they started with.  No server types: the CLI reads prices with it
 * too. */
#ifndef TR_UPSTREAM_TABLE_H
#define TR_UPSTREAM_TABLE_H

#include <stdatomic.h>
#include <stddef.h>

#include "upstream/backoff.h"
#include "upstream/breaker.h"

#define TR_UPSTREAM_MAX_MODELS 4096
#define TR_UPSTREAM_MAX_FALLBACKS 16

typedef struct tr_upstream {
    char *name;                 /* router model name */
    char *base_url;
    char *url;                  /* base_url + "/chat/completions" */
    char *model;                /* name sent upstream */
    char *api_key_env;          /* or NULL */
    char *auth_header;          /* "Authorization: Bearer ..." or NULL (no key, or the variable unset) */
    int has_price;
    double price_in, price_out; /* USD per million input / output tokens */
    long connect_timeout_ms, timeout_ms;
    int max_concurrency;        /* 0: no limit */
    int fallbacks[TR_UPSTREAM_MAX_FALLBACKS];   /* indices in the table */
    size_t n_fallbacks;
} tr_upstream;

typedef struct tr_upstream_table {
    atomic_int refs;
    char *path;                 /* where it was read from ("" for text) */
    tr_upstream *u;
    size_t n;
    int fallback;               /* a fallback for every model (index), or -1 */
    tr_retry_policy retry;
    tr_breaker_params breaker;
    char **notes;               /* warnings found while loading (unset key variables) */
    size_t n_notes;
} tr_upstream_table;

/* Environment look-up: getenv, or a test's own.  Returns NULL when unset. */
typedef const char *(*tr_upstream_env_fn)(const char *name);

/* Defaults for what a file leaves out. */
#define TR_UPSTREAM_CONNECT_TIMEOUT_MS 5000
#define TR_UPSTREAM_TIMEOUT_MS 30000
#define TR_UPSTREAM_MAX_CONCURRENCY 0

/* Parse len bytes of table text; name labels the messages (the file's
 * path).  fallback_override (may be NULL) replaces the top-level
 * "fallback".  env NULL: getenv.  *out owned by the caller
 * (tr_upstream_table_unref), one reference.  TR_EFORMAT (malformed JSON,
 * a field of the wrong type or range, an unknown field, a fallback naming
 * no model), TR_ENOMEM; the message names the file and the field. */
int tr_upstream_table_parse(const char *text, size_t len, const char *name, const char *fallback_override,
                            tr_upstream_env_fn env, tr_upstream_table **out, char *err, size_t errlen);
/* Read path and parse it (at most 16 MiB).  Also TR_EIO. */
int tr_upstream_table_load(const char *path, const char *fallback_override, tr_upstream_table **out, char *err,
                           size_t errlen);
void tr_upstream_table_ref(tr_upstream_table *t);
/* Drop a reference; the last frees the table.  NULL: no-op. */
void tr_upstream_table_unref(tr_upstream_table *t);

/* Index of the entry for router model name, or -1. */
int tr_upstream_table_find(const tr_upstream_table *t, const char *name);

/* Compare the table with the router's models (names borrowed): calls
 * warn(ctx, message) once for each router model without an entry, each
 * entry the router does not know, and each note of the load (unset key
 * variables), every message naming the model.  Returns the count. */
size_t tr_upstream_table_check(const tr_upstream_table *t, const char *const *models, size_t n_models,
                               void (*warn)(void *ctx, const char *msg), void *ctx);

#endif
