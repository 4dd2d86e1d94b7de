/* Forwarding /v1/chat/completions to the chosen model's upstream.
 *
 * One transfer thread per proxied request runs a blocking libcurl easy
 * transfer, so no libmicrohttpd worker ever waits on an upstream.  The
 * worker suspends the client connection; the transfer thread resumes it
 * when there is something to send: the whole answer (non-streaming), or the
 * first bytes of a 2xx answer (streaming, "stream": true).  A streaming
 * answer is a chunked response whose content-reader callback hands over the
 * bytes curl has buffered so far and, when the buffer is empty, suspends the
 * connection again until the next chunk (libmicrohttpd allows suspending
 * from a content reader).  SSE events thus pass through chunk by chunk.
 *
 * Suspend and resume are paired under the job's mutex: the worker sets
 * 'suspended' and suspends while holding it; the transfer thread clears it
 * and resumes only after seeing it set -- so a resume never precedes its
 * suspend and no wake-up is lost.
 *
 * Errors: a transport failure, a time-out or an upstream 5xx before any byte
 * reached the client is retried once on the fallback model (if configured
 * and different); what fails for good becomes 502 (or 504 for a time-out)
 * with a JSON error body.  Upstream 4xx answers pass through unchanged (they
 * are about the client's request).  Time-outs: connect and total time for a
 * non-streaming request = timeout_ms; a stream is cut when no byte arrives
 * for timeout_ms (checked about once per second by curl's progress hook).
 * Connections to upstreams are not pooled (one handle per transfer).
 *
 * Answers pass through unchanged; a 2xx answer is also read
 * (upstream_answer.h: whole, or the stream as it passes) for the metrics:
 * regular, an error object or malformed, and the tokens its usage gives. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/api_error.h"
#include "server/server.h"
#include "server/upstream_answer.h"
#include "base/util.h"

#define MAX_RESPONSE (64u << 20)   /* a non-streaming answer beyond this is refused */

struct tr_proxy_job {
    pthread_mutex_t lock;
    atomic_int refs;
    tr_server *srv;
    struct MHD_Connection *conn;
    int up, fb, stream;
    char *body, *fb_body;
    CURL *curl;                   /* the attempt running now (transfer thread only) */
    tr_upstream_stream *sse;      /* the attempt's 2xx stream, read as it passes (transfer thread only) */
    /* under lock */
    int suspended, ready, committed, done, cancelled, ok, idle_timeout;
    int used, fell_back;
    long status;
    char content_type[128];
    char *buf;
    size_t len, cap, rpos;
    int err_api;
    char err_msg[512];
    double last_activity;
};

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
    tr_free(job->body);
    tr_free(job->fb_body);
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

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    tr_proxy_job *job = ud;
    size_t n = sz * nm;
    if (n >= 13 && !strncasecmp(p, "content-type:", 13)) {
        size_t i = 13;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        size_t e = n;
        while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ')) e--;
        size_t l = e - i < sizeof job->content_type - 1 ? e - i : sizeof job->content_type - 1;
        pthread_mutex_lock(&job->lock);
        memcpy(job->content_type, p + i, l);
        job->content_type[l] = 0;
        pthread_mutex_unlock(&job->lock);
    }
    return n;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    tr_proxy_job *job = ud;
    size_t n = sz * nm;
    long status = 0;
    curl_easy_getinfo(job->curl, CURLINFO_RESPONSE_CODE, &status);
    pthread_mutex_lock(&job->lock);
    if (job->cancelled || atomic_load(&job->srv->stopping)) { pthread_mutex_unlock(&job->lock); return 0; }
    job->last_activity = tr_now();
    if (job->stream && status >= 200 && status < 300 && !job->committed) {
        job->committed = 1;
        job->ready = 1;
        job->status = status;
        if (tr_upstream_stream_new(&job->sse)) job->sse = NULL;
    }
    if (job->sse) (void)tr_upstream_stream_feed(job->sse, p, n, NULL, 0);   /* a failure shows at the end */
    if (job->len + n > MAX_RESPONSE) {
        snprintf(job->err_msg, sizeof job->err_msg, "upstream answer larger than %u bytes", MAX_RESPONSE);
        pthread_mutex_unlock(&job->lock);
        return 0;
    }
    if (job->len + n > job->cap) {
        /* Compact what the reader already took before growing. */
        if (job->rpos) {
            memmove(job->buf, job->buf + job->rpos, job->len - job->rpos);
            job->len -= job->rpos;
            job->rpos = 0;
        }
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
    int resume = job->committed && take_resume(job);
    pthread_mutex_unlock(&job->lock);
    if (resume) MHD_resume_connection(job->conn);
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt; (void)dn; (void)ut; (void)un;
    tr_proxy_job *job = ud;
    if (atomic_load(&job->srv->stopping)) return 1;
    pthread_mutex_lock(&job->lock);
    int stop = job->cancelled;
    if (!stop && tr_now() - job->last_activity > job->srv->ups->timeout_ms / 1000.0) stop = job->idle_timeout = 1;
    pthread_mutex_unlock(&job->lock);
    return stop;
}

enum outcome { DONE, RETRY };

/* Caller holds the lock: read the attempt's 2xx answer for the metrics. */
static void account(tr_proxy_job *job, const tr_upstream *u)
{
    tr_upstream_answer a;
    char why[256];
    int rc = job->sse ? tr_upstream_stream_finish(job->sse, &a, why, sizeof why)
                      : tr_upstream_answer_parse(job->buf, job->len, &a, why, sizeof why);
    tr_upstream_stream_free(job->sse);
    job->sse = NULL;
    if (rc) {
        tr_metrics_upstream_answer(job->srv->metrics, TR_ANSWER_MALFORMED, -1, -1);
        if (!job->srv->cfg.quiet)
            fprintf(stderr, "taskroute serve: upstream for model '%s' answered HTTP %ld with a malformed answer "
                            "(passed on as is): %s\n", u->name, job->status, why);
        return;
    }
    tr_metrics_upstream_answer(job->srv->metrics, a.has_error ? TR_ANSWER_ERROR : TR_ANSWER_OK, a.prompt_tokens,
                               a.completion_tokens);
    tr_upstream_answer_free(&a);
}

/* One attempt on upstream up.  Fills the job's result fields. */
static enum outcome attempt(tr_proxy_job *job, int up, const char *body)
{
    const tr_upstream *u = &job->srv->ups->u[up];
    long timeout = job->srv->ups->timeout_ms;
    struct curl_slist *h = NULL, *t;
    CURL *c = curl_easy_init();
    pthread_mutex_lock(&job->lock);
    job->used = up;
    job->len = job->rpos = 0;
    job->content_type[0] = 0;
    job->err_msg[0] = 0;
    job->idle_timeout = 0;
    job->status = 0;
    job->last_activity = tr_now();
    pthread_mutex_unlock(&job->lock);
    if (!c) goto oom;
    job->curl = c;
    if (!(t = curl_slist_append(h, "Content-Type: application/json"))) goto oom;
    h = t;
    if (!(t = curl_slist_append(h, job->stream ? "Accept: text/event-stream" : "Accept: application/json"))) goto oom;
    h = t;
    if (!(t = curl_slist_append(h, "Expect:"))) goto oom;
    h = t;
    if (u->auth_header) {
        if (!(t = curl_slist_append(h, u->auth_header))) goto oom;
        h = t;
    }
    curl_easy_setopt(c, CURLOPT_URL, u->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, job);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, job);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    if (!job->stream) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    job->curl = NULL;

    enum outcome out = DONE;
    pthread_mutex_lock(&job->lock);
    job->status = status;
    if (job->committed) {
        job->ok = res == CURLE_OK;   /* mid-stream failure: the client sees a cut stream */
    } else if (res != CURLE_OK) {
        int to = res == CURLE_OPERATION_TIMEDOUT || job->idle_timeout;
        job->err_api = to ? TR_API_UPSTREAM_TIMEOUT : TR_API_UPSTREAM;
        if (to)
            snprintf(job->err_msg, sizeof job->err_msg, "upstream for model '%s' timed out after %ld ms",
                     u->name, timeout);
        else if (!job->err_msg[0])
            snprintf(job->err_msg, sizeof job->err_msg, "upstream for model '%s' failed: %s", u->name,
                     curl_easy_strerror(res));
        out = job->cancelled ? DONE : RETRY;
    } else if (status >= 500 || status < 200) {
        job->err_api = TR_API_UPSTREAM;
        int l = job->len < 200 ? (int)job->len : 200;
        snprintf(job->err_msg, sizeof job->err_msg, "upstream for model '%s' answered HTTP %ld: %.*s", u->name,
                 status, l, job->buf ? job->buf : "");
        for (char *p = job->err_msg; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        out = RETRY;
    } else {
        job->err_api = -1;  /* 2xx, or a 3xx/4xx passed through as is */
        job->ok = 1;
    }
    if (job->ok && status >= 200 && status < 300 && !job->cancelled) account(job, u);
    tr_upstream_stream_free(job->sse);
    job->sse = NULL;
    pthread_mutex_unlock(&job->lock);
    return out;
oom:
    if (c) curl_easy_cleanup(c);
    curl_slist_free_all(h);
    job->curl = NULL;
    pthread_mutex_lock(&job->lock);
    job->err_api = TR_API_INTERNAL;
    snprintf(job->err_msg, sizeof job->err_msg, "out of memory starting the upstream transfer");
    pthread_mutex_unlock(&job->lock);
    return DONE;
}

static void *transfer(void *arg)
{
    tr_proxy_job *job = arg;
    tr_server *srv = job->srv;
    enum outcome o = attempt(job, job->up, job->body);
    if (o == RETRY && job->fb >= 0 && !atomic_load(&srv->stopping)) {
        tr_metrics_fallback(srv->metrics);
        if (!srv->cfg.quiet)
            fprintf(stderr, "taskroute serve: %s; trying fallback model '%s'\n", job->err_msg,
                    srv->ups->u[job->fb].name);
        pthread_mutex_lock(&job->lock);
        job->fell_back = 1;
        pthread_mutex_unlock(&job->lock);
        attempt(job, job->fb, job->fb_body);
    }
    pthread_mutex_lock(&job->lock);
    job->done = 1;
    job->ready = 1;
    int resume = take_resume(job);
    pthread_mutex_unlock(&job->lock);
    if (resume) MHD_resume_connection(job->conn);
    tr_proxy_job_unref(job);
    atomic_fetch_sub(&srv->proxy_threads, 1);
    return NULL;
}

int tr_proxy_start(struct MHD_Connection *c, tr_request *q, int up, char *body, int fb,
                   char *fallback_body, int stream)
{
    tr_proxy_job *job = tr_calloc(1, sizeof *job);
    if (!job || pthread_mutex_init(&job->lock, NULL)) {
        tr_free(job);
        tr_free(body);
        tr_free(fallback_body);
        return -1;
    }
    job->srv = q->srv;
    job->conn = c;
    job->up = up;
    job->fb = fb;
    job->stream = stream;
    job->body = body;
    job->fb_body = fallback_body;
    job->err_api = -1;
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

enum MHD_Result tr_proxy_respond(struct MHD_Connection *c, tr_request *q)
{
    tr_proxy_job *job = q->job;
    tr_server *srv = q->srv;
    pthread_mutex_lock(&job->lock);
    if (!job->ready) {
        job->suspended = 1;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&job->lock);
        return MHD_YES;
    }
    if (job->fell_back) {
        snprintf(q->routed_model, sizeof q->routed_model, "%s", q->model);
        snprintf(q->model, sizeof q->model, "%s", srv->ups->u[job->used].name);
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
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                   job->content_type[0] ? job->content_type : "application/json");
    pthread_mutex_unlock(&job->lock);
    if (!r) return MHD_NO;
    tr_http_route_headers(r, q);
    q->status = (int)status;
    enum MHD_Result res = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return res;
}
