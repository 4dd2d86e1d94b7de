/* The verified cascade's figures on data with verifier confidences
 * (cascade_figures.h): the confidences read by line, one fold's tuning and
 * scoring, the one-split figures and their table. */
#include "cli/cascade_figures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/json.h"
#include "base/util.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "eval/cascade_tune.h"
#include "heads/select.h"

#define N_LAMBDA 61

long cli_cascade_read_verify(const char *cmd, const char *path, const tr_dataset *ds, cli_cascade_verify *out)
{
    out->v = NULL;
    out->lines = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { cli_fail(cmd, 0, "%s: cannot open", path); return -1; }
    size_t cap = 0, lines = 0, m = ds->n_models;
    float *v = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long n = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lines++;
        if (lines > cap) {
            size_t nc = cap ? 2 * cap : 4096;
            float *p = tr_realloc(v, nc * m * sizeof *v);
            if (!p) { cli_fail(cmd, 0, "out of memory"); n = -1; break; }
            for (size_t i = cap * m; i < nc * m; i++) p[i] = NAN;
            v = p;
            cap = nc;
        }
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "verify");
        const cJSON *e;
        cJSON_ArrayForEach(e, ver) {
            if (!e->string) continue;
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= 1)) {
                cli_fail(cmd, 0, "%s:%zu: field 'verify.%s' must be a number in [0, 1]", path, lines, e->string);
                n = -1;
                break;
            }
            for (size_t k = 0; k < m; k++)
                if (!strcmp(ds->models[k], e->string)) {
                    v[(lines - 1) * m + k] = (float)e->valuedouble;
                    n++;
                }
        }
        cJSON_Delete(j);
        if (n < 0) break;
    }
    free(line);
    fclose(f);
    if (n <= 0) {   /* nothing to keep: an error, or no confidence at all */
        tr_free(v);
        return n;
    }
    out->v = v;
    out->lines = lines;
    return n;
}

typedef struct figs {
    double q, c, dibc;
    tr_eval_figures f;
} figs;

static cJSON *figs_json(const figs *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "quality", x->q);
    cJSON_AddNumberToObject(o, "cost", x->c);
    if (isfinite(x->dibc)) cJSON_AddNumberToObject(o, "dibc_percent", x->dibc);
    if (isfinite(x->f.q_at_cbest)) cJSON_AddNumberToObject(o, "q_at_cbest", x->f.q_at_cbest);
    if (isfinite(x->f.saving)) cJSON_AddNumberToObject(o, "saving", x->f.saving);
    if (isfinite(x->f.aiq_log)) cJSON_AddNumberToObject(o, "aiq_log", x->f.aiq_log);
    if (isfinite(x->f.aiq_lin)) cJSON_AddNumberToObject(o, "aiq_lin", x->f.aiq_lin);
    return o;
}

int cli_cascade_fold(const tr_router *r, const tr_dataset *ds, const cli_cascade_verify *cv, unsigned K, unsigned f,
                     const tr_cascade_opts *co, cJSON *t, tr_cascade_params *best_out, char *err, size_t errlen)
{
    double lambda = co->lambda, share = co->verify_cost_share;
    long max_steps = co->max_steps;
    int rc = -1;
    char e2[1024];
    float *qhat = NULL, *chat = NULL, *q = NULL, *c = NULL, *v = NULL;
    double *tq = NULL, *tc = NULL;
    unsigned char *train = NULL, *test = NULL, *in_test = NULL, *in_train = NULL;
    size_t *idx = NULL, nidx = 0;
    tr_point *sweep = NULL, *lsweep = NULL;
    tr_scratch *sc = NULL;
    size_t m = ds->n_models, n = 0, N = ds->n;
    int *map = tr_calloc(m ? m : 1, sizeof *map);
    if (!map) { snprintf(err, errlen, "out of memory"); goto done; }
    for (size_t j = 0; j < m; j++) {
        map[j] = tr_router_find_model(r, ds->models[j]);
        if (map[j] < 0) {
            snprintf(err, errlen, "the router has no model '%s' of %s", ds->models[j], ds->path);
            goto done;
        }
    }
    if (!isfinite(lambda)) {
        tr_route_options opt;
        tr_route_options_default(&opt);
        tr_router_default_policy(r, &opt, NULL);
        lambda = tr_route_lambda(r, &opt);
        if (!isfinite(lambda)) lambda = 0;
    }
    qhat = tr_mallocarray(N * m, sizeof *qhat);
    chat = tr_mallocarray(N * m, sizeof *chat);
    q = tr_mallocarray(N * m, sizeof *q);
    c = tr_mallocarray(N * m, sizeof *c);
    v = tr_mallocarray(N * m, sizeof *v);
    train = tr_calloc(N, 1);
    test = tr_calloc(N, 1);
    in_test = tr_calloc(N, 1);
    in_train = tr_calloc(N, 1);
    tq = tr_mallocarray(N * m, sizeof *tq);
    tc = tr_mallocarray(N * m, sizeof *tc);
    sweep = tr_mallocarray(tr_cascade_grid_size(), sizeof *sweep);
    lsweep = tr_mallocarray(N_LAMBDA, sizeof *lsweep);
    if (!qhat || !chat || !q || !c || !v || !train || !test || !in_test || !in_train || !tq || !tc || !sweep ||
        !lsweep || tr_scratch_new(r, &sc)) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* the protocol's fold: its complete test records, and the records
     * outside it (the fold's router was trained on those) */
    if (tr_dataset_fold_indices(ds, K, f, 1, &idx, &nidx)) { snprintf(err, errlen, "fold %u of %u: no such fold", f, K); goto done; }
    for (size_t i = 0; i < nidx; i++) in_test[idx[i]] = 1;
    tr_free(idx);
    idx = NULL;
    if (tr_dataset_fold_indices(ds, K, f, 0, &idx, &nidx)) { snprintf(err, errlen, "fold %u of %u: no such fold", f, K); goto done; }
    for (size_t i = 0; i < nidx; i++) in_train[idx[i]] = 1;
    size_t n_test = 0, n_train = 0;
    for (size_t i = 0; i < N; i++) {
        const tr_record *rec = &ds->rec[i];
        if (!rec->complete || (!in_test[i] && !in_train[i])) continue;
        tr_decision d;
        if (tr_route(r, rec->prompt, rec->prompt_len, NULL, sc, &d)) continue;
        for (size_t j = 0; j < m; j++) {
            qhat[n * m + j] = d.quality[map[j]];
            chat[n * m + j] = d.cost[map[j]];
            q[n * m + j] = tr_ds_score(ds, i, j);
            c[n * m + j] = tr_ds_cost(ds, i, j);
            v[n * m + j] = rec->line >= 1 && rec->line <= cv->lines ? cv->v[(rec->line - 1) * m + j] : NAN;
        }
        if (in_test[i]) {
            test[n] = 1;
            for (size_t j = 0; j < m; j++) {
                tq[n_test * m + j] = q[n * m + j];
                tc[n_test * m + j] = c[n * m + j];
            }
            n_test++;
        } else {
            train[n] = 1;
            n_train++;
        }
        n++;
    }
    if (!n_train || !n_test) {
        snprintf(err, errlen, "%s: %zu complete training and %zu complete test records: need both", ds->path, n_train,
                 n_test);
        goto done;
    }
    tr_cascade_data cd = {n, m, qhat, chat, q, c, v, share, lambda};
    tr_cascade_params best;
    if (tr_cascade_tune(&cd, train, lambda, (int)max_steps, &best, NULL)) {
        snprintf(err, errlen, "tuning failed (lambda %g)", lambda);
        goto done;
    }
    best.max_steps = (int)max_steps;
    tr_eval_ref ref;
    if (tr_eval_reference(tq, tc, n_test, m, &ref, e2, sizeof e2)) {
        snprintf(err, errlen, "%s", e2);
        goto done;
    }
    /* the cheapest single model on the test rows: AutoMix's small model */
    double q_slm = NAN, c_slm = INFINITY;
    for (size_t j = 0; j < m; j++) {
        double sq = 0, scs = 0;
        for (size_t i = 0; i < n_test; i++) { sq += tq[i * m + j]; scs += tc[i * m + j]; }
        if (scs / (double)n_test < c_slm) { c_slm = scs / (double)n_test; q_slm = sq / (double)n_test; }
    }
    /* the cascade: the chosen point, and the grid as a sweep on the test rows */
    figs fc, fp;
    tr_cascade_outcome o;
    tr_cascade_simulate(&cd, &best, test, &o);
    fc.q = o.quality;
    fc.c = o.cost;
    fc.dibc = tr_cascade_dibc(o.quality, o.cost, q_slm, c_slm, ref.q_best, ref.c_best);
    for (size_t g = 0; g < tr_cascade_grid_size(); g++) {
        tr_cascade_params p = {0, 0, (int)max_steps, 0};
        tr_cascade_grid_point(g, &p);
        tr_cascade_outcome og;
        tr_cascade_simulate(&cd, &p, test, &og);
        sweep[g] = (tr_point){og.cost, og.quality};
    }
    /* plain routing on the same predictions: argmax q - lambda c over a
     * sweep of lambda, and at the chosen lambda */
    for (int s = 0; s <= N_LAMBDA; s++) {
        double lam = s == N_LAMBDA ? lambda : s == 0 ? 0 : pow(10, -1 + 7.0 * (s - 1) / (N_LAMBDA - 2));
        double sq = 0, scs = 0;
        for (size_t i = 0; i < n; i++) {
            if (!test[i]) continue;
            int bm = tr_select_lambda(qhat + i * m, chat + i * m, m, NULL, lam);
            if (bm < 0) bm = 0;
            sq += q[i * m + (size_t)bm];
            scs += c[i * m + (size_t)bm];
        }
        if (s == N_LAMBDA) {
            fp.q = sq / (double)n_test;
            fp.c = scs / (double)n_test;
        } else {
            lsweep[s] = (tr_point){scs / (double)n_test, sq / (double)n_test};
        }
    }
    fp.dibc = tr_cascade_dibc(fp.q, fp.c, q_slm, c_slm, ref.q_best, ref.c_best);
    if (tr_eval_figures_compute(sweep, tr_cascade_grid_size(), &ref, NULL, &fc.f, e2, sizeof e2) ||
        tr_eval_figures_compute(lsweep, N_LAMBDA, &ref, NULL, &fp.f, e2, sizeof e2)) {
        snprintf(err, errlen, "%s", e2);
        goto done;
    }
    cJSON_AddNumberToObject(t, "lambda", lambda);
    cJSON_AddNumberToObject(t, "verify_cost_share", share);
    cJSON_AddNumberToObject(t, "n_train", (double)n_train);
    cJSON_AddNumberToObject(t, "n_test", (double)n_test);
    cJSON_AddNumberToObject(t, "escalated_test", o.escalated);
    cJSON_AddNumberToObject(t, "steps_test", o.steps);
    cJSON *tt = cJSON_AddObjectToObject(t, "test");
    cJSON *bs = cJSON_AddObjectToObject(tt, "best_single");
    cJSON_AddStringToObject(bs, "model", ds->models[ref.best]);
    cJSON_AddNumberToObject(bs, "quality", ref.q_best);
    cJSON_AddNumberToObject(bs, "cost", ref.c_best);
    cJSON_AddItemToObject(tt, "plain_routing", figs_json(&fp));
    cJSON_AddItemToObject(tt, "cascade", figs_json(&fc));
    cJSON_AddNumberToObject(t, "plain_lambda_points", N_LAMBDA);
    *best_out = best;
    rc = 0;
done:
    tr_scratch_free(sc);
    tr_free(map);
    tr_free(idx);
    tr_free(qhat);
    tr_free(chat);
    tr_free(q);
    tr_free(c);
    tr_free(v);
    tr_free(tq);
    tr_free(tc);
    tr_free(train);
    tr_free(test);
    tr_free(in_test);
    tr_free(in_train);
    tr_free(sweep);
    tr_free(lsweep);
    return rc;
}

int cli_cascade_figures(const char *cmd, const tr_router *r, const tr_dataset *ds, const char *rpath,
                        const char *dpath, const tr_cascade_opts *co, cJSON **out)
{
    *out = NULL;
    cli_cascade_verify cv;
    long nv = cli_cascade_read_verify(cmd, dpath, ds, &cv);
    if (nv <= 0) return nv < 0 ? -1 : 1;
    cJSON *res = cJSON_CreateObject();
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "data", dpath);
    cJSON_AddStringToObject(t, "router", rpath);
    tr_cascade_params best;
    char err[1024];
    int rc = cli_cascade_fold(r, ds, &cv, 5, 0, co, t, &best, err, sizeof err);
    tr_free(cv.v);
    if (rc) {
        cJSON_Delete(res);
        cJSON_Delete(t);
        cli_fail(cmd, 0, "%s", err);
        return -1;
    }
    if (best.from_router) cJSON_AddStringToObject(res, "start", "router");
    else cJSON_AddNumberToObject(res, "tolerance", best.tolerance);
    cJSON_AddNumberToObject(res, "threshold", best.threshold);
    cJSON_AddNumberToObject(res, "max_steps", (double)co->max_steps);
    cJSON_AddNumberToObject(res, "k", (double)co->k);
    cJSON_AddNullToObject(res, "verifier");
    cJSON_AddItemToObject(res, "tuned", t);
    *out = res;
    return 0;
}

void cli_cascade_print(const cJSON *res)
{
    const cJSON *t = cJSON_GetObjectItem(res, "tuned");
    const cJSON *tt = cJSON_GetObjectItem(t, "test");
    printf("cascade: %.0f training prompts tuned, %.0f test prompts scored; lambda %.6g, at most %.0f models, "
           "a verification costs %.3g x its answer\n", tr_json_get_num(t, "n_train"), tr_json_get_num(t, "n_test"),
           tr_json_get_num(t, "lambda"), tr_json_get_num(res, "max_steps"), tr_json_get_num(t, "verify_cost_share"));
    char start[64];
    if (cJSON_GetObjectItem(res, "start")) snprintf(start, sizeof start, "the router's choice");
    else snprintf(start, sizeof start, "tolerance %.3g", tr_json_get_num(res, "tolerance"));
    printf("chosen: %s, threshold %.3g (test: %.1f%% escalated, %.2f models per prompt)\n", start,
           tr_json_get_num(res, "threshold"), 100 * tr_json_get_num(t, "escalated_test"), tr_json_get_num(t, "steps_test"));
    printf("%-22s %9s %11s %8s %9s %8s %8s\n", "test split", "quality", "cost USD", "dIBC%", "Q@C_best", "saving",
           "AIQ log");
    const cJSON *bs = cJSON_GetObjectItem(tt, "best_single");
    printf("%-22.22s %9.4f %11.4g\n", cJSON_GetStringValue(cJSON_GetObjectItem(bs, "model")),
           tr_json_get_num(bs, "quality"), tr_json_get_num(bs, "cost"));
    const char *keys[2] = {"plain_routing", "cascade"}, *names[2] = {"plain routing", "cascade"};
    for (int i = 0; i < 2; i++) {
        const cJSON *f = cJSON_GetObjectItem(tt, keys[i]);
        printf("%-22s %9.4f %11.4g %8.1f %9.4f %8.3f %8.4f\n", names[i], tr_json_get_num(f, "quality"),
               tr_json_get_num(f, "cost"), tr_json_get_num(f, "dibc_percent"), tr_json_get_num(f, "q_at_cbest"),
               tr_json_get_num(f, "saving"), tr_json_get_num(f, "aiq_log"));
    }
}
