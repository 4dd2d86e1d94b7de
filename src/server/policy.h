/* Which policy a request is routed under, and the names clients pick it by.
 *
 * `serve --policy SPEC` sets the server's default; SPEC is one of
 *   default          the router's own default: the best single model's
 *                    quality at the least cost (tr_router_default_policy)
 *   quality          the best predicted quality, cost ignored
 *   cheap            the cheapest model (λ = +inf)
 *   lambda=L         maximise quality - L x cost (L >= 0, quality points per USD)
 *   budget=USD       mean cost per request about USD (λ from the router's table)
 *   tolerance=T      the cheapest model within T of the best predicted quality
 *   risk=A           the cheapest model whose misrouting risk stays <= A
 *
 * Clients pick a policy per request by the "model" field: "taskroute" (the
 * server's default), "taskroute:<SPEC>" for any SPEC above (e.g.
 * "taskroute:quality", "taskroute:lambda=200"), and "taskroute:cascade"
 * (the verified cascade: server/cascade_run.h; `serve --policy cascade`
 * makes it the default).
 * The table of names is here and nowhere else: a new policy is a row. */
#ifndef TR_SERVER_POLICY_H
#define TR_SERVER_POLICY_H

#include <stddef.h>

#include "taskroute.h"

enum tr_policy_kind {
    TR_POLICY_ROUTER_DEFAULT = 0,   /* resolved per router: tr_router_default_policy */
    TR_POLICY_FIXED = 1,            /* mode and value as given */
};

typedef struct tr_policy {
    int kind;
    tr_select_mode mode;
    double value;
    int cascade;                    /* asked for "taskroute:cascade" */
    char name[80];                  /* as the client or the option named it, e.g. "taskroute:lambda=200" */
} tr_policy;

/* Parse a SPEC (see above) into *out, named name_prefix + SPEC.  0, or -1
 * with msg saying what is accepted. */
int tr_policy_parse(const char *spec, tr_policy *out, char *msg, size_t msglen);

/* Read a request's "model": 1 when it names a policy ("taskroute" is
 * server_default, renamed), *out set; 0 when it is not ours (a real model
 * name, or no name); -1 with msg when it starts with "taskroute:" but is
 * not a policy. */
int tr_policy_from_model(const char *model, const tr_policy *server_default, tr_policy *out, char *msg,
                         size_t msglen);

/* The route options of p on router r (mode and value only; opt->allowed is
 * left).  Returns 1 when p is the router's default and the router file has
 * none (quality mode is used), else 0. */
int tr_policy_options(const tr_policy *p, const tr_router *r, tr_route_options *opt);

/* Names "GET /v1/models" lists as virtual models, NULL-terminated. */
extern const char *const tr_policy_model_names[];

/* A static name of mode m ("lambda", "budget", ...). */
const char *tr_policy_mode_name(tr_select_mode m);

#endif
