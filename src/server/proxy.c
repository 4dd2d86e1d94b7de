/* Forwarding /v1/chat/completions through the upstream client
 * (upstream/client.h: candidates in order, retries, backoff, breakers,
 * usage), without ever blocking a libmicrohttpd worker.
 *
 * One transfer thread per proxied request runs the client's blocking
 * call.  The worker suspends the client connection; the transfer thread
 * resumes it when there is something to send: the whole answer
 * (non-streaming), or the first bytes of a 2xx answer (streaming, "stream":
 * true).  A streaming answer is a chunked response whose content-reader
 * callback hands over the bytes buffered so far and, when the buffer is
 * empty, suspends the connection again until the next chunk (libmicrohttpd
 * allows suspending from a content reader).  SSE events thus pass through
 * chunk by chunk; fallback to another model happens only before the first
 * byte (the client decides that).
 *
 * Suspend and resume are paired under the job's mutex: the worker sets
 * 'suspended' and suspends while holding it; the transfer thread clears it
 * and resumes only after seeing it set -- so a resume never precedes its
 * suspend and no wake-up is lost.
 *
 * What a client sees: the answer as the provider gave it (a 2xx, or a
 * 3xx/4xx about its request), with the provider's rate-limit headers; when
 * every candidate failed, a 429 passed on as the provider sent it (its
 * Retry-After with it) if rate limits were the last word, else 504 (the
 * last attempt timed out), 503 (every candidate skipped: open circuits,
 * full concurrency) or 502, each with a JSON error naming the model. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "server/api_error.h"
#include "server/cascade_run.h"
#include "server/server.h"

#define MAX_RESPONSE (64u << 20)   /* bytes a stream may buffer while the client is slow */

struct tr_proxy_job {
    pthread_mutex_t lock;
    atomic_int refs;
    tr_server *srv;
    struct MHD_Connection *conn;
    tr_proxy_request pr;          /* owned; the transfer thread rewrites pr.req's body */
    int stream, key_slot;
    /* under lock */
    int suspended, ready, committed, done, cancelled, ok;
    int used;                     /* table entry that answered, -1 none */
    long status;
    char content_type[128];
    char *rate_headers;           /* "name: value\n" lines, or NULL */
    char *buf;
    size_t len, cap, rpos;
    int err_api;
    char err_msg[512];
    double usd_sum;               /* every call's USD (NaN ones left out) */
    const char *cascade;          /* the cascade's outcome, or NULL */
    char chain[256];
    double confidence;
};

void tr_proxy_request_free(tr_proxy_request *pr)
{
    if (!pr) return;
    tr_route_req_free(&pr->req);
    tr_upstream_table_unref(pr->table);
    tr_free(pr->cache_emb);
    for (size_t i = 0; i < pr->n_headers; i++) tr_free(pr->headers[i]);
    tr_free(pr->headers);
    memset(pr, 0, sizeof *pr);
}

int tr_proxy_job_ready(tr_proxy_job *job)
{
    pthread_mutex_lock(&job->lock);
    int r = job->ready;
    pthread_mutex_unlock(&job->lock);
    return r;
}

void tr_proxy_job_unref(tr_proxy_job *job)
{
    if (!job || atomic_fetch_sub(&job->refs, 1) != 1) return;
    pthread_mutex_destroy(&job->lock);
    tr_proxy_request_free(&job->pr);
    tr_free(job->rate_headers);
    tr_free(job->buf);
    tr_free(job);
}

/* Caller holds the lock.  Returns 1 when the caller must resume the
 * connection (after unlocking). */
static int take_resume(tr_proxy_job *job)
{
    if (job->suspended && (job->ready || job->len > job->rpos || job->done)) {
        job->suspended = 0;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------ the client's callbacks */

static char *make_body(void *ctx, const char *upstream_model)
{
    tr_proxy_job *job = ctx;
    return tr_route_req_upstream_body(&job->pr.req, upstream_model);
}

static int sink_cancelled(void *ctx)
{
    tr_proxy_job *job = ctx;
    if (atomic_load(&job->srv->stopping)) return 1;
    pthread_mutex_lock(&job->lock);
    int c = job->cancelled;
    pthread_mutex_unlock(&job->lock);
    return c;
}

static int sink_start(void *ctx, int model, long status, const char *content_type, const char *rate_headers)
{
    tr_proxy_job *job = ctx;
    pthread_mutex_lock(&job->lock);
    if (job->cancelled) { pthread_mutex_unlock(&job->lock); return 0; }
    job->committed = 1;
    job->ready = 1;
    job->status = status;
    job->used = model;
    snprintf(job->content_type, sizeof job->content_type, "%s", content_type);
    job->rate_headers = rate_headers && *rate_headers ? tr_strdup(rate_headers) : NULL;
    int resume = take_resume(job);
    pthread_mutex_unlock(&job->lock);
    if (resume) MHD_resume_connection(job->conn);
    return 1;
}

static int sink_data(void *ctx, const char *p, size_t n)
{
    tr_proxy_job *job = ctx;
    pthread_mutex_lock(&job->lock);
    if (job->cancelled || atomic_load(&job->srv->stopping)) { pthread_mutex_unlock(&job->lock); return 0; }
    if (job->len + n > job->cap) {
        /* compact what the reader already took before growing */
        if (job->rpos) {
            memmove(job->buf, job->buf + job->rpos, job->len - job->rpos);
            job->len -= job->rpos;
            job->rpos = 0;
        }
        if (job->len + n > MAX_RESPONSE) { pthread_mutex_unlock(&job->lock); return 0; }
        if (job->len + n > job->cap) {
            size_t cap = job->cap ? job->cap : 16384;
            while (cap < job->len + n) cap *= 2;
            char *b = tr_realloc(job->buf, cap);
            if (!b) { pthread_mutex_unlock(&job->lock); return 0; }
            job->buf = b;
            job->cap = cap;
        }
    }
    memcpy(job->buf + job->len, p, n);
    job->len += n;
    int resume = take_resume(job);
    pthread_mutex_unlock(&job->lock);
    if (resume) MHD_resume_connection(job->conn);
    return 1;
}

/* ------------------------------------------------------ the transfer thread */

static const char *entry_name(const tr_proxy_job *job, int e)
{
    return e >= 0 && (size_t)e < job->pr.table->n ? job->pr.table->u[e].name : "?";
}

/* Metrics of one finished call: how the answer read, tokens and USD per
 * key, the saving against the best single model. */
static void account(tr_proxy_job *job, const tr_upstream_result *res)
{
    tr_server *srv = job->srv;
    if (res->read_kind == TR_READ_NONE) return;
    int kind = res->read_kind == TR_READ_OK ? TR_ANSWER_OK
             : res->read_kind == TR_READ_ERROR_OBJECT ? TR_ANSWER_ERROR : TR_ANSWER_MALFORMED;
    tr_metrics_upstream_answer(srv->metrics, kind, res->prompt_tokens, res->completion_tokens);
    if (kind == TR_ANSWER_MALFORMED && !srv->cfg.quiet)
        fprintf(stderr, "taskroute serve: upstream for model '%s' answered HTTP %ld with a malformed answer "
                        "(passed on as is): %s\n", entry_name(job, res->model), res->status, res->read_error);
    double baseline = NAN;
    const tr_upstream_table *t = job->pr.table;
    if (job->pr.best_up >= 0 && t->u[job->pr.best_up].has_price && !isnan(res->usd)) {
        const tr_upstream *b = &t->u[job->pr.best_up];
        double pt = res->prompt_tokens > 0 ? (double)res->prompt_tokens : 0;
        double ct = res->completion_tokens > 0 ? (double)res->completion_tokens : 0;
        baseline = (pt * b->price_in + ct * b->price_out) / 1e6;
    }
    tr_metrics_usage(srv->metrics, job->key_slot, res->prompt_tokens, res->completion_tokens, res->usd, baseline);
    if (!isnan(res->usd)) job->usd_sum += res->usd;
}

static void account_cb(void *ctx, const tr_upstream_result *res)
{
    account(ctx, res);
}

static const char *const CASCADE_NAMES[] = {"accepted", "escalated", "fallback"};

/* A whole 2xx answer into the cache, its usage zeroed (a hit costs
 * nothing).  A failure only means the next request misses. */
static void cache_store(tr_proxy_job *job, const tr_upstream_result *res)
{
    tr_server *srv = job->srv;
    const tr_proxy_request *pr = &job->pr;
    if (!srv->cache || !pr->cache_store || res->streamed || res->status < 200 || res->status >= 300 ||
        res->read_kind != TR_READ_OK || !res->body)
        return;
    size_t len = res->len;
    char *body = tr_malloc(len + 1);
    if (!body) return;
    memcpy(body, res->body, len);
    body[len] = 0;
    char err[256];
    if (!tr_answer_body_set_usage(&body, &len, 0, 0)) {
        tr_cache_key k = {pr->cache_scope, pr->cache_phash, pr->cache_emb, pr->cache_dim};
        if (tr_answer_cache_put(srv->cache, &k, tr_now(), body, len, entry_name(job, res->model), job->usd_sum, err,
                                sizeof err) == TR_EDEP && !srv->cfg.quiet)
            fprintf(stderr, "taskroute serve: answer cache: %s\n", err);
    }
    tr_free(body);
}

static void *transfer(void *arg)
{
    tr_proxy_job *job = arg;
    tr_server *srv = job->srv;
    tr_upstream_call call = {
        .table = job->pr.table,
        .candidates = job->pr.candidates,
        .n_candidates = job->pr.n_candidates,
        .make_body = make_body,
        .body_ctx = job,
        .headers = (const char *const *)job->pr.headers,
        .n_headers = job->pr.n_headers,
        .stream = job->stream,
        .on_start = sink_start,
        .on_data = sink_data,
        .cancelled = sink_cancelled,
        .sink_ctx = job,
    };
    tr_upstream_result res;
    int rc;
    if (job->pr.cascade) {
        tr_cascade_result cr;
        rc = tr_cascade_run(srv->client, &call, &job->pr, account_cb, job, &cr);
        res = cr.res;
        int o = cr.outcome >= 0 && cr.outcome < 3 ? cr.outcome : 0;
        atomic_fetch_add_explicit(&srv->cascade_outcomes[o], 1, memory_order_relaxed);
        pthread_mutex_lock(&job->lock);
        job->cascade = CASCADE_NAMES[o];
        snprintf(job->chain, sizeof job->chain, "%s", cr.chain);
        job->confidence = cr.confidence;
        pthread_mutex_unlock(&job->lock);
        if (rc == TR_EINVAL) {   /* no chain: cannot happen, the handler built one */
            memset(&res, 0, sizeof res);
            res.model = -1;
            snprintf(res.message, sizeof res.message, "the cascade has no model to try");
        }
    } else {
        rc = tr_upstream_client_call(srv->client, &call, &res);
        account(job, &res);
    }
    if (!rc) cache_store(job, &res);
    if (res.fallbacks) {
        tr_metrics_fallback(srv->metrics);
        if (!srv->cfg.quiet && res.model >= 0)
            fprintf(stderr, "taskroute serve: model '%s' failed; '%s' answered (%d models tried)\n",
                    entry_name(job, job->pr.candidates[0]), entry_name(job, res.model), res.fallbacks + 1);
    }
    pthread_mutex_lock(&job->lock);
    if (rc) {
        job->err_api = TR_API_INTERNAL;
        snprintf(job->err_msg, sizeof job->err_msg, "%s", res.message[0] ? res.message : "the upstream call failed");
    } else if (res.outcome == TR_UPSTREAM_CANCELLED) {
        job->err_api = TR_API_UNAVAILABLE;
        snprintf(job->err_msg, sizeof job->err_msg, "the request was cancelled (the server is stopping)");
    } else if (res.streamed) {
        job->ok = res.stream_ok;   /* a failure mid-stream: the client sees a cut stream */
        if (!res.stream_ok && !srv->cfg.quiet)
            fprintf(stderr, "taskroute serve: %s\n", res.message);
    } else if (res.outcome == TR_UPSTREAM_ANSWERED ||
               (res.fail_kind == TR_FAIL_HTTP_429 && res.body)) {
        /* an answer to pass on; a 429 that outlasted every retry and
         * fallback too, so the client learns when to come back */
        job->ok = 1;
        job->status = res.status;
        job->used = res.model;
        snprintf(job->content_type, sizeof job->content_type, "%s", res.content_type);
        tr_free(job->buf);
        job->buf = res.body;
        job->len = res.len;
        res.body = NULL;
        tr_free(job->rate_headers);
        job->rate_headers = res.rate_headers;
        res.rate_headers = NULL;
    } else {
        job->err_api = res.fail_kind == TR_FAIL_TIMEOUT ? TR_API_UPSTREAM_TIMEOUT
                     : res.fail_kind == TR_FAIL_SKIPPED ? TR_API_UNAVAILABLE : TR_API_UPSTREAM;
        snprintf(job->err_msg, sizeof job->err_msg, "%s", res.message);
    }
    job->done = 1;
    job->ready = 1;
    int resume = take_resume(job);
    pthread_mutex_unlock(&job->lock);
    tr_upstream_result_free(&res);
    if (resume) MHD_resume_connection(job->conn);
    tr_proxy_job_unref(job);
    atomic_fetch_sub(&srv->proxy_threads, 1);
    return NULL;
}

int tr_proxy_start(struct MHD_Connection *c, tr_request *q, tr_proxy_request *pr)
{
    tr_proxy_job *job = tr_calloc(1, sizeof *job);
    if (!job || pthread_mutex_init(&job->lock, NULL)) {
        tr_free(job);
        tr_proxy_request_free(pr);
        return -1;
    }
    job->srv = q->srv;
    job->conn = c;
    job->pr = *pr;
    memset(pr, 0, sizeof *pr);
    job->stream = job->pr.req.stream;
    job->key_slot = q->key_slot;
    job->used = -1;
    job->err_api = -1;
    job->confidence = NAN;
    atomic_store(&job->refs, 2);  /* the request and the transfer thread */
    q->job = job;
    atomic_fetch_add(&q->srv->proxy_threads, 1);
    pthread_attr_t attr;
    pthread_t th;
    int rc = pthread_attr_init(&attr);
    if (!rc) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        rc = pthread_create(&th, &attr, transfer, job);
        pthread_attr_destroy(&attr);
    }
    if (rc) {
        atomic_fetch_sub(&q->srv->proxy_threads, 1);
        tr_proxy_job_unref(job);  /* the thread's reference; q keeps its own */
        q->job = NULL;
        tr_proxy_job_unref(job);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- the worker's side */

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    tr_proxy_job *job = cls;
    pthread_mutex_lock(&job->lock);
    if (job->rpos < job->len) {
        size_t n = job->len - job->rpos < max ? job->len - job->rpos : max;
        memcpy(out, job->buf + job->rpos, n);
        job->rpos += n;
        if (job->rpos == job->len) job->rpos = job->len = 0;
        pthread_mutex_unlock(&job->lock);
        return (ssize_t)n;
    }
    if (job->done) {
        int ok = job->ok;
        pthread_mutex_unlock(&job->lock);
        return ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    job->suspended = 1;
    MHD_suspend_connection(job->conn);
    pthread_mutex_unlock(&job->lock);
    return 0;
}

static void stream_free(void *cls)
{
    tr_proxy_job *job = cls;
    pthread_mutex_lock(&job->lock);
    if (!job->done) job->cancelled = 1;  /* the client went away: stop the transfer */
    pthread_mutex_unlock(&job->lock);
    tr_proxy_job_unref(job);
}

/* The provider's rate-limit lines ("name: value\n"...) as headers of r. */
static void add_rate_headers(struct MHD_Response *r, const char *lines)
{
    while (lines && *lines) {
        const char *nl = strchr(lines, '\n');
        size_t n = nl ? (size_t)(nl - lines) : strlen(lines);
        const char *colon = memchr(lines, ':', n);
        if (colon && colon > lines) {
            char k[128], v[512];
            size_t kl = (size_t)(colon - lines), vl = n - kl - 1;
            while (vl && colon[1] == ' ') { colon++; vl--; }
            if (kl < sizeof k && vl < sizeof v) {
                memcpy(k, lines, kl);
                k[kl] = 0;
                memcpy(v, colon + 1, vl);
                v[vl] = 0;
                MHD_add_response_header(r, k, v);
            }
        }
        lines = nl ? nl + 1 : lines + n;
    }
}

enum MHD_Result tr_proxy_respond(struct MHD_Connection *c, tr_request *q)
{
    tr_proxy_job *job = q->job;
    pthread_mutex_lock(&job->lock);
    if (!job->ready) {
        job->suspended = 1;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&job->lock);
        return MHD_YES;
    }
    if (job->cascade) {
        q->cascade = job->cascade;
        snprintf(q->cascade_chain, sizeof q->cascade_chain, "%s", job->chain);
        q->verifier_confidence = job->confidence;
        if (job->used >= 0) snprintf(q->model, sizeof q->model, "%s", entry_name(job, job->used));
    } else if (job->used >= 0 && job->pr.n_candidates && job->used != job->pr.candidates[0]) {
        snprintf(q->routed_model, sizeof q->routed_model, "%s", q->model);
        snprintf(q->model, sizeof q->model, "%s", entry_name(job, job->used));
    }
    if (job->committed) {
        long status = job->status;
        char ct[128];
        snprintf(ct, sizeof ct, "%s", job->content_type[0] ? job->content_type : "text/event-stream");
        pthread_mutex_unlock(&job->lock);
        atomic_fetch_add(&job->refs, 1);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, job,
                                                                    stream_free);
        if (!r) { tr_proxy_job_unref(job); return MHD_NO; }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        add_rate_headers(r, job->rate_headers);   /* written before ready: stable now */
        tr_http_route_headers(r, q);
        q->status = (int)status;
        enum MHD_Result res = MHD_queue_response(c, (unsigned)status, r);
        MHD_destroy_response(r);
        return res;
    }
    if (job->err_api >= 0) {
        int e = job->err_api;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", job->err_msg);
        pthread_mutex_unlock(&job->lock);
        return tr_http_error(c, q, e, "%s", msg);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(job->len, job->buf ? job->buf : "",
                                                             MHD_RESPMEM_MUST_COPY);
    long status = job->status;
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                job->content_type[0] ? job->content_type : "application/json");
        add_rate_headers(r, job->rate_headers);
    }
    pthread_mutex_unlock(&job->lock);
    if (!r) return MHD_NO;
    tr_http_route_headers(r, q);
    q->status = (int)status;
    enum MHD_Result res = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return res;
}
