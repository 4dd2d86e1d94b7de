/* See json_text.h. */
#include "base/json_text.h"

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
