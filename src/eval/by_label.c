/* Per-label breakdown of an evaluation (see by_label.h).  Labels are
 * matched by exact string; the training split is EVAL.md's, so the label
 * oracle never sees a test score. */
#include "eval/by_label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

typedef struct lab {
    const char *name;
    size_t n;                 /* labelled test prompts */
    double ours, single, own, oracle;   /* sums of true scores */
    int own_model;            /* the label's training-best model */
    size_t n_train;
    size_t top, n_top;        /* the router's most frequent pick, and how often */
} lab;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long find(const char *const *names, size_t n, const char *s)
{
    if (!s) return -1;
    const char *const *p = bsearch(&s, names, n, sizeof *names, cmp_str);
    return p ? (long)(p - names) : -1;
}

/* Most prompts lost to the label oracle first; then by name, so the order
 * is the same on every run. */
static int cmp_lab(const void *a, const void *b)
{
    const lab *x = a, *y = b;
    double dx = x->ours - x->own, dy = y->ours - y->own;
    if (dx != dy) return dx < dy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The training-best model of each label: the highest mean score over the
 * records that have one (a missing label is skipped, never read as 0); ties
 * to the lower mean cost, then the lower index.  A label with no training
 * record falls back to the best single model. */
static int label_best_models(const tr_dataset *ds, unsigned K, unsigned f, const char *const *names, lab *L,
                             size_t nl, size_t best)
{
    size_t M = ds->n_models, *tr = NULL, ntr = 0;
    int rc = tr_dataset_fold_indices(ds, K, f, 0, &tr, &ntr);
    if (rc) return rc;
    double *sq = tr_calloc(nl * M * 3, sizeof *sq);
    if (!sq) { tr_free(tr); return TR_ENOMEM; }
    double *sc = sq + nl * M, *cnt = sc + nl * M;
    for (size_t r = 0; r < ntr; r++) {
        long l = find(names, nl, ds->rec[tr[r]].task);
        if (l < 0) continue;
        L[l].n_train++;
        for (size_t m = 0; m < M; m++) {
            float s = tr_ds_score(ds, tr[r], m), c = tr_ds_cost(ds, tr[r], m);
            if (isnan(s)) continue;
            sq[(size_t)l * M + m] += s;
            sc[(size_t)l * M + m] += isnan(c) ? 0 : c;
            cnt[(size_t)l * M + m] += 1;
        }
    }
    for (size_t l = 0; l < nl; l++) {
        int b = -1;
        double bq = 0, bc = 0;
        for (size_t m = 0; m < M; m++) {
            double k = cnt[l * M + m];
            if (k == 0) continue;
            double q = sq[l * M + m] / k, c = sc[l * M + m] / k;
            if (b < 0 || q > bq || (q == bq && c < bc)) { b = (int)m; bq = q; bc = c; }
        }
        L[l].own_model = b >= 0 ? b : (int)best;
    }
    tr_free(sq);
    tr_free(tr);
    return TR_OK;
}

int tr_eval_by_label(const tr_dataset *ds, unsigned K, unsigned f, const size_t *test, size_t nt, const double *S, size_t M,
                     const int *pick, size_t best, cJSON *root, char *err, size_t errlen)
{
    const char **names = tr_mallocarray(nt ? nt : 1, sizeof *names);
    lab *L = NULL;
    size_t *pc = NULL;
    int rc = TR_ENOMEM;
    if (!names) goto done;
    size_t nl = 0;
    for (size_t i = 0; i < nt; i++)
        if (ds->rec[test[i]].task) names[nl++] = ds->rec[test[i]].task;
    if (nl == 0) { rc = TR_OK; goto done; }
    qsort(names, nl, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < nl; i++)
        if (u == 0 || strcmp(names[u - 1], names[i])) names[u++] = names[i];
    nl = u;
    L = tr_calloc(nl, sizeof *L);
    pc = tr_calloc(nl * M, sizeof *pc);
    if (!L || !pc) goto done;
    for (size_t l = 0; l < nl; l++) L[l].name = names[l];
    if ((rc = label_best_models(ds, K, f, names, L, nl, best))) {
        if (rc != TR_ENOMEM) tr_errorf(err, errlen, rc, "%s: by-label breakdown: cannot read the training split", ds->path);
        goto done;
    }
    rc = TR_ENOMEM;
    size_t n_lab = 0;
    double all_ours = 0, all_own = 0;
    for (size_t i = 0; i < nt; i++) {
        long l = find(names, nl, ds->rec[test[i]].task);
        if (l < 0) continue;
        const double *s = S + i * M;
        double o = s[0];
        for (size_t m = 1; m < M; m++) if (s[m] > o) o = s[m];
        L[l].n++;
        L[l].ours += s[pick[i]];
        L[l].single += s[best];
        L[l].own += s[L[l].own_model];
        L[l].oracle += o;
        pc[(size_t)l * M + (size_t)pick[i]]++;
        n_lab++;
        all_ours += s[pick[i]];
        all_own += s[L[l].own_model];
    }
    for (size_t l = 0; l < nl; l++)
        for (size_t m = 0; m < M; m++)
            if (pc[l * M + m] > L[l].n_top) { L[l].top = m; L[l].n_top = pc[l * M + m]; }
    qsort(L, nl, sizeof *L, cmp_lab);
    cJSON *lo = cJSON_CreateObject(), *by = cJSON_CreateObject();
    if (!lo || !by) { cJSON_Delete(lo); cJSON_Delete(by); goto done; }
    cJSON_AddItemToObject(root, "label_oracle", lo);
    cJSON_AddItemToObject(root, "by_label", by);
    cJSON_AddNumberToObject(lo, "n_labelled", (double)n_lab);
    cJSON_AddItemToObject(lo, "quality", tr_json_num(all_own / (double)n_lab));
    cJSON_AddItemToObject(lo, "taskroute", tr_json_num(all_ours / (double)n_lab));
    for (size_t l = 0; l < nl; l++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) goto done;
        cJSON_AddItemToObject(by, L[l].name, o);
        double n = (double)L[l].n;
        cJSON_AddNumberToObject(o, "n", n);
        cJSON_AddNumberToObject(o, "n_train", (double)L[l].n_train);
        cJSON_AddItemToObject(o, "taskroute", tr_json_num(L[l].ours / n));
        cJSON_AddItemToObject(o, "best_single", tr_json_num(L[l].single / n));
        cJSON_AddStringToObject(o, "label_best_model", ds->models[L[l].own_model]);
        cJSON_AddItemToObject(o, "label_best", tr_json_num(L[l].own / n));
        cJSON_AddItemToObject(o, "oracle", tr_json_num(L[l].oracle / n));
        cJSON_AddItemToObject(o, "prompts_vs_label_best", tr_json_num(L[l].ours - L[l].own));
        cJSON_AddStringToObject(o, "top_pick", ds->models[L[l].top]);
        cJSON_AddItemToObject(o, "top_pick_share", tr_json_num((double)L[l].n_top / n));
    }
    rc = TR_OK;
done:
    tr_free(names);
    tr_free(L);
    tr_free(pc);
    return rc;
}
