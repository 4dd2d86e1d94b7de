/* What an open router holds, for its callers: counts, names and ids of its
 * models and tasks, the out-of-distribution threshold, a model's index by
 * name, and how much of a prompt routing reads (router.h). */
#include <math.h>
#include <string.h>

#include "router/router.h"

size_t tr_router_model_count(const tr_router *r) { return r ? r->n_models : 0; }
size_t tr_router_task_count(const tr_router *r) { return r ? r->tasks.n_tasks : 0; }
size_t tr_router_dim(const tr_router *r) { return r ? r->dim : 0; }
int tr_router_has_heads(const tr_router *r) { return r && r->heads; }

const char *tr_router_model_name(const tr_router *r, size_t m)
{
    return r && m < r->n_models ? r->models[m] : NULL;
}

const char *tr_router_task_name(const tr_router *r, size_t t)
{
    return r && t < r->tasks.n_tasks ? r->tasks.names[t] : NULL;
}

const char *tr_router_task_slug(const tr_router *r, size_t t)
{
    return r && t < r->tasks.n_tasks ? r->tasks.slugs[t] : NULL;
}

int tr_router_task_id(const tr_router *r, size_t t)
{
    return r && t < r->tasks.n_tasks ? r->tasks.ids[t] : -1;
}

double tr_router_ood_threshold(const tr_router *r)
{
    return r && r->ood.calibrated ? (double)r->ood.threshold : NAN;
}

int tr_router_find_model(const tr_router *r, const char *name)
{
    if (!r || !name) return -1;
    for (size_t m = 0; m < r->n_models; m++)
        if (!strcmp(r->models[m], name)) return (int)m;
    return -1;
}

size_t tr_prompt_cut(const char *p, size_t len)
{
    size_t max = TR_MAX_PROMPT_BYTES;
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
    return n;
}
