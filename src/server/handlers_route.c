/* The endpoints: POST /v1/route (a decision as JSON), the routing half of
 * POST /v1/chat/completions (the forwarding half is proxy.c), POST
 * /v1/feedback, GET /healthz, GET /metrics, POST /admin/reload.
 *
 * A handler pins the current router (reload.h) only while it routes, never
 * across the upstream call, so a reload waits microseconds, not seconds. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api_error.h"
#include "server/body_json.h"
#include "server/json_out.h"
#include "base/json.h"
#include "base/util.h"
#include "base/hash.h"
#include "route/cascade.h"
#include "server/server.h"

static enum MHD_Result send_cjson(struct MHD_Connection *c, tr_request *q, int status, cJSON *j);

static int find_model(void *ctx, const char *name)
{
    return tr_router_find_model(((tr_loaded_router *)ctx)->r, name);
}

/* Failed routes in a row (the server's fault, not the request's) that turn
 * /healthz unhealthy. */
#define FAIL_STREAK_UNHEALTHY 8

static void route_failed(tr_server *srv, const char *msg)
{
    atomic_fetch_add_explicit(&srv->route_fail_streak, 1, memory_order_relaxed);
    pthread_mutex_lock(&srv->fail_mu);
    snprintf(srv->last_fail, sizeof srv->last_fail, "%s", msg);
    pthread_mutex_unlock(&srv->fail_mu);
}

/* The policy req is routed under: the body's knob (lambda, budget,
 * tolerance, risk), else the policy its "model" names, else the server's
 * (--policy, by default the router's own).  Sets req->opt's mode and value
 * and q's policy name, effective λ and note.  *named: 1 when the model
 * field named a policy (so it is no model name).  -1, or an api error with
 * msg set. */
static int request_policy(tr_server *srv, tr_request *q, const tr_loaded_router *L, tr_route_req *req,
                          const char *model_field, int *named, int *cascade, char *msg, size_t msglen)
{
    tr_policy p = srv->cfg.policy;
    int v = tr_policy_from_model(model_field, &srv->cfg.policy, &p, msg, msglen);
    if (v < 0) return TR_API_UNKNOWN_MODEL;
    *named = v;
    *cascade = p.cascade && !req->knob_set;
    if (req->knob_set) {
        snprintf(q->policy, sizeof q->policy, "%s=%g", tr_policy_mode_name(req->opt.mode), req->opt.value);
    } else {
        if (!v) snprintf(p.name, sizeof p.name, "taskroute");
        if (tr_policy_options(&p, L->r, &req->opt))
            q->note = "the router file stores no default policy: routed for the best predicted quality";
        snprintf(q->policy, sizeof q->policy, "%s", p.name);
    }
    q->lambda = tr_route_lambda(L->r, &req->opt);
    return -1;
}

/* Route req on the pinned router L: restrict to req's models and to the
 * routable ones, run tr_route.  pinned >= 0: the client named that router
 * model, which answers whatever the policy prefers (the route still ranks
 * the others, for fallback; online mode stays out).  PIN_OTHER: the client
 * named a model the router does not know; the route only ranks (no online
 * mode, no decision counted).  Returns -1 on success,
 * else an api error with msg set.  mask (n_models bytes) is the caller's
 * scratch, left holding the candidates. */
#define PIN_OTHER (-2)

static int decide(tr_server *srv, tr_request *q, tr_loaded_router *L, tr_scratch *sc, tr_route_req *req,
                  int pinned, unsigned char *mask, tr_decision *d, tr_online_outcome *oo, char *msg, size_t msglen)
{
    size_t n = 0;
    for (size_t m = 0; m < L->n_models; m++) {
        mask[m] = L->routable[m] && (!req->allowed || req->allowed[m]);
        n += mask[m];
    }
    memset(oo, 0, sizeof *oo);
    if (n == 0 && pinned == -1) {
        snprintf(msg, msglen, "none of the requested models has an upstream configured");
        return TR_API_NO_CANDIDATE;
    }
    tr_route_options opt = req->opt;
    opt.allowed = n ? mask : L->routable;
    int rc = tr_route(L->r, req->prompt, req->prompt_len, &opt, sc, d);
    if (rc) {
        char why[256];
        if (tr_scratch_check(L->r, sc, why, sizeof why)) {
            snprintf(msg, msglen, "routing failed: %s", why);
            route_failed(srv, msg);
            return TR_API_INTERNAL;
        }
        snprintf(msg, msglen, "routing failed: %s", tr_strerror(rc));
        if (rc == TR_EINVAL || rc == TR_ERANGE) return TR_API_BAD_FIELD;
        route_failed(srv, msg);
        return TR_API_INTERNAL;
    }
    if (d->model < 0 || (size_t)d->model >= L->n_models) {
        snprintf(msg, msglen, "routing returned no model");
        route_failed(srv, msg);
        return TR_API_INTERNAL;
    }
    /* a read of a line every thread keeps in its cache; written only after
     * a failure */
    if (atomic_load_explicit(&srv->route_fail_streak, memory_order_relaxed))
        atomic_store_explicit(&srv->route_fail_streak, 0, memory_order_relaxed);
    if (pinned == PIN_OTHER) return -1;
    if (pinned >= 0) {
        d->model = pinned;
        d->model_name = tr_router_model_name(L->r, (size_t)pinned);
    } else {
        tr_online_serve_decide(srv, q, L, &opt, mask, d, oo);
    }
    tr_metrics_decision(srv->metrics, L->model_slot[d->model],
                        d->task >= 0 && (size_t)d->task < L->n_tasks ? L->task_slot[d->task] : -1, d->ood);
    return -1;
}

static void note_decision(tr_request *q, const tr_loaded_router *L, const tr_decision *d)
{
    snprintf(q->model, sizeof q->model, "%s", tr_router_model_name(L->r, (size_t)d->model));
    const char *t = d->task >= 0 && (size_t)d->task < L->n_tasks ? tr_router_task_name(L->r, (size_t)d->task) : NULL;
    snprintf(q->task, sizeof q->task, "%s", t ? t : "");
    q->task_id = t ? d->task_id : -1;
    const char *slug = t ? tr_router_task_slug(L->r, (size_t)d->task) : NULL;
    snprintf(q->task_slug, sizeof q->task_slug, "%s", slug ? slug : "");
    q->ood = d->ood;
}

/* One line of the decision log: what `train --feedback F --decisions D`
 * joins feedback with, since feedback names a request, not a prompt.  A
 * failed write is counted, never fails the request. */
static void log_decision(tr_server *srv, tr_request *q, const tr_loaded_router *L, const tr_route_req *req,
                         const tr_decision *d)
{
    if (!srv->decisions) return;
    cJSON *o = cJSON_CreateObject();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cJSON_AddNumberToObject(o, "unix_ms", (double)ts.tv_sec * 1e3 + (double)(ts.tv_nsec / 1000000));
    cJSON_AddStringToObject(o, "request_id", q->request_id);
    cJSON_AddItemToObject(o, "prompt", cJSON_CreateString(req->prompt ? req->prompt : ""));
    cJSON_AddStringToObject(o, "model", q->model[0] ? q->model : tr_router_model_name(L->r, (size_t)d->model));
    cJSON_AddNumberToObject(o, "task", d->task_id);
    cJSON_AddStringToObject(o, "task_name", q->task);
    cJSON_AddBoolToObject(o, "ood", d->ood);
    cJSON_AddStringToObject(o, "policy", q->policy);
    cJSON_AddItemToObject(o, "lambda", tr_json_num(q->lambda));
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return;
    size_t n = strlen(line);
    char *l2 = realloc(line, n + 2);
    if (l2) {
        line = l2;
        line[n] = '\n';
        line[n + 1] = 0;
        char err[256];
        if (tr_jsonl_log_append_line(srv->decisions, line, n + 1, err, sizeof err))
            fprintf(stderr, "taskroute serve: decision log: %s\n", err);
    }
    free(line);
}

enum MHD_Result tr_handle_route(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[512];
    int rc, e;
    tr_scratch *sc;
    tr_http_new_request_id(srv, q);
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, msg, sizeof msg);
    if (!L) return tr_http_error(c, q, TR_API_UNAVAILABLE, "%s", msg);
    tr_route_req req;
    enum MHD_Result res;
    char *out = NULL, *slug_json = NULL, *policy_json = NULL;
    unsigned char *mask = NULL;
    if (tr_route_req_parse(q->body, q->len, 0, L->n_models, find_model, L, &req, &e, msg, sizeof msg)) {
        tr_router_slot_release(&srv->slot);
        return tr_http_error(c, q, e, "%s", msg);
    }
    int named, cascade;
    if ((e = request_policy(srv, q, L, &req, NULL, &named, &cascade, msg, sizeof msg)) >= 0) goto fail;
    mask = tr_malloc(L->n_models);
    if (!mask) { e = TR_API_INTERNAL; snprintf(msg, sizeof msg, "out of memory"); goto fail; }
    tr_decision d;
    tr_online_outcome oo;
    if ((e = decide(srv, q, L, sc, &req, -1, mask, &d, &oo, msg, sizeof msg)) >= 0) goto fail;
    note_decision(q, L, &d);
    log_decision(srv, q, L, &req, &d);
    slug_json = tr_json_quote(q->task_slug);
    policy_json = tr_json_quote(q->policy);
    size_t cap = L->answer_cap + sizeof q->request_id + 256 + sizeof q->task_slug * 2 + sizeof q->policy * 2;
    out = tr_malloc(cap);
    if (!out || !slug_json || !policy_json) { e = TR_API_INTERNAL; snprintf(msg, sizeof msg, "out of memory"); goto fail; }
    /* no printf here: see json_out.h */
    tr_jout o = {out, cap, 0, 1};
    TR_JOUT_LIT(&o, "{\"request_id\":\"");
    tr_jout_raw(&o, q->request_id);
    TR_JOUT_LIT(&o, "\",\"model\":");
    tr_jout_put(&o, L->model_json[d.model], L->model_json_len[d.model]);
    TR_JOUT_LIT(&o, ",\"task\":{\"id\":");
    tr_jout_int(&o, q->task_id);
    TR_JOUT_LIT(&o, ",\"index\":");
    tr_jout_int(&o, d.task);
    TR_JOUT_LIT(&o, ",\"name\":");
    if (d.task >= 0 && (size_t)d.task < L->n_tasks) {
        tr_jout_put(&o, L->task_json[d.task], L->task_json_len[d.task]);
        TR_JOUT_LIT(&o, ",\"slug\":");
        tr_jout_raw(&o, slug_json);
    } else {
        TR_JOUT_LIT(&o, "null");
    }
    TR_JOUT_LIT(&o, ",\"probability\":");
    tr_jout_num(&o, d.task_prob);
    if (d.ood) TR_JOUT_LIT(&o, "},\"ood\":true");
    else TR_JOUT_LIT(&o, "},\"ood\":false");
    if (req.from_messages)
        TR_JOUT_LIT(&o, ",\"routed_on\":\"messages\",\"selection\":{\"mode\":\"");
    else
        TR_JOUT_LIT(&o, ",\"routed_on\":\"prompt\",\"selection\":{\"mode\":\"");
    tr_jout_raw(&o, tr_policy_mode_name(req.opt.mode));
    TR_JOUT_LIT(&o, "\",\"value\":");
    tr_jout_num(&o, req.opt.value);
    TR_JOUT_LIT(&o, ",\"lambda\":");
    tr_jout_num(&o, q->lambda);
    TR_JOUT_LIT(&o, ",\"policy\":");
    tr_jout_raw(&o, policy_json);
    TR_JOUT_LIT(&o, "},\"models\":[");
    for (size_t m = 0; m < L->n_models; m++) {
        if (m) TR_JOUT_LIT(&o, ",");
        TR_JOUT_LIT(&o, "{\"name\":");
        tr_jout_put(&o, L->model_json[m], L->model_json_len[m]);
        TR_JOUT_LIT(&o, ",\"quality\":");
        tr_jout_num(&o, d.quality && m < d.n_models ? d.quality[m] : NAN);
        TR_JOUT_LIT(&o, ",\"cost\":");
        tr_jout_num(&o, d.cost && m < d.n_models ? d.cost[m] : NAN);
        if (mask[m])
            TR_JOUT_LIT(&o, ",\"candidate\":true}");
        else
            TR_JOUT_LIT(&o, ",\"candidate\":false}");
    }
    TR_JOUT_LIT(&o, "]");
    if (oo.on) {
        TR_JOUT_LIT(&o, ",\"online\":{\"explored\":");
        if (oo.explored)
            TR_JOUT_LIT(&o, "true");
        else
            TR_JOUT_LIT(&o, "false");
        TR_JOUT_LIT(&o, ",\"policy\":\"");
        tr_jout_raw(&o, tr_online_serve_policy(srv));
        TR_JOUT_LIT(&o, "\",\"offline_model\":");
        tr_jout_put(&o, L->model_json[oo.offline_model], L->model_json_len[oo.offline_model]);
        TR_JOUT_LIT(&o, ",\"lambda\":");
        tr_jout_num(&o, oo.lambda);
        TR_JOUT_LIT(&o, "}");
    }
    TR_JOUT_LIT(&o, ",\"router_generation\":");
    tr_jout_int(&o, (long long)L->generation);
    TR_JOUT_LIT(&o, "}");
    size_t len = o.len;
    int ok = o.ok;
    if (!ok) { e = TR_API_INTERNAL; snprintf(msg, sizeof msg, "response larger than its buffer"); goto fail; }
    tr_router_slot_release(&srv->slot);
    tr_route_req_free(&req);
    tr_free(mask);
    tr_free(slug_json);
    tr_free(policy_json);
    res = tr_http_json(c, q, 200, out, len);
    tr_free(out);
    return res;
fail:
    tr_router_slot_release(&srv->slot);
    tr_route_req_free(&req);
    tr_free(mask);
    tr_free(out);
    tr_free(slug_json);
    tr_free(policy_json);
    return tr_http_error(c, q, e, "%s", msg);
}

/* ---- forwarding the client's headers */

/* Headers that describe this hop, not the request (RFC 9110 7.6.1), and
 * those we set ourselves or must never pass on (the client's key is ours). */
static int hop_header(const char *k)
{
    static const char *const skip[] = {"host", "connection", "keep-alive", "proxy-authenticate",
                                       "proxy-authorization", "proxy-connection", "te", "trailer", "trailers",
                                       "transfer-encoding", "upgrade", "content-length", "content-type", "accept",
                                       "accept-encoding", "expect", "authorization", NULL};
    for (const char *const *s = skip; *s; s++)
        if (!strcasecmp(k, *s)) return 1;
    return 0;
}

typedef struct fwd {
    char **h;
    size_t n, cap;
    const char *connection;     /* the Connection header's value: names more hop headers */
    int oom;
} fwd;

/* 1 when k is one of the comma-separated tokens of list. */
static int in_token_list(const char *list, const char *k)
{
    size_t kl = strlen(k);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == kl && !strncasecmp(p, k, kl)) return 1;
        p = e;
    }
    return 0;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    fwd *f = cls;
    if (!key || !value || hop_header(key) || in_token_list(f->connection, key)) return MHD_YES;
    if (f->n >= 64 || strlen(key) + strlen(value) > 8192) return MHD_YES;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        char **p = tr_realloc(f->h, cap * sizeof *p);
        if (!p) { f->oom = 1; return MHD_NO; }
        f->h = p;
        f->cap = cap;
    }
    size_t l = strlen(key) + strlen(value) + 3;
    char *line = tr_malloc(l);
    if (!line) { f->oom = 1; return MHD_NO; }
    snprintf(line, l, "%s: %s", key, value);
    f->h[f->n++] = line;
    return MHD_YES;
}

/* ---- candidates: the first model, the router's ranking, the table's lists */

static void add_candidate(tr_proxy_request *pr, int e)
{
    if (e < 0) return;
    size_t cap = sizeof pr->candidates / sizeof pr->candidates[0];
    for (size_t i = 0; i < pr->n_candidates; i++)
        if (pr->candidates[i] == e) return;
    if (pr->n_candidates < cap) pr->candidates[pr->n_candidates++] = e;
}

/* ---- the answer cache and the cascade */

/* Look the request up in the answer cache.  1: a hit (in *hit, its body
 * the caller's);
 * 0: a miss, with pr set to store the answer.  The scope keeps entries
 * apart by policy, allowed models, the model field, the inbound key and
 * the router's generation. */
static int cache_lookup(struct MHD_Connection *c, tr_request *q, const tr_loaded_router *L, const tr_route_req *req,
                        const tr_decision *d, tr_proxy_request *pr, tr_cache_hit *hit)
{
    uint64_t h = tr_fnv1a64(q->policy, strlen(q->policy) + 1);
    if (req->allowed) h = tr_fnv1a64_update(h, req->allowed, req->n_models);
    h = tr_fnv1a64_update(h, "\0m", 2);
    if (req->model_field) h = tr_fnv1a64_update(h, req->model_field, strlen(req->model_field));
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    h = tr_fnv1a64_update(h, "\0k", 2);
    if (auth) h = tr_fnv1a64_update(h, auth, strlen(auth));
    h = tr_fnv1a64_update(h, &L->generation, sizeof L->generation);
    tr_cache_key k = {h, tr_cache_prompt_hash(req->prompt, req->prompt_len), d->embedding, d->dim};
    if (tr_answer_cache_get(q->srv->cache, &k, tr_now(), hit)) {
        q->cache_state = 2;
        return 1;
    }
    q->cache_state = 1;
    pr->cache_store = 1;
    pr->cache_scope = k.scope;
    pr->cache_phash = k.prompt_hash;
    pr->cache_emb = d->embedding && d->dim ? tr_mallocarray(d->dim, sizeof *pr->cache_emb) : NULL;
    if (pr->cache_emb) {
        memcpy(pr->cache_emb, d->embedding, d->dim * sizeof *pr->cache_emb);
        pr->cache_dim = d->dim;
    }
    return 0;
}

static enum MHD_Result cache_answer(struct MHD_Connection *c, tr_request *q, tr_cache_hit *h)
{
    snprintf(q->model, sizeof q->model, "%s", h->model);
    struct MHD_Response *r = MHD_create_response_from_buffer(h->len, h->body, MHD_RESPMEM_MUST_COPY);
    tr_free(h->body);
    h->body = NULL;
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    tr_http_route_headers(r, q);
    q->status = 200;
    enum MHD_Result res = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return res;
}

/* The cascade's chain for d (route/cascade.h) from the models the request
 * allows, capped at the configured steps; plain routing's model answers
 * when the verifier fails.  -1, or an api error with msg. */
static int cascade_plan(tr_server *srv, const tr_loaded_router *L, const tr_decision *d, const unsigned char *mask,
                        int plain_up, tr_proxy_request *pr, char *msg, size_t msglen)
{
    const tr_cascade_cfg *cc = &srv->cfg.cascade;
    int chain[16];
    size_t cap = (size_t)cc->max_steps < 16 ? (size_t)cc->max_steps : 16;
    size_t n = tr_cascade_chain(d->quality, d->cost, mask, L->n_models, cc->tolerance, cc->from_router ? d->model : -1,
                                chain, cap);
    if (!n) {
        snprintf(msg, msglen, "taskroute:cascade: no allowed model has a prediction");
        return TR_API_NO_CANDIDATE;
    }
    pr->cascade = 1;
    pr->n_chain = 0;
    for (size_t i = 0; i < n; i++)
        if (L->upstream[chain[i]] >= 0) pr->chain[pr->n_chain++] = L->upstream[chain[i]];
    pr->plain_up = plain_up;
    pr->verifier_up = cc->verifier[0] ? tr_upstream_table_find(L->table, cc->verifier) : -1;
    pr->threshold = cc->threshold;
    pr->k = cc->k;
    if (!pr->n_chain) {
        snprintf(msg, msglen, "taskroute:cascade: no model of the chain has an upstream");
        return TR_API_NO_CANDIDATE;
    }
    return -1;
}

enum MHD_Result tr_handle_chat(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[512];
    int rc, e;
    tr_scratch *sc;
    if (!srv->client)
        return tr_http_error(c, q, TR_API_UNAVAILABLE, "no upstreams configured: start serve with --upstreams FILE");
    tr_http_new_request_id(srv, q);
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, msg, sizeof msg);
    if (!L) return tr_http_error(c, q, TR_API_UNAVAILABLE, "%s", msg);
    tr_proxy_request pr;
    memset(&pr, 0, sizeof pr);
    unsigned char *mask = NULL;
    int *order = NULL;
    if (tr_route_req_parse(q->body, q->len, 1, L->n_models, find_model, L, &pr.req, &e, msg, sizeof msg)) {
        tr_router_slot_release(&srv->slot);
        return tr_http_error(c, q, e, "%s", msg);
    }
    tr_route_req *req = &pr.req;
    int named, cascade;
    if ((e = request_policy(srv, q, L, req, req->model_field, &named, &cascade, msg, sizeof msg)) >= 0) goto fail;
    if (cascade && req->stream) {
        e = TR_API_BAD_FIELD;
        snprintf(msg, sizeof msg, "taskroute:cascade does not stream (each answer is verified before it is sent): "
                                  "send \"stream\": false, or name another policy");
        goto fail;
    }
    /* A client naming one of our models pins it (no routing; the ranking
     * still gives its fallbacks); a name that is neither a model nor a
     * policy ("gpt-4", an SDK's default) lets us route. */
    int pin_router = -1, pin_up = -1;
    if (!named && req->model_field) {
        int m = tr_router_find_model(L->r, req->model_field);
        int u = tr_upstream_table_find(L->table, req->model_field);
        if (m >= 0 && L->routable[m]) {
            pin_router = m;
            pin_up = L->upstream[m];
        } else if (u >= 0) {
            pin_up = u;
        } else if (m >= 0) {
            e = TR_API_NO_CANDIDATE;
            snprintf(msg, sizeof msg, "model '%.200s' has no entry in the upstream table", req->model_field);
            goto fail;
        } else {
            q->note = "the model named is neither a policy nor a model of this server: routed with the default policy";
        }
    }
    mask = tr_malloc(L->n_models);
    order = tr_mallocarray(L->n_models, sizeof *order);
    if (!mask || !order) { e = TR_API_INTERNAL; snprintf(msg, sizeof msg, "out of memory"); goto fail; }
    tr_decision d;
    tr_online_outcome oo;
    int pin = pin_router >= 0 ? pin_router : pin_up >= 0 ? PIN_OTHER : -1;
    if ((e = decide(srv, q, L, sc, req, pin, mask, &d, &oo, msg, sizeof msg)) >= 0) goto fail;
    note_decision(q, L, &d);
    if (pin_up >= 0 && pin_router < 0) snprintf(q->model, sizeof q->model, "%s", L->table->u[pin_up].name);
    log_decision(srv, q, L, req, &d);
    if (srv->cache && req->cache && !req->stream) {
        tr_cache_hit hit;
        if (cache_lookup(c, q, L, req, &d, &pr, &hit)) {
            tr_router_slot_release(&srv->slot);
            tr_free(mask);
            tr_free(order);
            tr_proxy_request_free(&pr);
            return cache_answer(c, q, &hit);
        }
    }
    int first = pin_up >= 0 ? pin_up : L->upstream[d.model];
    add_candidate(&pr, first);
    if (cascade && (e = cascade_plan(srv, L, &d, mask, first, &pr, msg, sizeof msg)) >= 0) goto fail;
    if (req->fallback && !cascade) {
        tr_route_options opt = req->opt;
        opt.allowed = mask;
        size_t n = tr_decision_rank(L->r, &d, &opt, order, L->n_models);
        for (size_t i = 0; i < n; i++) add_candidate(&pr, L->upstream[order[i]]);
        const tr_upstream *u = &L->table->u[first];
        for (size_t i = 0; i < u->n_fallbacks; i++) add_candidate(&pr, u->fallbacks[i]);
        add_candidate(&pr, L->table->fallback);
    }
    pr.table = L->table;
    tr_upstream_table_ref(pr.table);
    pr.best_up = L->best_up;
    tr_router_slot_release(&srv->slot);
    L = NULL;
    tr_free(mask);
    tr_free(order);
    fwd f = {0};
    f.connection = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &f);
    pr.headers = f.h;
    pr.n_headers = f.n;
    if (f.oom) {
        tr_proxy_request_free(&pr);
        return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    }
    if (tr_proxy_start(c, q, &pr))
        return tr_http_error(c, q, TR_API_UNAVAILABLE, "cannot start the upstream transfer");
    return MHD_YES;
fail:
    if (L) tr_router_slot_release(&srv->slot);
    tr_proxy_request_free(&pr);
    tr_free(mask);
    tr_free(order);
    return tr_http_error(c, q, e, "%s", msg);
}

/* GET /v1/models: OpenAI's list, the policies by their names first, then
 * every model a request may name (router models with an upstream, and the
 * table's other entries, which answer when pinned). */
enum MHD_Result tr_handle_models(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[256];
    int rc;
    tr_scratch *sc;
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, msg, sizeof msg);
    if (!L) return tr_http_error(c, q, TR_API_UNAVAILABLE, "%s", msg);
    cJSON *j = cJSON_CreateObject();
    cJSON *data = j ? cJSON_AddArrayToObject(j, "data") : NULL;
    double created = (double)(srv->start_ms / 1000);
    int oom = !data || !cJSON_AddStringToObject(j, "object", "list");
#define ENTRY(id, owner, extra)                                                  \
    do {                                                                         \
        cJSON *e_ = cJSON_CreateObject();                                        \
        if (!e_ || !cJSON_AddItemToArray(data, e_)) { cJSON_Delete(e_); oom = 1; break; } \
        cJSON_AddStringToObject(e_, "id", (id));                                 \
        cJSON_AddStringToObject(e_, "object", "model");                          \
        cJSON_AddNumberToObject(e_, "created", created);                         \
        cJSON_AddStringToObject(e_, "owned_by", (owner));                        \
        extra;                                                                   \
    } while (0)
    for (const char *const *p = tr_policy_model_names; !oom && *p; p++)
        ENTRY(*p, "taskroute", cJSON_AddStringToObject(e_, "taskroute", "policy"));
    for (size_t m = 0; !oom && m < L->n_models; m++)
        if (L->routable[m]) ENTRY(tr_router_model_name(L->r, m), "upstream", cJSON_AddStringToObject(e_, "taskroute", "routed"));
    for (size_t u = 0; !oom && L->table && u < L->table->n; u++)
        if (tr_router_find_model(L->r, L->table->u[u].name) < 0)
            ENTRY(L->table->u[u].name, "upstream", cJSON_AddStringToObject(e_, "taskroute", "fallback-only"));
#undef ENTRY
    tr_router_slot_release(&srv->slot);
    if (oom) { cJSON_Delete(j); return tr_http_error(c, q, TR_API_INTERNAL, "out of memory"); }
    return send_cjson(c, q, 200, j);
}

enum MHD_Result tr_handle_feedback(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[512];
    int e;
    if (!srv->feedback && !srv->online.on)
        return tr_http_error(c, q, TR_API_UNAVAILABLE,
                             "feedback is off: start serve with --feedback-log DIR (or --online STATE.json)");
    tr_feedback_req f;
    if (tr_feedback_req_parse(q->body, q->len, &f, &e, msg, sizeof msg)) return tr_http_error(c, q, e, "%s", msg);
    /* The log first: it is the durable record retraining reads, whatever
     * online mode makes of the feedback. */
    int rc = srv->feedback ? tr_feedback_log_append(srv->feedback, f.request_id, f.model, f.score, msg, sizeof msg) : 0;
    if (rc) {
        tr_feedback_req_free(&f);
        return tr_http_error(c, q, TR_API_INTERNAL, "feedback not recorded: %s", msg);
    }
    const char *why = "";
    int updated = srv->online.on ? tr_online_serve_feedback(srv, f.request_id, f.model, f.score, &why) : 0;
    tr_feedback_req_free(&f);
    cJSON *j = cJSON_CreateObject();
    if (!j) return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    cJSON_AddStringToObject(j, "status", srv->feedback ? "recorded" : "accepted");
    if (srv->online.on) {
        cJSON_AddBoolToObject(j, "online_update", updated);
        if (!updated) cJSON_AddStringToObject(j, "online_reason", why);
    }
    return send_cjson(c, q, 200, j);
}

static cJSON *router_identity(const tr_loaded_router *L)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    char id[32];
    snprintf(id, sizeof id, "fnv1a64:%016llx", (unsigned long long)L->file_hash);
    cJSON_AddStringToObject(r, "path", L->path);
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddNumberToObject(r, "bytes", (double)L->file_size);
    cJSON_AddNumberToObject(r, "generation", (double)L->generation);
    cJSON_AddStringToObject(r, "loaded_at", L->loaded_at);
    cJSON_AddNumberToObject(r, "tasks", (double)L->n_tasks);
    cJSON_AddNumberToObject(r, "dim", (double)L->dim);
    cJSON *models = cJSON_AddArrayToObject(r, "models");
    for (size_t m = 0; models && m < L->n_models; m++) {
        cJSON *s = cJSON_CreateString(tr_router_model_name(L->r, m));
        if (s) cJSON_AddItemToArray(models, s);
    }
    cJSON *routable = cJSON_AddArrayToObject(r, "routable");
    for (size_t m = 0; routable && m < L->n_models; m++) {
        if (!L->routable[m]) continue;
        cJSON *s = cJSON_CreateString(tr_router_model_name(L->r, m));
        if (s) cJSON_AddItemToArray(routable, s);
    }
    return r;
}

static enum MHD_Result send_cjson(struct MHD_Connection *c, tr_request *q, int status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    enum MHD_Result res = tr_http_json(c, q, status, s, strlen(s));
    cJSON_free(s);
    return res;
}

/* {"status": status, "router": identity of the router serving now}, or
 * NULL with *api set (TR_API_UNAVAILABLE / TR_API_INTERNAL) and msg. */
static cJSON *status_json(tr_server *srv, const char *status, int *api, char *msg, size_t msglen)
{
    int rc;
    tr_scratch *sc;
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, msg, msglen);
    if (!L) { *api = TR_API_UNAVAILABLE; return NULL; }
    cJSON *j = cJSON_CreateObject();
    cJSON *id = router_identity(L);
    tr_router_slot_release(&srv->slot);
    if (!j || !id || !cJSON_AddStringToObject(j, "status", status)) {
        cJSON_Delete(j);
        cJSON_Delete(id);
        *api = TR_API_INTERNAL;
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    cJSON_AddItemToObject(j, "router", id);
    return j;
}

/* The policy requests without one are routed under: {"name", "mode",
 * "value", "lambda", "source": "router" | "--policy" | "fallback", and the
 * router's training estimate when it has one}. */
static cJSON *policy_json(const tr_server *srv, const tr_loaded_router *L)
{
    cJSON *p = cJSON_CreateObject();
    if (!p) return NULL;
    tr_route_options opt;
    tr_route_options_default(&opt);
    opt.mode = TR_SELECT_QUALITY;
    int missing = tr_policy_options(&srv->cfg.policy, L->r, &opt);
    cJSON_AddStringToObject(p, "name", srv->cfg.policy.name);
    cJSON_AddStringToObject(p, "mode", tr_policy_mode_name(opt.mode));
    cJSON_AddItemToObject(p, "value", tr_json_num(opt.value));
    cJSON_AddItemToObject(p, "lambda", tr_json_num(tr_route_lambda(L->r, &opt)));
    cJSON_AddStringToObject(p, "source", srv->cfg.policy.kind == TR_POLICY_FIXED ? "--policy"
                                         : missing ? "fallback (the router file stores no default)" : "router");
    if (L->has_default) {
        cJSON *e = cJSON_AddObjectToObject(p, "router_estimate");
        if (e) {
            cJSON_AddItemToObject(e, "lambda", tr_json_num(L->est.lambda));
            cJSON_AddItemToObject(e, "quality", tr_json_num(L->est.quality));
            cJSON_AddItemToObject(e, "cost", tr_json_num(L->est.cost));
            const char *b = L->est.best_model >= 0 ? tr_router_model_name(L->r, (size_t)L->est.best_model) : NULL;
            cJSON_AddStringToObject(e, "best_model", b ? b : "");
            cJSON_AddItemToObject(e, "best_quality", tr_json_num(L->est.best_quality));
            cJSON_AddItemToObject(e, "best_cost", tr_json_num(L->est.best_cost));
        }
    }
    return p;
}

/* Healthy: the current router routes a probe prompt with this thread's
 * scratch, and routing has not failed FAIL_STREAK_UNHEALTHY times in a row.
 * Unhealthy answers 503 with the reason. */
enum MHD_Result tr_handle_healthz(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[256], why[512] = "";
    int rc;
    tr_scratch *sc;
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, msg, sizeof msg);
    if (!L) return tr_http_error(c, q, TR_API_UNAVAILABLE, "unhealthy: %s", msg);
    tr_route_options opt;
    tr_route_options_default(&opt);
    opt.allowed = L->routable;
    tr_decision d;
    static const char probe[] = TR_PROBE_PROMPT;
    if ((rc = tr_route(L->r, probe, sizeof probe - 1, &opt, sc, &d))) {
        if (!tr_scratch_check(L->r, sc, msg, sizeof msg)) snprintf(msg, sizeof msg, "%s", tr_strerror(rc));
        snprintf(why, sizeof why, "the router fails to route a probe prompt: %s", msg);
    }
    cJSON *id = router_identity(L);
    cJSON *pol = policy_json(srv, L);
    double n_up = L->table ? (double)L->table->n : 0;
    tr_router_slot_release(&srv->slot);
    unsigned streak = atomic_load_explicit(&srv->route_fail_streak, memory_order_relaxed);
    if (!why[0] && streak >= FAIL_STREAK_UNHEALTHY) {
        pthread_mutex_lock(&srv->fail_mu);
        snprintf(why, sizeof why, "the last %u routes failed; the last: %s", streak, srv->last_fail);
        pthread_mutex_unlock(&srv->fail_mu);
    }
    cJSON *j = cJSON_CreateObject();
    if (!j || !id || !pol) {
        cJSON_Delete(j);
        cJSON_Delete(id);
        cJSON_Delete(pol);
        return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    }
    cJSON_AddStringToObject(j, "status", why[0] ? "unhealthy" : "ok");
    if (why[0]) cJSON_AddStringToObject(j, "reason", why);
    cJSON_AddItemToObject(j, "router", id);
    cJSON_AddStringToObject(j, "version", tr_version());
    cJSON_AddNumberToObject(j, "upstreams", n_up);
    cJSON_AddItemToObject(j, "policy", pol);
    cJSON_AddBoolToObject(j, "feedback", srv->feedback != NULL);
    cJSON_AddBoolToObject(j, "online", srv->online.on);
    if (srv->reloader) {
        cJSON *rl = tr_reloader_json(srv->reloader);
        if (rl) cJSON_AddItemToObject(j, "reload", rl);
    }
    return send_cjson(c, q, why[0] ? 503 : 200, j);
}

/* The cascade's outcomes and the answer cache's counters, as Prometheus
 * text into out; snprintf's return. */
static int feature_metrics(tr_server *srv, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "# HELP taskroute_cascade_total Cascaded chat requests, by how they ended.\n"
                     "# TYPE taskroute_cascade_total counter\n"
                     "taskroute_cascade_total{outcome=\"accepted\"} %lu\n"
                     "taskroute_cascade_total{outcome=\"escalated\"} %lu\n"
                     "taskroute_cascade_total{outcome=\"fallback\"} %lu\n",
                     atomic_load(&srv->cascade_outcomes[0]), atomic_load(&srv->cascade_outcomes[1]),
                     atomic_load(&srv->cascade_outcomes[2]));
    if (!srv->cache || n < 0 || (size_t)n >= cap) return n;
    tr_cache_stats st;
    tr_answer_cache_stats(srv->cache, &st);
    int m = snprintf(out + n, cap - (size_t)n,
                     "# HELP taskroute_cache_lookups_total Answer cache look-ups, by result.\n"
                     "# TYPE taskroute_cache_lookups_total counter\n"
                     "taskroute_cache_lookups_total{result=\"hit\"} %llu\n"
                     "taskroute_cache_lookups_total{result=\"miss\"} %llu\n"
                     "# HELP taskroute_cache_hits_exact_total Hits on the same normalised prompt.\n"
                     "# TYPE taskroute_cache_hits_exact_total counter\n"
                     "taskroute_cache_hits_exact_total %llu\n"
                     "# HELP taskroute_cache_evictions_total Entries dropped to make room (LRU), or expired.\n"
                     "# TYPE taskroute_cache_evictions_total counter\n"
                     "taskroute_cache_evictions_total{reason=\"capacity\"} %llu\n"
                     "taskroute_cache_evictions_total{reason=\"ttl\"} %llu\n"
                     "# HELP taskroute_cache_saved_usd_total What the answers served from the cache cost when stored.\n"
                     "# TYPE taskroute_cache_saved_usd_total counter\n"
                     "taskroute_cache_saved_usd_total %.9g\n"
                     "# HELP taskroute_cache_entries Answers in the cache.\n"
                     "# TYPE taskroute_cache_entries gauge\n"
                     "taskroute_cache_entries %zu\n"
                     "# HELP taskroute_cache_bytes Bytes of the answers in the cache.\n"
                     "# TYPE taskroute_cache_bytes gauge\n"
                     "taskroute_cache_bytes %zu\n"
                     "# HELP taskroute_cache_purges_total Purges (router reloads).\n"
                     "# TYPE taskroute_cache_purges_total counter\n"
                     "taskroute_cache_purges_total %llu\n",
                     st.hits, st.misses, st.hits_exact, st.evictions, st.expired, st.usd_saved, st.entries, st.bytes,
                     st.purges);
    return m < 0 ? m : n + m;
}

enum MHD_Result tr_handle_metrics(struct MHD_Connection *c, tr_request *q)
{
    char *txt;
    size_t len;
    tr_server *srv = q->srv;
    if (tr_metrics_format(srv->metrics, &txt, &len)) return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    /* The listener's per-worker gauges live with the server, not the
     * metrics: appended here. */
    static const char head[] = "# HELP taskroute_worker_connections Open connections per worker thread.\n"
                               "# TYPE taskroute_worker_connections gauge\n";
    tr_conn_stats cs;
    tr_conn_guard_stats(srv->guard, &cs);
    char conn_txt[1024];
    int cl = snprintf(conn_txt, sizeof conn_txt,
                      "# HELP taskroute_connections Open client connections counted against --max-conns.\n"
                      "# TYPE taskroute_connections gauge\n"
                      "taskroute_connections %lu\n"
                      "# HELP taskroute_connections_closed_total Connections the server closed or refused, by why.\n"
                      "# TYPE taskroute_connections_closed_total counter\n"
                      "taskroute_connections_closed_total{reason=\"request_timeout\"} %lu\n"
                      "taskroute_connections_closed_total{reason=\"per_client_limit\"} %lu\n"
                      "taskroute_connections_closed_total{reason=\"max_conns\"} %lu\n"
                      "taskroute_connections_closed_total{reason=\"refused_all_busy\"} %lu\n",
                      cs.open, cs.closed_deadline, cs.evicted_client, cs.evicted_total, cs.refused);
    if (cl < 0 || (size_t)cl >= sizeof conn_txt) cl = 0;
    char extra[2048];
    int xl = feature_metrics(srv, extra, sizeof extra);
    if (xl < 0 || (size_t)xl >= sizeof extra) xl = 0;
    size_t cap = len + sizeof head + (size_t)srv->n_daemons * 64 + (size_t)cl + (size_t)xl;
    char *all = tr_realloc(txt, cap);
    if (!all) {
        tr_free(txt);
        return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    }
    txt = all;
    memcpy(txt + len, head, sizeof head - 1);
    len += sizeof head - 1;
    for (int i = 0; i < srv->n_daemons; i++)
        len += (size_t)snprintf(txt + len, cap - len, "taskroute_worker_connections{worker=\"%d\"} %d\n", i,
                                atomic_load_explicit(&srv->open_conns[i], memory_order_relaxed));
    memcpy(txt + len, conn_txt, (size_t)cl);
    len += (size_t)cl;
    memcpy(txt + len, extra, (size_t)xl);
    len += (size_t)xl;
    if (srv->client && tr_upstream_client_metrics(srv->client, &txt, &len, &cap)) {
        tr_free(txt);
        return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_COPY);
    tr_free(txt);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    q->status = 200;
    enum MHD_Result res = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return res;
}

/* The file a reload may name: the served router's file as configured, or a
 * file under --reload-dir.  Decided from the text of the path first, so a
 * refusal says nothing about what exists elsewhere on disk.  Returns the
 * path to load (tr_free), or NULL with *api and msg set. */
static char *reload_target(const tr_server *srv, const char *want, int *api, char *msg, size_t msglen)
{
    const char *dir = srv->cfg.reload_dir;
    *api = TR_API_FORBIDDEN;
    if (!strcmp(want, srv->cfg.router_path)) return tr_strdup(want);
    if (srv->cfg.router_real) {
        /* the served file by another name; any other answer is the same
         * refusal, whether the path exists or not */
        char *real = realpath(want, NULL);
        int same = real && !strcmp(real, srv->cfg.router_real);
        free(real);
        if (same) return tr_strdup(want);
    }
    const char *rel = NULL;
    size_t dl = dir ? strlen(dir) : 0;
    if (!dir) {
        snprintf(msg, msglen, "\"path\" is not allowed: a reload takes the served router's file, or a file under "
                              "--reload-dir (not set)");
        return NULL;
    }
    if (want[0] != '/')
        rel = want;
    else if (!strncmp(want, dir, dl) && want[dl] == '/')
        rel = want + dl + 1;
    int bad = !rel || !*rel;
    for (const char *p = rel; !bad && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) bad = 1;
        /* a ".." component could leave the directory */
        if (p[0] == '.' && p[1] == '.' && (p == rel || p[-1] == '/') && (p[2] == '/' || !p[2])) bad = 1;
    }
    if (bad) {
        snprintf(msg, msglen, "\"path\" is not allowed: a reload takes the served router's file, or a file under "
                              "--reload-dir %s", dir);
        return NULL;
    }
    size_t n = dl + strlen(rel) + 2;
    char *joined = tr_malloc(n);
    if (!joined) { *api = TR_API_INTERNAL; snprintf(msg, msglen, "out of memory"); return NULL; }
    snprintf(joined, n, "%s/%s", dir, rel);
    /* inside the directory now: saying what is missing there is fine */
    char *real = realpath(joined, NULL);
    if (!real) {
        *api = TR_API_RELOAD_REFUSED;
        snprintf(msg, msglen, "reload refused, the old router keeps serving: %.300s: cannot open", joined);
        tr_free(joined);
        return NULL;
    }
    tr_free(joined);
    if (strncmp(real, dir, dl) || real[dl] != '/') {   /* a link that leads out */
        free(real);
        snprintf(msg, msglen, "\"path\" is not allowed: a reload takes the served router's file, or a file under "
                              "--reload-dir %s", dir);
        return NULL;
    }
    char *out = tr_strdup(real);
    free(real);
    if (!out) { *api = TR_API_INTERNAL; snprintf(msg, msglen, "out of memory"); }
    return out;
}

enum MHD_Result tr_handle_reload(struct MHD_Connection *c, tr_request *q)
{
    tr_server *srv = q->srv;
    char msg[512];
    char *path = NULL;
    int api;
    if (q->len) {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(q->body, q->len, &end, 0);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            return tr_http_error(c, q, TR_API_BAD_JSON, "the body must be empty or a JSON object {\"path\": ...}");
        }
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
        if (p && !cJSON_IsString(p)) {
            cJSON_Delete(j);
            return tr_http_error(c, q, TR_API_BAD_FIELD, "\"path\" must be a string");
        }
        if (p && !(path = reload_target(srv, p->valuestring, &api, msg, sizeof msg))) {
            cJSON_Delete(j);
            return tr_http_error(c, q, api, "%s", msg);
        }
        cJSON_Delete(j);
    }
    unsigned long ticket = tr_reloader_submit(srv->reloader, path, "POST /admin/reload", msg, sizeof msg);
    tr_free(path);
    if (!ticket) return tr_http_error(c, q, TR_API_UNAVAILABLE, "%s", msg);
    tr_reload_result res;
    int done = tr_reloader_wait(srv->reloader, ticket, srv->cfg.reload_wait_s, &res);
    if (done < 0) return tr_http_error(c, q, TR_API_UNAVAILABLE, "the server is shutting down");
    if (done == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON *st = tr_reloader_json(srv->reloader);
        if (!j || !st) {
            cJSON_Delete(j);
            cJSON_Delete(st);
            return tr_http_error(c, q, TR_API_INTERNAL, "out of memory");
        }
        cJSON_AddStringToObject(j, "status", "pending");
        cJSON_AddNumberToObject(j, "ticket", (double)ticket);
        cJSON_AddStringToObject(j, "check", "GET /healthz: \"reload\" shows the reload running and, once it is "
                                            "done, its result (\"last\", with this ticket)");
        cJSON_AddItemToObject(j, "reload", st);
        return send_cjson(c, q, 202, j);
    }
    if (res.rc)
        return tr_http_error(c, q, TR_API_RELOAD_REFUSED, "reload refused, the old router keeps serving: %s",
                             res.message);
    char m2[256];
    cJSON *j = status_json(srv, "reloaded", &api, m2, sizeof m2);
    if (!j) return tr_http_error(c, q, api, "%s", m2);
    cJSON_AddNumberToObject(j, "seconds", res.seconds);
    cJSON_AddNumberToObject(j, "ticket", (double)ticket);
    return send_cjson(c, q, 200, j);
}
