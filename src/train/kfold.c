/* K-fold evaluation: the folds trained in parallel, then summarised.  See
 * kfold.h and tr_evaluate_kfold in taskroute.h.
 *
 * Parallel folds share nothing but the dataset (read-only) and igraph,
 * which cluster/igraph_glue.c serialises; each fold's training runs on
 * its own threads.  Training and evaluation are deterministic whatever
 * their thread count, so the result does not depend on how many folds run
 * at once. */
#include "train/kfold.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/opts.h"
#include "base/util.h"
#include "data/dataset.h"
#include "eval/eval_fold.h"
#include "eval/stats.h"
#include "train/train.h"

#define MAX_FOLDS 100

/* The figures summarised, and which way is better (+1 higher, -1 lower,
 * 0 neither: no paired verdict). */
static const struct { const char *name; int better; } FIG[] = {
    {"q_at_c_best", 1}, {"gap_captured", 1}, {"c_at_q_best", -1}, {"cost_saving", 1}, {"q_max", 1},
    {"c_at_q_max", 0}, {"aiq_lin", 1}, {"aiq_log", 1}, {"ece", -1},
};
#define N_FIG (sizeof FIG / sizeof FIG[0])

static const cJSON *router_of(const cJSON *fold, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fold, "routers"), name);
}

cJSON *tr_kfold_stat_json(const double *x, size_t K)
{
    double m, se;
    tr_stats_mean_se(x, K, &m, &se);
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
    cJSON_AddItemToObject(o, "mean", tr_json_num(m));
    cJSON_AddItemToObject(o, "se", tr_json_num(se));
    for (size_t f = 0; f < K; f++) cJSON_AddItemToArray(a, tr_json_num(x[f]));
    cJSON_AddItemToObject(o, "folds", a);
    return o;
}

cJSON *tr_kfold_paired_json(const double *a, const double *b, size_t K, int better)
{
    double d[MAX_FOLDS];
    tr_paired p;
    if (K > MAX_FOLDS) return NULL;
    tr_stats_paired(a, b, K, d, &p);
    cJSON *o = tr_kfold_stat_json(d, K);
    if (!better) return o;
    cJSON_AddNumberToObject(o, "won", (double)(better > 0 ? p.higher : p.lower));
    cJSON_AddNumberToObject(o, "lost", (double)(better > 0 ? p.lower : p.higher));
    cJSON_AddNumberToObject(o, "tied", (double)p.ties);
    return o;
}

cJSON *tr_kfold_summary(const char *dataset, cJSON *const *folds, size_t K)
{
    if (K == 0 || K > MAX_FOLDS) return NULL;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dataset", dataset ? dataset : "");
    cJSON_AddNumberToObject(j, "folds", (double)K);
    double x[MAX_FOLDS], y[MAX_FOLDS];
    cJSON *nt = cJSON_AddObjectToObject(j, "n_test");
    double total = 0;
    cJSON *a = cJSON_AddArrayToObject(nt, "folds");
    for (size_t f = 0; f < K; f++) {
        x[f] = tr_json_get_num(folds[f], "n_test");
        total += x[f];
        cJSON_AddItemToArray(a, tr_json_num(x[f]));
    }
    cJSON_AddItemToObject(nt, "total", tr_json_num(total));
    cJSON *ref = cJSON_AddObjectToObject(j, "reference");
    static const char *const refs[] = {"q_best", "c_best", "q_oracle", "c_oracle"};
    for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++) {
        for (size_t f = 0; f < K; f++) x[f] = tr_json_get_num(folds[f], refs[r]);
        cJSON_AddItemToObject(ref, refs[r], tr_kfold_stat_json(x, K));
    }
    a = cJSON_AddArrayToObject(ref, "best_model");
    cJSON *heads = cJSON_AddArrayToObject(j, "heads");
    for (size_t f = 0; f < K; f++) {
        const char *bm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(folds[f], "best_model"));
        cJSON_AddItemToArray(a, cJSON_CreateString(bm ? bm : ""));
        cJSON *h = cJSON_CreateObject();
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(folds[f], "heads_quality"));
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(folds[f], "heads_cost"));
        cJSON_AddStringToObject(h, "quality", q ? q : "");
        cJSON_AddStringToObject(h, "cost", c ? c : "");
        cJSON_AddItemToArray(heads, h);
    }
    cJSON *routers = cJSON_AddObjectToObject(j, "routers"), *paired = cJSON_AddObjectToObject(j, "paired");
    const cJSON *ours = router_of(folds[0], "taskroute"), *r0;
    cJSON_ArrayForEach(r0, cJSON_GetObjectItemCaseSensitive(folds[0], "routers")) {
        const char *name = r0->string;
        size_t have = 0;
        for (size_t f = 0; f < K; f++) have += router_of(folds[f], name) != NULL;
        if (have != K) continue;
        cJSON *o = cJSON_AddObjectToObject(routers, name);
        cJSON *p = ours && strcmp(name, "taskroute") ? cJSON_AddObjectToObject(paired, name) : NULL;
        for (size_t g = 0; g < N_FIG; g++) {
            for (size_t f = 0; f < K; f++) {
                x[f] = tr_json_get_num(router_of(folds[f], name), FIG[g].name);
                y[f] = tr_json_get_num(router_of(folds[f], "taskroute"), FIG[g].name);
            }
            cJSON_AddItemToObject(o, FIG[g].name, tr_kfold_stat_json(x, K));
            if (p && FIG[g].better) cJSON_AddItemToObject(p, FIG[g].name, tr_kfold_paired_json(y, x, K, FIG[g].better));
        }
    }
    /* the default policy (what `serve` does with no knob) against the best
     * single model of each fold: the per-fold differences are paired */
    if (cJSON_GetObjectItemCaseSensitive(folds[0], "default_policy")) {
        cJSON *dp = cJSON_AddObjectToObject(j, "default_policy");
        static const char *const dk[] = {"lambda", "mean_quality", "mean_cost", "quality_vs_best", "cost_share_of_best"};
        for (size_t k = 0; dp && k < sizeof dk / sizeof dk[0]; k++) {
            for (size_t f = 0; f < K; f++)
                x[f] = tr_json_get_num(cJSON_GetObjectItemCaseSensitive(folds[f], "default_policy"), dk[k]);
            cJSON_AddItemToObject(dp, dk[k], tr_kfold_stat_json(x, K));
        }
    }
    if (ours) {
        /* the best single model as a router that always picks it: its
         * quality at its own cost is Q_best */
        for (size_t f = 0; f < K; f++) {
            x[f] = tr_json_get_num(folds[f], "q_best");
            y[f] = tr_json_get_num(router_of(folds[f], "taskroute"), "q_at_c_best");
        }
        cJSON *p = cJSON_AddObjectToObject(paired, "best-single");
        cJSON_AddItemToObject(p, "q_at_c_best", tr_kfold_paired_json(y, x, K, 1));
    }
    return j;
}

/* ------------------------------------------------------------ the folds */

typedef struct job {
    const tr_dataset *ds;
    tr_train_options_x topt;  /* threads set per fold; holdout set per fold */
    const tr_kfold_options *kopt;
    const tr_kfold_scorer *scorer;
    int K;
    pthread_mutex_t lock;     /* next, done, the callback */
    int next, done;
    cJSON **tree;             /* K, per fold */
    int *rc;                  /* K */
    char (*err)[512];         /* K */
} job;

static void *run_folds(void *arg)
{
    job *J = arg;
    const tr_kfold_scorer *S = J->scorer;
    for (;;) {
        pthread_mutex_lock(&J->lock);
        int f = J->next < J->K ? J->next++ : -1;
        pthread_mutex_unlock(&J->lock);
        if (f < 0) return NULL;
        tr_train_options_x o = J->topt;
        o.holdout_folds = J->K;
        o.holdout_fold = f;
        tr_router *r = NULL;
        double t0 = tr_now();
        int rc = tr_train(J->ds, &o.pub, &r, J->err[f], sizeof J->err[f]);
        if (rc) tr_error_prefix(J->err[f], sizeof J->err[f], rc, "fold %d of %d: training", f, J->K);
        double t_train = tr_now() - t0;
        if (!rc && (rc = S->score(S->ctx, r, J->ds, (unsigned)J->K, (unsigned)f, &J->tree[f], J->err[f],
                                  sizeof J->err[f])))
            tr_error_prefix(J->err[f], sizeof J->err[f], rc, "fold %d of %d: evaluation", f, J->K);
        tr_router_close(r);
        J->rc[f] = rc;
        pthread_mutex_lock(&J->lock);
        J->done++;
        if (J->kopt->fold_done) {
            char line[512], figs[256] = "";
            if (rc) snprintf(line, sizeof line, "fold %d of %d failed: %s", f, J->K, J->err[f]);
            else {
                if (S->describe) S->describe(J->tree[f], figs, sizeof figs);
                snprintf(line, sizeof line, "fold %d of %d done (%d/%d): %.0f test prompts, trained in %.1f s, "
                         "evaluated in %.1f s%s%s", f, J->K, J->done, J->K, tr_json_get_num(J->tree[f], "n_test"),
                         t_train, tr_now() - t0 - t_train, *figs ? "; " : "", figs);
            }
            J->kopt->fold_done(J->kopt->fold_done_ctx, line);
        }
        pthread_mutex_unlock(&J->lock);
    }
}

void tr_kfold_options_default(tr_kfold_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->folds = 5;
}

/* tr_kfold_options as first published */
#define KFOLD_OPTIONS_MIN TR_SIZE_THROUGH(tr_kfold_options, fold_done_ctx)

int tr_kfold_run(const tr_dataset *ds, const tr_train_options *train, const tr_kfold_options *kopt,
                 const tr_kfold_scorer *scorer, cJSON ***trees, int *folds, char *err, size_t errlen)
{
    if (!trees || !folds) return tr_errorf(err, errlen, TR_EINVAL, "k-fold: trees or folds is NULL");
    *trees = NULL;
    *folds = 0;
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "k-fold: ds is NULL");
    if (!scorer || !scorer->score) return tr_errorf(err, errlen, TR_EINVAL, "k-fold: no scorer");
    tr_kfold_options kd;
    tr_kfold_options_default(&kd);
    int rc = kopt ? tr_opts_take(&kd, sizeof kd, kopt, KFOLD_OPTIONS_MIN, "tr_kfold_options", err, errlen) : TR_OK;
    if (rc) return rc;
    const tr_kfold_options *opt = &kd;
    int K = opt->folds;
    if (K < 2 || K > MAX_FOLDS)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_kfold_options: folds %d not in [2, %d]", K, MAX_FOLDS);
    if (opt->baselines != 0 && opt->baselines != 1)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_kfold_options: baselines %d is not 0 or 1", opt->baselines);
    if (opt->jobs < 0) return tr_errorf(err, errlen, TR_EINVAL, "tr_kfold_options: jobs %d is negative", opt->jobs);
    /* the training options as tr_train takes them: public or the extension */
    tr_train_options_x tx;
    if ((rc = tr_train_options_take(train, &tx, err, errlen))) return rc;
    if (tx.pub.use_all || tx.pub.warm_start || tx.cv_predictions)
        return tr_errorf(err, errlen, TR_EINVAL, "k-fold evaluation trains each fold's router from scratch on the "
                         "fold's training part: use_all, warm_start and cv_predictions do not apply");
    int ncpu = tr_ncpu(), th = tx.pub.threads;
    int jobs = opt->jobs > 0 ? opt->jobs : th > 0 ? (ncpu / th > 1 ? ncpu / th : 1) : ncpu;
    if (jobs > K) jobs = K;
    if (jobs > TR_RUN_MAX_THREADS) jobs = TR_RUN_MAX_THREADS;
    job J;
    memset(&J, 0, sizeof J);
    J.ds = ds;
    J.topt = tx;
    J.topt.pub.threads = th > 0 ? th : (ncpu / jobs > 1 ? ncpu / jobs : 1);
    J.topt.pub.progress = NULL;   /* fold_done reports instead: stages of parallel folds would interleave */
    /* OpenBLAS's thread count is process-wide: set (when asked) once for the
     * whole run, so that no fold's set-and-restore sees another fold's */
    int blas_threads = J.topt.pub.blas_threads;
    J.topt.pub.blas_threads = 0;
    J.kopt = opt;
    J.scorer = scorer;
    J.K = K;
    J.tree = tr_calloc((size_t)K, sizeof *J.tree);
    J.rc = tr_calloc((size_t)K, sizeof *J.rc);
    J.err = tr_calloc((size_t)K, sizeof *J.err);
    if (!J.tree || !J.rc || !J.err) { rc = tr_errorf(err, errlen, TR_ENOMEM, "k-fold evaluation: out of memory"); goto done; }
    pthread_mutex_init(&J.lock, NULL);
    int blas = blas_threads > 0 ? openblas_get_num_threads() : 0;
    if (blas_threads > 0) openblas_set_num_threads(blas_threads);
    tr_run_workers(jobs, run_folds, &J, 0);
    if (blas_threads > 0) openblas_set_num_threads(blas);
    pthread_mutex_destroy(&J.lock);
    for (int f = 0; f < K && !rc; f++)   /* the first failing fold, whatever order they ran in */
        if (J.rc[f]) rc = tr_errorf(err, errlen, J.rc[f], "%s", J.err[f]);
done:
    if (rc && J.tree) {
        for (int f = 0; f < K; f++) cJSON_Delete(J.tree[f]);
        tr_free(J.tree);
        J.tree = NULL;
    }
    tr_free(J.rc);
    tr_free(J.err);
    if (!rc) {
        *trees = J.tree;
        *folds = K;
    }
    return rc;
}

/* tr_evaluate's protocol on each fold */
static int eval_score(void *ctx, const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, cJSON **out,
                      char *err, size_t errlen)
{
    return tr_evaluate_fold(r, ds, K, f, *(const int *)ctx, out, NULL, err, errlen);
}

static void eval_describe(const cJSON *t, char *buf, size_t n)
{
    const cJSON *ours = router_of(t, "taskroute");
    snprintf(buf, n, "Q@C_best %.4f (best single model %.4f), AIQ(log) %.4f", tr_json_get_num(ours, "q_at_c_best"),
             tr_json_get_num(t, "q_best"), tr_json_get_num(ours, "aiq_log"));
}

int tr_evaluate_kfold(const tr_dataset *ds, const tr_train_options *train, const tr_kfold_options *kopt,
                      char **json, char *err, size_t errlen)
{
    if (!json) return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate_kfold: json is NULL");
    *json = NULL;
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_evaluate_kfold: ds is NULL");
    tr_kfold_options kd;
    tr_kfold_options_default(&kd);
    int rc = kopt ? tr_opts_take(&kd, sizeof kd, kopt, KFOLD_OPTIONS_MIN, "tr_kfold_options", err, errlen) : TR_OK;
    if (rc) return rc;
    int flags = TR_EVAL_ABLATIONS | (kd.baselines == 1 ? TR_EVAL_BASELINES : 0);
    tr_kfold_scorer sc = {eval_score, eval_describe, &flags};
    cJSON **tree = NULL;
    int K = 0;
    rc = tr_kfold_run(ds, train, &kd, &sc, &tree, &K, err, errlen);
    if (rc) return rc;
    cJSON *sum = tr_kfold_summary(ds->path, tree, (size_t)K);
    *json = tr_json_print(sum);
    cJSON_Delete(sum);
    if (!*json) rc = tr_errorf(err, errlen, TR_ENOMEM, "k-fold evaluation: out of memory");
    for (int f = 0; f < K; f++) cJSON_Delete(tree[f]);
    tr_free(tree);
    return rc;
}
