/* See json.h. */
#include "base/json.h"

#include <math.h>

#include "base/util.h"

cJSON *tr_json_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

char *tr_json_quote(const char *s)
{
    cJSON *j = cJSON_CreateString(s ? s : "");
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    char *out = p ? tr_strdup(p) : NULL;
    cJSON_free(p);
    cJSON_Delete(j);
    return out;
}

double tr_json_get_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *tr_json_get_str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}
