/* taskroute tune-cascade: the verified cascade's thresholds from data that
 * carries the verifier's confidence per answer ("verify": {model: c}),
 * tuned on the training split, scored on the test split next to plain
 * routing (docs/cascade.md). */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "data/dataset.h"
#include "base/json.h"
#include "eval/cascade_tune.h"
#include "cli/cascade_figures.h"

#define N_LAMBDA 61

static void help(FILE *f)
{
    fprintf(f,
            "usage: taskroute tune-cascade ROUTER.trm DATA.jsonl [options]\n"
            "\n"
            "Pick the cascade's tolerance and verifier threshold that maximise mean quality\n"
            "- lambda x mean cost on DATA's training split, and score them on its test split\n"
            "(the evaluation protocol's split) next to plain routing on the same predictions.\n"
            "DATA's records carry \"verify\": {model: confidence in [0, 1]} beside \"scores\" and\n"
            "\"costs\" (docs/cascade.md); a missing confidence counts as a verifier failure.\n"
            "\n"
            "options:\n"
            "  -o FILE                  write the cascade file serve --cascade reads [none]\n"
            "  --lambda L               quality points per USD [the router's default policy's]\n"
            "  --max-steps N            models that may answer a prompt, 1..16 [3]\n"
            "  --k K                    verification samples the server asks for (recorded) [4]\n"
            "  --verify-cost-share S    a verification costs S x the answer's cost [0.5]\n"
            "  --json                   the figures as JSON on stdout\n"
            "  --skip-bad               skip bad records instead of stopping\n"
            "  -q                       no progress on stderr\n");
}

/* "verify" of every line of path, by 1-based line: v[(line-1) * m + j] for
 * the dataset's model j (NaN absent).  Returns how many confidences were
 * read, or -1 (message printed). */
static long read_verify(const char *path, const tr_dataset *ds, float **out, size_t *lines_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) { cli_fail("tune-cascade", 0, "%s: cannot open", path); return -1; }
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
            if (!p) { n = -1; break; }
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
                cli_fail("tune-cascade", 0, "%s:%zu: field 'verify.%s' must be a number in [0, 1]", path, lines, e->string);
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
    if (n < 0) { tr_free(v); return -1; }
    *out = v;
    *lines_out = lines;
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

int cli_cascade_figures(const char *cmd, const tr_router *r, const tr_dataset *ds, const char *rpath,
                        const char *dpath, const tr_cascade_opts *co_, cJSON **out)
{
    double lambda = co_->lambda, share = co_->verify_cost_share;
    long max_steps = co_->max_steps, k = co_->k;
    int rc = -1;
    char err[1024];
    *out = NULL;
    float *vline = NULL, *qhat = NULL, *chat = NULL, *q = NULL, *c = NULL, *v = NULL;
    double *tq = NULL, *tc = NULL;
    unsigned char *train = NULL, *test = NULL;
    tr_point *sweep = NULL, *lsweep = NULL;
    tr_scratch *sc = NULL;
    cJSON *res = NULL;
    size_t lines = 0, m = ds->n_models, n = 0;
    int *map = tr_calloc(m ? m : 1, sizeof *map);
    long nv = read_verify(dpath, ds, &vline, &lines);
    if (nv < 0 || !map) goto done;
    if (nv == 0) {
        rc = 1;
        goto done;
    }
    for (size_t j = 0; j < m; j++) {
        map[j] = tr_router_find_model(r, ds->models[j]);
        if (map[j] < 0) {
            cli_fail(cmd, 0, "the router has no model '%s' of %s", ds->models[j], dpath);
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
    size_t N = ds->n;
    qhat = tr_mallocarray(N * m, sizeof *qhat);
    chat = tr_mallocarray(N * m, sizeof *chat);
    q = tr_mallocarray(N * m, sizeof *q);
    c = tr_mallocarray(N * m, sizeof *c);
    v = tr_mallocarray(N * m, sizeof *v);
    train = tr_calloc(N, 1);
    test = tr_calloc(N, 1);
    tq = tr_mallocarray(N * m, sizeof *tq);
    tc = tr_mallocarray(N * m, sizeof *tc);
    sweep = tr_mallocarray(tr_cascade_grid_size(), sizeof *sweep);
    lsweep = tr_mallocarray(N_LAMBDA, sizeof *lsweep);
    if (!qhat || !chat || !q || !c || !v || !train || !test || !tq || !tc || !sweep || !lsweep ||
        tr_scratch_new(r, &sc)) {
        cli_fail(cmd, 0, "out of memory");
        goto done;
    }
    size_t n_test = 0, n_train = 0;
    for (size_t i = 0; i < N; i++) {
        const tr_record *rec = &ds->rec[i];
        if (!rec->complete) continue;
        tr_decision d;
        if (tr_route(r, rec->prompt, rec->prompt_len, NULL, sc, &d)) continue;
        for (size_t j = 0; j < m; j++) {
            qhat[n * m + j] = d.quality[map[j]];
            chat[n * m + j] = d.cost[map[j]];
            q[n * m + j] = tr_ds_score(ds, i, j);
            c[n * m + j] = tr_ds_cost(ds, i, j);
            v[n * m + j] = rec->line >= 1 && rec->line <= lines ? vline[(rec->line - 1) * m + j] : NAN;
        }
        if (rec->is_test) {
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
        cli_fail(cmd, 0, "%s: %zu complete training and %zu complete test records: need both", dpath, n_train,
                 n_test);
        goto done;
    }
    tr_cascade_data cd = {n, m, qhat, chat, q, c, v, share};
    tr_cascade_params best;
    if (tr_cascade_tune(&cd, train, lambda, (int)max_steps, &best, NULL)) {
        cli_fail(cmd, 0, "tuning failed (lambda %g)", lambda);
        goto done;
    }
    best.max_steps = (int)max_steps;
    tr_eval_ref ref;
    if (tr_eval_reference(tq, tc, n_test, m, &ref, err, sizeof err)) {
        cli_fail(cmd, 0, "%s", err);
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
        tr_cascade_params p = {0, 0, (int)max_steps};
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
            int bm = -1;
            double bv = -INFINITY;
            for (size_t j = 0; j < m; j++) {
                double val = qhat[i * m + j] - lam * chat[i * m + j];
                if (isfinite(val) && (val > bv || (val == bv && chat[i * m + j] < chat[i * m + (size_t)bm]))) {
                    bv = val;
                    bm = (int)j;
                }
            }
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
    if (tr_eval_figures_compute(sweep, tr_cascade_grid_size(), &ref, NULL, &fc.f, err, sizeof err) ||
        tr_eval_figures_compute(lsweep, N_LAMBDA, &ref, NULL, &fp.f, err, sizeof err)) {
        cli_fail(cmd, 0, "%s", err);
        goto done;
    }
    res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "tolerance", best.tolerance);
    cJSON_AddNumberToObject(res, "threshold", best.threshold);
    cJSON_AddNumberToObject(res, "max_steps", (double)max_steps);
    cJSON_AddNumberToObject(res, "k", (double)k);
    cJSON_AddNullToObject(res, "verifier");
    cJSON *t = cJSON_AddObjectToObject(res, "tuned");
    cJSON_AddStringToObject(t, "data", dpath);
    cJSON_AddStringToObject(t, "router", rpath);
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
    *out = res;
    res = NULL;
    rc = 0;
done:
    cJSON_Delete(res);
    tr_scratch_free(sc);
    tr_free(map);
    tr_free(vline);
    tr_free(qhat);
    tr_free(chat);
    tr_free(q);
    tr_free(c);
    tr_free(v);
    tr_free(tq);
    tr_free(tc);
    tr_free(train);
    tr_free(test);
    tr_free(sweep);
    tr_free(lsweep);
    return rc;
}

void cli_cascade_print(const cJSON *res)
{
    const cJSON *t = cJSON_GetObjectItem(res, "tuned");
    const cJSON *tt = cJSON_GetObjectItem(t, "test");
    printf("cascade: %.0f training prompts tuned, %.0f test prompts scored; lambda %.6g, at most %.0f models, "
           "a verification costs %.3g x its answer\n", tr_json_get_num(t, "n_train"), tr_json_get_num(t, "n_test"),
           tr_json_get_num(t, "lambda"), tr_json_get_num(res, "max_steps"), tr_json_get_num(t, "verify_cost_share"));
    printf("chosen: tolerance %.3g, threshold %.3g (test: %.1f%% escalated, %.2f models per prompt)\n",
           tr_json_get_num(res, "tolerance"), tr_json_get_num(res, "threshold"), 100 * tr_json_get_num(t, "escalated_test"),
           tr_json_get_num(t, "steps_test"));
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

int cmd_tune_cascade(int argc, char **argv)
{
    const char *out_path = NULL;
    double lambda = NAN, share = 0.5;
    long max_steps = 3, k = 4;
    int json = 0, skip_bad = 0;
    static const struct option lo[] = {{"lambda", 1, 0, 'l'}, {"max-steps", 1, 0, 's'}, {"k", 1, 0, 'k'},
                                       {"verify-cost-share", 1, 0, 'v'}, {"json", 0, 0, 'j'},
                                       {"skip-bad", 0, 0, 'b'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'o': out_path = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'l': if (cli_parse_double("tune-cascade", "--lambda", optarg, 0, 1e15, &lambda)) return TR_EXIT_USAGE; break;
        case 's': if (cli_parse_int("tune-cascade", "--max-steps", optarg, 1, 16, &max_steps)) return TR_EXIT_USAGE; break;
        case 'k': if (cli_parse_int("tune-cascade", "--k", optarg, 1, 16, &k)) return TR_EXIT_USAGE; break;
        case 'v': if (cli_parse_double("tune-cascade", "--verify-cost-share", optarg, 0, 100, &share)) return TR_EXIT_USAGE; break;
        case 'j': json = 1; break;
        case 'b': skip_bad = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: help(stderr); return TR_EXIT_USAGE;
        }
    }
    if (optind != argc - 2) { help(stderr); return TR_EXIT_USAGE; }
    const char *rpath = argv[optind], *dpath = argv[optind + 1];
    char err[1024];
    tr_router *r = NULL;
    if (tr_router_open(rpath, &r, err, sizeof err)) return cli_fail("tune-cascade", TR_EXIT_ERR, "%s", err);
    tr_dataset *ds = NULL;
    if (cli_load_dataset("tune-cascade", dpath, skip_bad, &ds)) { tr_router_close(r); return TR_EXIT_ERR; }
    tr_cascade_opts copts = {lambda, max_steps, k, share};
    cJSON *res = NULL;
    int f = cli_cascade_figures("tune-cascade", r, ds, rpath, dpath, &copts, &res);
    tr_dataset_free(ds);
    tr_router_close(r);
    if (f == 1) return cli_fail("tune-cascade", TR_EXIT_ERR, "%s has no \"verify\" confidences (docs/cascade.md)", dpath);
    if (f) return TR_EXIT_ERR;
    int exit = TR_EXIT_ERR;
    if (out_path) {
        cli_out co;
        char *s = cJSON_Print(res);
        if (!s || cli_out_open(&co, out_path)) {
            cJSON_free(s);
            cli_fail("tune-cascade", 0, "%s: cannot write", out_path);
            goto done;
        }
        fputs(s, co.f);
        fputc('\n', co.f);
        cJSON_free(s);
        if (cli_out_commit(&co)) {
            cli_fail("tune-cascade", 0, "%s: cannot write", out_path);
            goto done;
        }
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(res);
        if (s) puts(s);
        cJSON_free(s);
    } else {
        cli_cascade_print(res);
    }
    exit = TR_EXIT_OK;
done:
    cJSON_Delete(res);
    return exit;
}
