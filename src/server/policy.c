/* Policies and their names (see policy.h). */
#include "server/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tr_policy_model_names[] = {"taskroute", "taskroute:quality", "taskroute:cheap",
                                             "taskroute:cascade", NULL};

/* One row per knob: the parametric policies. */
static const struct {
    const char *key;
    tr_select_mode mode;
    double lo, hi;
    int lo_open;
    const char *unit;
} knobs[] = {
    {"lambda", TR_SELECT_LAMBDA, 0, 1e12, 0, "quality points per USD"},
    {"budget", TR_SELECT_BUDGET, 0, 1e12, 1, "USD per request"},
    {"tolerance", TR_SELECT_TOLERANCE, 0, 1, 0, "quality points"},
    {"risk", TR_SELECT_RISK, 0, 1, 1, "misrouting probability"},
};

const char *tr_policy_mode_name(tr_select_mode m)
{
    switch (m) {
    case TR_SELECT_LAMBDA: return "lambda";
    case TR_SELECT_TOLERANCE: return "tolerance";
    case TR_SELECT_BUDGET: return "budget";
    case TR_SELECT_RISK: return "risk";
    case TR_SELECT_QUALITY: return "quality";
    }
    return "lambda";
}

int tr_policy_parse(const char *spec, tr_policy *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    out->mode = TR_SELECT_LAMBDA;
    snprintf(out->name, sizeof out->name, "%s", spec);
    if (!strcmp(spec, "default")) { out->kind = TR_POLICY_ROUTER_DEFAULT; return 0; }
    if (!strcmp(spec, "cascade")) {   /* the cascade, with the router's default as plain routing */
        out->kind = TR_POLICY_ROUTER_DEFAULT;
        out->cascade = 1;
        return 0;
    }
    out->kind = TR_POLICY_FIXED;
    if (!strcmp(spec, "quality")) { out->mode = TR_SELECT_QUALITY; return 0; }
    if (!strcmp(spec, "cheap")) { out->mode = TR_SELECT_LAMBDA; out->value = INFINITY; return 0; }
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        size_t kl = strlen(knobs[k].key);
        if (strncmp(spec, knobs[k].key, kl) || spec[kl] != '=') continue;
        char *end;
        double x = strtod(spec + kl + 1, &end);
        if (end == spec + kl + 1 || *end || !isfinite(x) || x > knobs[k].hi ||
            (knobs[k].lo_open ? x <= knobs[k].lo : x < knobs[k].lo)) {
            snprintf(msg, msglen, "'%.80s': %s wants a number in %s%g, %g] (%s)", spec, knobs[k].key,
                     knobs[k].lo_open ? "(" : "[", knobs[k].lo, knobs[k].hi, knobs[k].unit);
            return -1;
        }
        out->mode = knobs[k].mode;
        out->value = x;
        return 0;
    }
    snprintf(msg, msglen, "'%.80s' is not a policy: use default, quality, cheap, lambda=L, budget=USD, "
                          "tolerance=T, risk=A or cascade", spec);
    return -1;
}

int tr_policy_from_model(const char *model, const tr_policy *server_default, tr_policy *out, char *msg,
                         size_t msglen)
{
    if (!model || strncmp(model, "taskroute", 9)) return 0;
    if (!model[9]) {
        *out = *server_default;
        snprintf(out->name, sizeof out->name, "taskroute");
        return 1;
    }
    if (model[9] != ':') return 0;
    const char *spec = model + 10;
    if (!strcmp(spec, "cascade")) {
        /* plain routing under the server's default policy is the cascade's
         * fallback when the verifier fails */
        *out = *server_default;
        out->cascade = 1;
        snprintf(out->name, sizeof out->name, "taskroute:cascade");
        return 1;
    }
    char why[200];
    if (tr_policy_parse(spec, out, why, sizeof why)) {
        snprintf(msg, msglen, "model '%.80s' names no policy: %s (or taskroute, taskroute:cascade; GET /v1/models "
                              "lists them)", model, why);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%.79s", model);
    return 1;
}

int tr_policy_options(const tr_policy *p, const tr_router *r, tr_route_options *opt)
{
    if (p->kind == TR_POLICY_ROUTER_DEFAULT) return tr_router_default_policy(r, opt, NULL) != TR_OK;
    opt->mode = p->mode;
    opt->value = p->value;
    return 0;
}
