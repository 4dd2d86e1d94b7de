/* Server counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * Every counter is a C11 atomic bumped with relaxed ordering: the hot path
 * takes no lock.  Models and tasks change with each router reload, so their
 * counters live in name-keyed slots: a reload interns its names once (under a
 * mutex, off the hot path) and the request path then bumps slot[i] directly.
 * Counters survive reloads; a name seen in any router keeps its slot. */
#ifndef TR_SERVER_METRICS_H
#define TR_SERVER_METRICS_H

#include <stddef.h>

enum tr_endpoint {
    TR_EP_ROUTE, TR_EP_CHAT, TR_EP_FEEDBACK, TR_EP_HEALTHZ, TR_EP_METRICS,
    TR_EP_RELOAD, TR_EP_MODELS, TR_EP_OTHER, TR_EP_COUNT
};

/* Label of an endpoint, e.g. "/v1/route".  Static string. */
const char *tr_endpoint_label(int ep);

enum tr_metrics_kind { TR_METRICS_MODEL = 0, TR_METRICS_TASK = 1, TR_METRICS_KEY = 2, TR_METRICS_KINDS = 3 };

#define TR_METRICS_MAX_NAMES 1024  /* per kind; further names share "_other" */

typedef struct tr_metrics tr_metrics;

/* *out owned by the caller: tr_metrics_free.  TR_OK or TR_ENOMEM. */
int tr_metrics_new(tr_metrics **out);
void tr_metrics_free(tr_metrics *m);

/* One finished request: endpoint, HTTP status, wall time in seconds. */
void tr_metrics_request(tr_metrics *m, int endpoint, int status, double seconds);
/* One client-visible error (an enum tr_api_error value). */
void tr_metrics_error(tr_metrics *m, int api_error);
/* The slot of a model or task name, creating it if new (takes a mutex: call
 * at reload, not per request).  name borrowed.  Never fails: when the table
 * is full or memory runs out, the shared "_other" slot is returned. */
int tr_metrics_intern(tr_metrics *m, int kind, const char *name);
/* One routing decision, by slots from tr_metrics_intern. */
void tr_metrics_decision(tr_metrics *m, int model_slot, int task_slot, int ood);
/* One request admitted with an inbound key (its TR_METRICS_KEY slot). */
void tr_metrics_key_request(tr_metrics *m, int key_slot);
/* One answer's usage: tokens (< 0: not given), its USD and what the same
 * tokens would have cost on the best single model (NaN: unknown, then no
 * saving is counted); key_slot -1 when no key was asked for. */
void tr_metrics_usage(tr_metrics *m, int key_slot, long long prompt_tokens, long long completion_tokens, double usd,
                      double baseline_usd);
void tr_metrics_reload(tr_metrics *m, int ok);
void tr_metrics_fallback(tr_metrics *m);
/* One 2xx upstream answer as the proxy read it (upstream/answer.h): a
 * regular answer, the provider's error object, or malformed; and the tokens
 * its "usage" gives (< 0: not given). */
enum tr_answer_result { TR_ANSWER_OK, TR_ANSWER_ERROR, TR_ANSWER_MALFORMED, TR_ANSWER_RESULTS };
void tr_metrics_upstream_answer(tr_metrics *m, int result, long long prompt_tokens, long long completion_tokens);
/* Online mode: one decision (explored = 1 when it differs from the exploit
 * choice); one feedback that updated the posteriors. */
void tr_metrics_online_decision(tr_metrics *m, int explored);
void tr_metrics_online_update(tr_metrics *m);
/* In-flight requests gauge. */
void tr_metrics_inflight_add(tr_metrics *m, int delta);
long tr_metrics_inflight(const tr_metrics *m);
void tr_metrics_set_generation(tr_metrics *m, unsigned long gen);

/* The exposition text.  *out owned by the caller: tr_free; *len its length.
 * TR_OK or TR_ENOMEM. */
int tr_metrics_format(tr_metrics *m, char **out, size_t *len);

#endif
