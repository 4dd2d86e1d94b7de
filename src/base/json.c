/* See json.h. */
#include "base/json.h"

#include <math.h>
#include <string.h>

#include "base/util.h"

cJSON *tr_json_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

char *tr_json_print(const cJSON *j)
{
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    char *out = p ? tr_strdup(p) : NULL;
    cJSON_free(p);
    return out;
}

char *tr_json_quote(const char *s)
{
    cJSON *j = cJSON_CreateString(s ? s : "");
    char *out = tr_json_print(j);
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

/* Append s to the growing text, separated by '\n'.  0 ok, -1 no memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s), need = *len + n + 2;
    if (need > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < need) c *= 2;
        char *p = tr_realloc(*buf, c);
        if (!p) return -1;
        *buf = p;
        *cap = c;
    }
    if (*len) (*buf)[(*len)++] = '\n';
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

static int chat_text(const cJSON *msgs, char **out, size_t *len, char *err, size_t errlen)
{
    if (!cJSON_IsArray(msgs)) return tr_errorf(err, errlen, TR_EFORMAT, "\"messages\" must be an array of objects");
    if (cJSON_GetArraySize(msgs) == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "\"messages\" is empty");
    size_t cap = 0;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role))
            return tr_errorf(err, errlen, TR_EFORMAT, "messages[%d] must be an object with a string \"role\"", i);
        int use = !strcmp(role->valuestring, "user") || !strcmp(role->valuestring, "system") ||
                  !strcmp(role->valuestring, "developer");
        if (cJSON_IsString(content)) {
            if (use && append(out, len, &cap, content->valuestring))
                return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        } else if (cJSON_IsArray(content)) {
            const cJSON *part;
            int j = 0;
            cJSON_ArrayForEach(part, content) {
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
                const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
                if (!cJSON_IsObject(part) || !cJSON_IsString(type))
                    return tr_errorf(err, errlen, TR_EFORMAT,
                                     "messages[%d].content[%d] must be an object with a string \"type\"", i, j);
                if (!strcmp(type->valuestring, "text")) {
                    if (!cJSON_IsString(text))
                        return tr_errorf(err, errlen, TR_EFORMAT, "messages[%d].content[%d].text must be a string",
                                         i, j);
                    if (use && append(out, len, &cap, text->valuestring))
                        return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
                }
                j++;
            }
        } else if (content && !cJSON_IsNull(content)) {
            return tr_errorf(err, errlen, TR_EFORMAT, "messages[%d].content must be a string or an array of parts", i);
        }
        i++;
    }
    return TR_OK;
}

int tr_json_chat_text(const cJSON *msgs, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    int rc = chat_text(msgs, out, len, err, errlen);
    if (rc) {
        tr_free(*out);
        *out = NULL;
        *len = 0;
    }
    return rc;
}
