/* Traffic drift against a router's training distribution.  See drift.h. */
#include "retrain/drift.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "data/dataset.h"
#include "router/router.h"

/* Embed every record of ds in r's space (n x dim) with their kept shares
 * (NaN for caller-supplied embeddings), both owned by the caller. */
static int embed_all(const tr_router *r, const tr_dataset *ds, float **Xout, float **Kout, char *err, size_t errlen)
{
    size_t n = ds->n, d = r->dim;
    float *X = tr_mallocarray(n * d, sizeof *X), *K = tr_mallocarray(n, sizeof *K);
    if (!X || !K) { tr_free(X); tr_free(K); return tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory"); }
    int rc = TR_OK;
    if (!r->emb) {
        if (!ds->emb || ds->emb_dim != d) {
            tr_free(X);
            return tr_errorf(err, errlen, TR_EINVAL, "%s: the router wants %zu-dimensional \"embedding\" arrays",
                             ds->path, d);
        }
        for (size_t i = 0; i < n; i++) {
            tr_vec_unit(X + i * d, ds->emb + i * d, d);
            K[i] = NAN;
        }
    } else {
        const char **texts = tr_mallocarray(n, sizeof *texts);
        size_t *lens = tr_mallocarray(n, sizeof *lens);
        if (!texts || !lens) rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            texts[i] = ds->rec[i].prompt;
            lens[i] = ds->rec[i].prompt_len < TR_MAX_PROMPT_BYTES ? ds->rec[i].prompt_len : TR_MAX_PROMPT_BYTES;
        }
        if (!rc) rc = tr_embedder_embed_batch_kept(r->emb, texts, lens, n, X, K, 0, err, errlen);
        tr_free(texts);
        tr_free(lens);
    }
    if (rc) { tr_free(X); tr_free(K); return rc; }
    *Xout = X;
    *Kout = K;
    return TR_OK;
}

int tr_drift_traffic(const tr_router *r, const tr_dataset *ds, const double *threshold, char **json, char *err,
                     size_t errlen)
{
    if (!json) return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: json is NULL");
    *json = NULL;
    if (!r || !ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: %s is NULL", r ? "ds" : "r");
    if (threshold && !isfinite(*threshold))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: threshold %g is not a number (NULL: the "
                         "router's)", *threshold);
    if (ds->n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "%s: no prompts", ds->path);
    /* a given threshold needs the router's scale for the score */
    const char *source = !r->ood.calibrated ? "none" : threshold ? "option" : "router";
    int counting = r->ood.calibrated;
    double thr = !counting ? NAN : threshold ? *threshold : r->ood.threshold;
    size_t n = ds->n, T = r->tasks.n_tasks;
    float *X = NULL, *K = NULL, *P = NULL, *E = NULL;
    double *cnt = tr_calloc(T, sizeof *cnt), *ood_near = tr_calloc(T, sizeof *ood_near);
    int rc = embed_all(r, ds, &X, &K, err, errlen);
    if (rc) goto done;
    P = tr_mallocarray(n * T, sizeof *P);
    E = tr_mallocarray(n, sizeof *E);
    if (!P || !E || !cnt || !ood_near) { rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory"); goto done; }
    tr_softmax_predict_batch_energy(r->clf, X, n, P, E);
    size_t n_ood = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t t = 1; t < T; t++)
            if (P[i * T + t] > P[i * T + best]) best = t;
        /* the decisions' rule (route.c) */
        if (counting && tr_ood_score(&r->ood, E[i], K[i]) > thr) {
            n_ood++;
            ood_near[best]++;
        } else {
            cnt[best]++;
        }
    }
    double tot_train = 0, n_in = (double)(n - n_ood);
    for (size_t t = 0; t < T; t++) tot_train += r->tasks.sizes[t];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "traffic");
    cJSON_AddStringToObject(j, "traffic", ds->path ? ds->path : "");
    cJSON_AddNumberToObject(j, "n", (double)n);
    cJSON_AddItemToObject(j, "ood_threshold", tr_json_num(thr));
    cJSON_AddStringToObject(j, "threshold_source", source);
    cJSON_AddItemToObject(j, "ood_count", counting ? cJSON_CreateNumber((double)n_ood) : cJSON_CreateNull());
    cJSON_AddItemToObject(j, "ood_share", counting ? cJSON_CreateNumber((double)n_ood / (double)n) : cJSON_CreateNull());
    double tv = 0, js = 0;
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    for (size_t t = 0; t < T; t++) {
        double a = tot_train > 0 ? r->tasks.sizes[t] / tot_train : 0, b = n_in > 0 ? cnt[t] / n_in : 0, m = (a + b) / 2;
        tv += fabs(a - b) / 2;
        if (a > 0) js += 0.5 * a * log2(a / m);
        if (b > 0) js += 0.5 * b * log2(b / m);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", r->tasks.ids[t]);
        cJSON_AddStringToObject(o, "slug", tr_router_task_slug(r, t));
        cJSON_AddStringToObject(o, "name", r->tasks.names[t]);
        cJSON_AddNumberToObject(o, "share_train", a);
        cJSON_AddNumberToObject(o, "share_traffic", b);
        cJSON_AddNumberToObject(o, "delta", b - a);
        cJSON_AddNumberToObject(o, "ood_nearest", ood_near[t]);
        cJSON_AddItemToArray(tasks, o);
    }
    cJSON_AddNumberToObject(j, "tv_distance", tv);
    cJSON_AddNumberToObject(j, "js_divergence", js);
    *json = tr_json_print(j);
    cJSON_Delete(j);
    if (!*json) rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory");
done:
    tr_free(X); tr_free(K); tr_free(P); tr_free(E); tr_free(cnt); tr_free(ood_near);
    return rc;
}
