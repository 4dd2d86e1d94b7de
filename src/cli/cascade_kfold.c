/* The verified cascade's k-fold figures (cascade_figures.h): the folds of
 * `eval --folds` (train/kfold.h) with the cascade tuned and scored in each,
 * summarised as mean +- standard error and paired differences against
 * plain routing on the same folds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli/cascade_figures.h"
#include "cli/cli.h"
#include "train/kfold.h"

typedef struct ctx {
    const cli_cascade_verify *cv;
    const tr_cascade_opts *co;
} ctx;

static int fold_score(void *p, const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, cJSON **out,
                      char *err, size_t errlen)
{
    const ctx *c = p;
    cJSON *t = cJSON_CreateObject();
    tr_cascade_params best;
    if (!t) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (cli_cascade_fold(r, ds, c->cv, K, f, c->co, t, &best, err, errlen)) {
        cJSON_Delete(t);
        return TR_EINVAL;
    }
    if (best.from_router) cJSON_AddStringToObject(t, "start", "router");
    else cJSON_AddNumberToObject(t, "tolerance", best.tolerance);
    cJSON_AddNumberToObject(t, "threshold", best.threshold);
    *out = t;
    return TR_OK;
}

static const cJSON *test_of(const cJSON *fold, const char *who)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fold, "test"), who);
}

static void fold_describe(const cJSON *t, char *buf, size_t n)
{
    const cJSON *c = test_of(t, "cascade"), *p = test_of(t, "plain_routing");
    snprintf(buf, n, "cascade quality %.4f at cost %.3g (%.0f%% escalated), plain routing %.4f at %.3g",
             tr_json_get_num(c, "quality"), tr_json_get_num(c, "cost"), 100 * tr_json_get_num(t, "escalated_test"),
             tr_json_get_num(p, "quality"), tr_json_get_num(p, "cost"));
}

/* The figures of both arms, and which way is better for the paired
 * verdict (+1 higher, -1 lower). */
static const struct { const char *key; int better; } FIG[] = {
    {"quality", 1}, {"cost", -1}, {"dibc_percent", 1}, {"q_at_cbest", 1}, {"saving", 1}, {"aiq_log", 1},
};
#define N_FIG (sizeof FIG / sizeof FIG[0])
#define MAX_K 100

static cJSON *summary(const char *dataset, cJSON *const *t, size_t K, const tr_cascade_opts *co)
{
    double x[MAX_K], y[MAX_K];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dataset", dataset);
    cJSON_AddNumberToObject(j, "folds", (double)K);
    cJSON_AddNumberToObject(j, "max_steps", (double)co->max_steps);
    cJSON_AddNumberToObject(j, "verify_cost_share", co->verify_cost_share);
    static const char *const counts[] = {"n_test", "n_train"};
    for (size_t k = 0; k < 2; k++) {
        cJSON *o = cJSON_AddObjectToObject(j, counts[k]), *a = cJSON_AddArrayToObject(o, "folds");
        double total = 0;
        for (size_t f = 0; f < K; f++) {
            total += tr_json_get_num(t[f], counts[k]);
            cJSON_AddItemToArray(a, tr_json_num(tr_json_get_num(t[f], counts[k])));
        }
        cJSON_AddNumberToObject(o, "total", total);
    }
    for (size_t f = 0; f < K; f++) x[f] = tr_json_get_num(t[f], "lambda");
    cJSON_AddItemToObject(j, "lambda", tr_kfold_stat_json(x, K));
    cJSON *ch = cJSON_AddArrayToObject(j, "chosen");
    for (size_t f = 0; f < K; f++) {
        cJSON *o = cJSON_CreateObject();
        if (cJSON_GetObjectItemCaseSensitive(t[f], "start")) cJSON_AddStringToObject(o, "start", "router");
        else cJSON_AddNumberToObject(o, "tolerance", tr_json_get_num(t[f], "tolerance"));
        cJSON_AddNumberToObject(o, "threshold", tr_json_get_num(t[f], "threshold"));
        cJSON_AddItemToArray(ch, o);
    }
    cJSON *bs = cJSON_AddObjectToObject(j, "best_single"), *bm = cJSON_AddArrayToObject(bs, "model");
    for (size_t f = 0; f < K; f++) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(test_of(t[f], "best_single"), "model"));
        cJSON_AddItemToArray(bm, cJSON_CreateString(s ? s : ""));
    }
    static const char *const bk[] = {"quality", "cost"};
    for (size_t k = 0; k < 2; k++) {
        for (size_t f = 0; f < K; f++) x[f] = tr_json_get_num(test_of(t[f], "best_single"), bk[k]);
        cJSON_AddItemToObject(bs, bk[k], tr_kfold_stat_json(x, K));
    }
    cJSON *pl = cJSON_AddObjectToObject(j, "plain_routing"), *ca = cJSON_AddObjectToObject(j, "cascade");
    cJSON *pa = cJSON_AddObjectToObject(j, "paired");
    for (size_t g = 0; g < N_FIG; g++) {
        for (size_t f = 0; f < K; f++) {
            x[f] = tr_json_get_num(test_of(t[f], "cascade"), FIG[g].key);
            y[f] = tr_json_get_num(test_of(t[f], "plain_routing"), FIG[g].key);
        }
        cJSON_AddItemToObject(ca, FIG[g].key, tr_kfold_stat_json(x, K));
        cJSON_AddItemToObject(pl, FIG[g].key, tr_kfold_stat_json(y, K));
        cJSON_AddItemToObject(pa, FIG[g].key, tr_kfold_paired_json(x, y, K, FIG[g].better));
    }
    static const char *const ck[][2] = {{"escalated_test", "escalated"}, {"steps_test", "steps"}};
    for (size_t k = 0; k < 2; k++) {
        for (size_t f = 0; f < K; f++) x[f] = tr_json_get_num(t[f], ck[k][0]);
        cJSON_AddItemToObject(ca, ck[k][1], tr_kfold_stat_json(x, K));
    }
    return j;
}

static void fold_line(void *c, const char *line)
{
    fprintf(stderr, "taskroute %s: %s\n", (const char *)c, line);
}

int cli_cascade_kfold(const char *cmd, const tr_dataset *ds, const char *dpath, const tr_train_options *train,
                      const tr_kfold_options *kopt, const tr_cascade_opts *co, cJSON **out)
{
    *out = NULL;
    cli_cascade_verify cv;
    long nv = cli_cascade_read_verify(cmd, dpath, ds, &cv);
    if (nv <= 0) return nv < 0 ? -1 : 1;
    ctx c = {&cv, co};
    tr_kfold_scorer sc = {fold_score, fold_describe, &c};
    tr_kfold_options ko = *kopt;
    if (!cli_quiet) {
        ko.fold_done = fold_line;
        ko.fold_done_ctx = (void *)cmd;
    }
    cJSON **t = NULL;
    int K = 0;
    char err[1024];
    int rc = tr_kfold_run(ds, train, &ko, &sc, &t, &K, err, sizeof err);
    tr_free(cv.v);
    if (rc) {
        cli_fail(cmd, 0, "%s", err);
        return -1;
    }
    *out = summary(dpath, t, (size_t)K, co);
    for (int f = 0; f < K; f++) cJSON_Delete(t[f]);
    tr_free(t);
    if (!*out) {
        cli_fail(cmd, 0, "out of memory");
        return -1;
    }
    return 0;
}

/* "0.7261 +- 0.0031" of {mean, se}: kind q (4 decimals), c (3 digits),
 * p (percent of a share), d (one decimal); sign: a difference */
static void fmt(char *b, size_t n, const cJSON *st, char kind, int sign)
{
    double m = tr_json_get_num(st, "mean"), se = tr_json_get_num(st, "se");
    if (!st || isnan(m)) { snprintf(b, n, "-"); return; }
    char ms[32], ss[32];
    switch (kind) {
    case 'c': snprintf(ms, sizeof ms, sign ? "%+.3g" : "%.3g", m); snprintf(ss, sizeof ss, "%.2g", se); break;
    case 'p': snprintf(ms, sizeof ms, sign ? "%+.1f%%" : "%.1f%%", 100 * m); snprintf(ss, sizeof ss, "%.1f", 100 * se); break;
    case 'd': snprintf(ms, sizeof ms, sign ? "%+.1f" : "%.1f", m); snprintf(ss, sizeof ss, "%.1f", se); break;
    default: snprintf(ms, sizeof ms, sign ? "%+.4f" : "%.4f", m); snprintf(ss, sizeof ss, "%.4f", se); break;
    }
    if (isnan(se)) snprintf(b, n, "%s", ms);
    else snprintf(b, n, "%s +- %s", ms, ss);
}

void cli_cascade_kfold_print(const cJSON *j)
{
    const cJSON *nt = cJSON_GetObjectItem(j, "n_test"), *v;
    char a[96], b[96], c[128];
    fmt(a, sizeof a, cJSON_GetObjectItem(j, "lambda"), 'c', 0);
    printf("cascade, %.0f folds of %s: %.0f test prompts (per fold:", tr_json_get_num(j, "folds"),
           cJSON_GetStringValue(cJSON_GetObjectItem(j, "dataset")), tr_json_get_num(nt, "total"));
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(nt, "folds")) printf(" %.0f", v->valuedouble);
    printf(")\nlambda %s, at most %.0f models, a verification costs %.3g x its answer\n", a,
           tr_json_get_num(j, "max_steps"), tr_json_get_num(j, "verify_cost_share"));
    printf("chosen per fold (start/threshold; a start is a tolerance or the router's choice):");
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(j, "chosen")) {
        if (cJSON_GetObjectItem(v, "start")) printf(" router/%.3g", tr_json_get_num(v, "threshold"));
        else printf(" %.3g/%.3g", tr_json_get_num(v, "tolerance"), tr_json_get_num(v, "threshold"));
    }
    const cJSON *bs = cJSON_GetObjectItem(j, "best_single");
    fmt(a, sizeof a, cJSON_GetObjectItem(bs, "quality"), 'q', 0);
    fmt(b, sizeof b, cJSON_GetObjectItem(bs, "cost"), 'c', 0);
    printf("\nbest single model: quality %s, cost %s USD (per fold:", a, b);
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(bs, "model")) printf(" %s", v->valuestring);
    printf(")\n\nmean +- standard error over the folds; cascade minus plain routing per fold (folds won/lost)\n");
    static const struct { const char *key, *title; char kind; } R[] = {
        {"quality", "quality", 'q'}, {"cost", "cost USD", 'c'}, {"escalated", "escalated", 'p'},
        {"dibc_percent", "dIBC %", 'd'}, {"q_at_cbest", "Q@C_best", 'q'}, {"saving", "saving", 'p'},
        {"aiq_log", "AIQ log", 'q'}};
    printf("%-10s %22s %22s %30s\n", "figure", "plain routing", "cascade", "cascade - plain");
    const cJSON *pl = cJSON_GetObjectItem(j, "plain_routing"), *ca = cJSON_GetObjectItem(j, "cascade");
    const cJSON *pa = cJSON_GetObjectItem(j, "paired");
    for (size_t k = 0; k < sizeof R / sizeof R[0]; k++) {
        const cJSON *p = cJSON_GetObjectItem(pa, R[k].key);
        fmt(a, sizeof a, cJSON_GetObjectItem(pl, R[k].key), R[k].kind, 0);
        fmt(b, sizeof b, cJSON_GetObjectItem(ca, R[k].key), R[k].kind, 0);
        fmt(c, sizeof c, p, R[k].kind, 1);
        if (p) {
            size_t l = strlen(c);
            snprintf(c + l, sizeof c - l, " (%.0f/%.0f)", tr_json_get_num(p, "won"), tr_json_get_num(p, "lost"));
        }
        printf("%-10s %22s %22s %30s\n", R[k].title, a, b, p ? c : "");
    }
}
