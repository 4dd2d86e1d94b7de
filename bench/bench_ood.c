/* bench_ood: out-of-distribution detection on held-out domains.
 *
 *   build/bench/bench_ood DATA.jsonl [--label L] [--heads LIST]
 *
 * For each `task` label L of DATA in turn (or only --label L): train a
 * router on DATA without any record labelled L (its training split, as
 * `taskroute train` does; heads restricted to --heads, prior-soft by
 * default, since the OOD calibration does not depend on the heads and the
 * others only cost time), then route with tr_route every record labelled L
 * (a domain the router never saw) and every test-split record of the other
 * labels (ordinary traffic), counting the decisions with ood set.  Prints a
 * Markdown table row per label: held-out prompts and the share flagged,
 * ordinary test prompts and the share flagged (the false-positive rate;
 * the calibration's target is classify/ood.h's TR_OOD_FPR), the AUC of the
 * OOD score between the two (how well it ranks them, whatever the
 * threshold), and the mean over labels. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "data/dataset.h"
#include "taskroute.h"

typedef struct lines {
    char **text;
    size_t *len;
    char **label;
    size_t n, cap;
} lines;

static int read_lines(const char *path, lines *L)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *ln = NULL;
    size_t lc = 0;
    ssize_t k;
    while ((k = getline(&ln, &lc, f)) > 0) {
        if (L->n == L->cap) {
            L->cap = L->cap ? 2 * L->cap : 1024;
            L->text = realloc(L->text, L->cap * sizeof *L->text);
            L->len = realloc(L->len, L->cap * sizeof *L->len);
            L->label = realloc(L->label, L->cap * sizeof *L->label);
            if (!L->text || !L->len || !L->label) { fclose(f); free(ln); return -1; }
        }
        cJSON *j = cJSON_ParseWithLength(ln, (size_t)k);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "task");
        L->label[L->n] = strdup(cJSON_IsString(t) ? t->valuestring : "");
        cJSON_Delete(j);
        L->text[L->n] = malloc((size_t)k);
        memcpy(L->text[L->n], ln, (size_t)k);
        L->len[L->n++] = (size_t)k;
    }
    free(ln);
    fclose(f);
    return 0;
}

/* The records whose label is (keep = 0) or is not (keep = 1) 'label'. */
static tr_dataset *subset(const lines *L, const char *label, int keep, char *err, size_t errlen)
{
    size_t tot = 0;
    for (size_t i = 0; i < L->n; i++)
        if ((strcmp(L->label[i], label) != 0) == keep) tot += L->len[i];
    char *buf = malloc(tot + 1);
    size_t o = 0;
    for (size_t i = 0; i < L->n; i++)
        if ((strcmp(L->label[i], label) != 0) == keep) { memcpy(buf + o, L->text[i], L->len[i]); o += L->len[i]; }
    tr_dataset *ds = NULL;
    if (tr_dataset_load_mem(buf, o, keep ? "in-distribution" : label, NULL, &ds, err, errlen)) ds = NULL;
    free(buf);
    return ds;
}

/* Route records of ds (test split only when test_only); counts routed and
 * flagged, and their scores into *scores (malloc'ed, *n of them). */
static void route_all(const tr_router *r, const tr_dataset *ds, int test_only, size_t *n, size_t *flagged,
                      float **scores)
{
    tr_scratch *s = NULL;
    *n = *flagged = 0;
    *scores = malloc((ds->n + 1) * sizeof **scores);
    if (tr_scratch_new(r, &s)) return;
    tr_decision d;
    for (size_t i = 0; i < ds->n; i++) {
        const tr_record *rec = &ds->rec[i];
        if (test_only && !tr_split_is_test(rec->id, strlen(rec->id))) continue;
        if (tr_route(r, rec->prompt, rec->prompt_len, NULL, s, &d)) continue;
        (*scores)[*n] = d.ood_score;
        (*n)++;
        *flagged += d.ood != 0;
    }
    tr_scratch_free(s);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* P(score of a held-out prompt > score of an ordinary one), ties half: the
 * score's ranking, whatever the threshold. */
static double auc(float *out, size_t no, float *in, size_t ni)
{
    qsort(in, ni, sizeof *in, cmp_float);
    double w = 0;
    for (size_t i = 0; i < no; i++) {
        size_t lo = 0, hi = ni;   /* in[lo..) >= out[i] */
        while (lo < hi) { size_t m = (lo + hi) / 2; if (in[m] < out[i]) lo = m + 1; else hi = m; }
        size_t below = lo, eq = 0;
        while (below + eq < ni && in[below + eq] == out[i]) eq++;
        w += (double)below + 0.5 * (double)eq;
    }
    return no && ni ? w / ((double)no * (double)ni) : NAN;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *only = NULL, *heads = "prior-soft";
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--label") && a + 1 < argc) only = argv[++a];
        else if (!strcmp(argv[a], "--heads") && a + 1 < argc) heads = argv[++a];
        else if (!path) path = argv[a];
        else { fprintf(stderr, "usage: bench_ood DATA.jsonl [--label L] [--heads LIST]\n"); return 2; }
    }
    if (!path) { fprintf(stderr, "usage: bench_ood DATA.jsonl [--label L] [--heads LIST]\n"); return 2; }
    lines L = {0};
    if (read_lines(path, &L)) { fprintf(stderr, "bench_ood: cannot read %s\n", path); return 1; }
    const char *labels[256];
    size_t nl = 0;
    for (size_t i = 0; i < L.n && nl < 256; i++) {
        size_t q = 0;
        while (q < nl && strcmp(labels[q], L.label[i])) q++;
        if (q == nl && L.label[i][0]) labels[nl++] = L.label[i];
    }
    printf("%s: %zu records, %zu labels; heads %s\n\n", path, L.n, nl, heads);
    printf("| held-out label | its prompts | flagged | ordinary test prompts | flagged (FPR) | AUC | tasks |\n"
           "|---|---:|---:|---:|---:|---:|---:|\n");
    double sum_tpr = 0, sum_fpr = 0, sum_auc = 0;
    size_t runs = 0;
    for (size_t l = 0; l < nl; l++) {
        if (only && strcmp(only, labels[l])) continue;
        char err[1024];
        tr_dataset *in = subset(&L, labels[l], 1, err, sizeof err), *out = in ? subset(&L, labels[l], 0, err, sizeof err) : NULL;
        if (!in || !out) { fprintf(stderr, "bench_ood: %s\n", err); return 1; }
        tr_train_options o;
        tr_train_options_default(&o);
        o.heads = heads;
        tr_router *r = NULL;
        double t0 = tr_now();
        if (tr_train(in, &o, &r, err, sizeof err)) { fprintf(stderr, "bench_ood: %s: %s\n", labels[l], err); return 1; }
        size_t nt, ft, no, fo;
        float *so, *st;
        route_all(r, out, 0, &no, &fo, &so);
        route_all(r, in, 1, &nt, &ft, &st);
        double tpr = no ? (double)fo / (double)no : 0, fpr = nt ? (double)ft / (double)nt : 0, a = auc(so, no, st, nt);
        free(so);
        free(st);
        printf("| %s | %zu | %.1f%% | %zu | %.1f%% | %.3f | %zu |\n", labels[l], no, 100 * tpr, nt, 100 * fpr, a,
               tr_router_task_count(r));
        sum_auc += a;
        fflush(stdout);
        fprintf(stderr, "bench_ood: %s done in %.0f s\n", labels[l], tr_now() - t0);
        sum_tpr += tpr;
        sum_fpr += fpr;
        runs++;
        tr_router_close(r);
        tr_dataset_free(in);
        tr_dataset_free(out);
    }
    if (runs > 1)
        printf("| **mean over %zu labels** | | **%.1f%%** | | **%.1f%%** | %.3f | |\n", runs, 100 * sum_tpr / runs,
               100 * sum_fpr / runs, sum_auc / runs);
    for (size_t i = 0; i < L.n; i++) { free(L.text[i]); free(L.label[i]); }
    free(L.text); free(L.len); free(L.label);
    return 0;
}
