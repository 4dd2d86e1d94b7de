/* The table of client-visible errors and their JSON bodies (see
 * api_error.h).  cJSON builds the body so messages that quote user input
 * (a model name, a field) are always escaped correctly. */
#include <cJSON.h>

#include "server/api_error.h"
#include "base/util.h"

static const struct { int status; const char *type, *code; } rows[] = {
#define TR_X_(name, status, type, code) {status, type, code},
    TR_API_ERROR_TABLE(TR_X_)
#undef TR_X_
};

int tr_api_error_status(int e)
{
    return e >= 0 && e < TR_API_ERROR_COUNT ? rows[e].status : 500;
}

const char *tr_api_error_code(int e)
{
    return e >= 0 && e < TR_API_ERROR_COUNT ? rows[e].code : "internal_error";
}

const char *tr_api_error_type(int e)
{
    return e >= 0 && e < TR_API_ERROR_COUNT ? rows[e].type : "server_error";
}

char *tr_api_error_json(int e, const char *msg)
{
    char *out = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *err = root ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (!err) goto fail;
    if (!cJSON_AddStringToObject(err, "message", msg ? msg : "") ||
        !cJSON_AddStringToObject(err, "type", tr_api_error_type(e)) ||
        !cJSON_AddStringToObject(err, "code", tr_api_error_code(e)))
        goto fail;
    char *s = cJSON_PrintUnformatted(root);
    if (!s) goto fail;
    /* Re-home the string on our allocator so every caller frees with tr_free. */
    out = tr_strdup(s);
    cJSON_free(s);
fail:
    cJSON_Delete(root);
    return out;
}
