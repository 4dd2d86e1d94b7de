/* The verified cascade of one chat request, run on the proxy's transfer
 * thread (proxy.c): the chain's models answer in turn, whole (no stream),
 * each answer but the last allowed one judged by the verifier
 * (upstream/verify.h); a confidence >= the threshold accepts it, a lower
 * one, or a failed answer, escalates to the next model.  A verifier that
 * fails (no answer, or one that says neither yes nor no) ends the cascade
 * with plain routing's answer: the answer in hand when plain routing chose
 * that model, else one call to plain routing's model.  The final answer's
 * "usage" is rewritten to the sum over every call (answers and
 * verifications), so the client sees the cascade's true cost. */
#ifndef TR_SERVER_CASCADE_RUN_H
#define TR_SERVER_CASCADE_RUN_H

#include "server/server.h"

typedef struct tr_cascade_result {
    tr_upstream_result res;   /* the final call's result; its body carries the summed usage */
    int outcome;              /* enum tr_cascade_outcome */
    char chain[256];          /* the models that answered, comma-separated */
    double confidence;        /* the last verification's, NaN none */
    long long prompt_tokens, completion_tokens;   /* summed over every call */
    int calls;
} tr_cascade_result;

/* tmpl: the proxy's call (table, body maker, headers, cancellation); its
 * candidates and sink are replaced per step.  account(ctx, r) is called
 * after every upstream call, for the metrics.  TR_OK (look at out->res as
 * after tr_upstream_client_call), or TR_ENOMEM / TR_EINVAL (no chain).
 * Release out->res with tr_upstream_result_free. */
int tr_cascade_run(tr_upstream_client *c, const tr_upstream_call *tmpl, const tr_proxy_request *pr,
                   void (*account)(void *ctx, const tr_upstream_result *r), void *ctx, tr_cascade_result *out);

/* Set a whole answer's "usage" (*body, *len: tr_malloc'd, replaced) to
 * these tokens: the cascade's sums, or zeros for an answer served from the
 * cache.  TR_OK, TR_EFORMAT (not a JSON object; left as it is), TR_ENOMEM. */
int tr_answer_body_set_usage(char **body, size_t *len, long long prompt_tokens, long long completion_tokens);

#endif
