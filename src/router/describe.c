/* tr_router_describe: a router as JSON for `inspect` and /healthz. */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "router/router.h"

int tr_router_describe(const tr_router *r, char **json, char *err, size_t errlen)
{
    if (!json) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_describe: json is NULL");
    *json = NULL;
    if (!r) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_describe: r is NULL");
    cJSON *j = cJSON_CreateObject();
    cJSON *conf = cJSON_Parse(r->config_json ? r->config_json : "{}");
    cJSON_AddItemToObject(j, "config", conf ? conf : cJSON_CreateObject());
    cJSON_AddBoolToObject(j, "has_heads", r->heads != NULL);
    cJSON_AddNumberToObject(j, "dim", (double)r->dim);
    cJSON_AddItemToObject(j, "ood_threshold", r->ood.calibrated ? cJSON_CreateNumber(r->ood.threshold) : cJSON_CreateNull());
    cJSON *models = cJSON_AddArrayToObject(j, "models");
    for (size_t m = 0; m < r->n_models; m++) cJSON_AddItemToArray(models, cJSON_CreateString(r->models[m]));
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    const tr_tasks *t = &r->tasks;
    for (size_t k = 0; k < t->n_tasks; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", t->ids[k]);
        cJSON_AddStringToObject(o, "name", t->names[k]);
        cJSON_AddStringToObject(o, "slug", t->slugs[k]);
        cJSON_AddBoolToObject(o, "renamed", (t->flags[k] & TR_TASK_NAMED) != 0);
        cJSON_AddNumberToObject(o, "size", t->sizes[k]);
        if (t->n_models) {
            cJSON *q = cJSON_AddObjectToObject(o, "quality"), *c = cJSON_AddObjectToObject(o, "cost");
            int best = -1;
            for (size_t m = 0; m < t->n_models; m++) {
                float qv = t->quality[k * t->n_models + m];
                cJSON_AddItemToObject(q, r->models[m], tr_json_num(qv));
                cJSON_AddItemToObject(c, r->models[m], tr_json_num(t->cost[k * t->n_models + m]));
                if (!isnan(qv) && (best < 0 || qv > t->quality[k * t->n_models + (size_t)best])) best = (int)m;
            }
            if (best >= 0) cJSON_AddStringToObject(o, "best_model", r->models[best]);
        }
        cJSON_AddItemToArray(tasks, o);
    }
    cJSON *secs = cJSON_AddArrayToObject(j, "sections");
    for (size_t i = 0; i < r->n_sections; i++) {
        char tag[5];
        for (int b = 0; b < 4; b++) {
            char ch = (char)(r->sec_tag[i] >> (8 * b));
            tag[b] = (ch >= 32 && ch < 127) ? ch : '?';
        }
        tag[4] = 0;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "tag", tag);
        cJSON_AddNumberToObject(s, "bytes", (double)r->sec_len[i]);
        cJSON_AddItemToArray(secs, s);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return tr_errorf(err, errlen, TR_ENOMEM, "describe: out of memory");
    *json = tr_strdup(s);
    cJSON_free(s);
    return *json ? TR_OK : tr_errorf(err, errlen, TR_ENOMEM, "describe: out of memory");
}
