/* What the server answers: JSON bodies and errors in OpenAI's shape with
 * the X-Taskroute-* headers, request ids, and the table of endpoints (the
 * methods each allows, which a 405 names).  Below the handlers, the proxy
 * and the HTTP front, which all answer through it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/api_error.h"
#include "server/server.h"
#include "base/util.h"

static const struct { const char *path; int ep; const char *allow; } routes[] = {
    {"/v1/route", TR_EP_ROUTE, "POST"},
    {"/v1/chat/completions", TR_EP_CHAT, "POST"},
    {"/v1/feedback", TR_EP_FEEDBACK, "POST"},
    {"/healthz", TR_EP_HEALTHZ, "GET, HEAD"},
    {"/metrics", TR_EP_METRICS, "GET, HEAD"},
    {"/admin/reload", TR_EP_RELOAD, "POST"},
    {"/v1/models", TR_EP_MODELS, "GET, HEAD"},
};

int tr_http_endpoint(const char *path, const char **allow)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(path, routes[i].path)) {
            if (allow) *allow = routes[i].allow;
            return routes[i].ep;
        }
    return -1;
}

enum MHD_Result tr_http_json(struct MHD_Connection *c, tr_request *q, int status, const char *json, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (q->close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    tr_http_route_headers(r, q);
    const char *allow;
    if (status == 405 && tr_http_endpoint(q->path, &allow) >= 0) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    q->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result tr_http_error(struct MHD_Connection *c, tr_request *q, int api_err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *body = tr_api_error_json(api_err, msg);
    static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":\"internal_error\"}}";
    q->api_err = api_err;
    tr_metrics_error(q->srv->metrics, api_err);
    int status = tr_api_error_status(api_err);
    enum MHD_Result ok = body ? tr_http_json(c, q, status, body, strlen(body))
                              : tr_http_json(c, q, 500, oom, sizeof oom - 1);
    tr_free(body);
    return ok;
}

/* Header values must not carry CR/LF or other controls: names come from
 * router files. */
static void add_clean_header(struct MHD_Response *r, const char *key, const char *val)
{
    char buf[160];
    size_t i = 0;
    for (; val[i] && i < sizeof buf - 1; i++)
        buf[i] = ((unsigned char)val[i] < 0x20 || val[i] == 0x7f) ? '_' : val[i];
    buf[i] = 0;
    MHD_add_response_header(r, key, buf);
}

void tr_http_route_headers(struct MHD_Response *r, const tr_request *q)
{
    if (q->request_id[0]) MHD_add_response_header(r, "X-Taskroute-Request-Id", q->request_id);
    if (q->model[0]) add_clean_header(r, "X-Taskroute-Model", q->model);
    if (q->task_slug[0]) MHD_add_response_header(r, "X-Taskroute-Task", q->task_slug);
    if (q->task_id >= 0) MHD_add_response_header(r, "X-Taskroute-OOD", q->ood ? "true" : "false");
    if (q->task_id >= 0) {
        char id[24];
        snprintf(id, sizeof id, "%d", q->task_id);
        MHD_add_response_header(r, "X-Taskroute-Task-Id", id);
    }
    if (q->policy[0]) {
        char lam[32];
        if (isnan(q->lambda)) snprintf(lam, sizeof lam, "none");
        else if (isinf(q->lambda)) snprintf(lam, sizeof lam, "inf");
        else snprintf(lam, sizeof lam, "%.6g", q->lambda);
        add_clean_header(r, "X-Taskroute-Policy", q->policy);
        MHD_add_response_header(r, "X-Taskroute-Lambda", lam);
    }
    if (q->note) MHD_add_response_header(r, "X-Taskroute-Note", q->note);
    if (q->routed_model[0]) add_clean_header(r, "X-Taskroute-Fallback-From", q->routed_model);
    if (q->online) MHD_add_response_header(r, "X-Taskroute-Online", q->online == 2 ? "explored" : "exploit");
    if (q->cache_state) MHD_add_response_header(r, "X-Taskroute-Cache", q->cache_state == 2 ? "hit" : "miss");
    if (q->cascade) {
        MHD_add_response_header(r, "X-Taskroute-Cascade", q->cascade);
        add_clean_header(r, "X-Taskroute-Cascade-Models", q->cascade_chain);
        if (!isnan(q->verifier_confidence)) {
            char v[32];
            snprintf(v, sizeof v, "%.4g", q->verifier_confidence);
            MHD_add_response_header(r, "X-Taskroute-Verifier-Confidence", v);
        }
    }
}

void tr_http_new_request_id(tr_server *srv, tr_request *q)
{
    unsigned long long n = atomic_fetch_add_explicit(&srv->next_id, 1, memory_order_relaxed);
    snprintf(q->request_id, sizeof q->request_id, "tr-%llx-%llx", srv->start_ms, n);
}
