/* Counters behind GET /metrics, formatted as Prometheus text (see
 * metrics.h for the locking scheme: atomics on the hot path, a mutex only
 * when a reload interns new model or task names). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "server/api_error.h"
#include "server/metrics.h"
#include "base/prom_text.h"
#include "base/util.h"

/* Statuses get their own series; anything else lands in "other". */
static const int status_codes[] = {200, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 502, 503, 504};
#define N_STATUS ((int)(sizeof status_codes / sizeof status_codes[0]) + 1)

/* Histogram bounds in seconds: routing is tens of microseconds, proxying
 * seconds, so the buckets span both. */
static const double bucket_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                   0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_BUCKET ((int)(sizeof bucket_le / sizeof bucket_le[0]) + 1)

typedef struct name_table {
    char *names[TR_METRICS_MAX_NAMES + 1]; /* last slot: "_other" */
    atomic_size_t n;                       /* published names */
    atomic_ulong count[TR_METRICS_MAX_NAMES + 1];
} name_table;

struct tr_metrics {
    atomic_ulong requests[TR_EP_COUNT][N_STATUS];
    atomic_ulong hist[TR_EP_COUNT][N_BUCKET]; /* non-cumulative; summed when printed */
    atomic_ulong hist_sum_us[TR_EP_COUNT];
    atomic_ulong errors[TR_API_ERROR_COUNT];
    atomic_ulong reloads_ok, reloads_failed, fallbacks;
    atomic_ulong answers[TR_ANSWER_RESULTS], tokens_prompt, tokens_completion;
    atomic_ulong online_decisions, online_explored, online_updates;
    atomic_ulong ood_decisions;
    atomic_long inflight;
    atomic_ulong generation;
    name_table tables[TR_METRICS_KINDS];
    /* per inbound key (slots of tables[TR_METRICS_KEY]) */
    atomic_ullong key_prompt[TR_METRICS_MAX_NAMES + 1], key_completion[TR_METRICS_MAX_NAMES + 1];
    atomic_ullong key_nano_usd[TR_METRICS_MAX_NAMES + 1];
    atomic_ullong nano_usd, nano_usd_priced, nano_baseline;   /* priced: answers with a baseline too */
    pthread_mutex_t intern_lock;
};

static const char *ep_labels[TR_EP_COUNT] = {
    "/v1/route", "/v1/chat/completions", "/v1/feedback", "/healthz", "/metrics",
    "/admin/reload", "/v1/models", "other"};

const char *tr_endpoint_label(int ep)
{
    return ep >= 0 && ep < TR_EP_COUNT ? ep_labels[ep] : "other";
}

int tr_metrics_new(tr_metrics **out)
{
    tr_metrics *m = tr_calloc(1, sizeof *m);
    if (!m) return TR_ENOMEM;
    if (pthread_mutex_init(&m->intern_lock, NULL)) { tr_free(m); return TR_ENOMEM; }
    *out = m;
    return TR_OK;
}

void tr_metrics_free(tr_metrics *m)
{
    if (!m) return;
    for (int k = 0; k < TR_METRICS_KINDS; k++) {
        size_t n = atomic_load(&m->tables[k].n);
        for (size_t i = 0; i < n; i++) tr_free(m->tables[k].names[i]);
    }
    pthread_mutex_destroy(&m->intern_lock);
    tr_free(m);
}

static int status_index(int status)
{
    for (int i = 0; i < N_STATUS - 1; i++)
        if (status_codes[i] == status) return i;
    return N_STATUS - 1;
}

void tr_metrics_request(tr_metrics *m, int ep, int status, double seconds)
{
    if (ep < 0 || ep >= TR_EP_COUNT) ep = TR_EP_OTHER;
    atomic_fetch_add_explicit(&m->requests[ep][status_index(status)], 1, memory_order_relaxed);
    int b = 0;
    while (b < N_BUCKET - 1 && seconds > bucket_le[b]) b++;
    atomic_fetch_add_explicit(&m->hist[ep][b], 1, memory_order_relaxed);
    unsigned long us = seconds > 0 ? (unsigned long)(seconds * 1e6 + 0.5) : 0;
    atomic_fetch_add_explicit(&m->hist_sum_us[ep], us, memory_order_relaxed);
}

void tr_metrics_error(tr_metrics *m, int e)
{
    if (e >= 0 && e < TR_API_ERROR_COUNT)
        atomic_fetch_add_explicit(&m->errors[e], 1, memory_order_relaxed);
}

int tr_metrics_intern(tr_metrics *m, int kind, const char *name)
{
    name_table *t = &m->tables[kind >= 0 && kind < TR_METRICS_KINDS ? kind : 0];
    int slot = TR_METRICS_MAX_NAMES;
    pthread_mutex_lock(&m->intern_lock);
    size_t n = atomic_load(&t->n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t->names[i], name)) { slot = (int)i; goto done; }
    if (n < TR_METRICS_MAX_NAMES && (t->names[n] = tr_strdup(name))) {
        atomic_store_explicit(&t->n, n + 1, memory_order_release);
        slot = (int)n;
    }
done:
    pthread_mutex_unlock(&m->intern_lock);
    return slot;
}

void tr_metrics_decision(tr_metrics *m, int model_slot, int task_slot, int ood)
{
    if (ood) atomic_fetch_add_explicit(&m->ood_decisions, 1, memory_order_relaxed);
    if (model_slot >= 0 && model_slot <= TR_METRICS_MAX_NAMES)
        atomic_fetch_add_explicit(&m->tables[0].count[model_slot], 1, memory_order_relaxed);
    if (task_slot >= 0 && task_slot <= TR_METRICS_MAX_NAMES)
        atomic_fetch_add_explicit(&m->tables[1].count[task_slot], 1, memory_order_relaxed);
}

void tr_metrics_key_request(tr_metrics *m, int slot)
{
    if (slot >= 0 && slot <= TR_METRICS_MAX_NAMES)
        atomic_fetch_add_explicit(&m->tables[TR_METRICS_KEY].count[slot], 1, memory_order_relaxed);
}

static unsigned long long nano(double usd)
{
    return usd > 0 && isfinite(usd) ? (unsigned long long)llround(usd * 1e9) : 0;
}

void tr_metrics_usage(tr_metrics *m, int slot, long long pt, long long ct, double usd, double baseline)
{
    int k = slot >= 0 && slot <= TR_METRICS_MAX_NAMES;
    if (k && pt > 0) atomic_fetch_add_explicit(&m->key_prompt[slot], (unsigned long long)pt, memory_order_relaxed);
    if (k && ct > 0) atomic_fetch_add_explicit(&m->key_completion[slot], (unsigned long long)ct, memory_order_relaxed);
    if (isnan(usd)) return;
    if (k) atomic_fetch_add_explicit(&m->key_nano_usd[slot], nano(usd), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->nano_usd, nano(usd), memory_order_relaxed);
    if (isnan(baseline)) return;
    atomic_fetch_add_explicit(&m->nano_usd_priced, nano(usd), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->nano_baseline, nano(baseline), memory_order_relaxed);
}

void tr_metrics_reload(tr_metrics *m, int ok)
{
    atomic_fetch_add_explicit(ok ? &m->reloads_ok : &m->reloads_failed, 1, memory_order_relaxed);
}

void tr_metrics_online_decision(tr_metrics *m, int explored)
{
    atomic_fetch_add_explicit(&m->online_decisions, 1, memory_order_relaxed);
    if (explored) atomic_fetch_add_explicit(&m->online_explored, 1, memory_order_relaxed);
}

void tr_metrics_online_update(tr_metrics *m)
{
    atomic_fetch_add_explicit(&m->online_updates, 1, memory_order_relaxed);
}

void tr_metrics_fallback(tr_metrics *m)
{
    atomic_fetch_add_explicit(&m->fallbacks, 1, memory_order_relaxed);
}

void tr_metrics_upstream_answer(tr_metrics *m, int result, long long prompt_tokens, long long completion_tokens)
{
    if (result >= 0 && result < TR_ANSWER_RESULTS)
        atomic_fetch_add_explicit(&m->answers[result], 1, memory_order_relaxed);
    if (prompt_tokens > 0)
        atomic_fetch_add_explicit(&m->tokens_prompt, (unsigned long)prompt_tokens, memory_order_relaxed);
    if (completion_tokens > 0)
        atomic_fetch_add_explicit(&m->tokens_completion, (unsigned long)completion_tokens, memory_order_relaxed);
}

void tr_metrics_inflight_add(tr_metrics *m, int delta)
{
    atomic_fetch_add_explicit(&m->inflight, delta, memory_order_relaxed);
}

long tr_metrics_inflight(const tr_metrics *m)
{
    return atomic_load_explicit(&m->inflight, memory_order_relaxed);
}

void tr_metrics_set_generation(tr_metrics *m, unsigned long gen)
{
    atomic_store_explicit(&m->generation, gen, memory_order_relaxed);
}

static void put_names(tr_prom_text *t, tr_metrics *m, int kind, const char *metric, const char *label)
{
    name_table *tb = &m->tables[kind];
    size_t n = atomic_load_explicit(&tb->n, memory_order_acquire);
    for (size_t i = 0; i <= n && i <= TR_METRICS_MAX_NAMES; i++) {
        size_t slot = i == n ? TR_METRICS_MAX_NAMES : i;
        unsigned long c = atomic_load_explicit(&tb->count[slot], memory_order_relaxed);
        if (slot == TR_METRICS_MAX_NAMES && c == 0) continue;
        tr_prom_put(t, "%s{%s=\"", metric, label);
        tr_prom_label(t, slot == TR_METRICS_MAX_NAMES ? "_other" : tb->names[slot]);
        tr_prom_put(t, "\"} %lu\n", c);
    }
}

int tr_metrics_format(tr_metrics *m, char **out, size_t *len)
{
    tr_prom_text t = {0};
    tr_prom_put(&t, "%s", "");

    tr_prom_put(&t, "# HELP taskroute_requests_total HTTP requests by endpoint and status.\n"
            "# TYPE taskroute_requests_total counter\n");
    for (int e = 0; e < TR_EP_COUNT; e++)
        for (int s = 0; s < N_STATUS; s++) {
            unsigned long c = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);
            if (!c) continue;
            if (s < N_STATUS - 1)
                tr_prom_put(&t, "taskroute_requests_total{endpoint=\"%s\",status=\"%d\"} %lu\n",
                    ep_labels[e], status_codes[s], c);
            else
                tr_prom_put(&t, "taskroute_requests_total{endpoint=\"%s\",status=\"other\"} %lu\n",
                    ep_labels[e], c);
        }

    tr_prom_put(&t, "# HELP taskroute_request_duration_seconds Time from request start to response queued.\n"
            "# TYPE taskroute_request_duration_seconds histogram\n");
    for (int e = 0; e < TR_EP_COUNT; e++) {
        unsigned long cum = 0;
        unsigned long tot = 0;
        for (int b = 0; b < N_BUCKET; b++) tot += atomic_load_explicit(&m->hist[e][b], memory_order_relaxed);
        if (!tot) continue;
        for (int b = 0; b < N_BUCKET; b++) {
            cum += atomic_load_explicit(&m->hist[e][b], memory_order_relaxed);
            if (b < N_BUCKET - 1)
                tr_prom_put(&t, "taskroute_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %lu\n",
                    ep_labels[e], bucket_le[b], cum);
            else
                tr_prom_put(&t, "taskroute_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %lu\n",
                    ep_labels[e], cum);
        }
        tr_prom_put(&t, "taskroute_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_labels[e],
            (double)atomic_load_explicit(&m->hist_sum_us[e], memory_order_relaxed) / 1e6);
        tr_prom_put(&t, "taskroute_request_duration_seconds_count{endpoint=\"%s\"} %lu\n", ep_labels[e], cum);
    }

    tr_prom_put(&t, "# HELP taskroute_decisions_total Routing decisions by chosen model.\n"
            "# TYPE taskroute_decisions_total counter\n");
    put_names(&t, m, 0, "taskroute_decisions_total", "model");
    tr_prom_put(&t, "# HELP taskroute_task_decisions_total Routing decisions by most probable task.\n"
            "# TYPE taskroute_task_decisions_total counter\n");
    put_names(&t, m, 1, "taskroute_task_decisions_total", "task");
    tr_prom_put(&t, "# HELP taskroute_ood_decisions_total Routing decisions whose prompt is out of distribution "
            "(like none of the router's tasks).\n# TYPE taskroute_ood_decisions_total counter\n"
            "taskroute_ood_decisions_total %lu\n", atomic_load_explicit(&m->ood_decisions, memory_order_relaxed));
    tr_prom_put(&t, "# HELP taskroute_key_requests_total Requests admitted, by inbound key (a hash of the key).\n"
            "# TYPE taskroute_key_requests_total counter\n");
    put_names(&t, m, TR_METRICS_KEY, "taskroute_key_requests_total", "key");
    {
        name_table *kt = &m->tables[TR_METRICS_KEY];
        size_t nk = atomic_load_explicit(&kt->n, memory_order_acquire);
        static const char *const fam[] = {"taskroute_key_tokens_total", "taskroute_key_usd_total"};
        tr_prom_put(&t, "# HELP %s Tokens the answers report, by inbound key and kind.\n# TYPE %s counter\n",
                    fam[0], fam[0]);
        for (size_t i = 0; i < nk; i++) {
            for (int kind = 0; kind < 2; kind++) {
                tr_prom_put(&t, "%s{key=\"", fam[0]);
                tr_prom_label(&t, kt->names[i]);
                tr_prom_put(&t, "\",kind=\"%s\"} %llu\n", kind ? "completion" : "prompt",
                            atomic_load(kind ? &m->key_completion[i] : &m->key_prompt[i]));
            }
        }
        tr_prom_put(&t, "# HELP %s USD of the answers (tokens x the upstream table's price), by inbound key.\n"
                    "# TYPE %s counter\n", fam[1], fam[1]);
        for (size_t i = 0; i < nk; i++) {
            tr_prom_put(&t, "%s{key=\"", fam[1]);
            tr_prom_label(&t, kt->names[i]);
            tr_prom_put(&t, "\"} %.9f\n", (double)atomic_load(&m->key_nano_usd[i]) / 1e9);
        }
    }
    {
        double usd = (double)atomic_load(&m->nano_usd) / 1e9, priced = (double)atomic_load(&m->nano_usd_priced) / 1e9;
        double base = (double)atomic_load(&m->nano_baseline) / 1e9;
        tr_prom_put(&t, "# HELP taskroute_usd_total USD of every answer with usage and a price in the upstream table.\n"
                "# TYPE taskroute_usd_total counter\n"
                "taskroute_usd_total %.9f\n"
                "# HELP taskroute_baseline_usd_total What the same tokens would have cost on the best single model "
                "(its table price), over the answers that have both prices.\n"
                "# TYPE taskroute_baseline_usd_total counter\n"
                "taskroute_baseline_usd_total %.9f\n"
                "# HELP taskroute_saved_usd_total The baseline minus what those answers cost (negative: routing "
                "spent more).\n"
                "# TYPE taskroute_saved_usd_total gauge\n"
                "taskroute_saved_usd_total %.9f\n", usd, base, base - priced);
    }

    tr_prom_put(&t, "# HELP taskroute_errors_total Client-visible errors by code.\n"
            "# TYPE taskroute_errors_total counter\n");
    for (int e = 0; e < TR_API_ERROR_COUNT; e++) {
        unsigned long c = atomic_load_explicit(&m->errors[e], memory_order_relaxed);
        if (c) tr_prom_put(&t, "taskroute_errors_total{code=\"%s\"} %lu\n", tr_api_error_code(e), c);
    }
    tr_prom_put(&t, "# HELP taskroute_reloads_total Router reloads by result.\n"
            "# TYPE taskroute_reloads_total counter\n"
            "taskroute_reloads_total{result=\"ok\"} %lu\n"
            "taskroute_reloads_total{result=\"failed\"} %lu\n",
        atomic_load(&m->reloads_ok), atomic_load(&m->reloads_failed));
    tr_prom_put(&t, "# HELP taskroute_upstream_fallbacks_total Proxy requests retried on the fallback model.\n"
            "# TYPE taskroute_upstream_fallbacks_total counter\n"
            "taskroute_upstream_fallbacks_total %lu\n", atomic_load(&m->fallbacks));
    tr_prom_put(&t, "# HELP taskroute_upstream_answers_total Upstream 2xx answers read by the proxy, by what they were.\n"
            "# TYPE taskroute_upstream_answers_total counter\n"
            "taskroute_upstream_answers_total{result=\"ok\"} %lu\n"
            "taskroute_upstream_answers_total{result=\"error_object\"} %lu\n"
            "taskroute_upstream_answers_total{result=\"malformed\"} %lu\n"
            "# HELP taskroute_upstream_tokens_total Tokens upstream answers report in their usage.\n"
            "# TYPE taskroute_upstream_tokens_total counter\n"
            "taskroute_upstream_tokens_total{kind=\"prompt\"} %lu\n"
            "taskroute_upstream_tokens_total{kind=\"completion\"} %lu\n",
        atomic_load(&m->answers[TR_ANSWER_OK]), atomic_load(&m->answers[TR_ANSWER_ERROR]),
        atomic_load(&m->answers[TR_ANSWER_MALFORMED]), atomic_load(&m->tokens_prompt),
        atomic_load(&m->tokens_completion));
    tr_prom_put(&t, "# HELP taskroute_online_decisions_total Decisions made by online mode (serve --online) since start.\n"
            "# TYPE taskroute_online_decisions_total counter\n"
            "taskroute_online_decisions_total %lu\n"
            "# HELP taskroute_online_explorations_total Online decisions that explored (differ from the exploit choice).\n"
            "# TYPE taskroute_online_explorations_total counter\n"
            "taskroute_online_explorations_total %lu\n"
            "# HELP taskroute_online_updates_total Feedback that updated the online posteriors.\n"
            "# TYPE taskroute_online_updates_total counter\n"
            "taskroute_online_updates_total %lu\n",
        atomic_load(&m->online_decisions), atomic_load(&m->online_explored), atomic_load(&m->online_updates));
    tr_prom_put(&t, "# HELP taskroute_inflight_requests Requests being served now.\n"
            "# TYPE taskroute_inflight_requests gauge\n"
            "taskroute_inflight_requests %ld\n", atomic_load(&m->inflight));
    tr_prom_put(&t, "# HELP taskroute_router_generation Router loads since start (1 = the first).\n"
            "# TYPE taskroute_router_generation gauge\n"
            "taskroute_router_generation %lu\n", atomic_load(&m->generation));
    if (t.failed) { tr_free(t.p); return TR_ENOMEM; }
    *out = t.p;
    *len = t.len;
    return TR_OK;
}
