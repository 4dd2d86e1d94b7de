/* The upstream client (see client.h for what a call does).
 *
 * One libcurl easy handle per attempt, on the caller's thread: the caller
 * is a transfer thread of the server or a CLI command, and either may
 * block.  The handles share one pool of kept-alive connections (a curl
 * share with locks), so a request to a provider reuses a connection
 * another one opened.  Time-outs: a non-streamed attempt has connect and total time-outs
 * (the entry's timeout_ms); a streamed one the connect time-out, the total
 * time-out until its first byte, then an idle time-out (no byte for
 * timeout_ms), checked from curl's progress callback, which also polls the
 * caller's cancellation.
 *
 * Counters live in per-model records found by name, so a reloaded table
 * keeps them; records are never freed before the client, so a call holds
 * plain pointers to them. */
#include "upstream/client.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/prom_text.h"
#include "base/util.h"
#include "upstream/answer.h"

#define MAX_ANSWER (64u << 20)   /* a non-streamed answer beyond this is refused */
#define MAX_RATE_HEADERS 4096    /* bytes of rate-limit header lines kept */

typedef struct mstate {
    char *name;
    tr_breaker breaker;
    atomic_long inflight;
    atomic_ullong attempts, retries, answers, f_connect, f_timeout, f_5xx, f_429, skip_breaker, skip_cc;
    atomic_ullong prompt_tokens, completion_tokens, nano_usd;
} mstate;

/* curl's share locks: one mutex per kind of shared data */
#define N_LOCKS (CURL_LOCK_DATA_LAST + 1)

struct tr_upstream_client {
    CURLSH *share;                /* connections, DNS and TLS sessions, shared by every attempt */
    pthread_mutex_t share_mu[N_LOCKS];
    pthread_mutex_t mu;           /* the registry and the current table */
    mstate **st;
    size_t n_st, cap_st;
    tr_upstream_table *table;
    uint64_t seed;
    atomic_ullong calls;
};

static long long now_ms(void)
{
    return (long long)(tr_now() * 1000.0);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h; (void)access;
    tr_upstream_client *c = ud;
    pthread_mutex_lock(&c->share_mu[(int)data < N_LOCKS ? (int)data : 0]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    tr_upstream_client *c = ud;
    pthread_mutex_unlock(&c->share_mu[(int)data < N_LOCKS ? (int)data : 0]);
}

int tr_upstream_client_new(uint64_t seed, tr_upstream_client **out, char *err, size_t errlen)
{
    *out = NULL;
    tr_upstream_client *c = tr_calloc(1, sizeof *c);
    if (!c) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (pthread_mutex_init(&c->mu, NULL)) {
        tr_free(c);
        return tr_errorf(err, errlen, TR_ENOMEM, "cannot create a mutex");
    }
    for (int i = 0; i < N_LOCKS; i++) pthread_mutex_init(&c->share_mu[i], NULL);
    /* A pool of connections kept alive between requests: a new TLS
     * connection to a provider costs tens of milliseconds, a reused one
     * nothing.  Without the share (old libcurl) every attempt connects. */
    c->share = curl_share_init();
    if (c->share && (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) ||
                     curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
                     curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) ||
                     curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
                     curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
                     curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION))) {
        curl_share_cleanup(c->share);
        c->share = NULL;
    }
    c->seed = seed;
    atomic_init(&c->calls, 0);
    *out = c;
    return TR_OK;
}

void tr_upstream_client_free(tr_upstream_client *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_st; i++) {
        tr_breaker_destroy(&c->st[i]->breaker);
        tr_free(c->st[i]->name);
        tr_free(c->st[i]);
    }
    tr_free(c->st);
    tr_upstream_table_unref(c->table);
    if (c->share) curl_share_cleanup(c->share);
    for (int i = 0; i < N_LOCKS; i++) pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->mu);
    tr_free(c);
}

/* The record of model name, made on first sight.  Caller holds c->mu. */
static mstate *state_locked(tr_upstream_client *c, const char *name, const tr_breaker_params *bp)
{
    for (size_t i = 0; i < c->n_st; i++)
        if (!strcmp(c->st[i]->name, name)) return c->st[i];
    if (c->n_st == c->cap_st) {
        size_t cap = c->cap_st ? 2 * c->cap_st : 16;
        mstate **p = tr_realloc(c->st, cap * sizeof *p);
        if (!p) return NULL;
        c->st = p;
        c->cap_st = cap;
    }
    mstate *s = tr_calloc(1, sizeof *s);
    if (!s || !(s->name = tr_strdup(name)) || tr_breaker_init(&s->breaker, bp)) {
        if (s) tr_free(s->name);
        tr_free(s);
        return NULL;
    }
    c->st[c->n_st++] = s;
    return s;
}

static mstate *state_of(tr_upstream_client *c, const char *name, const tr_breaker_params *bp)
{
    pthread_mutex_lock(&c->mu);
    mstate *s = state_locked(c, name, bp);
    pthread_mutex_unlock(&c->mu);
    return s;
}

int tr_upstream_client_set_table(tr_upstream_client *c, tr_upstream_table *t)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; t && i < t->n; i++)
        if (!state_locked(c, t->u[i].name, &t->breaker)) {
            pthread_mutex_unlock(&c->mu);
            return TR_ENOMEM;
        }
    tr_upstream_table *old = c->table;
    tr_upstream_table_ref(t);
    c->table = t;
    pthread_mutex_unlock(&c->mu);
    tr_upstream_table_unref(old);
    return TR_OK;
}

tr_upstream_table *tr_upstream_client_table(tr_upstream_client *c)
{
    pthread_mutex_lock(&c->mu);
    tr_upstream_table *t = c->table;
    tr_upstream_table_ref(t);
    pthread_mutex_unlock(&c->mu);
    return t;
}

void tr_upstream_result_free(tr_upstream_result *res)
{
    if (!res) return;
    tr_free(res->body);
    tr_free(res->rate_headers);
    res->body = res->rate_headers = NULL;
    res->len = 0;
}

/* ---------------------------------------------------------------- attempt */

typedef struct xfer {
    const tr_upstream_call *call;
    const tr_upstream *u;
    int model;
    CURL *h;
    int stream;
    int committed;              /* a stream handed to the sink */
    int sink_stop;              /* the sink said stop / abandon */
    int cancelled;
    int too_large, timed_out;
    double t0, last;
    char ct[128];
    char *body;
    size_t len, cap;
    char rl[MAX_RATE_HEADERS];
    size_t rl_len;
    long retry_after_ms;        /* -1: none */
    tr_upstream_stream *sse;    /* a 2xx stream, read for its usage as it passes */
    CURLSH *share;
} xfer;

static void reset_response(xfer *x)
{
    x->ct[0] = 0;
    x->rl_len = 0;
    x->rl[0] = 0;
    x->retry_after_ms = -1;
    x->len = 0;
}

static size_t trim(const char *p, size_t n, size_t *start)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    while (n > i && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    *start = i;
    return n - i;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    if (n >= 5 && !strncmp(p, "HTTP/", 5)) {   /* a new response (after a 1xx, a redirect) */
        reset_response(x);
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon) return n;
    size_t kl = (size_t)(colon - p), vs;
    size_t vl = trim(colon + 1, n - kl - 1, &vs);
    const char *v = colon + 1 + vs;
    if (kl == 12 && !strncasecmp(p, "content-type", 12)) {
        size_t l = vl < sizeof x->ct - 1 ? vl : sizeof x->ct - 1;
        memcpy(x->ct, v, l);
        x->ct[l] = 0;
    } else if ((kl > 12 && !strncasecmp(p, "x-ratelimit-", 12)) || (kl == 11 && !strncasecmp(p, "retry-after", 11))) {
        /* kept to hand back to the client, so a well-behaved one slows down */
        if (x->rl_len + kl + vl + 3 < sizeof x->rl) {
            for (size_t i = 0; i < kl; i++) {
                char ch = p[i];
                x->rl[x->rl_len++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
            }
            x->rl[x->rl_len++] = ':';
            x->rl[x->rl_len++] = ' ';
            for (size_t i = 0; i < vl; i++) x->rl[x->rl_len++] = (unsigned char)v[i] < 0x20 ? ' ' : v[i];
            x->rl[x->rl_len++] = '\n';
            x->rl[x->rl_len] = 0;
        }
        if (kl == 11) {
            char tmp[128];
            size_t l = vl < sizeof tmp - 1 ? vl : sizeof tmp - 1;
            memcpy(tmp, v, l);
            tmp[l] = 0;
            x->retry_after_ms = tr_retry_after_ms(tmp, time(NULL));
        }
    }
    return n;
}

static int append_body(xfer *x, const char *p, size_t n)
{
    if (x->len + n > MAX_ANSWER) { x->too_large = 1; return -1; }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 16384;
        while (cap < x->len + n + 1) cap *= 2;
        char *b = tr_realloc(x->body, cap);
        if (!b) return -1;
        x->body = b;
        x->cap = cap;
    }
    memcpy(x->body + x->len, p, n);
    x->len += n;
    x->body[x->len] = 0;
    return 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    x->last = tr_now();
    if (x->stream && status >= 200 && status < 300) {
        const tr_upstream_call *call = x->call;
        if (!x->committed) {
            x->committed = 1;
            if (tr_upstream_stream_new(&x->sse)) x->sse = NULL;
            if (call->on_start &&
                !call->on_start(call->sink_ctx, x->model, status, x->ct[0] ? x->ct : "text/event-stream", x->rl)) {
                x->sink_stop = 1;
                return 0;
            }
        }
        if (x->sse) (void)tr_upstream_stream_feed(x->sse, p, n, NULL, 0);   /* a failure shows at the end */
        if (call->on_data && !call->on_data(call->sink_ctx, p, n)) {
            x->sink_stop = 1;
            return 0;
        }
        return n;
    }
    return append_body(x, p, n) ? 0 : n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt; (void)dn; (void)ut; (void)un;
    xfer *x = ud;
    if (x->call->cancelled && x->call->cancelled(x->call->sink_ctx)) { x->cancelled = 1; return 1; }
    if (x->stream) {
        double now = tr_now(), lim = (double)x->u->timeout_ms / 1000.0;
        if ((!x->committed && now - x->t0 > lim) || (x->committed && now - x->last > lim)) {
            x->timed_out = 1;
            return 1;
        }
    }
    return 0;
}

/* One attempt; x's response fields are filled.  The CURLcode, or -1 when
 * out of memory. */
static int attempt(xfer *x, const char *body)
{
    const tr_upstream *u = x->u;
    const tr_upstream_call *call = x->call;
    struct curl_slist *h = NULL, *t;
    int rc = -1;
    CURL *c = curl_easy_init();
    x->h = c;
    x->committed = x->sink_stop = x->cancelled = x->too_large = x->timed_out = 0;
    x->t0 = x->last = tr_now();
    reset_response(x);
    if (!c) goto out;
#define ADD(line) do { if (!(t = curl_slist_append(h, (line)))) goto out; h = t; } while (0)
    ADD("Content-Type: application/json");
    ADD(x->stream ? "Accept: text/event-stream" : "Accept: application/json");
    ADD("Expect:");
    for (size_t i = 0; i < call->n_headers; i++) ADD(call->headers[i]);
    if (u->auth_header) ADD(u->auth_header);
#undef ADD
    curl_easy_setopt(c, CURLOPT_URL, u->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, u->connect_timeout_ms);
    if (x->share) curl_easy_setopt(c, CURLOPT_SHARE, x->share);
    if (!x->stream) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, u->timeout_ms);
    rc = (int)curl_easy_perform(c);
out:
    curl_slist_free_all(h);
    return rc;
}

/* Read a 2xx answer for its usage into res.  Whole answers from x->body,
 * streams from x->sse. */
static void account(xfer *x, mstate *st, tr_upstream_result *res)
{
    tr_upstream_answer a;
    char why[256];
    int rc = x->sse ? tr_upstream_stream_finish(x->sse, &a, why, sizeof why)
                    : tr_upstream_answer_parse(x->body ? x->body : "", x->len, &a, why, sizeof why);
    res->prompt_tokens = res->completion_tokens = -1;
    res->usd = NAN;
    if (rc) {
        res->read_kind = TR_READ_MALFORMED;
        snprintf(res->read_error, sizeof res->read_error, "%s", why);
        return;
    }
    res->read_kind = a.has_error ? TR_READ_ERROR_OBJECT : TR_READ_OK;
    res->prompt_tokens = a.prompt_tokens;
    res->completion_tokens = a.completion_tokens;
    if (a.prompt_tokens >= 0) atomic_fetch_add(&st->prompt_tokens, (unsigned long long)a.prompt_tokens);
    if (a.completion_tokens >= 0) atomic_fetch_add(&st->completion_tokens, (unsigned long long)a.completion_tokens);
    if (x->u->has_price && (a.prompt_tokens >= 0 || a.completion_tokens >= 0)) {
        double pt = a.prompt_tokens > 0 ? (double)a.prompt_tokens : 0;
        double ct = a.completion_tokens > 0 ? (double)a.completion_tokens : 0;
        res->usd = (pt * x->u->price_in + ct * x->u->price_out) / 1e6;
        atomic_fetch_add(&st->nano_usd, (unsigned long long)llround(res->usd * 1e9));
    }
    tr_upstream_answer_free(&a);
}

/* Sleep ms, waking every 50 ms to poll the caller.  1 when cancelled. */
static int wait_ms(const tr_upstream_call *call, long ms)
{
    double end = tr_now() + (double)ms / 1000.0;
    for (;;) {
        if (call->cancelled && call->cancelled(call->sink_ctx)) return 1;
        double left = end - tr_now();
        if (left <= 0) return 0;
        if (left > 0.05) left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void excerpt(char *dst, size_t dlen, const char *src, size_t n)
{
    size_t l = n < 200 ? n : 200;
    if (l >= dlen) l = dlen - 1;
    for (size_t i = 0; i < l; i++) dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
    dst[l] = 0;
}

/* Hand the attempt's response over to res (body, headers), x keeps none. */
static void take_response(xfer *x, tr_upstream_result *res, long status)
{
    tr_free(res->body);
    tr_free(res->rate_headers);
    res->body = x->body;
    res->len = x->len;
    x->body = NULL;
    x->len = x->cap = 0;
    res->rate_headers = x->rl_len ? tr_strdup(x->rl) : NULL;
    res->status = status;
    snprintf(res->content_type, sizeof res->content_type, "%s", x->ct);
}

enum verdict { V_DONE, V_RETRY, V_NEXT };

int tr_upstream_client_call(tr_upstream_client *c, const tr_upstream_call *call, tr_upstream_result *res)
{
    memset(res, 0, sizeof *res);
    res->model = res->position = -1;
    res->prompt_tokens = res->completion_tokens = -1;
    res->usd = NAN;
    tr_upstream_table *t = call->table;
    int own = 0;
    if (!t) {
        t = tr_upstream_client_table(c);
        own = 1;
    }
    if (!t || !call->n_candidates || !call->make_body) {
        if (own) tr_upstream_table_unref(t);
        snprintf(res->message, sizeof res->message, "no upstream to call");
        return TR_EINVAL;
    }
    uint64_t rng = c->seed ^ tr_mix64(atomic_fetch_add(&c->calls, 1) + 1);
    xfer x;
    memset(&x, 0, sizeof x);
    x.call = call;
    x.stream = call->stream;
    x.share = c->share;
    int rc = TR_OK, tried = 0, skipped_breaker = 0, skipped_cc = 0;
    res->outcome = TR_UPSTREAM_FAILED;
    for (size_t pos = 0; pos < call->n_candidates; pos++) {
        int m = call->candidates[pos];
        if (m < 0 || (size_t)m >= t->n) continue;
        const tr_upstream *u = &t->u[m];
        mstate *st = state_of(c, u->name, &t->breaker);
        if (!st) { rc = TR_ENOMEM; snprintf(res->message, sizeof res->message, "out of memory"); break; }
        char *body = NULL;
        long retry_after = -1;
        enum verdict v = V_NEXT;
        for (int k = 0; k <= t->retry.max_retries; k++) {
            if (k > 0) {
                long w = tr_retry_wait_ms(&t->retry, k, retry_after, &rng);
                if (w < 0) break;   /* the provider asks for longer than we wait: the next model */
                if (wait_ms(call, w)) { res->outcome = TR_UPSTREAM_CANCELLED; v = V_DONE; break; }
            }
            int probe = 0;
            if (!tr_breaker_allow(&st->breaker, &t->breaker, now_ms(), &probe)) {
                atomic_fetch_add(&st->skip_breaker, 1);
                if (k == 0) skipped_breaker++;
                snprintf(res->message, sizeof res->message, "upstream for model '%.200s' skipped: its circuit is open "
                         "after repeated failures", u->name);
                res->fail_kind = TR_FAIL_SKIPPED;
                break;
            }
            long inflight = atomic_fetch_add(&st->inflight, 1) + 1;
            if (u->max_concurrency > 0 && inflight > u->max_concurrency) {
                atomic_fetch_sub(&st->inflight, 1);
                tr_breaker_abandon(&st->breaker, probe);
                atomic_fetch_add(&st->skip_cc, 1);
                if (k == 0) skipped_cc++;
                snprintf(res->message, sizeof res->message, "upstream for model '%.200s' skipped: %d requests in "
                         "flight (its max_concurrency)", u->name, u->max_concurrency);
                res->fail_kind = TR_FAIL_SKIPPED;
                break;
            }
            if (!body && !(body = call->make_body(call->body_ctx, u->model))) {
                atomic_fetch_sub(&st->inflight, 1);
                tr_breaker_abandon(&st->breaker, probe);
                rc = TR_ENOMEM;
                snprintf(res->message, sizeof res->message, "out of memory");
                v = V_DONE;
                break;
            }
            if (k == 0 && tried > 0) res->fallbacks++;
            if (k == 0) tried++;
            if (k > 0) { res->retries++; atomic_fetch_add(&st->retries, 1); }
            res->attempts++;
            atomic_fetch_add(&st->attempts, 1);
            x.u = u;
            x.model = m;
            int cr = attempt(&x, body);
            long status = 0;
            if (x.h) curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &status);
            if (x.h) curl_easy_cleanup(x.h);
            x.h = NULL;
            atomic_fetch_sub(&st->inflight, 1);
            res->model = m;
            res->position = (int)pos;
            retry_after = x.retry_after_ms;
            if (cr < 0) {
                tr_breaker_abandon(&st->breaker, probe);
                rc = TR_ENOMEM;
                snprintf(res->message, sizeof res->message, "out of memory starting the upstream transfer");
                v = V_DONE;
                break;
            }
            if (x.cancelled || (x.sink_stop && !x.committed)) {
                tr_breaker_abandon(&st->breaker, probe);
                res->outcome = TR_UPSTREAM_CANCELLED;
                v = V_DONE;
                break;
            }
            if (x.committed) {
                /* a stream reached the client: whatever happens now is the answer */
                res->streamed = 1;
                res->stream_ok = cr == CURLE_OK;
                res->status = status;
                snprintf(res->content_type, sizeof res->content_type, "%s", x.ct);
                res->outcome = TR_UPSTREAM_ANSWERED;
                if (cr == CURLE_OK || x.sink_stop) {
                    tr_breaker_success(&st->breaker, &t->breaker, probe);
                } else {
                    tr_breaker_failure(&st->breaker, &t->breaker, probe, now_ms());
                    atomic_fetch_add(x.timed_out ? &st->f_timeout : &st->f_connect, 1);
                    snprintf(res->message, sizeof res->message, "upstream for model '%.200s' cut its stream: %s",
                             u->name, x.timed_out ? "no byte within its time-out" : curl_easy_strerror((CURLcode)cr));
                }
                atomic_fetch_add(&st->answers, 1);
                account(&x, st, res);
                v = V_DONE;
                break;
            }
            if (cr != CURLE_OK) {
                int to = cr == CURLE_OPERATION_TIMEDOUT || x.timed_out;
                if (x.too_large) {
                    tr_breaker_abandon(&st->breaker, probe);
                    res->fail_kind = TR_FAIL_OTHER;
                    snprintf(res->message, sizeof res->message, "upstream for model '%.200s' answered more than %u "
                             "bytes", u->name, MAX_ANSWER);
                    v = V_NEXT;
                    break;
                }
                tr_breaker_failure(&st->breaker, &t->breaker, probe, now_ms());
                atomic_fetch_add(to ? &st->f_timeout : &st->f_connect, 1);
                res->fail_kind = to ? TR_FAIL_TIMEOUT : TR_FAIL_CONNECT;
                res->status = 0;
                if (to)
                    snprintf(res->message, sizeof res->message, "upstream for model '%.200s' timed out after %ld ms",
                             u->name, u->timeout_ms);
                else
                    snprintf(res->message, sizeof res->message, "upstream for model '%.200s' failed: %s", u->name,
                             curl_easy_strerror((CURLcode)cr));
                /* a time-out already cost the whole budget: the next model, not the same one again */
                if (to) { v = V_NEXT; break; }
                v = V_RETRY;
                continue;
            }
            if (status == 429) {
                tr_breaker_abandon(&st->breaker, probe);
                atomic_fetch_add(&st->f_429, 1);
                res->fail_kind = TR_FAIL_HTTP_429;
                char ex[201];
                excerpt(ex, sizeof ex, x.body ? x.body : "", x.len);
                snprintf(res->message, sizeof res->message, "upstream for model '%.200s' is rate-limited (HTTP 429): "
                         "%s", u->name, ex);
                take_response(&x, res, status);
                v = V_RETRY;
                continue;
            }
            if (status >= 500 || status < 200) {
                tr_breaker_failure(&st->breaker, &t->breaker, probe, now_ms());
                atomic_fetch_add(&st->f_5xx, 1);
                res->fail_kind = TR_FAIL_HTTP_5XX;
                char ex[201];
                excerpt(ex, sizeof ex, x.body ? x.body : "", x.len);
                snprintf(res->message, sizeof res->message, "upstream for model '%.200s' answered HTTP %ld: %s",
                         u->name, status, ex);
                take_response(&x, res, status);
                v = V_RETRY;
                continue;
            }
            /* 2xx, or a 3xx/4xx about the request: the answer */
            tr_breaker_success(&st->breaker, &t->breaker, probe);
            atomic_fetch_add(&st->answers, 1);
            if (status < 300) account(&x, st, res);
            take_response(&x, res, status);
            res->outcome = TR_UPSTREAM_ANSWERED;
            res->fail_kind = TR_FAIL_NONE;
            res->message[0] = 0;
            v = V_DONE;
            break;
        }
        tr_free(body);
        tr_upstream_stream_free(x.sse);
        x.sse = NULL;
        if (v == V_DONE) break;
        if (call->cancelled && call->cancelled(call->sink_ctx)) { res->outcome = TR_UPSTREAM_CANCELLED; break; }
    }
    tr_free(x.body);
    tr_upstream_stream_free(x.sse);
    if (res->outcome == TR_UPSTREAM_FAILED && !rc && tried == 0 && (skipped_breaker || skipped_cc)) {
        res->fail_kind = TR_FAIL_SKIPPED;
        snprintf(res->message, sizeof res->message, "no upstream could take the request: %d of %zu candidates have an "
                 "open circuit, %d are at their max_concurrency", skipped_breaker, call->n_candidates, skipped_cc);
    } else if (res->outcome == TR_UPSTREAM_FAILED && !rc && tried > 1) {
        char last[512];
        snprintf(last, sizeof last, "%s", res->message);
        snprintf(res->message, sizeof res->message, "%d models tried (%d attempts), all failed; the last: %.400s",
                 tried, res->attempts, last);
    }
    if (own) tr_upstream_table_unref(t);
    return rc;
}

/* ---------------------------------------------------------------- metrics */

int tr_upstream_client_stats(tr_upstream_client *c, const char *model, tr_upstream_stats *out)
{
    pthread_mutex_lock(&c->mu);
    mstate *s = NULL;
    for (size_t i = 0; i < c->n_st && !s; i++)
        if (!strcmp(c->st[i]->name, model)) s = c->st[i];
    pthread_mutex_unlock(&c->mu);
    if (!s) return TR_ENOTFOUND;
    out->attempts = atomic_load(&s->attempts);
    out->retries = atomic_load(&s->retries);
    out->answers = atomic_load(&s->answers);
    out->failures_connect = atomic_load(&s->f_connect);
    out->failures_timeout = atomic_load(&s->f_timeout);
    out->failures_5xx = atomic_load(&s->f_5xx);
    out->failures_429 = atomic_load(&s->f_429);
    out->skipped_breaker = atomic_load(&s->skip_breaker);
    out->skipped_concurrency = atomic_load(&s->skip_cc);
    out->prompt_tokens = atomic_load(&s->prompt_tokens);
    out->completion_tokens = atomic_load(&s->completion_tokens);
    out->usd = (double)atomic_load(&s->nano_usd) / 1e9;
    out->breaker_state = tr_breaker_state(&s->breaker, now_ms(), &out->breaker_opens);
    out->inflight = atomic_load(&s->inflight);
    return TR_OK;
}

int tr_upstream_client_metrics(tr_upstream_client *c, char **buf, size_t *len, size_t *cap)
{
    tr_prom_text t = {*buf, *len, *cap, 0};
    pthread_mutex_lock(&c->mu);
    size_t n = c->n_st;
    mstate **st = n ? tr_mallocarray(n, sizeof *st) : NULL;
    if (st) memcpy(st, c->st, n * sizeof *st);
    pthread_mutex_unlock(&c->mu);
    if (n && !st) return TR_ENOMEM;
    static const struct { const char *name, *type, *help; } fam[] = {
        {"taskroute_upstream_attempts_total", "counter", "Requests sent to an upstream, retries included."},
        {"taskroute_upstream_retries_total", "counter", "Attempts that were retries of the same model."},
        {"taskroute_upstream_model_answers_total", "counter", "Answers an upstream gave (2xx, or a 4xx passed on)."},
        {"taskroute_upstream_failures_total", "counter", "Failed attempts by reason."},
        {"taskroute_upstream_skipped_total", "counter", "Times an upstream was passed over, by reason."},
        {"taskroute_upstream_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 open, 2 half-open (probing)."},
        {"taskroute_upstream_breaker_opens_total", "counter", "Times the circuit breaker opened."},
        {"taskroute_upstream_inflight", "gauge", "Requests in flight to the upstream."},
        {"taskroute_upstream_model_tokens_total", "counter", "Tokens the upstream's answers report, by kind."},
        {"taskroute_upstream_usd_total", "counter", "USD spent: reported tokens times the table's price."},
    };
    long long now = now_ms();
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        tr_prom_put(&t, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name, fam[f].type);
        for (size_t i = 0; i < n; i++) {
            mstate *s = st[i];
#define LINE(extra, fmt, val)                                           \
            do {                                                        \
                tr_prom_put(&t, "%s{model=\"", fam[f].name);            \
                tr_prom_label(&t, s->name);                             \
                tr_prom_put(&t, "\"%s} " fmt "\n", extra, val);         \
            } while (0)
            switch (f) {
            case 0: LINE("", "%llu", atomic_load(&s->attempts)); break;
            case 1: LINE("", "%llu", atomic_load(&s->retries)); break;
            case 2: LINE("", "%llu", atomic_load(&s->answers)); break;
            case 3:
                LINE(",reason=\"connect\"", "%llu", atomic_load(&s->f_connect));
                LINE(",reason=\"timeout\"", "%llu", atomic_load(&s->f_timeout));
                LINE(",reason=\"http_5xx\"", "%llu", atomic_load(&s->f_5xx));
                LINE(",reason=\"http_429\"", "%llu", atomic_load(&s->f_429));
                break;
            case 4:
                LINE(",reason=\"breaker_open\"", "%llu", atomic_load(&s->skip_breaker));
                LINE(",reason=\"max_concurrency\"", "%llu", atomic_load(&s->skip_cc));
                break;
            case 5: LINE("", "%d", tr_breaker_state(&s->breaker, now, NULL)); break;
            case 6: {
                unsigned long opens = 0;
                tr_breaker_state(&s->breaker, now, &opens);
                LINE("", "%lu", opens);
                break;
            }
            case 7: LINE("", "%ld", atomic_load(&s->inflight)); break;
            case 8:
                LINE(",kind=\"prompt\"", "%llu", atomic_load(&s->prompt_tokens));
                LINE(",kind=\"completion\"", "%llu", atomic_load(&s->completion_tokens));
                break;
            case 9: LINE("", "%.9f", (double)atomic_load(&s->nano_usd) / 1e9); break;
            }
#undef LINE
        }
    }
    tr_free(st);
    *buf = t.p;
    *len = t.len;
    *cap = t.cap;
    return t.failed ? TR_ENOMEM : TR_OK;
}
