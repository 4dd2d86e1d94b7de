/* What the router's config says beyond its parts: the default policy
 * training estimated ("default_policy") and the prices each model was
 * trained at ("reference_prices"), plus the cost scale a server sets from
 * its own prices.  The config is JSON text saved as is, so these survive a
 * save and a reopen without a section of their own. */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "router/router.h"

/* Replace r->config_json with j printed (j not freed).  TR_OK or TR_ENOMEM. */
static int config_replace(tr_router *r, const cJSON *j)
{
    char *copy = tr_json_print(j);
    if (!copy) return TR_ENOMEM;
    tr_free(r->config_json);
    r->config_json = copy;
    return TR_OK;
}

static cJSON *config_parse(const tr_router *r)
{
    cJSON *j = r->config_json ? cJSON_Parse(r->config_json) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }
    return j;
}

int tr_router_config_extras(tr_router *r)
{
    r->has_default = 0;
    if (!r->config_json) return TR_OK;
    cJSON *j = cJSON_Parse(r->config_json);
    if (!j) return TR_OK;
    const cJSON *dp = cJSON_GetObjectItemCaseSensitive(j, "default_policy");
    if (cJSON_IsObject(dp)) {
        tr_policy_estimate e;
        e.lambda = tr_json_get_num(dp, "lambda");
        e.quality = tr_json_get_num(dp, "quality");
        e.cost = tr_json_get_num(dp, "cost");
        e.best_quality = tr_json_get_num(dp, "best_quality");
        e.best_cost = tr_json_get_num(dp, "best_cost");
        e.best_model = tr_router_find_model(r, tr_json_get_str(dp, "best_model", ""));
        if (isfinite(e.lambda) && e.lambda >= 0) {
            r->default_policy = e;
            r->has_default = 1;
        }
    }
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "reference_prices");
    if (cJSON_IsObject(rp) && r->n_models) {
        if (!r->ref_price && !(r->ref_price = tr_mallocarray(r->n_models * 2, sizeof *r->ref_price))) {
            cJSON_Delete(j);
            return TR_ENOMEM;
        }
        for (size_t i = 0; i < 2 * r->n_models; i++) r->ref_price[i] = NAN;
        for (const cJSON *e = rp->child; e; e = e->next) {
            int m = tr_router_find_model(r, e->string);
            double in = tr_json_get_num(e, "input_per_mtok"), out = tr_json_get_num(e, "output_per_mtok");
            if (m < 0 || !(in >= 0) || !(out >= 0) || !isfinite(in) || !isfinite(out) || in + out <= 0) continue;
            r->ref_price[2 * m] = in;
            r->ref_price[2 * m + 1] = out;
        }
    }
    cJSON_Delete(j);
    return TR_OK;
}

int tr_router_store_default(tr_router *r, const tr_policy_estimate *est)
{
    cJSON *j = config_parse(r);
    cJSON *dp = cJSON_CreateObject();
    if (!j || !dp) { cJSON_Delete(j); cJSON_Delete(dp); return TR_ENOMEM; }
    cJSON_AddStringToObject(dp, "mode", "lambda");
    cJSON_AddItemToObject(dp, "lambda", tr_json_num(est->lambda));
    cJSON_AddItemToObject(dp, "quality", tr_json_num(est->quality));
    cJSON_AddItemToObject(dp, "cost", tr_json_num(est->cost));
    const char *best = tr_router_model_name(r, est->best_model >= 0 ? (size_t)est->best_model : r->n_models);
    cJSON_AddStringToObject(dp, "best_model", best ? best : "");
    cJSON_AddItemToObject(dp, "best_quality", tr_json_num(est->best_quality));
    cJSON_AddItemToObject(dp, "best_cost", tr_json_num(est->best_cost));
    cJSON_AddStringToObject(dp, "basis", "out-of-fold predictions on the training rows: the least mean cost "
                                         "whose mean quality reaches the best single model's");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "default_policy");
    cJSON_AddItemToObject(j, "default_policy", dp);
    int rc = config_replace(r, j);
    cJSON_Delete(j);
    if (rc) return rc;
    return tr_router_config_extras(r);
}

int tr_router_default_policy(const tr_router *r, tr_route_options *opt, tr_policy_estimate *est)
{
    if (!r || !opt) return TR_EINVAL;
    if (!r->has_default || !r->heads) {
        opt->mode = TR_SELECT_QUALITY;
        opt->value = 0;
        if (est) {
            est->lambda = est->quality = est->cost = est->best_quality = est->best_cost = NAN;
            est->best_model = -1;
        }
        return TR_ENOTFOUND;
    }
    opt->mode = TR_SELECT_LAMBDA;
    opt->value = r->default_policy.lambda;
    if (est) *est = r->default_policy;
    return TR_OK;
}

int tr_router_set_reference_price(tr_router *r, size_t m, double input_per_mtok, double output_per_mtok,
                                  char *err, size_t errlen)
{
    if (!r || m >= r->n_models) return tr_errorf(err, errlen, TR_EINVAL, "reference price: no model %zu", m);
    if (!(input_per_mtok >= 0) || !(output_per_mtok >= 0) || !isfinite(input_per_mtok) ||
        !isfinite(output_per_mtok) || input_per_mtok + output_per_mtok <= 0)
        return tr_errorf(err, errlen, TR_EINVAL,
                         "reference price of %s: input %g and output %g USD per Mtok must be finite, >= 0 and "
                         "not both 0", r->models[m], input_per_mtok, output_per_mtok);
    cJSON *j = config_parse(r);
    if (!j) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "reference_prices");
    if (!cJSON_IsObject(rp)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "reference_prices");
        rp = cJSON_AddObjectToObject(j, "reference_prices");
    }
    cJSON *e = cJSON_CreateObject();
    if (!rp || !e) { cJSON_Delete(j); cJSON_Delete(e); return tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); }
    cJSON_AddNumberToObject(e, "input_per_mtok", input_per_mtok);
    cJSON_AddNumberToObject(e, "output_per_mtok", output_per_mtok);
    cJSON_DeleteItemFromObjectCaseSensitive(rp, r->models[m]);
    cJSON_AddItemToObject(rp, r->models[m], e);
    int rc = config_replace(r, j);
    cJSON_Delete(j);
    if (!rc) rc = tr_router_config_extras(r);
    return rc ? tr_errorf(err, errlen, rc, "out of memory") : TR_OK;
}

int tr_router_reference_price(const tr_router *r, size_t m, double *input_per_mtok, double *output_per_mtok)
{
    if (!r || m >= r->n_models || !r->ref_price || isnan(r->ref_price[2 * m])) return TR_ENOTFOUND;
    if (input_per_mtok) *input_per_mtok = r->ref_price[2 * m];
    if (output_per_mtok) *output_per_mtok = r->ref_price[2 * m + 1];
    return TR_OK;
}

int tr_router_set_cost_scale(tr_router *r, size_t m, double scale)
{
    if (!r || m >= r->n_models || !isfinite(scale) || !(scale > 0)) return TR_EINVAL;
    if (!r->cost_scale) {
        if (scale == 1) return TR_OK;
        if (!(r->cost_scale = tr_mallocarray(r->n_models, sizeof *r->cost_scale))) return TR_ENOMEM;
        for (size_t i = 0; i < r->n_models; i++) r->cost_scale[i] = 1.0f;
    }
    r->cost_scale[m] = (float)scale;
    return TR_OK;
}
