/* The router object (internal view of the public tr_router) and the per-thread
 * scratch.  A router is assembled by training (train/train.c) or by loading a router
 * file (router_io.c); after that nothing in it changes, so any number of
 * threads may route on it at once, each with its own tr_scratch. */
#ifndef TR_ROUTER_H
#define TR_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "classify/classifier.h"
#include "classify/ood.h"
#include "cluster/tasks.h"
#include "embed/embedder.h"
#include "taskroute.h"

struct tr_heads;   /* heads/heads.h */

/* Prompts longer than this are routed on their first TR_MAX_PROMPT_BYTES
 * (cut at a UTF-8 boundary): the decision depends on what a task looks like,
 * which the head of a prompt shows, and a fixed bound keeps routing
 * allocation-free. */
#define TR_MAX_PROMPT_BYTES (64u * 1024u)

/* The length of prompt p (len bytes) that routing reads: at most
 * TR_MAX_PROMPT_BYTES, cut at a UTF-8 character boundary.  Training and
 * evaluation use it too where they compute what routing computes. */
size_t tr_prompt_cut(const char *p, size_t len);

struct tr_router {
    char *config_json;          /* CONF section: options and identities */
    size_t n_models;
    char **models;
    tr_embedder *emb;           /* NULL: trained on caller-supplied embeddings */
    size_t dim;
    tr_tasks tasks;
    tr_softmax *clf;
    struct tr_heads *heads;     /* NULL for a stage-1 (discover) router */
    /* read from the config (router_policy.c) */
    int has_default;            /* default_policy holds training's estimate */
    tr_policy_estimate default_policy;
    double *ref_price;          /* n_models x 2 (input, output USD per Mtok), NaN = none; or NULL */
    float *cost_scale;          /* n_models factors on predicted costs (serve's prices), or NULL */
    tr_ood ood;                 /* out of distribution (classify/ood.h); from CONF */
    /* the sections of the file it was opened from, for `inspect` */
    size_t n_sections;
    uint32_t sec_tag[32];
    size_t sec_len[32];
};

struct tr_scratch {
    size_t cap_models, cap_tasks, cap_dim;
    size_t emb_bytes;
    void *emb_scratch;
    float *x;                   /* dim */
    float *p;                   /* task probabilities */
    float *q, *qcal, *c;        /* per model */
    float *surf;                /* the prompt's surface features (TR_HEADS_SURF) */
    void *heads_scratch;
    size_t heads_bytes;
};

/* Assemble a router from parts (all transferred to the router). */
void tr_router_free_parts(tr_router *r);

/* Read the config's "default_policy" and "reference_prices" into r (after
 * config_json and the models are set).  Malformed entries are ignored, as
 * if absent: they only inform.  TR_OK or TR_ENOMEM. */
int tr_router_config_extras(tr_router *r);

/* Write training's default policy estimate into r->config_json and r.
 * TR_OK or TR_ENOMEM. */
int tr_router_store_default(tr_router *r, const tr_policy_estimate *est);

#endif
