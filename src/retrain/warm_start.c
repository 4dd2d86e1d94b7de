/* Warm-start retraining: reuse the old embedder, match tasks, keep ids and
 * names, report the drift.  See warm_start.h. */
#include "retrain/warm_start.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "classify/ood.h"
#include "router/router.h"

struct tr_warm {
    char *path;               /* the current router's name in the reports */
    const tr_router *old;
    tr_router *owned;         /* old, when tr_warm_open opened it */
    tr_warm_params p;
    char *drift;
    char *summary;
    /* tr_warm_prepare: per new training prompt, the old router's task, its
     * probabilities (n x old T) and whether it is out of distribution */
    size_t n;
    int32_t *old_task;
    float *old_p;
    unsigned char *old_ood;
};

void tr_warm_params_default(tr_warm_params *p)
{
    memset(p, 0, sizeof *p);
    tr_match_params_default(&p->match);
}

int tr_warm_from(const tr_router *cur, const char *name, const tr_warm_params *p, tr_warm **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!cur || !cur->clf || cur->tasks.n_tasks == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "warm start: the current router %s has no tasks to match",
                         name ? name : "");
    tr_warm *w = tr_calloc(1, sizeof *w);
    if (!w || !(w->path = tr_strdup(name ? name : "current"))) {
        tr_free(w);
        return tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory");
    }
    if (p) w->p = *p;
    else tr_warm_params_default(&w->p);
    w->old = cur;
    *out = w;
    return TR_OK;
}

int tr_warm_open(const char *path, const tr_warm_params *p, tr_warm **out, char *err, size_t errlen)
{
    *out = NULL;
    tr_router *cur = NULL;
    int rc = tr_router_open(path, &cur, err, errlen);
    if (rc) return tr_error_prefix(err, errlen, rc, "--warm-start");
    if ((rc = tr_warm_from(cur, path, p, out, err, errlen))) {
        tr_router_close(cur);
        return rc;
    }
    (*out)->owned = cur;
    return TR_OK;
}

void tr_warm_free(tr_warm *w)
{
    if (!w) return;
    tr_router_close(w->owned);
    tr_free(w->old_task);
    tr_free(w->old_p);
    tr_free(w->old_ood);
    tr_free(w->path);
    tr_free(w->drift);
    tr_free(w->summary);
    tr_free(w);
}

const tr_router *tr_warm_router(const tr_warm *w) { return w ? w->old : NULL; }
size_t tr_warm_task_count(const tr_warm *w) { return w ? w->old->tasks.n_tasks : 0; }

char *tr_warm_take_drift(tr_warm *w)
{
    if (!w) return NULL;
    char *d = w->drift;
    w->drift = NULL;
    return d;
}

const char *tr_warm_summary(const tr_warm *w) { return w ? w->summary : NULL; }

/* A copy through the embedder's own serialisation: the file format is the
 * one thing guaranteed to reproduce an embedder exactly. */
int tr_warm_embedder(const tr_warm *w, tr_embedder **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!w || w->p.refit_embedder || !w->old->emb) return TR_OK;
    tr_buf b;
    tr_buf_init(&b);
    int rc = tr_embedder_save(w->old->emb, &b);
    if (!rc) rc = tr_buf_ok(&b);
    if (rc) { tr_buf_free(&b); return tr_errorf(err, errlen, rc, "warm start: copying the embedder: out of memory"); }
    rc = tr_embedder_load(b.data, b.len, out, err, errlen);
    tr_buf_free(&b);
    if (rc) tr_error_prefix(err, errlen, rc, "warm start: copying the embedder");
    return rc;
}

/* The new training prompts in the old router's space (X itself when the
 * embedder was reused or both routers use caller-supplied embeddings). */
static int old_space(const tr_warm *w, const tr_dataset *ds, const size_t *idx, size_t n, const float *X,
                     size_t dim, int same_space, float **Xo, int *owned, float *kept, char *err, size_t errlen)
{
    const tr_router *o = w->old;
    *owned = 0;
    if (same_space || !o->emb) {
        if (o->dim != dim)
            return tr_errorf(err, errlen, TR_EINVAL, "warm start: %s has %zu-dimensional embeddings, the new run %zu: "
                             "they cannot be compared (caller-supplied embeddings must keep their dimension)",
                             w->path, o->dim, dim);
        *Xo = (float *)X;
        return TR_OK;
    }
    const char **texts = tr_mallocarray(n, sizeof *texts);
    size_t *lens = tr_mallocarray(n, sizeof *lens);
    float *Y = tr_mallocarray(n * o->dim, sizeof *Y);
    int rc = TR_OK;
    if (!texts || !lens || !Y) rc = tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        texts[i] = ds->rec[idx[i]].prompt;
        lens[i] = ds->rec[idx[i]].prompt_len;
    }
    if (!rc && (rc = tr_embedder_embed_batch_kept(o->emb, texts, lens, n, Y, kept, 0, err, errlen)))
        tr_error_prefix(err, errlen, rc, "warm start: embedding with the old embedder");
    tr_free(texts);
    tr_free(lens);
    if (rc) { tr_free(Y); return rc; }
    *Xo = Y;
    *owned = 1;
    return TR_OK;
}

int tr_warm_prepare(tr_warm *w, const tr_dataset *ds, const size_t *idx, size_t n, const float *X,
                    const float *kept, size_t dim, int same_space, char *err, size_t errlen)
{
    const tr_router *o = w->old;
    size_t A = o->tasks.n_tasks;
    float *Xo = NULL, *K = tr_mallocarray(n + 1, sizeof *K), *E = tr_mallocarray(n + 1, sizeof *E);
    int owned = 0;
    tr_free(w->old_task); tr_free(w->old_p); tr_free(w->old_ood);
    w->old_task = tr_mallocarray(n + 1, sizeof *w->old_task);
    w->old_p = tr_mallocarray(n * A + 1, sizeof *w->old_p);
    w->old_ood = tr_calloc(n + 1, 1);
    w->n = n;
    int rc = TR_OK;
    if (!K || !E || !w->old_task || !w->old_p || !w->old_ood) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) K[i] = same_space && kept ? kept[i] : NAN;
    if ((rc = old_space(w, ds, idx, n, X, dim, same_space, &Xo, &owned, K, err, errlen))) goto done;
    tr_softmax_predict_batch_energy(o->clf, Xo, n, w->old_p, E);
    for (size_t i = 0; i < n; i++) {
        w->old_task[i] = (int32_t)tr_argmax(w->old_p + i * A, A, NULL);
        w->old_ood[i] = (unsigned char)tr_ood_flag(&o->ood, tr_ood_score(&o->ood, E[i], K[i]));
    }
done:
    if (owned) tr_free(Xo);
    tr_free(K);
    tr_free(E);
    if (rc) w->n = 0;
    return rc;
}

const int32_t *tr_warm_old_tasks(const tr_warm *w) { return w && w->n ? w->old_task : NULL; }

double tr_warm_resolution(const tr_warm *w)
{
    cJSON *j = w && w->old->config_json ? cJSON_Parse(w->old->config_json) : NULL;
    double g = tr_json_get_num(j, "resolution");
    cJSON_Delete(j);
    return g > 0 && isfinite(g) ? g : 0;
}

int tr_warm_can_reconcile(const tr_warm *w) { return w && w->n && w->old->ood.calibrated; }

int tr_warm_reconcile(const tr_warm *w, const int32_t *clusters, size_t n, size_t min_size, int32_t *membership,
                      size_t *T, char *err, size_t errlen)
{
    if (!tr_warm_can_reconcile(w) || n != w->n)
        return tr_errorf(err, errlen, TR_EINVAL, "warm start: reconcile before prepare (%zu prompts, %zu prepared)", n,
                         w ? w->n : 0);
    size_t A = w->old->tasks.n_tasks, nc = 0;
    for (size_t i = 0; i < n; i++)
        if ((size_t)clusters[i] + 1 > nc) nc = (size_t)clusters[i] + 1;
    size_t *size = tr_calloc(nc + 1, sizeof *size), *ood = tr_calloc(nc + 1, sizeof *ood);
    int32_t *label = tr_mallocarray(nc + 1, sizeof *label), *map = tr_mallocarray(A + nc + 1, sizeof *map);
    size_t *count = tr_calloc(A + nc + 1, sizeof *count);
    unsigned char *gone = tr_calloc(A + 1, 1);
    int rc = TR_OK;
    if (!size || !ood || !label || !map || !count || !gone) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size[clusters[i]]++;
        ood[clusters[i]] += w->old_ood[i];
    }
    /* a community the old router mostly calls out of distribution is a new task */
    int32_t next = (int32_t)A;
    for (size_t c = 0; c < nc; c++)
        label[c] = size[c] >= min_size && (double)ood[c] >= TR_WARM_NEW_SHARE * (double)size[c] ? next++ : -1;
    for (size_t i = 0; i < n; i++) {
        membership[i] = label[clusters[i]] >= 0 ? label[clusters[i]] : w->old_task[i];
        count[membership[i]]++;
    }
    /* an old task left with too few prompts vanishes: they go to their next
     * most probable old task.  Too few is half what a new task needs, so a
     * task near the bar does not come and go with sampling noise. */
    size_t alive = 0;
    for (size_t a = 0; a < A; a++) {
        gone[a] = 2 * count[a] < min_size;
        alive += !gone[a];
    }
    for (size_t i = 0; i < n && alive; i++) {
        if (membership[i] >= (int32_t)A || !gone[membership[i]]) continue;
        const float *p = w->old_p + i * A;
        int32_t best = -1;
        for (size_t a = 0; a < A; a++)
            if (!gone[a] && (best < 0 || p[a] > p[best])) best = (int32_t)a;
        membership[i] = best;
    }
    /* labels 0..T-1: the old tasks that stayed in their order, then the new ones */
    memset(count, 0, (A + nc + 1) * sizeof *count);
    for (size_t i = 0; i < n; i++) count[membership[i]]++;
    size_t t = 0;
    for (size_t k = 0; k < (size_t)next; k++) map[k] = count[k] ? (int32_t)t++ : -1;
    for (size_t i = 0; i < n; i++) membership[i] = map[membership[i]];
    *T = t;
done:
    tr_free(size); tr_free(ood); tr_free(label); tr_free(map); tr_free(count); tr_free(gone);
    return rc;
}

static double share(const uint32_t *sizes, size_t T, size_t t)
{
    double s = 0;
    for (size_t k = 0; k < T; k++) s += sizes[k];
    return s > 0 ? sizes[t] / s : 0;
}

/* Per-model quality and cost before and after for a matched pair. */
static cJSON *model_shifts(const tr_router *o, size_t a, const tr_router *r, size_t b)
{
    cJSON *ms = cJSON_CreateObject();
    for (size_t m = 0; m < r->n_models; m++) {
        int om = tr_router_find_model(o, r->models[m]);
        double qb = NAN, cb = NAN;
        if (om >= 0 && o->tasks.n_models) {
            qb = o->tasks.quality[a * o->tasks.n_models + (size_t)om];
            cb = o->tasks.cost[a * o->tasks.n_models + (size_t)om];
        }
        double qa = r->tasks.quality[b * r->tasks.n_models + m], ca = r->tasks.cost[b * r->tasks.n_models + m];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "q_before", tr_json_num(qb));
        cJSON_AddItemToObject(e, "q_after", tr_json_num(qa));
        cJSON_AddItemToObject(e, "dq", tr_json_num(qa - qb));
        cJSON_AddItemToObject(e, "c_before", tr_json_num(cb));
        cJSON_AddItemToObject(e, "c_after", tr_json_num(ca));
        cJSON_AddItemToObject(e, "dc", tr_json_num(ca - cb));
        cJSON_AddItemToObject(ms, r->models[m], e);
    }
    return ms;
}

/* The drift report (format in drift_report.h) and the CONF summary. */
static int build_report(tr_warm *w, const tr_router *r, const tr_match_result *mr, int same_space)
{
    const tr_router *o = w->old;
    size_t A = mr->T_old, B = mr->T_new;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "retrain");
    cJSON_AddStringToObject(j, "current", w->path);
    cJSON_AddStringToObject(j, "embedder", same_space ? "reused" : "refit");
    cJSON_AddNumberToObject(j, "tasks_before", (double)A);
    cJSON_AddNumberToObject(j, "tasks_after", (double)B);
    cJSON_AddNumberToObject(j, "min_score", w->p.match.min_score);
    cJSON_AddNumberToObject(j, "matched", (double)mr->n_matched);
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    size_t added = 0, vanished = 0;
    for (size_t b = 0; b < B; b++) {
        int32_t a = mr->new_to_old[b];
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", r->tasks.ids[b]);
        cJSON_AddStringToObject(t, "slug", r->tasks.slugs[b]);
        cJSON_AddStringToObject(t, "name", r->tasks.names[b]);
        cJSON_AddStringToObject(t, "status", a >= 0 ? "matched" : "added");
        added += a < 0;
        cJSON_AddNumberToObject(t, "index", (double)b);
        cJSON_AddNumberToObject(t, "share_after", share(r->tasks.sizes, B, b));
        if (a >= 0) {
            size_t k = (size_t)a * B + b;
            cJSON_AddNumberToObject(t, "old_index", a);
            cJSON_AddNumberToObject(t, "share_before", share(o->tasks.sizes, A, (size_t)a));
            cJSON_AddNumberToObject(t, "score", mr->score[k]);
            cJSON_AddNumberToObject(t, "cosine", mr->cosine[k]);
            cJSON_AddNumberToObject(t, "overlap", mr->dice[k]);
            cJSON_AddItemToObject(t, "models", model_shifts(o, (size_t)a, r, b));
        } else {
            /* the closest old task, to say what an added task looks like */
            size_t best = 0;
            for (size_t x = 1; x < A; x++)
                if (mr->score[x * B + b] > mr->score[best * B + b]) best = x;
            cJSON_AddNumberToObject(t, "nearest_old_id", o->tasks.ids[best]);
            cJSON_AddNumberToObject(t, "nearest_score", mr->score[best * B + b]);
        }
        cJSON_AddItemToArray(tasks, t);
    }
    cJSON *van = cJSON_AddArrayToObject(j, "vanished");
    for (size_t a = 0; a < A; a++) {
        if (mr->old_to_new[a] >= 0) continue;
        vanished++;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", o->tasks.ids[a]);
        cJSON_AddStringToObject(t, "slug", o->tasks.slugs[a]);
        cJSON_AddStringToObject(t, "name", o->tasks.names[a]);
        cJSON_AddNumberToObject(t, "share_before", share(o->tasks.sizes, A, a));
        cJSON_AddItemToArray(van, t);
    }
    cJSON_AddNumberToObject(j, "added", (double)added);
    cJSON_AddNumberToObject(j, "vanished_count", (double)vanished);
    cJSON *sp = cJSON_AddArrayToObject(j, "splits");
    for (size_t k = 0; k < mr->n_splits; k++) {
        const tr_match_event *e = &mr->splits[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "old_id", o->tasks.ids[e->one]);
        cJSON_AddStringToObject(x, "old_name", o->tasks.names[e->one]);
        cJSON *into = cJSON_AddArrayToObject(x, "into_ids"), *sh = cJSON_AddArrayToObject(x, "shares");
        for (int i = 0; i < 2; i++) {
            cJSON_AddItemToArray(into, cJSON_CreateNumber(r->tasks.ids[e->two[i]]));
            cJSON_AddItemToArray(sh, cJSON_CreateNumber(e->share[i]));
        }
        cJSON_AddItemToArray(sp, x);
    }
    cJSON *mg = cJSON_AddArrayToObject(j, "merges");
    for (size_t k = 0; k < mr->n_merges; k++) {
        const tr_match_event *e = &mr->merges[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "new_id", r->tasks.ids[e->one]);
        cJSON_AddStringToObject(x, "new_name", r->tasks.names[e->one]);
        cJSON *from = cJSON_AddArrayToObject(x, "from_ids"), *sh = cJSON_AddArrayToObject(x, "shares");
        for (int i = 0; i < 2; i++) {
            cJSON_AddItemToArray(from, cJSON_CreateNumber(o->tasks.ids[e->two[i]]));
            cJSON_AddItemToArray(sh, cJSON_CreateNumber(e->share[i]));
        }
        cJSON_AddItemToArray(mg, x);
    }
    cJSON *madd = cJSON_AddArrayToObject(j, "models_added"), *mret = cJSON_AddArrayToObject(j, "models_retired");
    for (size_t m = 0; m < r->n_models; m++)
        if (tr_router_find_model(o, r->models[m]) < 0) cJSON_AddItemToArray(madd, cJSON_CreateString(r->models[m]));
    for (size_t m = 0; m < o->n_models; m++)
        if (tr_router_find_model(r, o->models[m]) < 0) cJSON_AddItemToArray(mret, cJSON_CreateString(o->models[m]));
    tr_free(w->drift);
    w->drift = tr_json_print(j);
    cJSON_Delete(j);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "from", w->path);
    cJSON_AddStringToObject(s, "embedder", same_space ? "reused" : "refit");
    cJSON_AddNumberToObject(s, "matched", (double)mr->n_matched);
    cJSON_AddNumberToObject(s, "added", (double)added);
    cJSON_AddNumberToObject(s, "vanished", (double)vanished);
    tr_free(w->summary);
    w->summary = tr_json_print(s);
    cJSON_Delete(s);
    return w->drift && w->summary ? TR_OK : TR_ENOMEM;
}

/* Names after the ids: a matched task keeps the old task's name (a person's
 * always; one of subword pieces, from an older router, gives way to the
 * new one of words), the others keep their fresh names, made unique
 * against the kept ones by their id; then the slugs. */
static int keep_names(const tr_tasks *old, const tr_match_result *mr, tr_tasks *nt)
{
    size_t B = nt->n_tasks;
    unsigned char *kept = tr_calloc(B ? B : 1, 1);
    if (!kept) return TR_ENOMEM;
    int rc = TR_OK;
    for (size_t b = 0; b < B && !rc; b++) {
        int32_t a = mr->new_to_old[b];
        if (a < 0 || ((old->flags[a] & TR_TASK_LEGACY_NAME) && !(old->flags[a] & TR_TASK_NAMED))) continue;
        nt->flags[b] = old->flags[a] & TR_TASK_NAMED;
        kept[b] = 1;
        rc = tr_tasks_set_name(nt, b, old->names[a]);
    }
    for (size_t b = 0; b < B && !rc; b++) {
        if (kept[b]) continue;
        int clash = 0;
        for (size_t k = 0; k < B && !clash; k++) clash = k != b && kept[k] && !strcmp(nt->names[k], nt->names[b]);
        if (!clash) continue;
        char name[512];
        snprintf(name, sizeof name, "%s #%ld", nt->names[b], (long)nt->ids[b]);
        rc = tr_tasks_set_name(nt, b, name);
    }
    tr_free(kept);
    return rc ? rc : tr_tasks_make_slugs(nt);
}

int tr_warm_apply(tr_warm *w, const tr_dataset *ds, const size_t *idx, size_t n, const float *X,
                  const int32_t *membership, int same_space, tr_router *r, char *err, size_t errlen)
{
    const tr_router *o = w->old;
    size_t A = o->tasks.n_tasks, B = r->tasks.n_tasks, d = o->dim;
    float *Xo = NULL, *P = NULL, *C = NULL;
    uint32_t *O = NULL;
    int owned = 0;
    tr_match_result mr = {0};
    int rc = old_space(w, ds, idx, n, X, r->dim, same_space, &Xo, &owned, NULL, err, errlen);
    if (rc) return rc;
    P = tr_mallocarray(n * A, sizeof *P);
    C = tr_calloc(B * d, sizeof *C);
    O = tr_calloc(A * B, sizeof *O);
    if (!P || !C || !O) { rc = tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory"); goto done; }
    /* shared prompts: the old classifier's task for every new prompt */
    tr_softmax_predict_batch(o->clf, Xo, n, P);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        const float *p = P + i * A;
        for (size_t a = 1; a < A; a++)
            if (p[a] > p[best]) best = a;
        O[best * B + (size_t)membership[i]]++;
        float *c = C + (size_t)membership[i] * d;
        for (size_t j = 0; j < d; j++) c[j] += Xo[i * d + j];
    }
    for (size_t b = 0; b < B; b++) tr_vec_unit(C + b * d, C + b * d, d);
    tr_match_input in = {A, B, d, o->tasks.centroids, C, O};
    if ((rc = tr_match_tasks(&in, &w->p.match, &mr, err, errlen))) goto done;
    int32_t next = 0;
    for (size_t a = 0; a < A; a++)
        if (o->tasks.ids[a] + 1 > next) next = o->tasks.ids[a] + 1;
    for (size_t b = 0; b < B; b++) {
        int32_t a = mr.new_to_old[b];
        r->tasks.ids[b] = a >= 0 ? o->tasks.ids[a] : next++;
    }
    rc = keep_names(&o->tasks, &mr, &r->tasks);
    if (rc || (rc = build_report(w, r, &mr, same_space)))
        rc = tr_errorf(err, errlen, TR_ENOMEM, "warm start: out of memory");
done:
    tr_match_result_clear(&mr);
    if (owned) tr_free(Xo);
    tr_free(P);
    tr_free(C);
    tr_free(O);
    return rc;
}

void tr_warm_options_default(tr_warm_options *o)
{
    if (!o) return;
    tr_warm_params p;
    tr_warm_params_default(&p);
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->refit_embedder = p.refit_embedder;
    o->match_min_score = p.match.min_score;
}
