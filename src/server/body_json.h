/* Request bodies of the HTTP API, parsed and validated into plain structs.
 *
 * Kept apart from the HTTP layer so it can be unit-tested and fuzzed on its
 * own.  Bodies arrive as (pointer, length), not NUL-terminated, and are parsed
 * with cJSON_ParseWithLengthOpts (cJSON_GetErrorPtr is a global, so never
 * used).  Every failure gives an enum tr_api_error and a message naming the
 * field.
 *
 * What is routed on: "prompt" (a string) as is; or, for OpenAI-style
 * "messages", the text of every "system", "developer" and "user" message in
 * order, joined by "\n" (assistant and tool turns are left out: they are the
 * models' words, not the task).  Content may be a string or an array of
 * parts, of which the {"type": "text", "text": ...} parts are used. */
#ifndef TR_SERVER_BODY_JSON_H
#define TR_SERVER_BODY_JSON_H

#include <stddef.h>

#include <cJSON.h>

#include "taskroute.h"

/* Index of the model called name in the current router, or -1. */
typedef int (*tr_model_lookup_fn)(void *ctx, const char *name);

typedef struct tr_route_req {
    cJSON *root;              /* the parsed body (owned) */
    char *prompt;             /* text to route on, NUL-terminated (owned) */
    size_t prompt_len;
    int from_messages;        /* 1: prompt is the join of "messages" */
    tr_route_options opt;     /* mode and value; opt.allowed == allowed */
    unsigned char *allowed;   /* n_models flags from "models", or NULL = all (owned) */
    size_t n_models;
    int stream;               /* chat: "stream": true */
    const char *model_field;  /* chat: the client's "model" string or NULL (owned by root) */
    int knob_set;             /* the body gave lambda, budget, tolerance or risk */
    int fallback;             /* chat: 0 when the body says "fallback": false (top level or in
                                 "taskroute"): no other model may answer; else 1 */
    int cache;                /* chat: 0 when the body says "cache": false (top level or in
                                 "taskroute"): the answer cache is neither read nor written; else 1 */
} tr_route_req;

/* Parse a POST /v1/route body (chat = 0) or a /v1/chat/completions body
 * (chat = 1; routing options then sit in an optional "taskroute" object:
 * {"lambda" | "budget" | "tolerance" | "risk", "models", "fallback", "cache"},
 * and a top-level "fallback": false or "cache": false is read too).  Names in
 * "models" are resolved with find(ctx, name) against n_models models.
 * Returns 0 and fills *out (release with tr_route_req_free), or returns 1 with
 * *api_err and msg set and *out empty. */
int tr_route_req_parse(const char *body, size_t len, int chat, size_t n_models,
                       tr_model_lookup_fn find, void *ctx, tr_route_req *out,
                       int *api_err, char *msg, size_t msglen);
void tr_route_req_free(tr_route_req *r);

/* The body to send upstream: the client's body with "model" set to
 * upstream_model and our "taskroute" object and "fallback" and "cache" flags removed.  Borrows r (its tree
 * is modified).  Owned by the caller: tr_free; NULL when out of memory. */
char *tr_route_req_upstream_body(tr_route_req *r, const char *upstream_model);

typedef struct tr_feedback_req {
    cJSON *root;              /* owned */
    const char *request_id;   /* owned by root; 1..256 bytes */
    const char *model;        /* owned by root; 1..256 bytes */
    double score;             /* in [0, 1] */
} tr_feedback_req;

/* Parse a POST /v1/feedback body {request_id, model, score}.  Same return
 * convention as tr_route_req_parse; release with tr_feedback_req_free. */
int tr_feedback_req_parse(const char *body, size_t len, tr_feedback_req *out,
                          int *api_err, char *msg, size_t msglen);
void tr_feedback_req_free(tr_feedback_req *r);

#endif
