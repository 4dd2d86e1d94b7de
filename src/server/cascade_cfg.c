/* Reading the cascade's settings (cascade_cfg.h). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "server/cascade_cfg.h"
#include "upstream/verify.h"

void tr_cascade_cfg_default(tr_cascade_cfg *c)
{
    c->tolerance = 0.05;
    c->from_router = 0;
    c->threshold = 0.5;
    c->max_steps = 3;
    c->k = 4;
    c->verifier[0] = 0;
}

static int num(const cJSON *j, const char *key, double lo, double hi, double *out, const char *path, char *msg,
               size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        snprintf(msg, msglen, "%s: field '%s' must be a number in [%g, %g]", path, key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int tr_cascade_cfg_load(const char *path, tr_cascade_cfg *c, char *msg, size_t msglen)
{
    tr_cascade_cfg_default(c);
    /* a few settings: a small file */
    static const size_t cap = 65536;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msglen, "%s: cannot open", path);
        return -1;
    }
    char *text = tr_malloc(cap);
    size_t len = text ? fread(text, 1, cap, f) : 0;
    fclose(f);
    if (!text || len == cap) {
        int oom = !text;
        tr_free(text);
        snprintf(msg, msglen, oom ? "%s: out of memory" : "%s: larger than 64 KiB", path);
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    tr_free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(msg, msglen, "%s: not a JSON object", path);
        return -1;
    }
    double steps = c->max_steps, k = c->k;
    int rc = num(j, "tolerance", 0, 1, &c->tolerance, path, msg, msglen) ||
             num(j, "threshold", 0, 1, &c->threshold, path, msg, msglen) ||
             num(j, "max_steps", 1, 16, &steps, path, msg, msglen) ||
             num(j, "k", 1, TR_VERIFY_MAX_K, &k, path, msg, msglen) ? -1 : 0;
    c->max_steps = (int)steps;
    c->k = (int)k;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "start");
    if (!rc && st) {
        if (!cJSON_IsString(st) || (strcmp(st->valuestring, "router") && strcmp(st->valuestring, "tolerance"))) {
            snprintf(msg, msglen, "%s: field 'start' must be \"router\" or \"tolerance\"", path);
            rc = -1;
        } else {
            c->from_router = !strcmp(st->valuestring, "router");
        }
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verifier");
    if (!rc && v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof c->verifier) {
            snprintf(msg, msglen, "%s: field 'verifier' must be a model name (a string) or null", path);
            rc = -1;
        } else {
            snprintf(c->verifier, sizeof c->verifier, "%s", v->valuestring);
        }
    }
    cJSON_Delete(j);
    return rc;
}
