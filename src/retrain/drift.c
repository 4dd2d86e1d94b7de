/* Traffic drift against a router's training distribution; the OOD
 * threshold.  See drift.h. */
#include "retrain/drift.h"

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/vec.h"
#include "data/dataset.h"
#include "router/router.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int tr_ood_threshold(const float *X, const int32_t *membership, size_t n, size_t dim, size_t T, double q,
                     double *out, char *err, size_t errlen)
{
    *out = TR_OOD_DEFAULT;
    if (n == 0 || T == 0) return TR_OK;
    double *C = tr_calloc(T * dim, sizeof *C), *cs = tr_mallocarray(n, sizeof *cs);
    if (!C || !cs) { tr_free(C); tr_free(cs); return tr_errorf(err, errlen, TR_ENOMEM, "OOD threshold: out of memory"); }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) C[(size_t)membership[i] * dim + j] += X[i * dim + j];
    for (size_t t = 0; t < T; t++) tr_vec_unit_f64(C + t * dim, dim);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        const double *c = C + (size_t)membership[i] * dim;
        for (size_t j = 0; j < dim; j++) s += c[j] * X[i * dim + j];
        cs[i] = s;
    }
    qsort(cs, n, sizeof *cs, cmp_double);
    size_t k = (size_t)floor(q * (double)(n - 1));
    *out = cs[k];
    tr_free(C);
    tr_free(cs);
    return TR_OK;
}

double tr_router_ood_threshold(const tr_router *r, int *stored)
{
    if (stored) *stored = 0;
    double v = TR_OOD_DEFAULT;
    cJSON *j = r && r->config_json ? cJSON_Parse(r->config_json) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "ood_threshold");
    if (cJSON_IsNumber(t) && isfinite(t->valuedouble)) {
        v = t->valuedouble;
        if (stored) *stored = 1;
    }
    cJSON_Delete(j);
    return v;
}

/* Embed every record of ds in r's space (n x dim, owned by the caller). */
static int embed_all(const tr_router *r, const tr_dataset *ds, float **Xout, char *err, size_t errlen)
{
    size_t n = ds->n, d = r->dim;
    float *X = tr_mallocarray(n * d, sizeof *X);
    if (!X) return tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory");
    int rc = TR_OK;
    if (!r->emb) {
        if (!ds->emb || ds->emb_dim != d) {
            tr_free(X);
            return tr_errorf(err, errlen, TR_EINVAL, "%s: the router wants %zu-dimensional \"embedding\" arrays",
                             ds->path, d);
        }
        for (size_t i = 0; i < n; i++) tr_vec_unit(X + i * d, ds->emb + i * d, d);
    } else {
        const char **texts = tr_mallocarray(n, sizeof *texts);
        size_t *lens = tr_mallocarray(n, sizeof *lens);
        if (!texts || !lens) rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            texts[i] = ds->rec[i].prompt;
            lens[i] = ds->rec[i].prompt_len < TR_MAX_PROMPT_BYTES ? ds->rec[i].prompt_len : TR_MAX_PROMPT_BYTES;
        }
        if (!rc) rc = tr_embedder_embed_batch(r->emb, texts, lens, n, X, 0, err, errlen);
        tr_free(texts);
        tr_free(lens);
    }
    if (rc) { tr_free(X); return rc; }
    *Xout = X;
    return TR_OK;
}

int tr_drift_traffic(const tr_router *r, const tr_dataset *ds, double threshold, char **json, char *err,
                     size_t errlen)
{
    if (!json) return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: json is NULL");
    *json = NULL;
    if (!r || !ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: %s is NULL", r ? "ds" : "r");
    if (isnan(threshold) || threshold > 1)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_traffic: threshold %g is not a cosine (<= 1; <= 0: "
                         "the router's)", threshold);
    if (ds->n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "%s: no prompts", ds->path);
    int stored = 0;
    if (!(threshold > 0)) threshold = tr_router_ood_threshold(r, &stored);
    size_t n = ds->n, d = r->dim, T = r->tasks.n_tasks;
    float *X = NULL, *P = NULL, *G = NULL;
    double *cnt = tr_calloc(T, sizeof *cnt), *ood_near = tr_calloc(T, sizeof *ood_near);
    int rc = embed_all(r, ds, &X, err, errlen);
    if (rc) goto done;
    P = tr_mallocarray(n * T, sizeof *P);
    G = tr_mallocarray(n * T, sizeof *G);
    if (!P || !G || !cnt || !ood_near) { rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory"); goto done; }
    tr_softmax_predict_batch(r->clf, X, n, P);
    /* cosine of every prompt to every centroid */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)T, (int)d, 1.0f, X, (int)d,
                r->tasks.centroids, (int)d, 0.0f, G, (int)T);
    size_t n_ood = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0, near = 0;
        for (size_t t = 1; t < T; t++) {
            if (P[i * T + t] > P[i * T + best]) best = t;
            if (G[i * T + t] > G[i * T + near]) near = t;
        }
        if (G[i * T + near] < threshold) {
            n_ood++;
            ood_near[near]++;
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
    cJSON_AddNumberToObject(j, "ood_threshold", threshold);
    cJSON_AddBoolToObject(j, "threshold_stored", stored);
    cJSON_AddNumberToObject(j, "ood_count", (double)n_ood);
    cJSON_AddNumberToObject(j, "ood_share", (double)n_ood / (double)n);
    double tv = 0, js = 0;
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    for (size_t t = 0; t < T; t++) {
        double a = tot_train > 0 ? r->tasks.sizes[t] / tot_train : 0, b = n_in > 0 ? cnt[t] / n_in : 0, m = (a + b) / 2;
        tv += fabs(a - b) / 2;
        if (a > 0) js += 0.5 * a * log2(a / m);
        if (b > 0) js += 0.5 * b * log2(b / m);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", r->tasks.ids[t]);
        cJSON_AddStringToObject(o, "name", r->tasks.names[t]);
        cJSON_AddNumberToObject(o, "share_train", a);
        cJSON_AddNumberToObject(o, "share_traffic", b);
        cJSON_AddNumberToObject(o, "delta", b - a);
        cJSON_AddNumberToObject(o, "ood_nearest", ood_near[t]);
        cJSON_AddItemToArray(tasks, o);
    }
    cJSON_AddNumberToObject(j, "tv_distance", tv);
    cJSON_AddNumberToObject(j, "js_divergence", js);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    *json = s ? tr_strdup(s) : NULL;
    cJSON_free(s);
    if (!*json) rc = tr_errorf(err, errlen, TR_ENOMEM, "drift: out of memory");
done:
    tr_free(X); tr_free(P); tr_free(G); tr_free(cnt); tr_free(ood_near);
    return rc;
}
