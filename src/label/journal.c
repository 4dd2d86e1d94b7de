/* The resume journal's lines (journal.h). */
#include "label/journal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

void tr_journal_entry_free(tr_journal_entry *e)
{
    if (!e) return;
    tr_free(e->id);
    tr_free(e->model);
    tr_free(e->answer);
    tr_free(e->verifier);
    memset(e, 0, sizeof *e);
}

static int tokens(const cJSON *o, const char *k, long long *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < -1 || v->valuedouble > 1e15)
        return tr_errorf(err, errlen, TR_EFORMAT, "field '%s': expected a whole number >= -1", k);
    *out = (long long)v->valuedouble;
    return TR_OK;
}

/* A number >= 0, or null (NaN) when nullable. */
static int amount(const cJSON *o, const char *k, int nullable, double *out, double hi, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (nullable && cJSON_IsNull(v)) { *out = NAN; return TR_OK; }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= hi))
        return tr_errorf(err, errlen, TR_EFORMAT, "field '%s': expected a number in [0, %g]%s", k, hi,
                         nullable ? " or null" : "");
    *out = v->valuedouble;
    return TR_OK;
}

int tr_journal_parse(const char *line, size_t len, tr_journal_entry *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->usd = out->score = out->confidence = NAN;
    out->prompt_tokens = out->completion_tokens = -1;
    cJSON *o = cJSON_ParseWithLength(line, len);
    int rc = TR_OK;
    if (!cJSON_IsObject(o)) { rc = tr_errorf(err, errlen, TR_EFORMAT, "expected a JSON object"); goto fail; }
    const char *kind = tr_json_get_str(o, "kind", "");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *m = cJSON_GetObjectItemCaseSensitive(o, "model");
    if (!strcmp(kind, "answer")) out->kind = TR_JOURNAL_ANSWER;
    else if (!strcmp(kind, "score")) out->kind = TR_JOURNAL_SCORE;
    else if (!strcmp(kind, "verify")) out->kind = TR_JOURNAL_VERIFY;
    else { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'kind': expected \"answer\", \"score\" or \"verify\""); goto fail; }
    if (!cJSON_IsString(id) || !id->valuestring[0]) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'id': expected a non-empty string"); goto fail; }
    if (!cJSON_IsString(m) || !m->valuestring[0]) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'model': expected a non-empty string"); goto fail; }
    if (!(out->id = tr_strdup(id->valuestring)) || !(out->model = tr_strdup(m->valuestring))) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        goto fail;
    }
    if (out->kind == TR_JOURNAL_ANSWER) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "answer");
        const cJSON *est = cJSON_GetObjectItemCaseSensitive(o, "estimated");
        if (!cJSON_IsString(a)) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'answer': expected a string"); goto fail; }
        if (!cJSON_IsBool(est)) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'estimated': expected true or false"); goto fail; }
        if ((rc = tokens(o, "prompt_tokens", &out->prompt_tokens, err, errlen)) ||
            (rc = tokens(o, "completion_tokens", &out->completion_tokens, err, errlen)) ||
            (rc = amount(o, "usd", 0, &out->usd, 1e9, err, errlen)))
            goto fail;
        out->estimated = cJSON_IsTrue(est);
        if (!(out->answer = tr_strdup(a->valuestring))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    } else if (out->kind == TR_JOURNAL_VERIFY) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "verifier"), *k = cJSON_GetObjectItemCaseSensitive(o, "k");
        if (!cJSON_IsString(v) || !v->valuestring[0]) { rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'verifier': expected a non-empty string"); goto fail; }
        if (!cJSON_IsNumber(k) || !(k->valuedouble >= 1 && k->valuedouble <= 1000) || k->valuedouble != floor(k->valuedouble)) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'k': expected a whole number in [1, 1000]");
            goto fail;
        }
        out->k = (int)k->valuedouble;
        if ((rc = amount(o, "confidence", 1, &out->confidence, 1, err, errlen)) ||
            (rc = amount(o, "usd", 0, &out->usd, 1e9, err, errlen)))
            goto fail;
        if (!(out->verifier = tr_strdup(v->valuestring))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    } else {
        const char *by = tr_json_get_str(o, "by", "");
        if (strcmp(by, "judge") && strcmp(by, "scorer")) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "field 'by': expected \"judge\" or \"scorer\"");
            goto fail;
        }
        snprintf(out->by, sizeof out->by, "%s", by);
        if ((rc = amount(o, "score", 1, &out->score, 1, err, errlen)) || (rc = amount(o, "usd", 1, &out->usd, 1e9, err, errlen)))
            goto fail;
    }
    cJSON_Delete(o);
    return TR_OK;
fail:
    cJSON_Delete(o);
    tr_journal_entry_free(out);
    return rc;
}

char *tr_journal_format(const tr_journal_entry *e, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *kind = e->kind == TR_JOURNAL_ANSWER ? "answer" : e->kind == TR_JOURNAL_VERIFY ? "verify" : "score";
    int ok = cJSON_AddStringToObject(o, "kind", kind) &&
             cJSON_AddStringToObject(o, "id", e->id) && cJSON_AddStringToObject(o, "model", e->model);
    if (ok && e->kind == TR_JOURNAL_ANSWER) {
        ok = cJSON_AddStringToObject(o, "answer", e->answer ? e->answer : "") &&
             cJSON_AddNumberToObject(o, "prompt_tokens", (double)e->prompt_tokens) &&
             cJSON_AddNumberToObject(o, "completion_tokens", (double)e->completion_tokens) &&
             cJSON_AddItemToObject(o, "usd", tr_json_num(e->usd)) &&
             cJSON_AddBoolToObject(o, "estimated", e->estimated);
    } else if (ok && e->kind == TR_JOURNAL_VERIFY) {
        ok = cJSON_AddStringToObject(o, "verifier", e->verifier ? e->verifier : "") &&
             cJSON_AddNumberToObject(o, "k", e->k) && cJSON_AddItemToObject(o, "confidence", tr_json_num(e->confidence)) &&
             cJSON_AddItemToObject(o, "usd", tr_json_num(e->usd));
    } else if (ok) {
        ok = cJSON_AddStringToObject(o, "by", e->by) && cJSON_AddItemToObject(o, "score", tr_json_num(e->score)) &&
             cJSON_AddItemToObject(o, "usd", tr_json_num(e->usd));
    }
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *line = tr_malloc(n + 2);
    if (line) {
        memcpy(line, s, n);
        line[n] = '\n';
        line[n + 1] = 0;
        *len = n + 1;
    }
    cJSON_free(s);
    return line;
}

int tr_journal_scan(const char *buf, size_t len, const char *name, int (*fn)(void *ctx, const tr_journal_entry *e),
                    void *ctx, size_t *good, int *torn, char *err, size_t errlen)
{
    size_t pos = 0, lineno = 0;
    *good = 0;
    *torn = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        lineno++;
        int blank = 1;
        for (size_t i = pos; i < end && blank; i++) blank = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r';
        if (!blank) {
            tr_journal_entry e;
            char why[256];
            int rc = nl ? tr_journal_parse(buf + pos, end - pos, &e, why, sizeof why) : TR_EFORMAT;
            if (rc == TR_ENOMEM) return tr_errorf(err, errlen, rc, "%s:%zu: out of memory", name, lineno);
            if (rc) {
                /* the last line of a killed run may be cut anywhere */
                if (!nl || end + 1 >= len) { *torn = 1; return TR_OK; }
                return tr_errorf(err, errlen, TR_EFORMAT, "%s:%zu: %s", name, lineno, why);
            }
            rc = fn ? fn(ctx, &e) : TR_OK;
            tr_journal_entry_free(&e);
            if (rc) return rc;
        } else if (!nl) {
            *torn = end > pos;
            return TR_OK;
        }
        pos = end + 1;
        *good = pos;
    }
    return TR_OK;
}
