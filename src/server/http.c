/* The HTTP front: one libmicrohttpd daemon per worker thread (an epoll loop
 * each, sized to the cores by default) fed by listener.c, request
 * bodies gathered up to --max-body, dispatch to the endpoint handlers, one
 * log line and one metrics sample per request, and a clean stop.
 *
 * Why libmicrohttpd: it is the maintained, Debian-packaged C server with
 * suspend/resume (which the proxy needs to stream without blocking a
 * worker) and connection time-outs built in. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/api_error.h"
#include "server/server.h"
#include "base/util.h"

int tr_http_is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* Equal keys in time that depends on the lengths only. */
static int key_equal(const char *got, const char *want)
{
    size_t gl = strlen(got), wl = strlen(want);
    unsigned char d = gl != wl;
    for (size_t i = 0; i < wl; i++) d |= (unsigned char)(got[i < gl ? i : 0] ^ want[i]);
    return d == 0;
}

/* Admin endpoints: with an admin key configured, every client must send it
 * (a reverse proxy on the same host makes every client look local); without
 * one, loopback clients only.  -1 allowed, else the api error, msg set. */
static int admin_refusal(struct MHD_Connection *c, const tr_server *srv, char *msg, size_t msglen)
{
    if (srv->cfg.admin_key) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (h && !strncasecmp(h, "Bearer ", 7) && key_equal(h + 7, srv->cfg.admin_key)) return -1;
        snprintf(msg, msglen, "admin endpoints need the admin key: send 'Authorization: Bearer KEY'");
        return TR_API_UNAUTHORIZED;
    }
    if (tr_http_is_loopback(c)) return -1;
    snprintf(msg, msglen, "admin endpoints answer loopback clients only (serve --admin-key-file admits clients "
                          "with the key)");
    return TR_API_FORBIDDEN;
}

/* Inbound keys (--api-keys): every endpoint but /healthz needs one.  -1
 * admitted (q->key_slot set, or no keys configured), else the api error
 * with msg set.  The key is never echoed. */
static int key_refusal(struct MHD_Connection *c, tr_request *q, char *msg, size_t msglen)
{
    tr_server *srv = q->srv;
    if (!srv->cfg.api_keys_path) return -1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        snprintf(msg, msglen, "You didn't provide an API key. Send it in an Authorization header using Bearer "
                              "auth (Authorization: Bearer YOUR_KEY).");
        return TR_API_BAD_KEY;
    }
    const char *k = h + 7;
    while (*k == ' ') k++;
    pthread_rwlock_rdlock(&srv->keys_lock);
    int i = tr_keyset_find(srv->keys, k, strlen(k));
    int slot = i >= 0 ? tr_keyset_slot(srv->keys, (size_t)i) : -1;
    pthread_rwlock_unlock(&srv->keys_lock);
    if (i < 0) {
        snprintf(msg, msglen, "Incorrect API key provided. Ask the server's operator for a key.");
        return TR_API_BAD_KEY;
    }
    q->key_slot = slot;
    tr_metrics_key_request(srv->metrics, slot);
    return -1;
}

/* What the request's headers say about its body's length. */
typedef struct framing {
    int content_length, transfer_encoding, bad_name;
    const char *te;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) f->content_length++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->transfer_encoding++;
        f->te = value;
    }
    if (strpbrk(key, " \t")) f->bad_name = 1;
    /* libmicrohttpd glues a folded line (obs-fold) to the header's name:
     * "Transfer-Encoding:\r\n chunked" arrives as "Transfer-Encodingchunked",
     * which a proxy in front may have read as chunked */
    if ((!strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, 14) && key[14]) ||
        (!strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING, 17) && key[17]))
        f->bad_name = 1;
    return MHD_YES;
}

/* RFC 9112 framing rules that stop a request from meaning one thing here
 * and another to a proxy in front (request smuggling), checked on the
 * headers, before any of the body is read.  Request bodies must come with
 * one Content-Length: libmicrohttpd decodes chunked bodies itself, so a
 * chunk announced larger than any body we accept would hang until a
 * time-out instead of being refused; chunked bodies are refused with 411
 * (RFC 9112 section 6.3 allows it), other codings with 400.  -1 when the
 * framing is sound, else the api error with msg set. */
static int framing_refusal(struct MHD_Connection *c, char *msg, size_t msglen)
{
    framing f = {0, 0, 0, NULL};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.bad_name) {
        snprintf(msg, msglen, "a malformed header name: white space before its colon, or a folded "
                              "Content-Length or Transfer-Encoding line");
        return TR_API_BAD_FRAMING;
    }
    if (f.content_length > 1) {
        snprintf(msg, msglen, "more than one Content-Length header");
        return TR_API_BAD_FRAMING;
    }
    if (f.transfer_encoding && f.content_length) {
        snprintf(msg, msglen, "both Content-Length and Transfer-Encoding");
        return TR_API_BAD_FRAMING;
    }
    if (f.transfer_encoding > 1 || (f.te && strcasecmp(f.te, "chunked"))) {
        snprintf(msg, msglen, "Transfer-Encoding other than one \"chunked\"");
        return TR_API_BAD_FRAMING;
    }
    if (f.transfer_encoding) {
        snprintf(msg, msglen, "send the request body with a Content-Length; chunked request bodies are not accepted");
        return TR_API_LENGTH_REQUIRED;
    }
    return -1;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, tr_request *q)
{
    const char *allow;
    if (tr_http_endpoint(q->path, &allow) < 0) return tr_http_error(c, q, TR_API_NOT_FOUND, "no endpoint %.80s", q->path);
    const char *m = q->method;
    int is_get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    int is_post = !strcmp(m, "POST");
    if (strstr(allow, "POST") ? !is_post : !is_get)
        return tr_http_error(c, q, TR_API_BAD_METHOD, "%s %s is not allowed; use %s", m, q->path, allow);
    /* the admin key, when set, stands in for an inbound key on admin paths */
    if (q->ep != TR_EP_HEALTHZ && !(q->ep == TR_EP_RELOAD && q->srv->cfg.admin_key)) {
        char kmsg[256];
        int ke = key_refusal(c, q, kmsg, sizeof kmsg);
        if (ke >= 0) return tr_http_error(c, q, ke, "%s", kmsg);
    }
    if (q->too_large)
        return tr_http_error(c, q, TR_API_TOO_LARGE, "request body larger than %zu bytes", q->srv->cfg.max_body);
    switch (q->ep) {
    case TR_EP_ROUTE: return tr_handle_route(c, q);
    case TR_EP_CHAT: return tr_handle_chat(c, q);
    case TR_EP_FEEDBACK: return tr_handle_feedback(c, q);
    case TR_EP_HEALTHZ: return tr_handle_healthz(c, q);
    case TR_EP_METRICS: return tr_handle_metrics(c, q);
    case TR_EP_MODELS: return tr_handle_models(c, q);
    case TR_EP_RELOAD: {
        char msg[256];
        int e = admin_refusal(c, q->srv, msg, sizeof msg);
        if (e >= 0) return tr_http_error(c, q, e, "%s", msg);
        return tr_handle_reload(c, q);
    }
    }
    return tr_http_error(c, q, TR_API_NOT_FOUND, "no endpoint %.80s", q->path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    tr_server *srv = cls;
    tr_request *q = *con_cls;
    if (!q) {
        q = tr_calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        q->srv = srv;
        q->t0 = tr_now();
        q->api_err = -1;
        q->key_slot = -1;
        q->task_id = -1;
        q->lambda = NAN;
        q->verifier_confidence = NAN;
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->path, sizeof q->path, "%s", url);
        int ep = tr_http_endpoint(url, NULL);
        q->ep = ep < 0 ? TR_EP_OTHER : ep;
        q->counted = 1;
        tr_metrics_inflight_add(srv->metrics, 1);
        *con_cls = q;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        q->conn = ci ? ci->socket_context : NULL;
        char msg[128];
        int e = framing_refusal(c, msg, sizeof msg);
        if (e >= 0) {
            q->close = 1;   /* the body is left unread: the connection cannot carry another request */
            tr_conn_busy(q->conn);
            return tr_http_error(c, q, e, "%s", msg);
        }
        /* Refuse an announced oversize body before reading a byte of it. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > srv->cfg.max_body) {
                q->too_large = 1;
                q->close = 1;
                tr_conn_busy(q->conn);
                return tr_http_error(c, q, TR_API_TOO_LARGE, "request body larger than %zu bytes", srv->cfg.max_body);
            }
        }
        return MHD_YES;
    }
    if (q->job) return tr_proxy_respond(c, q);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->status || q->too_large) return MHD_YES;
        if (n > srv->cfg.max_body - q->len) {
            q->too_large = 1;
            tr_free(q->body);
            q->body = NULL;
            q->len = q->cap = 0;
            return MHD_YES;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap ? q->cap : 1024;
            while (cap < q->len + n) cap *= 2;
            if (cap > srv->cfg.max_body) cap = srv->cfg.max_body;
            char *p = tr_realloc(q->body, cap);
            if (!p) return MHD_NO;
            q->body = p;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload_data, n);
        q->len += n;
        return MHD_YES;
    }
    if (q->status) return MHD_YES;
    tr_conn_busy(q->conn);   /* arrived whole: its deadline no longer runs */
    return dispatch(c, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    tr_server *srv = cls;
    tr_request *q = *con_cls;
    if (!q) return;
    *con_cls = NULL;
    double dt = tr_now() - q->t0;
    /* A request that ended with nothing queued (client gone, time-out) is
     * counted under status 0, i.e. "other". */
    tr_metrics_request(srv->metrics, q->ep, q->status, dt);
    if (!srv->cfg.quiet) {
        const char *why = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
                          toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (time-out)" :
                          toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? " (client gone)" : " (aborted)";
        fprintf(stderr, "%s %s %d %.3fms%s%s%s%s%s%s%s%s\n", q->method, q->path, q->status, dt * 1e3,
                q->request_id[0] ? " id=" : "", q->request_id, q->model[0] ? " model=" : "", q->model,
                q->task_slug[0] ? " task=" : "", q->task_slug, q->api_err >= 0 ? " error=" : "",
                q->api_err >= 0 ? tr_api_error_code(q->api_err) : "");
        if (*why) fprintf(stderr, "  ^ %s\n", why + 1);
    }
    if (q->job) tr_proxy_job_unref(q->job);
    tr_conn_idle(q->conn);
    if (q->counted) tr_metrics_inflight_add(srv->metrics, -1);
    tr_free(q->body);
    tr_free(q);
}

/* A connection's start and close: its record in the connection guard, and
 * its daemon's gauge, which goes down here (listener.c puts it up when it
 * hands the connection over). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    tr_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? tr_conn_guard_started(srv->guard, ci->connect_fd) : NULL;
        return;
    }
    tr_conn_guard_closed(srv->guard, *socket_context);
    *socket_context = NULL;
    const union MHD_ConnectionInfo *di = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
    for (int i = 0; di && i < srv->n_daemons; i++)
        if (srv->daemons[i] == di->daemon) {
            atomic_fetch_sub_explicit(&srv->open_conns[i], 1, memory_order_relaxed);
            break;
        }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    tr_server *srv = cls;
    if (srv->cfg.quiet) return;
    fputs("taskroute serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int tr_server_start(tr_server *srv, char *err, size_t errlen)
{
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    srv->listener.fd = -1;
    const char *host = srv->cfg.host;
    char h6[64];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl < sizeof h6 + 2 && host[hl - 1] == ']') {
        memcpy(h6, host + 1, hl - 2);
        h6[hl - 2] = 0;
        host = h6;
    }
    if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)srv->cfg.port);
        sa = (struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)srv->cfg.port);
        sa = (struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        return tr_errorf(err, errlen, TR_EINVAL, "--listen: '%s' is not a numeric IPv4 or IPv6 address", srv->cfg.host);
    }
    int rc = tr_listener_open(&srv->listener, sa, sa == (struct sockaddr *)&sa6 ? sizeof sa6 : sizeof sa4,
                              &srv->port, err, errlen);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        return tr_errorf(err, errlen, rc, "%s:%d: %s", srv->cfg.host, srv->cfg.port, why);
    }
    int n = srv->cfg.threads > 0 ? srv->cfg.threads : 1;
    srv->daemons = tr_calloc((size_t)n, sizeof *srv->daemons);
    srv->open_conns = tr_calloc((size_t)n, sizeof *srv->open_conns);
    if (!srv->daemons || !srv->open_conns) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = tr_conn_guard_new(srv->cfg.max_conns, srv->cfg.max_conns_per_client, srv->cfg.request_timeout_s,
                                &srv->guard, err, errlen)))
        goto fail;
    /* Plain-valued options go in an array; the callbacks, whose pointers do
     * not fit MHD_OptionItem portably, go through the varargs.  The guard
     * keeps the connection count; the daemons' own limit, with room for
     * connections it closed that are still going, never refuses first (it
     * would close a socket without a word to the guard). */
    unsigned per = srv->cfg.max_conns + 512;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->cfg.conn_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)per, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    for (; srv->n_daemons < n; srv->n_daemons++) {
        int i = srv->n_daemons;
        atomic_init(&srv->open_conns[i], 0);
        srv->daemons[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                                           MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
                                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                           MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                                           MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        if (!srv->daemons[i]) {
            rc = tr_errorf(err, errlen, TR_EIO, "cannot start HTTP worker %d of %d", i + 1, n);
            goto fail;
        }
    }
    rc = tr_listener_start(&srv->listener, srv->daemons, srv->open_conns, n, srv->guard, err, errlen);
    if (rc) goto fail;
    return TR_OK;
fail:
    tr_server_stop(srv);
    return rc;
}

void tr_server_stop(tr_server *srv)
{
    tr_listener_stop(&srv->listener);
    if (!srv->daemons) {
        tr_conn_guard_free(srv->guard);
        srv->guard = NULL;
        return;
    }
    double t0 = tr_now();
    struct timespec ts = {0, 10 * 1000 * 1000};
    while ((tr_metrics_inflight(srv->metrics) > 0 || atomic_load(&srv->proxy_threads) > 0) &&
           tr_now() - t0 < srv->cfg.grace_s)
        nanosleep(&ts, NULL);
    /* Past the grace period, cancel the transfers still running: their
     * connections resume with an error, so none stays suspended when the
     * daemon stops (libmicrohttpd forbids that). */
    atomic_store(&srv->stopping, 1);
    t0 = tr_now();
    while (atomic_load(&srv->proxy_threads) > 0 && tr_now() - t0 < 30) nanosleep(&ts, NULL);
    for (int i = 0; i < srv->n_daemons; i++) MHD_stop_daemon(srv->daemons[i]);
    tr_free(srv->daemons);
    tr_free(srv->open_conns);
    tr_conn_guard_free(srv->guard);   /* after the daemons: they report closes to it */
    srv->guard = NULL;
    srv->daemons = NULL;
    srv->open_conns = NULL;
    srv->n_daemons = 0;
}
