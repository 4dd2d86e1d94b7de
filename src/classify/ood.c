/* Out-of-distribution calibration and its CONF entry.  See ood.h. */
#include "classify/ood.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "taskroute.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The p-quantile of sorted v[0..n) (the element at floor(p (n - 1))). */
static float quantile(const float *v, size_t n, double p) { return v[(size_t)floor(p * (double)(n - 1))]; }

/* A spread that can divide: tiny ones (all prompts alike) become 1e-3. */
static float spread(float s) { return s > 1e-3f ? s : 1e-3f; }

int tr_ood_fit(const float *energy, const float *kept, size_t n, double fpr, tr_ood *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!(fpr > 0 && fpr < 1)) return tr_errorf(err, errlen, TR_EINVAL, "OOD calibration: target rate %g outside (0, 1)", fpr);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += isfinite(energy[i]) && (!kept || isfinite(kept[i]));
    if (m < 20) return tr_errorf(err, errlen, TR_ETOOFEW, "OOD calibration: %zu held-out prompts, at least 20 needed", m);
    float *e = tr_mallocarray(m, sizeof *e), *k = tr_mallocarray(m, sizeof *k), *s = tr_mallocarray(m, sizeof *s);
    if (!e || !k || !s) {
        tr_free(e); tr_free(k); tr_free(s);
        return tr_errorf(err, errlen, TR_ENOMEM, "OOD calibration: out of memory");
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(energy[i]) && (!kept || isfinite(kept[i]))) {
            e[j] = energy[i];
            k[j] = kept ? kept[i] : 0;
            j++;
        }
    tr_ood o = {.calibrated = 1, .use_kept = kept != NULL, .n_calibration = m, .fpr = fpr, .k_scale = 1};
    memcpy(s, e, m * sizeof *s);
    qsort(s, m, sizeof *s, cmp_float);
    o.e_center = quantile(s, m, 0.5);
    o.e_scale = spread(quantile(s, m, 0.95) - o.e_center);
    if (kept) {
        memcpy(s, k, m * sizeof *s);
        qsort(s, m, sizeof *s, cmp_float);
        o.k_center = quantile(s, m, 0.5);
        o.k_scale = spread(o.k_center - quantile(s, m, 0.05));
    }
    for (size_t i = 0; i < m; i++) s[i] = tr_ood_score(&o, e[i], k[i]);
    qsort(s, m, sizeof *s, cmp_float);
    /* at most floor(fpr m) scores lie above the threshold (fewer on ties) */
    size_t above = (size_t)floor(fpr * (double)m);
    if (above >= m) above = m - 1;
    o.threshold = s[m - 1 - above];
    *out = o;
    tr_free(e); tr_free(k); tr_free(s);
    return TR_OK;
}

cJSON *tr_ood_config(const tr_ood *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "score", o->use_kept ? "energy+kept" : "energy");
    cJSON_AddItemToObject(j, "threshold", tr_json_num(o->threshold));
    cJSON_AddItemToObject(j, "energy_center", tr_json_num(o->e_center));
    cJSON_AddItemToObject(j, "energy_scale", tr_json_num(o->e_scale));
    if (o->use_kept) {
        cJSON_AddItemToObject(j, "kept_center", tr_json_num(o->k_center));
        cJSON_AddItemToObject(j, "kept_scale", tr_json_num(o->k_scale));
    }
    cJSON_AddNumberToObject(j, "fpr", o->fpr);
    cJSON_AddNumberToObject(j, "calibration_prompts", (double)o->n_calibration);
    return j;
}

void tr_ood_from_config(const char *config_json, tr_ood *out)
{
    memset(out, 0, sizeof *out);
    cJSON *j = config_json ? cJSON_Parse(config_json) : NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "ood");
    const char *score = tr_json_get_str(o, "score", "");
    tr_ood r = {.calibrated = 1, .use_kept = !strcmp(score, "energy+kept"), .k_scale = 1};
    double t = tr_json_get_num(o, "threshold"), ec = tr_json_get_num(o, "energy_center"),
           es = tr_json_get_num(o, "energy_scale"), kc = r.use_kept ? tr_json_get_num(o, "kept_center") : 0,
           ks = r.use_kept ? tr_json_get_num(o, "kept_scale") : 1, fpr = tr_json_get_num(o, "fpr"),
           nc = tr_json_get_num(o, "calibration_prompts");
    int ok = (r.use_kept || !strcmp(score, "energy")) && isfinite(t) && isfinite(ec) && es > 0 && isfinite(es) &&
             isfinite(kc) && ks > 0 && isfinite(ks);
    if (ok) {
        r.threshold = (float)t;
        r.e_center = (float)ec;
        r.e_scale = (float)es;
        r.k_center = (float)kc;
        r.k_scale = (float)ks;
        r.fpr = isfinite(fpr) ? fpr : NAN;
        r.n_calibration = nc >= 0 && isfinite(nc) ? (size_t)nc : 0;
        *out = r;
    }
    cJSON_Delete(j);
}
