/* The taxonomy report as JSON; see taxonomy.h. */
#include "cluster/taxonomy.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cluster/community.h"

/* Exemplar text: the first 160 bytes of a prompt, cut at a UTF-8 boundary,
 * newlines folded, "…" when cut. */
static cJSON *exemplar(const char *p, size_t len)
{
    char buf[200];
    size_t max = 160, n = len < max ? len : max;
    while (n < len && n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof buf - 4; i++) buf[o++] = (p[i] == '\n' || p[i] == '\r' || p[i] == '\t') ? ' ' : p[i];
    if (n < len) { memcpy(buf + o, "\xE2\x80\xA6", 3); o += 3; }
    buf[o] = 0;
    return cJSON_CreateString(buf);
}

/* Distinct human labels -> ids; -1 for records without one.  Returns count. */
static size_t label_ids(const tr_taxonomy_input *in, int32_t *lab, char ***names_out)
{
    size_t cap = 16, k = 0;
    char **names = tr_calloc(cap, sizeof *names);
    if (!names) return 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *t = in->ds->rec[in->idx[i]].task;
        lab[i] = -1;
        if (!t) continue;
        size_t j = 0;
        while (j < k && strcmp(names[j], t)) j++;
        if (j == k) {
            if (k == cap) {
                char **nn = tr_realloc(names, 2 * cap * sizeof *nn);
                if (!nn) break;
                names = nn;
                cap *= 2;
            }
            names[k++] = (char *)t;   /* borrowed from the dataset */
        }
        lab[i] = (int32_t)j;
    }
    *names_out = names;
    return k;
}

static void add_label_agreement(cJSON *root, const tr_taxonomy_input *in)
{
    size_t T = in->tasks->n_tasks, n = in->n;
    int32_t *lab = tr_mallocarray(n ? n : 1, sizeof *lab);
    char **names = NULL;
    if (!lab) return;
    size_t L = label_ids(in, lab, &names);
    size_t labelled = 0;
    for (size_t i = 0; i < n; i++) labelled += lab[i] >= 0;
    if (L == 0 || labelled < n) {   /* compare only when every prompt has a label */
        cJSON_AddItemToObject(root, "labels", cJSON_CreateNull());
        tr_free(lab); tr_free(names);
        return;
    }
    double nmi = NAN, ari = NAN;
    char e2[256];
    if (tr_partition_compare(in->membership, lab, n, &nmi, &ari, e2, sizeof e2)) nmi = ari = NAN;
    cJSON *o = cJSON_AddObjectToObject(root, "labels");
    cJSON_AddNumberToObject(o, "n_labels", (double)L);
    cJSON_AddItemToObject(o, "nmi", tr_json_num(nmi));
    cJSON_AddItemToObject(o, "ari", tr_json_num(ari));
    size_t *ct = tr_calloc(T * L, sizeof *ct);
    if (ct) {
        for (size_t i = 0; i < n; i++) ct[(size_t)in->membership[i] * L + (size_t)lab[i]]++;
        size_t pure = 0;
        cJSON *tab = cJSON_AddArrayToObject(o, "purity");
        for (size_t t = 0; t < T; t++) {
            size_t best = 0, tot = 0;
            for (size_t l = 0; l < L; l++) { tot += ct[t * L + l]; if (ct[t * L + l] > ct[t * L + best]) best = l; }
            pure += ct[t * L + best];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "task", (double)t);
            cJSON_AddStringToObject(e, "label", names[best]);
            cJSON_AddItemToObject(e, "share", tr_json_num(tot ? (double)ct[t * L + best] / (double)tot : NAN));
            cJSON_AddItemToArray(tab, e);
        }
        cJSON_AddNumberToObject(o, "purity_overall", (double)pure / (double)n);
        /* where each label went: its largest task and that task's share */
        cJSON *by = cJSON_AddArrayToObject(o, "by_label");
        for (size_t l = 0; l < L; l++) {
            size_t best = 0, tot = 0;
            for (size_t t = 0; t < T; t++) { tot += ct[t * L + l]; if (ct[t * L + l] > ct[best * L + l]) best = t; }
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "label", names[l]);
            cJSON_AddNumberToObject(e, "prompts", (double)tot);
            cJSON_AddNumberToObject(e, "main_task", (double)best);
            cJSON_AddItemToObject(e, "share", tr_json_num(tot ? (double)ct[best * L + l] / (double)tot : NAN));
            cJSON_AddItemToArray(by, e);
        }
        tr_free(ct);
    }
    tr_free(lab);
    tr_free(names);
}

int tr_taxonomy_json(const tr_taxonomy_input *in, char **json, char *err, size_t errlen)
{
    *json = NULL;
    const tr_tasks *tk = in->tasks;
    size_t T = tk->n_tasks, M = tk->n_models, d = in->dim;
    cJSON *root = cJSON_CreateObject();
    if (!root) return tr_errorf(err, errlen, TR_ENOMEM, "taxonomy: out of memory");
    cJSON_AddStringToObject(root, "dataset", in->ds->path ? in->ds->path : "");
    size_t n_all = in->n_total > in->n ? in->n_total : in->n;
    cJSON_AddNumberToObject(root, "n_prompts", (double)n_all);
    if (n_all > in->n) cJSON_AddNumberToObject(root, "sample_prompts", (double)in->n);
    cJSON_AddNumberToObject(root, "n_tasks", (double)T);
    cJSON_AddStringToObject(root, "algo", in->algo ? in->algo : "");
    cJSON_AddItemToObject(root, "resolution", tr_json_num(in->resolution));
    cJSON_AddItemToObject(root, "modularity", tr_json_num(in->modularity));
    cJSON *clf = cJSON_AddObjectToObject(root, "classifier");
    cJSON_AddItemToObject(clf, "heldout_accuracy", tr_json_num(in->clf_accuracy));
    cJSON_AddItemToObject(clf, "heldout_ece", tr_json_num(in->clf_ece));
    cJSON *secs = cJSON_AddObjectToObject(root, "seconds");
    cJSON_AddItemToObject(secs, "embed", tr_json_num(in->seconds_embed));
    cJSON_AddItemToObject(secs, "graph", tr_json_num(in->seconds_graph));
    cJSON_AddItemToObject(secs, "cluster", tr_json_num(in->seconds_cluster));
    cJSON_AddItemToObject(secs, "classifier", tr_json_num(in->seconds_classifier));
    /* sizes histogram in powers of two: [1,2) [2,4) ... */
    size_t hist[40] = {0};
    for (size_t t = 0; t < T; t++) {
        size_t b = 0, s = tk->sizes[t];
        while (s > 1 && b < 39) { s >>= 1; b++; }
        hist[b]++;
    }
    cJSON *h = cJSON_AddArrayToObject(root, "size_histogram");
    for (size_t b = 0; b < 40; b++) {
        if (!hist[b]) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "from", (double)(1ull << b));
        cJSON_AddNumberToObject(e, "to", (double)(2ull << b) - 1);
        cJSON_AddNumberToObject(e, "tasks", (double)hist[b]);
        cJSON_AddItemToArray(h, e);
    }
    add_label_agreement(root, in);
    cJSON *ood = cJSON_AddObjectToObject(root, "ood");
    cJSON_AddItemToObject(ood, "threshold", tr_json_num(in->ood_threshold));
    cJSON_AddItemToObject(ood, "fpr", tr_json_num(in->ood_fpr));
    cJSON_AddNumberToObject(ood, "calibration_prompts", (double)in->ood_calibration);
    cJSON_AddNumberToObject(ood, "outside_prompts", (double)in->ood_outside);
    cJSON_AddNumberToObject(ood, "outside_flagged", (double)in->ood_flagged);
    cJSON_AddItemToObject(ood, "outside_share",
                          in->ood_outside ? cJSON_CreateNumber((double)in->ood_flagged / (double)in->ood_outside)
                                          : cJSON_CreateNull());

    /* exemplars: the 3 prompts nearest each centroid */
    enum { NE = 3 };
    size_t nex = T * (size_t)NE;
    size_t *ex = tr_mallocarray(nex ? nex : 1, sizeof *ex);
    float *exs = tr_mallocarray(nex ? nex : 1, sizeof *exs);
    if (!ex || !exs) { tr_free(ex); tr_free(exs); cJSON_Delete(root); return tr_errorf(err, errlen, TR_ENOMEM, "taxonomy: out of memory"); }
    for (size_t k = 0; k < T * NE; k++) { ex[k] = SIZE_MAX; exs[k] = -INFINITY; }
    for (size_t i = 0; i < in->n; i++) {
        size_t t = (size_t)in->membership[i];
        const float *c = tk->centroids + t * d, *x = in->X + i * d;
        float s = 0;
        for (size_t j = 0; j < d; j++) s += c[j] * x[j];
        for (size_t k = 0; k < NE; k++) {
            if (s > exs[t * NE + k]) {
                for (size_t q = NE - 1; q > k; q--) { exs[t * NE + q] = exs[t * NE + q - 1]; ex[t * NE + q] = ex[t * NE + q - 1]; }
                exs[t * NE + k] = s;
                ex[t * NE + k] = i;
                break;
            }
        }
    }
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (size_t t = 0; t < T; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", tk->ids[t]);
        cJSON_AddNumberToObject(o, "index", (double)t);
        cJSON_AddStringToObject(o, "slug", tk->slugs[t]);
        cJSON_AddStringToObject(o, "name", tk->names[t]);
        cJSON *kws = cJSON_AddArrayToObject(o, "keywords");
        if (in->keywords && t < in->keywords->T)
            for (size_t k = 0; k < in->keywords->K; k++) {
                const char *w = in->keywords->words[t * in->keywords->K + k];
                if (w) cJSON_AddItemToArray(kws, cJSON_CreateString(w));
            }
        cJSON_AddNumberToObject(o, "size", tk->sizes[t]);
        cJSON_AddNumberToObject(o, "share", n_all ? (double)tk->sizes[t] / (double)n_all : 0);
        cJSON *exa = cJSON_AddArrayToObject(o, "exemplars");
        for (size_t k = 0; k < NE; k++) {
            if (ex[t * NE + k] == SIZE_MAX) continue;
            const tr_record *r = &in->ds->rec[in->idx[ex[t * NE + k]]];
            cJSON_AddItemToArray(exa, exemplar(r->prompt, r->prompt_len));
        }
        if (M) {
            cJSON *mods = cJSON_AddArrayToObject(o, "models");
            int best = -1, value = -1;
            for (size_t m = 0; m < M; m++) {
                float q = tk->quality[t * M + m];
                if (!isnan(q) && (best < 0 || q > tk->quality[t * M + (size_t)best])) best = (int)m;
            }
            for (size_t m = 0; m < M; m++) {
                float q = tk->quality[t * M + m], c = tk->cost[t * M + m];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "model", in->models[m]);
                cJSON_AddItemToObject(e, "quality", tr_json_num(q));
                cJSON_AddItemToObject(e, "cost", tr_json_num(c));
                cJSON_AddNumberToObject(e, "labels", tk->n_labels[t * M + m]);
                cJSON_AddItemToArray(mods, e);
                if (best >= 0 && !isnan(q) && !isnan(c) && q >= tk->quality[t * M + (size_t)best] - TR_VALUE_TOLERANCE &&
                    (value < 0 || c < tk->cost[t * M + (size_t)value]))
                    value = (int)m;
            }
            if (best >= 0) {
                cJSON_AddStringToObject(o, "best_model", in->models[best]);
                cJSON_AddItemToObject(o, "best_quality", tr_json_num(tk->quality[t * M + (size_t)best]));
                cJSON_AddItemToObject(o, "best_cost", tr_json_num(tk->cost[t * M + (size_t)best]));
            }
            if (value >= 0) {
                cJSON_AddStringToObject(o, "best_value_model", in->models[value]);
                cJSON_AddItemToObject(o, "best_value_quality", tr_json_num(tk->quality[t * M + (size_t)value]));
                cJSON_AddItemToObject(o, "best_value_cost", tr_json_num(tk->cost[t * M + (size_t)value]));
            }
        }
        cJSON_AddItemToArray(tasks, o);
    }
    tr_free(ex);
    tr_free(exs);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return tr_errorf(err, errlen, TR_ENOMEM, "taxonomy: out of memory");
    *json = tr_strdup(s);
    cJSON_free(s);
    return *json ? TR_OK : tr_errorf(err, errlen, TR_ENOMEM, "taxonomy: out of memory");
}
