/* The online path: prompt -> embedding (+ surface features when the heads
 * use them) -> P(task) -> per-model quality and cost -> selection.
 * Allocates nothing: everything lives in the caller's per-thread tr_scratch,
 * sized once for the router.  tr_route_embedding has no prompt: heads that
 * use surface features get the training mean (zero after standardisation)
 * for them. */
#include <math.h>
#include <string.h>

#include "base/opts.h"
#include "base/util.h"
#include "base/vec.h"
#include "heads/heads.h"
#include "heads/select.h"
#include "router/router.h"

void tr_scratch_free(tr_scratch *s)
{
    if (!s) return;
    tr_free(s->emb_scratch);
    tr_free(s->heads_scratch);
    tr_free(s->x);
    tr_free(s->p);
    tr_free(s->q);
    tr_free(s->qcal);
    tr_free(s->c);
    tr_free(s->surf);
    tr_free(s);
}

int tr_scratch_new(const tr_router *r, tr_scratch **out)
{
    return tr_scratch_new_v2(r, out, NULL, 0);
}

int tr_scratch_new_v2(const tr_router *r, tr_scratch **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_scratch_new: out is NULL");
    *out = NULL;
    if (!r) return tr_errorf(err, errlen, TR_EINVAL, "tr_scratch_new: r is NULL");
    tr_scratch *s = tr_calloc(1, sizeof *s);
    if (!s) return tr_errorf(err, errlen, TR_ENOMEM, "tr_scratch_new: out of memory");
    s->cap_models = r->n_models;
    s->cap_tasks = r->tasks.n_tasks;
    s->cap_dim = r->dim;
    s->emb_bytes = r->emb ? tr_embedder_scratch_bytes(r->emb, TR_MAX_PROMPT_BYTES) : 0;
    s->heads_bytes = r->heads ? tr_heads_scratch_floats(r->heads) * sizeof(float) : 0;
    s->emb_scratch = s->emb_bytes ? tr_malloc(s->emb_bytes) : NULL;
    s->heads_scratch = s->heads_bytes ? tr_malloc(s->heads_bytes) : NULL;
    s->x = tr_calloc(r->dim + 1, sizeof *s->x);
    s->p = tr_calloc(r->tasks.n_tasks + 1, sizeof *s->p);
    s->q = tr_calloc(r->n_models + 1, sizeof *s->q);
    s->qcal = tr_calloc(r->n_models + 1, sizeof *s->qcal);
    s->c = tr_calloc(r->n_models + 1, sizeof *s->c);
    s->surf = tr_calloc(TR_HEADS_SURF, sizeof *s->surf);
    if ((s->emb_bytes && !s->emb_scratch) || (s->heads_bytes && !s->heads_scratch) || !s->x || !s->p ||
        !s->q || !s->qcal || !s->c || !s->surf) {
        tr_scratch_free(s);
        return tr_errorf(err, errlen, TR_ENOMEM, "tr_scratch_new: out of memory for %zu models, %zu tasks, "
                         "dimension %zu", r->n_models, r->tasks.n_tasks, r->dim);
    }
    *out = s;
    return TR_OK;
}

/* The first size of r that s was not made big enough for, or NULL; *need
 * and *have are that size for r and for s.  Every size a route writes is
 * here: a scratch made for one router may serve another only if it covers
 * all of them (the heads' working memory grows with the kNN store, not only
 * with models, tasks and dimensions). */
static const char *scratch_short(const tr_router *r, const tr_scratch *s, size_t *need, size_t *have)
{
    size_t emb = r->emb ? tr_embedder_scratch_bytes(r->emb, TR_MAX_PROMPT_BYTES) : 0;
    size_t heads = r->heads ? tr_heads_scratch_floats(r->heads) * sizeof(float) : 0;
    const struct { const char *what; size_t need, have; } sizes[] = {
        {"models", r->n_models, s->cap_models},
        {"tasks", r->tasks.n_tasks, s->cap_tasks},
        {"embedding dimensions", r->dim, s->cap_dim},
        {"embedder working bytes", emb, s->emb_bytes},
        {"heads working bytes", heads, s->heads_bytes},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].need > sizes[i].have) {
            *need = sizes[i].need;
            *have = sizes[i].have;
            return sizes[i].what;
        }
    return NULL;
}

static int scratch_fits(const tr_router *r, const tr_scratch *s)
{
    size_t need, have;
    return !scratch_short(r, s, &need, &have);
}

int tr_scratch_check(const tr_router *r, const tr_scratch *s, char *err, size_t errlen)
{
    if (!r || !s) return tr_errorf(err, errlen, TR_EINVAL, "tr_scratch_check: no %s", r ? "scratch" : "router");
    size_t need, have;
    const char *what = scratch_short(r, s, &need, &have);
    if (what)
        return tr_errorf(err, errlen, TR_EINVAL,
                         "routing scratch too small for this router: it needs %zu %s, the scratch has %zu "
                         "(make one with tr_scratch_new for this router)", need, what, have);
    return TR_OK;
}

void tr_route_options_default(tr_route_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->mode = TR_SELECT_LAMBDA;
}

/* tr_route_options as first published */
#define ROUTE_OPTIONS_MIN TR_SIZE_THROUGH(tr_route_options, allowed)

/* Options a route can use: a known size and mode, a value that is a number.
 * Fields added after the first layout are read only when struct_size
 * covers them. */
static int options_ok(const tr_route_options *o)
{
    return !o || (tr_opts_size_check(o->struct_size, ROUTE_OPTIONS_MIN, sizeof *o, "", NULL, 0) == TR_OK &&
                  (unsigned)o->mode <= (unsigned)TR_SELECT_QUALITY && !isnan(o->value));
}

/* The part after the embedding; s->x holds the unit vector (all zero: the
 * prompt has no feature the embedder knows), surf the prompt's surface
 * features (NULL: none, no prompt), kept the share of the prompt the
 * embedder knew (for the OOD score). */
static int route_vector(const tr_router *r, size_t prompt_len, const float *surf, float kept,
                        const tr_route_options *opt, tr_scratch *s, tr_decision *out)
{
    tr_route_options defaults;
    if (!opt) {
        tr_route_options_default(&defaults);
        opt = &defaults;
    }
    size_t T = r->tasks.n_tasks;
    float energy;
    tr_softmax_predict_energy(r->clf, s->x, s->p, &energy);
    size_t best = 0;
    for (size_t t = 1; t < T; t++)
        if (s->p[t] > s->p[best]) best = t;
    memset(out, 0, sizeof *out);
    out->task = (int)best;
    out->task_name = r->tasks.names[best];
    out->task_id = r->tasks.ids[best];
    out->ood_score = tr_ood_score(&r->ood, energy, kept);
    out->ood = tr_ood_flag(&r->ood, out->ood_score);
    out->task_prob = s->p[best];
    out->n_tasks = T;
    out->task_probs = s->p;
    out->embedding = s->x;
    out->dim = r->dim;
    out->n_models = r->n_models;
    out->model = -1;
    if (!r->heads) {
        for (size_t m = 0; m < r->n_models; m++) s->q[m] = s->c[m] = NAN;
        out->quality = s->q;
        out->cost = s->c;
        return TR_OK;
    }
    int rc = tr_heads_predict(r->heads, s->x, s->p, prompt_len, surf, s->q, s->qcal, s->c, s->heads_scratch);
    if (rc) return rc;
    if (r->cost_scale)   /* a server's own prices (tr_router_set_cost_scale) */
        for (size_t m = 0; m < r->n_models; m++) s->c[m] *= r->cost_scale[m];
    int m = tr_select(s->q, s->qcal, s->c, r->n_models, opt->allowed, opt->mode, opt->value,
                      tr_heads_tables(r->heads));
    if (m < 0) return TR_ENOTFOUND;   /* no allowed model has a prediction */
    out->model = m;
    out->model_name = r->models[m];
    out->quality = s->q;
    out->cost = s->c;
    return TR_OK;
}

int tr_route(const tr_router *r, const char *prompt, size_t len, const tr_route_options *opt,
             tr_scratch *s, tr_decision *out)
{
    if (!r || !prompt || !s || !out || !options_ok(opt)) return TR_EINVAL;
    if (!r->emb) return TR_EINVAL;   /* caller-embedded router: use tr_route_embedding */
    if (!scratch_fits(r, s)) return TR_EINVAL;
    len = tr_prompt_cut(prompt, len);
    float kept;
    int rc = tr_embedder_embed_kept(r->emb, prompt, len, s->x, &kept, s->emb_scratch, s->emb_bytes);
    if (rc) return rc;
    const float *surf = NULL;
    if (r->heads && tr_heads_uses_surface(r->heads)) {   /* O(len); skipped when unused */
        tr_surface_features(prompt, len, s->surf);
        surf = s->surf;
    }
    return route_vector(r, len, surf, kept, opt, s, out);
}

int tr_route_embedding(const tr_router *r, const float *x, size_t d, const tr_route_options *opt,
                       tr_scratch *s, tr_decision *out)
{
    if (!r || !x || !s || !out || !options_ok(opt)) return TR_EINVAL;
    if (d != r->dim || !scratch_fits(r, s)) return TR_EINVAL;
    for (size_t j = 0; j < d; j++)
        if (!isfinite(x[j])) return TR_EINVAL;
    if (!(tr_vec_unit_fast(s->x, x, d) > 0)) return TR_EINVAL;
    return route_vector(r, 0, NULL, NAN, opt, s, out);
}
