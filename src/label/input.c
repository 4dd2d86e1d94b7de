/* The reader of label's input lines (input.h). */
#include "label/input.h"

#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

void tr_label_item_free(tr_label_item *it)
{
    if (!it) return;
    tr_free(it->id);
    tr_free(it->prompt);
    tr_free(it->messages);
    tr_free(it->reference);
    tr_free(it->task);
    memset(it, 0, sizeof *it);
}

/* The prompt of a chat line: the server's rule (base/json.h), so a
 * decision log's prompts and fresh ones read alike. */
static int join_messages(const cJSON *msgs, char **out, char *err, size_t errlen)
{
    size_t len;
    char why[256];
    int rc = tr_json_chat_text(msgs, out, &len, why, sizeof why);
    return rc ? tr_errorf(err, errlen, rc == TR_ENOMEM ? TR_ENOMEM : TR_EFORMAT, "field %s", why) : TR_OK;
}

/* A string, or a whole number printed without a fraction. */
static char *id_text(const cJSON *v)
{
    if (cJSON_IsString(v) && v->valuestring[0]) return tr_strdup(v->valuestring);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
        fabs(v->valuedouble) < 9e15) {
        char b[32];
        snprintf(b, sizeof b, "%.0f", v->valuedouble);
        return tr_strdup(b);
    }
    return NULL;
}

int tr_label_item_parse(const char *line, size_t len, const char *ref_field, tr_label_item *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (tr_utf8_invalid_at((const unsigned char *)line, len) < len)
        return tr_errorf(err, errlen, TR_EFORMAT, "the line is not valid UTF-8");
    cJSON *root = cJSON_ParseWithLength(line, len);
    int rc = TR_OK;
    if (!cJSON_IsObject(root)) { rc = tr_errorf(err, errlen, TR_EFORMAT, "expected a JSON object"); goto fail; }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (msgs && !cJSON_IsNull(msgs)) {
        if ((rc = join_messages(msgs, &out->prompt, err, errlen))) goto fail;
        if (!(out->messages = tr_json_print(msgs))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
        if (!out->prompt) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'messages': no user text"); goto fail; }
    } else if (cJSON_IsString(p)) {
        if (!p->valuestring[0]) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'prompt': empty"); goto fail; }
        if (!(out->prompt = tr_strdup(p->valuestring))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    } else {
        rc = tr_errorf(err, errlen, TR_EFORMAT, p ? "field 'prompt': expected a string" : "no 'prompt' or 'messages' field");
        goto fail;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!id || cJSON_IsNull(id)) id = cJSON_GetObjectItemCaseSensitive(root, "request_id");
    if (id && !cJSON_IsNull(id)) {
        if (!(out->id = id_text(id))) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "field '%s': expected a non-empty string or a whole number", id->string);
            goto fail;
        }
    } else {
        char b[24];
        snprintf(b, sizeof b, "p%016" PRIx64, tr_fnv1a64(out->prompt, strlen(out->prompt)));
        if (!(out->id = tr_strdup(b))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    }
    if (ref_field) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, ref_field);
        if (cJSON_IsString(r)) {
            out->reference = tr_strdup(r->valuestring);
        } else if (cJSON_IsNumber(r)) {
            char b[40];
            snprintf(b, sizeof b, "%.17g", r->valuedouble);
            out->reference = tr_strdup(b);
        } else if (cJSON_IsBool(r)) {
            out->reference = tr_strdup(cJSON_IsTrue(r) ? "true" : "false");
        } else if (r && !cJSON_IsNull(r)) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "field '%s' (the reference): expected a string, number or boolean",
                           ref_field);
            goto fail;
        }
        if (r && !cJSON_IsNull(r) && !out->reference) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "task");
    if (cJSON_IsString(t) && !(out->task = tr_strdup(t->valuestring))) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        goto fail;
    }
    cJSON_Delete(root);
    return TR_OK;
fail:
    cJSON_Delete(root);
    tr_label_item_free(out);
    return rc;
}
