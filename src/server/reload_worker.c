/* The reload thread (see reload_worker.h for the contract).  One mutex
 * guards the queue, the running reload's description and the results; it
 * is never held while a file is read. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/reload_worker.h"
#include "server/server.h"
#include "base/util.h"

#define RESULTS 16   /* finished reloads remembered, by ticket */

struct tr_reloader {
    tr_server *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* a reload queued or finished, or stopping */
    int stopping, exited;
    unsigned long next_ticket;
    /* the reload waiting to start, when queued */
    int queued;
    char *q_path;                 /* NULL: the served router's file */
    const char *q_origin;
    unsigned long q_ticket;
    /* the reload running, when running */
    int running;
    char *r_path;
    const char *r_origin;
    unsigned long r_ticket;
    double r_t0;
    /* finished */
    tr_reload_result done[RESULTS];
    const char *done_origin[RESULTS];
    unsigned long last_ticket;    /* 0: none yet */
};

static void deadline_ts(double deadline, struct timespec *ts)
{
    /* the condition variable runs on CLOCK_MONOTONIC, as tr_now() does */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double left = deadline - tr_now();
    if (left < 0) left = 0;
    if (left > 86400) left = 86400;
    long long ns = (long long)now.tv_nsec + (long long)((left - (double)(long long)left) * 1e9);
    ts->tv_sec = now.tv_sec + (time_t)left + (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

/* One reload, no lock held: load (may block), publish, report. */
static void run_one(tr_reloader *r, const char *path, const char *origin, tr_reload_result *res)
{
    tr_server *srv = r->srv;
    double t0 = tr_now();
    tr_loaded_router *L = NULL;
    tr_keyset *keys = NULL;
    tr_upstream_table *table = NULL;
    size_t dim = 0;
    /* the keys, the router and its upstream table reload together: one bad
     * file refuses the reload and the old ones keep serving */
    int rc = srv->cfg.api_keys_path ? tr_server_keys_load(srv, &keys, res->message, sizeof res->message) : TR_OK;
    if (!rc) rc = tr_router_slot_load(&srv->slot, path, &L, res->message, sizeof res->message);
    if (!rc) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stopping;
        pthread_mutex_unlock(&r->mu);
        if (stop) {
            /* the server is going away: publishing now would race its end */
            tr_router_slot_discard(L);
            rc = TR_EBUSY;
            snprintf(res->message, sizeof res->message, "%s: the server stopped before the reload was published", path);
        } else {
            table = L->table;
            tr_upstream_table_ref(table);
            dim = L->dim;
            rc = tr_router_slot_publish(&srv->slot, L, &res->generation, res->message, sizeof res->message);
        }
    } else {
        tr_metrics_reload(srv->metrics, 0);
    }
    if (!rc) {
        if (keys) tr_server_keys_swap(srv, keys);
        keys = NULL;
        if (table && srv->client && tr_upstream_client_set_table(srv->client, table))
            fprintf(stderr, "taskroute serve: out of memory installing the reloaded upstream table's counters\n");
        /* answers of the old router's choices: dropped (entries are keyed
         * by the router's generation too, so a late store never hits) */
        char cerr[256];
        if (srv->cache && tr_answer_cache_purge(srv->cache, dim, cerr, sizeof cerr))
            fprintf(stderr, "taskroute serve: answer cache off until the next reload: %s\n", cerr);
    }
    tr_keyset_free(keys);
    tr_upstream_table_unref(table);
    res->rc = rc;
    res->seconds = tr_now() - t0;
    if (rc) {
        fprintf(stderr, "taskroute serve: %s reload refused, still serving the old router: %s\n", origin, res->message);
        return;
    }
    res->message[0] = 0;
    if (!srv->cfg.quiet) fprintf(stderr, "taskroute serve: %s: reloaded router generation %lu\n", origin, res->generation);
    char err[512];
    if (srv->online.on && tr_online_serve_save(srv, 1, err, sizeof err))
        fprintf(stderr, "taskroute serve: online state not saved after reload: %s\n", err);
}

int tr_server_keys_load(tr_server *srv, tr_keyset **out, char *err, size_t errlen)
{
    int rc = tr_keyset_load(srv->cfg.api_keys_path, out, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < tr_keyset_count(*out); i++)
        tr_keyset_set_slot(*out, i, tr_metrics_intern(srv->metrics, TR_METRICS_KEY, tr_keyset_label(*out, i)));
    return TR_OK;
}

void tr_server_keys_swap(tr_server *srv, tr_keyset *keys)
{
    pthread_rwlock_wrlock(&srv->keys_lock);
    tr_keyset *old = srv->keys;
    srv->keys = keys;
    pthread_rwlock_unlock(&srv->keys_lock);
    tr_keyset_free(old);
}

static void *reload_thread(void *arg)
{
    tr_reloader *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->queued && !r->stopping) pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping) break;
        r->queued = 0;
        r->running = 1;
        r->r_path = r->q_path;
        r->q_path = NULL;
        r->r_origin = r->q_origin;
        r->r_ticket = r->q_ticket;
        r->r_t0 = tr_now();
        pthread_mutex_unlock(&r->mu);

        tr_reload_result res;
        memset(&res, 0, sizeof res);
        res.ticket = r->r_ticket;
        /* r_path is only freed by this thread, so it may be read unlocked */
        char *cur = r->r_path ? NULL : tr_router_slot_path(&r->srv->slot);
        if (!r->r_path && !cur) {
            res.rc = TR_ENOMEM;
            snprintf(res.message, sizeof res.message, "out of memory");
        } else {
            run_one(r, r->r_path ? r->r_path : cur, r->r_origin, &res);
        }
        tr_free(cur);

        pthread_mutex_lock(&r->mu);
        r->done[res.ticket % RESULTS] = res;
        r->done_origin[res.ticket % RESULTS] = r->r_origin;
        r->last_ticket = res.ticket;
        r->running = 0;
        tr_free(r->r_path);
        r->r_path = NULL;
        pthread_cond_broadcast(&r->cv);
    }
    r->exited = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int tr_reloader_start(tr_server *srv, tr_reloader **out, char *err, size_t errlen)
{
    *out = NULL;
    tr_reloader *r = tr_calloc(1, sizeof *r);
    if (!r) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    r->srv = srv;
    pthread_condattr_t ca;
    int ok = !pthread_condattr_init(&ca);
    ok = ok && !pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) && !pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&r->mu, NULL)) {
        tr_free(r);
        return tr_errorf(err, errlen, TR_ENOMEM, "cannot create the reload thread's lock");
    }
    int rc = pthread_create(&r->thread, NULL, reload_thread, r);
    if (rc) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        tr_free(r);
        return tr_errorf(err, errlen, TR_EIO, "cannot start the reload thread: %s", strerror(rc));
    }
    *out = r;
    return TR_OK;
}

static int same_path(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

unsigned long tr_reloader_submit(tr_reloader *r, const char *path, const char *origin, char *msg, size_t msglen)
{
    unsigned long t = 0;
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        tr_errorf(msg, msglen, TR_EBUSY, "the server is shutting down");
    } else if (r->queued) {
        if (same_path(r->q_path, path))
            t = r->q_ticket;
        else
            tr_errorf(msg, msglen, TR_EBUSY,
                      "a reload of another file is waiting to start; ask again once GET /healthz shows it started");
    } else {
        char *p = path ? tr_strdup(path) : NULL;
        if (path && !p) {
            tr_errorf(msg, msglen, TR_ENOMEM, "out of memory");
        } else {
            r->queued = 1;
            r->q_path = p;
            r->q_origin = origin;
            t = r->q_ticket = ++r->next_ticket;
            pthread_cond_broadcast(&r->cv);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return t;
}

int tr_reloader_wait(tr_reloader *r, unsigned long ticket, double wait_s, tr_reload_result *res)
{
    double deadline = tr_now() + wait_s;
    struct timespec ts;
    deadline_ts(deadline, &ts);
    int out = 0;
    pthread_mutex_lock(&r->mu);
    /* a reload already running longer than we would wait is stuck: say so now */
    int stuck = r->running && tr_now() - r->r_t0 > wait_s;
    for (;;) {
        if (r->last_ticket >= ticket) {
            const tr_reload_result *d = &r->done[ticket % RESULTS];
            if (d->ticket == ticket) {
                *res = *d;
                out = 1;
            }
            break;   /* else: done, but forgotten under newer results; pending tells to look at /healthz */
        }
        if (r->stopping) { out = -1; break; }
        if (stuck || pthread_cond_timedwait(&r->cv, &r->mu, &ts)) break;
    }
    pthread_mutex_unlock(&r->mu);
    return out;
}

cJSON *tr_reloader_json(tr_reloader *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    pthread_mutex_lock(&r->mu);
    cJSON_AddStringToObject(j, "state", r->running ? "loading" : "idle");
    if (r->running) {
        cJSON *l = cJSON_AddObjectToObject(j, "loading");
        if (l) {
            cJSON_AddStringToObject(l, "path", r->r_path ? r->r_path : "(the served router's file)");
            cJSON_AddStringToObject(l, "origin", r->r_origin);
            cJSON_AddNumberToObject(l, "ticket", (double)r->r_ticket);
            cJSON_AddNumberToObject(l, "seconds", tr_now() - r->r_t0);
        }
    }
    if (r->queued) {
        cJSON *q = cJSON_AddObjectToObject(j, "queued");
        if (q) {
            cJSON_AddStringToObject(q, "path", r->q_path ? r->q_path : "(the served router's file)");
            cJSON_AddNumberToObject(q, "ticket", (double)r->q_ticket);
        }
    }
    if (r->last_ticket) {
        const tr_reload_result *d = &r->done[r->last_ticket % RESULTS];
        cJSON *l = cJSON_AddObjectToObject(j, "last");
        if (l) {
            cJSON_AddNumberToObject(l, "ticket", (double)d->ticket);
            cJSON_AddBoolToObject(l, "ok", d->rc == TR_OK);
            if (d->rc == TR_OK)
                cJSON_AddNumberToObject(l, "generation", (double)d->generation);
            else
                cJSON_AddStringToObject(l, "error", d->message);
            cJSON_AddStringToObject(l, "origin", r->done_origin[r->last_ticket % RESULTS]);
            cJSON_AddNumberToObject(l, "seconds", d->seconds);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return j;
}

void tr_reloader_shutdown_begin(tr_reloader *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int tr_reloader_stop(tr_reloader *r, double deadline)
{
    if (!r) return 0;
    struct timespec ts;
    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->cv);
    while (!r->exited)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts)) break;
    int stuck = !r->exited;
    pthread_mutex_unlock(&r->mu);
    if (stuck) {
        pthread_detach(r->thread);
        return 1;
    }
    pthread_join(r->thread, NULL);
    tr_free(r->q_path);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    tr_free(r);
    return 0;
}
