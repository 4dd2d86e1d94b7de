/* One request's verified cascade (cascade_run.h). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "server/cascade_run.h"
#include "upstream/answer.h"
#include "upstream/verify.h"

static const char *name_of(const tr_proxy_request *pr, int e)
{
    return e >= 0 && (size_t)e < pr->table->n ? pr->table->u[e].name : "?";
}

static void add_usage(tr_cascade_result *out, const tr_upstream_result *r)
{
    if (r->prompt_tokens > 0) out->prompt_tokens += r->prompt_tokens;
    if (r->completion_tokens > 0) out->completion_tokens += r->completion_tokens;
    out->calls++;
}

static void note_model(tr_cascade_result *out, const char *name)
{
    size_t l = strlen(out->chain);
    snprintf(out->chain + l, sizeof out->chain - l, "%s%s", l ? "," : "", name);
}

/* A whole 2xx answer that reads as one. */
static int answered(int rc, const tr_upstream_result *r)
{
    return !rc && r->outcome == TR_UPSTREAM_ANSWERED && !r->streamed && r->status >= 200 && r->status < 300 &&
           r->read_kind == TR_READ_OK && r->body;
}

static int call_one(tr_upstream_client *c, const tr_upstream_call *tmpl, int entry, tr_upstream_result *r)
{
    tr_upstream_call call = *tmpl;
    call.candidates = &entry;
    call.n_candidates = 1;
    call.stream = 0;
    call.on_start = NULL;
    call.on_data = NULL;
    return tr_upstream_client_call(c, &call, r);
}

int tr_answer_body_set_usage(char **body, size_t *len, long long pt, long long ct)
{
    cJSON *j = cJSON_ParseWithLength(*body, *len);
    if (!cJSON_IsObject(j)) { cJSON_Delete(j); return TR_EFORMAT; }
    cJSON *u = cJSON_CreateObject();
    if (u && cJSON_AddNumberToObject(u, "prompt_tokens", (double)pt) &&
        cJSON_AddNumberToObject(u, "completion_tokens", (double)ct) &&
        cJSON_AddNumberToObject(u, "total_tokens", (double)(pt + ct))) {
        if (cJSON_GetObjectItemCaseSensitive(j, "usage")) cJSON_ReplaceItemInObjectCaseSensitive(j, "usage", u);
        else cJSON_AddItemToObject(j, "usage", u);
        u = NULL;
    }
    cJSON_Delete(u);
    char *b = tr_json_print(j);
    cJSON_Delete(j);
    if (!b) return TR_ENOMEM;
    tr_free(*body);
    *body = b;
    *len = strlen(b);
    return TR_OK;
}

int tr_cascade_run(tr_upstream_client *c, const tr_upstream_call *tmpl, const tr_proxy_request *pr,
                   void (*account)(void *ctx, const tr_upstream_result *r), void *ctx, tr_cascade_result *out)
{
    memset(out, 0, sizeof *out);
    out->confidence = NAN;
    out->outcome = TR_CASCADE_ACCEPTED;
    if (!pr->n_chain) return TR_EINVAL;
    const char *question = pr->req.prompt ? pr->req.prompt : "";
    tr_upstream_result cur;
    int rc = TR_OK, have = 0;
    for (size_t s = 0; s < pr->n_chain; s++) {
        if (s && tmpl->cancelled && tmpl->cancelled(tmpl->sink_ctx)) break;
        int m = pr->chain[s];
        if (have) tr_upstream_result_free(&cur);
        rc = call_one(c, tmpl, m, &cur);
        have = 1;
        account(ctx, &cur);
        add_usage(out, &cur);
        note_model(out, name_of(pr, m));
        if (rc) break;
        if (s > 0) out->outcome = TR_CASCADE_ESCALATED;
        if (!answered(rc, &cur)) continue;       /* a failed model: the next one answers */
        if (s + 1 == pr->n_chain) break;         /* the last allowed model is not verified */
        if (pr->threshold <= 0) break;           /* nor what would be accepted anyway */
        tr_upstream_answer a;
        char err[256];
        double conf = NAN;
        int vrc = tr_upstream_answer_parse(cur.body, cur.len, &a, err, sizeof err);
        if (!vrc) {
            tr_upstream_result vr;
            int verifier = pr->verifier_up >= 0 ? pr->verifier_up : m;
            vrc = tr_verify_run(c, tmpl, verifier, question, a.content ? a.content : "", pr->k, &vr, &conf, err,
                                sizeof err);
            account(ctx, &vr);
            add_usage(out, &vr);
            tr_upstream_result_free(&vr);
            tr_upstream_answer_free(&a);
        }
        if (vrc) {
            out->outcome = TR_CASCADE_FALLBACK;
            if (pr->plain_up != m && pr->plain_up >= 0) {
                tr_upstream_result_free(&cur);
                rc = call_one(c, tmpl, pr->plain_up, &cur);
                account(ctx, &cur);
                add_usage(out, &cur);
                note_model(out, name_of(pr, pr->plain_up));
            }
            break;
        }
        out->confidence = conf;
        if (conf >= pr->threshold) break;
    }
    if (!have) return rc ? rc : TR_EINVAL;
    /* it read as an answer, so it parses: only memory can fail, and then
     * the last call's own usage stands */
    if (answered(rc, &cur)) (void)tr_answer_body_set_usage(&cur.body, &cur.len, out->prompt_tokens, out->completion_tokens);
    out->res = cur;
    return rc;
}
