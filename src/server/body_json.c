/* Parsing and validation of request bodies (see body_json.h for the
 * contract and what a request is routed on). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/api_error.h"
#include "server/body_json.h"
#include "base/json.h"
#include "base/util.h"

#define MAX_NAME 256

static int bad(int *api_err, char *msg, size_t msglen, int e, const char *fmt, ...) TR_PRINTF(5, 6);
static int bad(int *api_err, char *msg, size_t msglen, int e, const char *fmt, ...)
{
    *api_err = e;
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* Parse the whole body as one JSON value: trailing bytes other than white
 * space are an error, as is a body that is not an object. */
static cJSON *parse_object(const char *body, size_t len, int *api_err, char *msg, size_t msglen)
{
    if (!body || len == 0) {
        bad(api_err, msg, msglen, TR_API_BAD_JSON, "empty body: expected a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t off = end && end >= body ? (size_t)(end - body) : 0;
        bad(api_err, msg, msglen, TR_API_BAD_JSON, "malformed JSON near byte %zu", off);
        return NULL;
    }
    size_t off = (size_t)(end - body);
    while (off < len && strchr(" \t\r\n", body[off]) && body[off]) off++;
    if (off < len) {
        cJSON_Delete(root);
        bad(api_err, msg, msglen, TR_API_BAD_JSON, "trailing bytes after the JSON value at byte %zu", off);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        bad(api_err, msg, msglen, TR_API_BAD_JSON, "the body must be a JSON object");
        return NULL;
    }
    /* cJSON keeps every copy of a repeated key and hands out the first, an
     * upstream's parser may take the last: a key we read must appear once,
     * or we would route one request and forward another */
    static const char *const read_keys[] = {"prompt", "messages", "model", "stream", "taskroute", "lambda", "budget",
                                            "tolerance", "risk", "models", "request_id", "score", "fallback",
                                            "cache"};
    enum { N_KEYS = sizeof read_keys / sizeof read_keys[0] };
    int count[N_KEYS] = {0};
    for (const cJSON *c = root->child; c; c = c->next)
        for (int k = 0; k < N_KEYS; k++)
            if (!strcmp(c->string, read_keys[k]) && ++count[k] > 1) {
                cJSON_Delete(root);
                bad(api_err, msg, msglen, TR_API_BAD_JSON, "\"%s\" appears twice in the body", read_keys[k]);
                return NULL;
            }
    return root;
}

static int all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n\f\v", s[i])) return 0;
    return 1;
}

/* The prompt of a chat request: the one rule base/json.h keeps. */
static int join_messages(const cJSON *msgs, tr_route_req *out, int *api_err, char *msg, size_t msglen)
{
    tr_free(out->prompt);
    int rc = tr_json_chat_text(msgs, &out->prompt, &out->prompt_len, msg, msglen);
    if (rc) {
        *api_err = rc == TR_ENOMEM ? TR_API_INTERNAL : rc == TR_ETOOFEW ? TR_API_EMPTY_PROMPT : TR_API_BAD_FIELD;
        return 1;
    }
    out->from_messages = 1;
    return 0;
}

/* The selection knob: at most one of lambda, budget, tolerance, risk. */
static int parse_mode(const cJSON *obj, const char *where, tr_route_req *out, int *api_err,
                      char *msg, size_t msglen)
{
    static const struct { const char *key; tr_select_mode mode; double lo, hi; int lo_open; } knobs[] = {
        {"lambda", TR_SELECT_LAMBDA, 0, 1e12, 0},
        {"budget", TR_SELECT_BUDGET, 0, 1e12, 1},
        {"tolerance", TR_SELECT_TOLERANCE, 0, 1e12, 0},
        {"risk", TR_SELECT_RISK, 0, 1, 1},
    };
    const char *seen = NULL;
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, knobs[k].key);
        if (!v || cJSON_IsNull(v)) continue;
        if (seen)
            return bad(api_err, msg, msglen, TR_API_BAD_FIELD,
                       "%sgive at most one of lambda, budget, tolerance, risk (got %s and %s)",
                       where, seen, knobs[k].key);
        seen = knobs[k].key;
        double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!cJSON_IsNumber(v) || !isfinite(x) || x > knobs[k].hi ||
            (knobs[k].lo_open ? x <= knobs[k].lo : x < knobs[k].lo))
            return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "%s\"%s\" must be a number in %s%g, %g]",
                       where, knobs[k].key, knobs[k].lo_open ? "(" : "[", knobs[k].lo, knobs[k].hi);
        out->opt.mode = knobs[k].mode;
        out->opt.value = x;
        out->knob_set = 1;
    }
    return 0;
}

/* A flag of ours, key: true | false | null; false clears *flag. */
static int parse_flag(const cJSON *obj, const char *key, const char *where, int *flag, int *api_err, char *msg,
                      size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v))
        return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "%s\"%s\" must be true or false", where, key);
    if (cJSON_IsFalse(v)) *flag = 0;
    return 0;
}

static int parse_models(const cJSON *obj, const char *where, size_t n_models, tr_model_lookup_fn find,
                        void *ctx, tr_route_req *out, int *api_err, char *msg, size_t msglen)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(obj, "models");
    if (!models || cJSON_IsNull(models)) return 0;
    if (!cJSON_IsArray(models))
        return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "%s\"models\" must be an array of model names", where);
    if (cJSON_GetArraySize(models) == 0)
        return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "%s\"models\" is empty: name at least one model", where);
    out->allowed = tr_calloc(n_models ? n_models : 1, 1);
    if (!out->allowed) return bad(api_err, msg, msglen, TR_API_INTERNAL, "out of memory");
    out->n_models = n_models;
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, models) {
        if (!cJSON_IsString(m))
            return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "%s\"models\"[%d] must be a string", where, i);
        int idx = find(ctx, m->valuestring);
        if (idx < 0 || (size_t)idx >= n_models)
            return bad(api_err, msg, msglen, TR_API_UNKNOWN_MODEL, "unknown model '%.200s' in %s\"models\"",
                       m->valuestring, where);
        out->allowed[idx] = 1;
        i++;
    }
    out->opt.allowed = out->allowed;
    return 0;
}

int tr_route_req_parse(const char *body, size_t len, int chat, size_t n_models,
                       tr_model_lookup_fn find, void *ctx, tr_route_req *out,
                       int *api_err, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    tr_route_options_default(&out->opt);
    out->fallback = 1;
    out->cache = 1;
    out->root = parse_object(body, len, api_err, msg, msglen);
    if (!out->root) return 1;
    const cJSON *root = out->root;
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    const cJSON *knobs = root;
    const char *where = "";

    if (chat) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
        if (model && !cJSON_IsNull(model) && !cJSON_IsString(model)) {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"model\" must be a string");
            goto fail;
        }
        out->model_field = cJSON_IsString(model) ? model->valuestring : NULL;
        const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
        if (stream && !cJSON_IsNull(stream) && !cJSON_IsBool(stream)) {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"stream\" must be true or false");
            goto fail;
        }
        out->stream = cJSON_IsTrue(stream);
        if (!messages) {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"messages\" is required");
            goto fail;
        }
        knobs = cJSON_GetObjectItemCaseSensitive(root, "taskroute");
        where = "taskroute.";
        if (knobs && !cJSON_IsNull(knobs) && !cJSON_IsObject(knobs)) {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"taskroute\" must be an object");
            goto fail;
        }
        if (!cJSON_IsObject(knobs)) knobs = NULL;
        if (parse_flag(root, "fallback", "", &out->fallback, api_err, msg, msglen)) goto fail;
        if (knobs && parse_flag(knobs, "fallback", where, &out->fallback, api_err, msg, msglen)) goto fail;
        if (parse_flag(root, "cache", "", &out->cache, api_err, msg, msglen)) goto fail;
        if (knobs && parse_flag(knobs, "cache", where, &out->cache, api_err, msg, msglen)) goto fail;
        if (join_messages(messages, out, api_err, msg, msglen)) goto fail;
    } else {
        if (prompt && messages) {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "give \"prompt\" or \"messages\", not both");
            goto fail;
        }
        if (prompt) {
            if (!cJSON_IsString(prompt)) {
                bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"prompt\" must be a string");
                goto fail;
            }
            out->prompt_len = strlen(prompt->valuestring);
            out->prompt = tr_strndup(prompt->valuestring, out->prompt_len);
            if (!out->prompt) {
                bad(api_err, msg, msglen, TR_API_INTERNAL, "out of memory");
                goto fail;
            }
        } else if (messages) {
            if (join_messages(messages, out, api_err, msg, msglen)) goto fail;
        } else {
            bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"prompt\" (a string) or \"messages\" is required");
            goto fail;
        }
    }
    if (!out->prompt || all_space(out->prompt, out->prompt_len)) {
        bad(api_err, msg, msglen, TR_API_EMPTY_PROMPT,
            out->from_messages ? "no user or system text in \"messages\" to route on"
                               : "\"prompt\" is empty");
        goto fail;
    }
    if (knobs) {
        if (parse_mode(knobs, where, out, api_err, msg, msglen)) goto fail;
        if (parse_models(knobs, where, n_models, find, ctx, out, api_err, msg, msglen)) goto fail;
    }
    return 0;
fail:
    tr_route_req_free(out);
    return 1;
}

void tr_route_req_free(tr_route_req *r)
{
    if (!r) return;
    cJSON_Delete(r->root);
    tr_free(r->prompt);
    tr_free(r->allowed);
    memset(r, 0, sizeof *r);
}

char *tr_route_req_upstream_body(tr_route_req *r, const char *upstream_model)
{
    cJSON *m = cJSON_CreateString(upstream_model);
    if (!m) return NULL;
    /* exact names: cJSON_HasObjectItem ignores case, and "Model" is not
     * the field an upstream reads */
    if (cJSON_GetObjectItemCaseSensitive(r->root, "model")) {
        cJSON_ReplaceItemInObjectCaseSensitive(r->root, "model", m);
    } else if (!cJSON_AddItemToObject(r->root, "model", m)) {
        cJSON_Delete(m);
        return NULL;
    }
    r->model_field = NULL; /* the old string is gone */
    cJSON_DeleteItemFromObjectCaseSensitive(r->root, "taskroute");
    if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r->root, "fallback")))
        cJSON_DeleteItemFromObjectCaseSensitive(r->root, "fallback");
    if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r->root, "cache")))
        cJSON_DeleteItemFromObjectCaseSensitive(r->root, "cache");
    return tr_json_print(r->root);
}

static int name_field(const cJSON *root, const char *key, const char **out, int *api_err, char *msg,
                      size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"%s\" is required", key);
    if (!cJSON_IsString(v)) return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"%s\" must be a string", key);
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > MAX_NAME)
        return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"%s\" must have 1 to %d bytes", key, MAX_NAME);
    /* cJSON passes raw bytes through, and the logs these go to are JSONL */
    size_t at = tr_utf8_invalid_at((const unsigned char *)v->valuestring, n);
    if (at < n)
        return bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"%s\" must be UTF-8 (a bad byte at offset %zu)", key, at);
    *out = v->valuestring;
    return 0;
}

int tr_feedback_req_parse(const char *body, size_t len, tr_feedback_req *out,
                          int *api_err, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    out->root = parse_object(body, len, api_err, msg, msglen);
    if (!out->root) return 1;
    if (name_field(out->root, "request_id", &out->request_id, api_err, msg, msglen) ||
        name_field(out->root, "model", &out->model, api_err, msg, msglen))
        goto fail;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(out->root, "score");
    if (!s) {
        bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"score\" is required");
        goto fail;
    }
    if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble) || s->valuedouble < 0 || s->valuedouble > 1) {
        bad(api_err, msg, msglen, TR_API_BAD_FIELD, "\"score\" must be a number in [0, 1]");
        goto fail;
    }
    out->score = s->valuedouble;
    return 0;
fail:
    tr_feedback_req_free(out);
    return 1;
}

void tr_feedback_req_free(tr_feedback_req *r)
{
    if (!r) return;
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}
