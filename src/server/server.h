/* The HTTP server's shared state and the seams between its files:
 * http.c (libmicrohttpd daemon, request bodies, dispatch, logging),
 * handlers_route.c (the endpoints), proxy.c (forwarding to upstreams),
 * reload.c (the router and its hot swap).  Everything here lives in the
 * binary, not the library. */
#ifndef TR_SERVER_SERVER_H
#define TR_SERVER_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>

#include "route/online.h"
#include "server/answer_cache.h"
#include "server/api_keys.h"
#include "server/body_json.h"
#include "server/cascade_cfg.h"
#include "server/feedback_log.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/online_memory.h"
#include "server/policy.h"
#include "server/reload.h"
#include "server/reload_worker.h"
#include "upstream/client.h"

typedef struct tr_server_config {
    const char *router_path;
    const char *host;          /* [127.0.0.1] */
    int port;                  /* [8080]; 0 = any free port */
    int threads;               /* worker threads, one daemon each [number of cores] */
    const char *upstreams_path;
    const char *feedback_dir;
    size_t feedback_rotate;    /* bytes [64 MiB] */
    size_t max_body;           /* bytes [1 MiB] */
    const char *fallback;
    unsigned conn_timeout_s;   /* idle/read time-out per connection [15] */
    double grace_s;            /* shutdown: wait this long for in-flight work [10] */
    const char *port_file;     /* write the bound port here */
    int quiet;
    const char *online_path;   /* --online STATE.json; NULL = online mode off */
    double online_explore;     /* max share of exploring decisions; < 0: the library's default */
    unsigned long online_save_every; /* persist every N updates [100] */
    size_t online_memory;      /* request ids remembered for feedback [65536] */
    char *router_real;         /* router_path resolved (owned), or NULL */
    char *reload_dir;          /* --reload-dir, resolved (owned); NULL: only the served router's file */
    char *admin_key;           /* --admin-key-file's key (owned); NULL: admin endpoints for loopback clients */
    double reload_wait_s;      /* POST /admin/reload waits this long before answering 202 [2] */
    unsigned request_timeout_s; /* a request's headers and body must arrive within this [10] */
    unsigned max_conns;        /* open connections, all clients [4000] */
    unsigned max_conns_per_client; /* open connections per client address [256] */
    const char *api_keys_path; /* --api-keys FILE: inbound keys (reloaded with the router); NULL: open */
    tr_policy policy;          /* --policy: the default for requests that name none [the router's default] */
    tr_cache_config cache;     /* --cache ENTRIES and its --cache-* options; entries 0: no cache */
    tr_cascade_cfg cascade;    /* --cascade FILE, else the defaults */
} tr_server_config;

/* Online mode's server-side state (online_serve.c). */
typedef struct tr_server_online {
    int on;
    tr_online_params params;
    tr_online_memory *mem;     /* request id -> (task id, model, q̂) */
    pthread_rwlock_t swap;     /* feedback updates: read; reload's rebase + swap: write */
    pthread_mutex_t save_mu;   /* one writer of the state file at a time */
    atomic_ulong updates;
} tr_server_online;

typedef struct tr_proxy_job tr_proxy_job;

typedef struct tr_server {
    tr_server_config cfg;
    struct MHD_Daemon **daemons; /* one per worker thread */
    atomic_int *open_conns;     /* per daemon: its connections, for the listener's choice */
    int n_daemons;
    tr_listener listener;
    tr_conn_guard *guard;       /* connection limits and request deadlines */
    tr_router_slot slot;
    tr_metrics *metrics;
    tr_upstream_client *client; /* NULL: no proxy (no --upstreams) */
    /* inbound keys (--api-keys): swapped by reloads under the lock */
    pthread_rwlock_t keys_lock;
    tr_keyset *keys;            /* NULL: no key needed */
    tr_feedback_log *feedback;  /* NULL: feedback refused */
    tr_feedback_log *decisions; /* with --feedback-log: DIR/decisions.jsonl, the prompts feedback joins on */
    int port;                   /* bound port */
    unsigned long long start_ms;
    atomic_ullong next_id;
    atomic_int stopping;        /* 1: shutting down, proxy transfers cancel */
    atomic_int proxy_threads;   /* running proxy transfers */
    tr_server_online online;
    tr_reloader *reloader;
    tr_answer_cache *cache;     /* NULL: no --cache */
    atomic_ulong cascade_outcomes[3]; /* enum tr_cascade_outcome */
    /* Routing failures that are the server's fault, in a row (a success
     * resets it): /healthz turns unhealthy past a few. */
    atomic_uint route_fail_streak;
    pthread_mutex_t fail_mu;    /* guards last_fail: taken on failures only */
    char last_fail[256];
} tr_server;

/* Everything one request carries between libmicrohttpd's calls. */
typedef struct tr_request {
    tr_server *srv;
    double t0;
    int ep;                     /* enum tr_endpoint */
    int status;                 /* what was queued, for the log and metrics */
    int api_err;                /* -1 or the enum tr_api_error sent */
    char method[8];
    char path[96];
    char *body;
    size_t len, cap;
    int too_large;
    int close;                  /* answer with Connection: close (the body was not read) */
    int counted;                /* inflight gauge incremented */
    tr_conn *conn;              /* its connection's record (conn_guard.h), or NULL */
    char request_id[40];
    char model[128];            /* chosen model, for the log and headers */
    char routed_model[128];     /* first choice when a fallback answered */
    char task[128];             /* the task's full name (UTF-8), for the log */
    char task_slug[64];         /* its ASCII slug, for headers */
    int task_id;                /* its stable id (-1: none) */
    int ood;                    /* the prompt is out of distribution */
    char policy[80];            /* the policy's name, e.g. "taskroute" or "lambda=200" */
    double lambda;              /* the effective λ (NaN: the mode has none) */
    const char *note;           /* a static remark for the X-Taskroute-Note header, or NULL */
    int key_slot;               /* the inbound key's metrics slot, or -1 */
    int online;                 /* 0: online mode off, 1: exploit choice, 2: explored */
    int cache_state;            /* 0: not looked up, 1: miss, 2: hit (X-Taskroute-Cache) */
    const char *cascade;        /* "accepted", "escalated", "fallback" (X-Taskroute-Cascade), or NULL */
    char cascade_chain[256];    /* the models that answered, in order, comma-separated */
    double verifier_confidence; /* the last verification's confidence, NaN none */
    tr_proxy_job *job;          /* one reference, or NULL */
} tr_request;

/* The cascade's outcomes, counted in /metrics and named in X-Taskroute-Cascade. */
enum tr_cascade_outcome { TR_CASCADE_ACCEPTED = 0, TR_CASCADE_ESCALATED = 1, TR_CASCADE_FALLBACK = 2 };

/* ---- response.c: responses (each returns the MHD result of queueing) */
enum MHD_Result tr_http_json(struct MHD_Connection *c, tr_request *q, int status, const char *json, size_t len);
enum MHD_Result tr_http_error(struct MHD_Connection *c, tr_request *q, int api_err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add the X-Taskroute-* headers of q to a response. */
void tr_http_route_headers(struct MHD_Response *r, const tr_request *q);
/* A fresh request id "tr-<start ms hex>-<counter hex>" into q->request_id. */
void tr_http_new_request_id(tr_server *srv, tr_request *q);
/* The endpoint (TR_EP_*) at path and, when allow is not NULL, the methods
 * it allows ("POST", "GET, HEAD"); -1 for no endpoint. */
int tr_http_endpoint(const char *path, const char **allow);

/* ---- http.c: connections */
int tr_http_is_loopback(struct MHD_Connection *c);

/* ---- http.c: life cycle */
int tr_server_start(tr_server *srv, char *err, size_t errlen);
/* Stop accepting, let in-flight requests finish (up to grace_s), stop. */
void tr_server_stop(tr_server *srv);

/* ---- handlers_route.c */
enum MHD_Result tr_handle_route(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_chat(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_feedback(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_healthz(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_metrics(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_reload(struct MHD_Connection *c, tr_request *q);
enum MHD_Result tr_handle_models(struct MHD_Connection *c, tr_request *q);


/* ---- reload_worker.c: inbound keys.  Load --api-keys (metrics slots
 * interned); swap them in (the old set freed once no request reads it). */
int tr_server_keys_load(tr_server *srv, tr_keyset **out, char *err, size_t errlen);
void tr_server_keys_swap(tr_server *srv, tr_keyset *keys);

/* ---- online_serve.c: online mode (serve --online).  All no-ops when off. */
/* Give the current router (slot initialised, server not started) its state:
 * loaded from cfg.online_path when it exists (entries for tasks or models the
 * router lacks are dropped, and stderr says so), else fresh.  Installs the
 * reload hook.  TR_OK or an error with message. */
int tr_online_serve_init(tr_server *srv, char *err, size_t errlen);
/* Save (waiting for a running save) and free the memory and locks.  Call
 * after tr_server_stop, before tr_router_slot_destroy. */
void tr_online_serve_fini(tr_server *srv);
/* Persist the current router's state atomically.  wait = 0: skip (TR_OK)
 * when another save runs.  Never call while holding an acquired router. */
int tr_online_serve_save(tr_server *srv, int wait, char *err, size_t errlen);

typedef struct tr_online_outcome {
    int on;                     /* online mode decided */
    int explored;
    int offline_model;          /* the router's own choice */
    double lambda;              /* the λ the choice used */
} tr_online_outcome;
/* After tr_route on the pinned router L: let the online state choose among
 * mask (borrowed), set d->model to its choice, and remember q's request id
 * for feedback.  On any failure the router's choice stands. */
void tr_online_serve_decide(tr_server *srv, tr_request *q, tr_loaded_router *L, const tr_route_options *opt,
                            const unsigned char *mask, tr_decision *d, tr_online_outcome *out);
/* Feedback: update the posterior when request_id is remembered and model is
 * the one chosen.  1 updated; 0 not, *why says why (static string). */
int tr_online_serve_feedback(tr_server *srv, const char *request_id, const char *model, double score,
                             const char **why);
/* The policy's name, "thompson" or "ucb". */
const char *tr_online_serve_policy(const tr_server *srv);

/* ---- proxy.c
 * Forward a chat request to the candidates (upstream table entries of
 * table, in order) through the upstream client, on a transfer thread.  The
 * connection is suspended until the answer (or, when streaming, its first
 * bytes) is ready; libmicrohttpd then calls the access handler again, which
 * calls tr_proxy_respond.  Takes ownership of req (its body is rewritten
 * per candidate), headers (n lines "Name: value", each and the array
 * tr_free) and a reference to table.  best_up: the table entry of the best
 * single model (the savings baseline), or -1. */
typedef struct tr_proxy_request {
    tr_route_req req;
    tr_upstream_table *table;
    int candidates[16];
    size_t n_candidates;
    char **headers;
    size_t n_headers;
    int best_up;
    /* the cascade (non-streaming): chain[0..n_chain) answer in turn until
     * the verifier accepts; the last is never verified; on a verifier
     * failure plain_up (plain routing's choice) answers */
    int cascade;
    int chain[16];
    size_t n_chain;
    int plain_up;
    int verifier_up;            /* -1: each model verifies its own answer */
    double threshold;
    int k;
    /* the answer cache: store a 2xx whole answer under this key */
    int cache_store;
    uint64_t cache_scope, cache_phash;
    float *cache_emb;           /* owned, cache_dim floats */
    size_t cache_dim;
} tr_proxy_request;
int tr_proxy_start(struct MHD_Connection *c, tr_request *q, tr_proxy_request *pr);
/* Free what a proxy request owns (when it never started). */
void tr_proxy_request_free(tr_proxy_request *pr);
/* Answer q from its job (or suspend again until it is ready). */
enum MHD_Result tr_proxy_respond(struct MHD_Connection *c, tr_request *q);
/* Drop q's reference (request completed or failed). */
void tr_proxy_job_unref(tr_proxy_job *job);
int tr_proxy_job_ready(tr_proxy_job *job);

#endif
