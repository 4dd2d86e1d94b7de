/* The router the server routes with, and its hot reload.
 *
 * Scheme: an RCU-like swap with hazard pointers.  The current router sits
 * behind one atomic pointer.  A worker thread publishes the router it is
 * about to use in its own slot (a hazard pointer), re-reads the current
 * pointer to make sure it did not change meanwhile, routes, and clears its
 * slot: two atomic stores per request, no lock, no shared counter.  A
 * reload opens and validates the new file first -- a bad file is refused
 * and the old router keeps serving -- then swaps the pointer (serialised by
 * a mutex) and waits until no worker slot holds the old router before
 * closing it.  So in-flight requests finish on the router they started on.
 *
 * Each worker slot also owns that thread's tr_scratch and the generation it
 * last checked it against: the first request of a thread on a new
 * generation keeps the scratch when it covers every size of the new router
 * (tr_scratch_check) and makes a new one otherwise, so a scratch never
 * meets a router it was not checked for.  Per request this costs one
 * integer compare.
 *
 * Loading (file I/O, validation, a probe route) and publishing are apart:
 * tr_router_slot_load holds no lock, so a file that blocks on open or read
 * blocks only the thread loading it (reload_worker.h runs reloads on a
 * thread of their own); tr_router_slot_publish takes the slot's lock for
 * the swap alone. */
#ifndef TR_SERVER_RELOAD_H
#define TR_SERVER_RELOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "server/metrics.h"
#include "taskroute.h"
#include "upstream/table.h"

#define TR_MAX_WORKERS 256

/* The prompt a router must route before it is published, and that GET
 * /healthz routes to prove routing works. */
#define TR_PROBE_PROMPT "Explain the difference between a list and a tuple in Python."

/* One loaded router and what the server precomputes for it.  Immutable
 * once published. */
typedef struct tr_loaded_router {
    tr_router *r;
    char *path;
    unsigned long generation;
    uint64_t file_hash;        /* FNV-1a 64 of the file's bytes: its identity */
    size_t file_size;
    char loaded_at[32];        /* ISO-8601 UTC */
    size_t n_models, n_tasks, dim;
    char **model_json;         /* each model name as a JSON string literal */
    char **task_json;          /* each task name as a JSON string literal */
    size_t *model_json_len, *task_json_len;  /* their lengths */
    size_t answer_cap;         /* bytes a /v1/route answer can take, but its request id */
    int *model_slot, *task_slot; /* metrics slots */
    tr_upstream_table *table;  /* the upstream table loaded with it (one reference), or NULL: no proxy */
    int *upstream;             /* per model: index in the upstream table or -1 */
    unsigned char *routable;   /* per model: 1 if it may be chosen */
    size_t n_routable;
    int has_default;           /* the router file stores a default policy (est) */
    tr_policy_estimate est;
    int best_up;               /* the upstream of the best single model (est.best_model), or -1 */
    int prices_scaled;         /* models whose costs the table's prices rescaled */
    struct tr_online *online;  /* serve --online: this router's online state (owned), else NULL */
} tr_loaded_router;

typedef struct tr_worker_slot {
    _Atomic(tr_loaded_router *) hazard;
    tr_scratch *scratch;
    unsigned long s_gen;          /* the generation scratch was checked for; 0 = none */
    char pad[64];
} tr_worker_slot;

typedef struct tr_router_slot {
    _Atomic(tr_loaded_router *) cur;
    tr_worker_slot workers[TR_MAX_WORKERS];
    atomic_int n_workers;
    pthread_mutex_t reload_lock;  /* publishes, one at a time; never held across file I/O */
    unsigned long generation;
    tr_metrics *metrics;          /* borrowed */
    const char *upstreams_path;   /* borrowed; NULL = no proxy, every model routable */
    const char *fallback;         /* --fallback, borrowed, or NULL */
    int policy_fixed;             /* serve --policy names one: a router's missing default needs no note */
    /* Online mode: before a reloaded router is published, attach(ctx, new,
     * old) gives it its state (carried over from old's), with swap_lock held
     * for writing across attach and swap so no feedback update lands on the
     * old state in between.  NULL = off. */
    int (*attach)(void *ctx, tr_loaded_router *L, tr_loaded_router *old, char *err, size_t errlen);
    void *attach_ctx;
    pthread_rwlock_t *swap_lock;
} tr_router_slot;

/* Open path (and the upstream table at upstreams_path, when not NULL) and
 * publish it as generation 1.  metrics, upstreams_path and fallback are
 * borrowed for the slot's life.  Release with tr_router_slot_destroy. */
int tr_router_slot_init(tr_router_slot *s, const char *path, tr_metrics *metrics, const char *upstreams_path,
                        const char *fallback, char *err, size_t errlen);
/* Close the router and free every scratch.  No worker may be running. */
void tr_router_slot_destroy(tr_router_slot *s);

/* Pin the current router for the calling thread and get its scratch, sized
 * for it.  Pair with tr_router_slot_release on the same thread; never nest.
 * NULL (and *rc set, message in err) when the thread table is full or memory
 * runs out.  The result is owned by the slot. */
tr_loaded_router *tr_router_slot_acquire(tr_router_slot *s, tr_scratch **scratch, int *rc,
                                         char *err, size_t errlen);
void tr_router_slot_release(tr_router_slot *s);

/* Open and validate path and, when proxying, read the upstream table again
 * (a malformed table refuses the load, naming file and field): the router
 * must load, have models, have a model with an upstream (when proxying)
 * and route a probe prompt.  The table's prices rescale the router's cost
 * estimates where the router file holds reference prices.  Warnings (router
 * models without an upstream, table models the router does not know, unset
 * key variables, no default policy, no reference prices) go to stderr.
 * Takes no lock: may block as long as the file does.  *out is unpublished, owned by the caller
 * until tr_router_slot_publish (or tr_router_slot_discard).  On failure the
 * message names the file. */
int tr_router_slot_load(tr_router_slot *s, const char *path, tr_loaded_router **out, char *err, size_t errlen);
void tr_router_slot_discard(tr_loaded_router *L);
/* Swap L in as the next generation (*gen, may be NULL) and retire the old
 * router once no request uses it.  Takes L.  On failure (online mode could
 * not carry its state over) L is freed, the old router keeps serving and
 * err says why.  Never call while holding an acquired router. */
int tr_router_slot_publish(tr_router_slot *s, tr_loaded_router *L, unsigned long *gen, char *err, size_t errlen);
/* The current router's file (a copy, tr_free), or NULL when out of memory. */
char *tr_router_slot_path(tr_router_slot *s);

#endif
