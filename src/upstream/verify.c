/* The self-verification request and the reading of its confidence
 * (verify.h). */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/util.h"
#include "upstream/verify.h"

char *tr_verify_body(const char *question, const char *answer, const char *upstream_model, int k)
{
    if (k < 1) k = 1;
    if (k > TR_VERIFY_MAX_K) k = TR_VERIFY_MAX_K;
    size_t n = strlen(question) + strlen(answer) + sizeof TR_VERIFY_INSTRUCTION + 128;
    char *text = tr_malloc(n);
    if (!text) return NULL;
    snprintf(text, n, "Question:\n<<<\n%s\n>>>\n\nProposed answer:\n<<<\n%s\n>>>\n\n%s", question, answer,
             TR_VERIFY_INSTRUCTION);
    cJSON *o = cJSON_CreateObject();
    cJSON *msgs = o ? cJSON_AddArrayToObject(o, "messages") : NULL;
    cJSON *m = cJSON_CreateObject();
    int ok = msgs && m && cJSON_AddItemToArray(msgs, m);
    if (!ok) cJSON_Delete(m);
    ok = ok && cJSON_AddStringToObject(m, "role", "user") && cJSON_AddStringToObject(m, "content", text) &&
         cJSON_AddStringToObject(o, "model", upstream_model) && cJSON_AddNumberToObject(o, "n", k) &&
         cJSON_AddNumberToObject(o, "temperature", 1) && cJSON_AddNumberToObject(o, "max_tokens", 4);
    tr_free(text);
    char *out = ok ? tr_json_print(o) : NULL;
    cJSON_Delete(o);
    return out;
}

/* 1 yes, 0 no, -1 neither: the first word of s, case folded. */
static int vote(const char *s)
{
    while (*s && !isalpha((unsigned char)*s)) s++;
    size_t n = 0;
    while (isalpha((unsigned char)s[n])) n++;
    if ((n == 3 && !strncasecmp(s, "yes", 3)) || (n == 7 && !strncasecmp(s, "correct", 7))) return 1;
    if ((n == 2 && !strncasecmp(s, "no", 2)) || (n == 9 && !strncasecmp(s, "incorrect", 9))) return 0;
    return -1;
}

/* P(yes) / (P(yes) + P(no)) from the first token's top log-probabilities
 * of choice ch; NaN when it has none that says yes or no. */
static double logprob_confidence(const cJSON *ch)
{
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(lp, "content");
    const cJSON *first = cJSON_IsArray(content) ? cJSON_GetArrayItem(content, 0) : NULL;
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(first, "top_logprobs");
    if (!cJSON_IsArray(top)) return NAN;
    double py = 0, pn = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, top) {
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(t, "token");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "logprob");
        if (!cJSON_IsString(tok) || !cJSON_IsNumber(l) || !isfinite(l->valuedouble)) continue;
        int v = vote(tok->valuestring);
        if (v == 1) py += exp(l->valuedouble);
        if (v == 0) pn += exp(l->valuedouble);
    }
    return py + pn > 0 ? py / (py + pn) : NAN;
}

int tr_verify_confidence(const char *body, size_t len, double *conf, int *votes, char *err, size_t errlen)
{
    *conf = NAN;
    *votes = 0;
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    if (!j) {
        snprintf(err, errlen, "verifier answer: not JSON");
        return TR_EFORMAT;
    }
    int rc = TR_EFORMAT;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (e && !cJSON_IsNull(e)) {
        snprintf(err, errlen, "verifier answer: the provider answered with an error object");
    } else if (!cJSON_IsArray(choices) || !cJSON_GetArraySize(choices)) {
        snprintf(err, errlen, "verifier answer: field 'choices' missing or empty");
    } else {
        double lp = logprob_confidence(cJSON_GetArrayItem(choices, 0));
        if (!isnan(lp)) {
            *conf = lp;
            rc = TR_OK;
        } else {
            int yes = 0, n = 0;
            const cJSON *ch;
            cJSON_ArrayForEach(ch, choices) {
                const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
                if (!cJSON_IsString(c)) continue;
                int v = vote(c->valuestring);
                if (v < 0) continue;
                yes += v;
                n++;
            }
            if (n) {
                *conf = (double)yes / n;
                *votes = n;
                rc = TR_OK;
            } else {
                snprintf(err, errlen, "verifier answer: no choice says yes or no (field 'choices[].message.content')");
            }
        }
    }
    cJSON_Delete(j);
    return rc;
}

typedef struct vctx {
    const char *question, *answer;
    int k;
} vctx;

static char *make_verify_body(void *ctx, const char *upstream_model)
{
    vctx *v = ctx;
    return tr_verify_body(v->question, v->answer, upstream_model, v->k);
}

int tr_verify_run(tr_upstream_client *c, const tr_upstream_call *call_template, int verifier, const char *question,
                  const char *answer, int k, tr_upstream_result *res, double *conf, char *err, size_t errlen)
{
    vctx v = {question, answer, k};
    tr_upstream_call call = *call_template;
    call.candidates = &verifier;
    call.n_candidates = 1;
    call.make_body = make_verify_body;
    call.body_ctx = &v;
    call.stream = 0;
    call.on_start = NULL;
    call.on_data = NULL;
    *conf = NAN;
    int rc = tr_upstream_client_call(c, &call, res);
    if (rc) {
        snprintf(err, errlen, "verifier call: %s", res->message[0] ? res->message : "failed");
        return rc;
    }
    if (res->outcome != TR_UPSTREAM_ANSWERED || res->status < 200 || res->status >= 300) {
        snprintf(err, errlen, "verifier call failed: %s", res->message[0] ? res->message : "no 2xx answer");
        return TR_EIO;
    }
    int votes;
    return tr_verify_confidence(res->body, res->len, conf, &votes, err, errlen);
}
