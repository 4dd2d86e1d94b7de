/* Reading upstream chat answers, whole or streamed (see upstream/answer.h
 * for the shapes and the rules). */
#include "upstream/answer.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* ------------------------------------------------------------ growing text */

typedef struct text {
    char *p;
    size_t len, cap, max;
} text;

static int text_add(text *t, const char *s, size_t n)
{
    if (n > t->max - t->len) return TR_ERANGE;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        if (cap > t->max + 1) cap = t->max + 1;
        char *p = tr_realloc(t->p, cap);
        if (!p) return TR_ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
    return TR_OK;
}

/* ---------------------------------------------------------------- fields */

/* Copy s into dst (cap bytes), cut at a UTF-8 boundary, controls as spaces:
 * these go to logs and headers. */
static void copy_clean(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    for (size_t i = 0; i < n; i++) dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    dst[n] = 0;
}

static const char *kind(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "something else";
}

/* An optional string field of obj into dst; absent or null leaves dst. */
static int opt_string(const cJSON *obj, const char *key, const char *where, char *dst, size_t cap, char *err,
                      size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return TR_OK;
    if (!cJSON_IsString(v))
        return tr_errorf(err, errlen, TR_EFORMAT, "%s%s: expected a string, got %s", where, key, kind(v));
    copy_clean(dst, cap, v->valuestring);
    return TR_OK;
}

static int read_usage(const cJSON *root, tr_upstream_answer *a, char *err, size_t errlen)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (!u || cJSON_IsNull(u)) return TR_OK;
    if (!cJSON_IsObject(u)) return tr_errorf(err, errlen, TR_EFORMAT, "usage: expected an object, got %s", kind(u));
    static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
    long long *dst[] = {&a->prompt_tokens, &a->completion_tokens, &a->total_tokens};
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, keys[k]);
        if (!v || cJSON_IsNull(v)) continue;
        if (!cJSON_IsNumber(v))
            return tr_errorf(err, errlen, TR_EFORMAT, "usage.%s: expected a number, got %s", keys[k], kind(v));
        double d = v->valuedouble;
        if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
            return tr_errorf(err, errlen, TR_ERANGE, "usage.%s: %g is not a whole number of tokens", keys[k], d);
        *dst[k] = (long long)d;
    }
    a->has_usage = 1;
    return TR_OK;
}

/* {"error": {...}} or {"error": "text"}; also a bare error object (an SSE
 * "event: error" may carry one).  1 when root was an error, 0 not, < 0 a
 * status. */
static int read_error(const cJSON *root, int bare, tr_upstream_answer *a, char *err, size_t errlen)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!e && bare) e = root;
    if (!e || cJSON_IsNull(e)) return 0;
    a->has_error = 1;
    if (cJSON_IsString(e)) {
        copy_clean(a->error_message, sizeof a->error_message, e->valuestring);
        return 1;
    }
    if (!cJSON_IsObject(e))
        return tr_errorf(err, errlen, TR_EFORMAT, "error: expected an object or a string, got %s", kind(e));
    int rc;
    if ((rc = opt_string(e, "message", "error.", a->error_message, sizeof a->error_message, err, errlen)) ||
        (rc = opt_string(e, "type", "error.", a->error_type, sizeof a->error_type, err, errlen)))
        return rc;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    if (cJSON_IsString(code))
        copy_clean(a->error_code, sizeof a->error_code, code->valuestring);
    else if (cJSON_IsNumber(code))
        snprintf(a->error_code, sizeof a->error_code, "%.0f", code->valuedouble);
    else if (code && !cJSON_IsNull(code))
        return tr_errorf(err, errlen, TR_EFORMAT, "error.code: expected a string or a number, got %s", kind(code));
    return 1;
}

/* A content value: a string, null, or an array of parts whose text parts
 * are appended. */
static int add_content(const cJSON *c, const char *where, text *out, char *err, size_t errlen)
{
    if (!c || cJSON_IsNull(c)) return TR_OK;
    int rc = TR_OK;
    if (cJSON_IsString(c)) {
        rc = text_add(out, c->valuestring, strlen(c->valuestring));
    } else if (cJSON_IsArray(c)) {
        int i = 0;
        for (const cJSON *part = c->child; part && !rc; part = part->next, i++) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (!cJSON_IsObject(part))
                return tr_errorf(err, errlen, TR_EFORMAT, "%s[%d]: expected an object, got %s", where, i, kind(part));
            if (cJSON_IsString(type) && strcmp(type->valuestring, "text")) continue;
            if (!cJSON_IsString(t))
                return tr_errorf(err, errlen, TR_EFORMAT, "%s[%d].text: expected a string, got %s", where, i,
                                 t ? kind(t) : "nothing");
            rc = text_add(out, t->valuestring, strlen(t->valuestring));
        }
    } else {
        return tr_errorf(err, errlen, TR_EFORMAT, "%s: expected a string, an array of parts or null, got %s", where,
                         kind(c));
    }
    if (rc == TR_ERANGE)
        return tr_errorf(err, errlen, rc, "%s: the content is longer than %u bytes", where, TR_ANSWER_MAX_CONTENT);
    if (rc) return tr_errorf(err, errlen, rc, "out of memory");
    return TR_OK;
}

/* The first choice of a whole answer (message or legacy text) or of a
 * stream chunk (delta). */
static int read_choice(const cJSON *root, int chunk, tr_upstream_answer *a, text *content, char *err, size_t errlen)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!choices || cJSON_IsNull(choices)) {
        if (chunk) return TR_OK;   /* e.g. the usage-only last chunk */
        return tr_errorf(err, errlen, TR_EFORMAT, "neither \"choices\" nor \"error\" in the answer");
    }
    if (!cJSON_IsArray(choices))
        return tr_errorf(err, errlen, TR_EFORMAT, "choices: expected an array, got %s", kind(choices));
    const cJSON *c0 = choices->child;
    if (!c0) {
        if (chunk) return TR_OK;
        return tr_errorf(err, errlen, TR_EFORMAT, "choices: empty");
    }
    if (!cJSON_IsObject(c0)) return tr_errorf(err, errlen, TR_EFORMAT, "choices[0]: expected an object, got %s", kind(c0));
    int rc = opt_string(c0, "finish_reason", "choices[0].", a->finish_reason, sizeof a->finish_reason, err, errlen);
    if (rc) return rc;
    const char *key = chunk ? "delta" : "message";
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c0, key);
    if (!m || cJSON_IsNull(m)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c0, "text");   /* legacy completions */
        if (t) return add_content(t, "choices[0].text", content, err, errlen);
        if (chunk) return TR_OK;
        return tr_errorf(err, errlen, TR_EFORMAT, "choices[0]: neither \"message\" nor \"text\"");
    }
    if (!cJSON_IsObject(m))
        return tr_errorf(err, errlen, TR_EFORMAT, "choices[0].%s: expected an object, got %s", key, kind(m));
    return add_content(cJSON_GetObjectItemCaseSensitive(m, "content"),
                       chunk ? "choices[0].delta.content" : "choices[0].message.content", content, err, errlen);
}

/* One JSON document: a whole answer, or one stream event's data. */
static int read_doc(const char *s, size_t n, int chunk, int error_event, tr_upstream_answer *a, text *content,
                    char *err, size_t errlen)
{
    size_t bad = tr_utf8_invalid_at((const unsigned char *)s, n);
    if (bad < n) return tr_errorf(err, errlen, TR_EFORMAT, "invalid UTF-8 at byte %zu", bad);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!root) {
        size_t at = end && end >= s ? (size_t)(end - s) : 0;
        return tr_errorf(err, errlen, TR_EFORMAT, "malformed JSON near byte %zu", at);
    }
    int rc = TR_OK;
    for (size_t at = (size_t)(end - s); at < n; at++)
        if (!strchr(" \t\r\n", s[at]) || !s[at]) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "trailing bytes after the JSON value at byte %zu", at);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "expected a JSON object, got %s", kind(root));
        goto done;
    }
    int e = read_error(root, error_event, a, err, errlen);
    if (e < 0) { rc = e; goto done; }
    if ((rc = opt_string(root, "model", "", a->model, sizeof a->model, err, errlen))) goto done;
    if ((rc = read_usage(root, a, err, errlen))) goto done;
    if (!e) rc = read_choice(root, chunk, a, content, err, errlen);
done:
    cJSON_Delete(root);
    return rc;
}

static void answer_init(tr_upstream_answer *a)
{
    memset(a, 0, sizeof *a);
    a->prompt_tokens = a->completion_tokens = a->total_tokens = -1;
}

void tr_upstream_answer_free(tr_upstream_answer *a)
{
    if (!a) return;
    tr_free(a->content);
    answer_init(a);
}

int tr_upstream_answer_parse(const char *body, size_t len, tr_upstream_answer *out, char *err, size_t errlen)
{
    answer_init(out);
    if (!body || !len) return tr_errorf(err, errlen, TR_EFORMAT, "empty answer");
    text content = {NULL, 0, 0, TR_ANSWER_MAX_CONTENT};
    int rc = read_doc(body, len, 0, 0, out, &content, err, errlen);
    if (rc) {
        tr_free(content.p);
        answer_init(out);
        return rc;
    }
    out->content = content.p;
    out->content_len = content.len;
    return TR_OK;
}

/* ---------------------------------------------------------------- streams */

struct tr_upstream_stream {
    tr_upstream_answer a;
    text content;
    text line;              /* the line being read */
    text data;              /* this event's data lines, joined by \n */
    int has_data;
    int error_event;        /* "event: error" */
    int skip_lf;            /* the last byte was a CR: a LF next is its pair */
    int failed;
    char why[512];
};

int tr_upstream_stream_new(tr_upstream_stream **out)
{
    tr_upstream_stream *s = tr_calloc(1, sizeof *s);
    *out = s;
    if (!s) return TR_ENOMEM;
    answer_init(&s->a);
    s->content.max = TR_ANSWER_MAX_CONTENT;
    s->line.max = TR_ANSWER_MAX_LINE;
    s->data.max = TR_ANSWER_MAX_LINE;
    return TR_OK;
}

void tr_upstream_stream_free(tr_upstream_stream *s)
{
    if (!s) return;
    tr_free(s->content.p);
    tr_free(s->line.p);
    tr_free(s->data.p);
    tr_free(s);
}

static int dispatch(tr_upstream_stream *s, char *err, size_t errlen)
{
    int rc = TR_OK;
    if (s->has_data) {
        const char *d = s->data.p ? s->data.p : "";
        size_t n = s->data.len;
        s->a.events++;
        if (n == 6 && !memcmp(d, "[DONE]", 6)) {
            s->a.done = 1;
        } else if (!s->a.done) {
            char why[400];
            rc = read_doc(d, n, 1, s->error_event, &s->a, &s->content, why, sizeof why);
            if (rc) tr_errorf(err, errlen, rc, "event %zu: %s", s->a.events, why);
        }
    }
    s->data.len = 0;
    s->has_data = 0;
    s->error_event = 0;
    return rc;
}

/* One complete line of the stream (without its end). */
static int line(tr_upstream_stream *s, const char *l, size_t n, char *err, size_t errlen)
{
    if (n == 0) return dispatch(s, err, errlen);
    if (l[0] == ':') return TR_OK;   /* a comment: keep-alive */
    const char *colon = memchr(l, ':', n);
    size_t kl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = colon ? n - kl - 1 : 0;
    if (vl && *v == ' ') { v++; vl--; }
    if (kl == 4 && !memcmp(l, "data", 4)) {
        int rc = TR_OK;
        if (s->has_data) rc = text_add(&s->data, "\n", 1);
        if (!rc) rc = text_add(&s->data, v, vl);
        s->has_data = 1;
        if (rc == TR_ERANGE) return tr_errorf(err, errlen, rc, "an event longer than %u bytes", TR_ANSWER_MAX_LINE);
        if (rc) return tr_errorf(err, errlen, rc, "out of memory");
    } else if (kl == 5 && !memcmp(l, "event", 5)) {
        s->error_event = vl == 5 && !memcmp(v, "error", 5);
    }
    return TR_OK;   /* id:, retry:, unknown fields: ignored, as the SSE rules say */
}

static int spoil(tr_upstream_stream *s, int rc, const char *err)
{
    s->failed = rc;
    snprintf(s->why, sizeof s->why, "%s", err);
    return rc;
}

int tr_upstream_stream_feed(tr_upstream_stream *s, const char *bytes, size_t n, char *err, size_t errlen)
{
    if (s->failed) return tr_errorf(err, errlen, s->failed, "%s", s->why);
    char why[512];
    for (size_t i = 0; i < n; i++) {
        char c = bytes[i];
        if (s->skip_lf) {
            s->skip_lf = 0;
            if (c == '\n') continue;
        }
        if (c == '\r' || c == '\n') {
            s->skip_lf = c == '\r';
            int rc = line(s, s->line.p ? s->line.p : "", s->line.len, why, sizeof why);
            s->line.len = 0;
            if (rc) return tr_errorf(err, errlen, spoil(s, rc, why), "%s", why);
            continue;
        }
        /* a run of ordinary bytes at once */
        size_t j = i;
        while (j < n && bytes[j] != '\r' && bytes[j] != '\n') j++;
        int rc = text_add(&s->line, bytes + i, j - i);
        if (rc) {
            snprintf(why, sizeof why, rc == TR_ERANGE ? "a line longer than %u bytes" : "out of memory",
                     TR_ANSWER_MAX_LINE);
            return tr_errorf(err, errlen, spoil(s, rc, why), "%s", why);
        }
        i = j - 1;
    }
    return TR_OK;
}

int tr_upstream_stream_finish(tr_upstream_stream *s, tr_upstream_answer *out, char *err, size_t errlen)
{
    answer_init(out);
    if (s->failed) return tr_errorf(err, errlen, s->failed, "%s", s->why);
    char why[512];
    int rc = TR_OK;
    if (s->line.len) rc = line(s, s->line.p, s->line.len, why, sizeof why);
    s->line.len = 0;
    if (!rc) rc = dispatch(s, why, sizeof why);
    if (rc) return tr_errorf(err, errlen, spoil(s, rc, why), "%s", why);
    *out = s->a;
    out->content = s->content.p;
    out->content_len = s->content.len;
    s->content.p = NULL;
    s->content.len = s->content.cap = 0;
    answer_init(&s->a);
    return TR_OK;
}
