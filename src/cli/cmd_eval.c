/* `taskroute eval`: the evaluation protocol's figures for a router on a dataset's test split,
 * with its ablations and (--baselines) every baseline, side by side; with
 * --folds K, the evaluation protocol's k-fold evaluation: a router trained and scored per
 * fold, every figure as mean ± standard error, paired differences. */
#include <cJSON.h>
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/cascade_figures.h"
#include "cli/cli_train_opts.h"
#include "cli/eval_plot.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute eval router.trm DATA.jsonl [--baselines] [--by-label] [--plot curve.svg] [--json]\n"
        "       taskroute eval --folds K DATA.jsonl [train options] [--baselines] [--jobs N] [--json]\n"
        "Score the router on DATA's test split (records with fnv1a64(id) %% 5 == 0\n"
        "that have a score and a cost for every model): a sweep of the cost/quality\n"
        "knob over 121 settings, its upper convex hull, and the figures of docs/evaluation.md.\n"
        "With --folds K, the k-fold evaluation instead: for each fold f, train a router\n"
        "with the train options on the records with fnv1a64(id) %% K != f and score it on\n"
        "the complete records of fold f (K = 5: fold 0 is the test split); every figure\n"
        "as mean +- standard error over the folds, and taskroute's paired differences\n"
        "with every other router (mean +- SE of the per-fold difference, folds won).\n\n"
        "      --baselines      also score the baselines (random mix of single models,\n"
        "                       kNN router, linear head per model, hard and soft task prior)\n"
        "      --by-label       also a table per human label (the records' \"task\" field,\n"
        "                       never a router input): the router at its highest-quality\n"
        "                       setting against the best single model, the label's own\n"
        "                       training-best model and the oracle (always in --json)\n"
        "      --plot FILE      cost-quality curves of every router as SVG (log cost axis)\n"
        "      --json           one JSON object on stdout instead of the table\n"
        "      --skip-bad       report and skip bad records instead of stopping\n"
        "  -q, --quiet          no progress or summary on stderr\n"
        "  -h, --help           this help\n"
        "k-fold evaluation (a progress line per fold on stderr):\n"
        "      --folds K        folds, 2 to 100; 5 is the protocol's\n"
        "      --jobs N         folds trained at once; 0 = as many as the cores allow\n"
        "                       given --threads (the figures do not depend on it) [0]\n"
        "Train options (each fold's router is trained with them, as `train` would):\n");
    cli_train_opts_help(f);
    cli_heads_opts_help(f);
}

static void fmt(char *b, size_t n, double v, int pct)
{
    if (isnan(v)) snprintf(b, n, "-");
    else if (isinf(v)) snprintf(b, n, v > 0 ? "inf" : "-inf");
    else if (pct) snprintf(b, n, "%.1f%%", 100 * v);
    else snprintf(b, n, "%.4f", v);
}

/* Per human label, most prompts lost to the label's training-best model
 * first: where a finer task split would pay. */
static void print_labels(const cJSON *j)
{
    const cJSON *lo = cJSON_GetObjectItem(j, "label_oracle"), *l;
    if (!lo) {
        printf("\nby label: no test record has a \"task\" label\n");
        return;
    }
    printf("\nby human label (\"task\"; never a router input), taskroute at its highest-quality setting (lambda %.3g):\n",
           tr_json_get_num(lo, "lambda"));
    printf("%-24s %5s %9s %9s %9s %7s %9s  %s\n", "label", "n", "taskroute", "best-1", "label-best", "oracle",
           "vs label", "label's training-best model; taskroute's top pick (share)");
    cJSON_ArrayForEach(l, cJSON_GetObjectItem(j, "by_label"))
        printf("%-24.24s %5.0f %9.4f %9.4f %10.4f %7.4f %+9.1f  %s; %s (%.0f%%)\n", l->string, tr_json_get_num(l, "n"),
               tr_json_get_num(l, "taskroute"), tr_json_get_num(l, "best_single"), tr_json_get_num(l, "label_best"), tr_json_get_num(l, "oracle"),
               tr_json_get_num(l, "prompts_vs_label_best"), cJSON_GetStringValue(cJSON_GetObjectItem(l, "label_best_model")),
               cJSON_GetStringValue(cJSON_GetObjectItem(l, "top_pick")), 100 * tr_json_get_num(l, "top_pick_share"));
    printf("%-24s %5.0f %9.4f %9s %10.4f   (label oracle: each label's training-best model)\n", "all labelled",
           tr_json_get_num(lo, "n_labelled"), tr_json_get_num(lo, "taskroute"), "", tr_json_get_num(lo, "quality"));
}

static void print_table(const cJSON *j)
{
    printf("dataset %s: %.0f test prompts; best single model %s (Q_best %.4f at C_best %.3g USD); oracle %.4f\n\n",
           cJSON_GetStringValue(cJSON_GetObjectItem(j, "dataset")), tr_json_get_num(j, "n_test"),
           cJSON_GetStringValue(cJSON_GetObjectItem(j, "best_model")), tr_json_get_num(j, "q_best"), tr_json_get_num(j, "c_best"),
           tr_json_get_num(j, "q_oracle"));
    double qb = tr_json_get_num(j, "q_best"), nt = tr_json_get_num(j, "n_test");
    if (nt > 0 && qb > 0 && qb < 1)
        printf("(one standard error of a mean quality near Q_best on %.0f prompts: %.4f; closer figures are within noise)\n\n",
               nt, sqrt(qb * (1 - qb) / nt));
    printf("%-30s %9s %8s %9s %8s %8s %10s %8s %8s %7s\n", "router", "Q@C_best", "gap", "C@Q_best", "saving",
           "Q_max", "C@Q_max", "AIQ_lin", "AIQ_log", "ECE");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "routers")) {
        char a[6][24];
        fmt(a[0], 24, tr_json_get_num(r, "q_at_c_best"), 0);
        fmt(a[1], 24, tr_json_get_num(r, "gap_captured"), 0);
        fmt(a[2], 24, tr_json_get_num(r, "c_at_q_best"), 0);
        fmt(a[3], 24, tr_json_get_num(r, "cost_saving"), 1);
        fmt(a[4], 24, tr_json_get_num(r, "q_max"), 0);
        fmt(a[5], 24, tr_json_get_num(r, "ece"), 0);
        printf("%-30s %9s %8s %9s %8s %8s %10.3g %8.4f %8.4f %7s\n", r->string, a[0], a[1], a[2], a[3], a[4],
               tr_json_get_num(r, "c_at_q_max"), tr_json_get_num(r, "aiq_lin"), tr_json_get_num(r, "aiq_log"), a[5]);
    }
    const cJSON *risk = cJSON_GetObjectItem(j, "risk");
    if (cJSON_GetArraySize(risk) > 0) {
        printf("\nrisk mode (misrouted: the chosen model scores below the one with the highest calibrated quality):\n");
        const cJSON *e;
        cJSON_ArrayForEach(e, risk)
            printf("  alpha %.2f: realised %.3f, quality %.4f, cost %.3g\n", tr_json_get_num(e, "alpha"), tr_json_get_num(e, "realised_risk"),
                   tr_json_get_num(e, "mean_quality"), tr_json_get_num(e, "mean_cost"));
        printf("budget mode:\n");
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "budget"))
            printf("  budget %.3g: realised cost %.3g, quality %.4f\n", tr_json_get_num(e, "budget"), tr_json_get_num(e, "realised_cost"),
                   tr_json_get_num(e, "mean_quality"));
    }
    const cJSON *dp = cJSON_GetObjectItem(j, "default_policy");
    if (dp)
        printf("\ndefault policy (serve with no --policy): %s, lambda %.4g: quality %.4f (%+.4f +- %.4f against the "
               "best single model, paired per prompt), cost %.3g (%.1f%% of its cost)%s\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(dp, "mode")), tr_json_get_num(dp, "lambda"),
               tr_json_get_num(dp, "mean_quality"), tr_json_get_num(dp, "quality_vs_best"),
               tr_json_get_num(dp, "quality_vs_best_se"), tr_json_get_num(dp, "mean_cost"),
               100 * tr_json_get_num(dp, "cost_share_of_best"),
               cJSON_IsTrue(cJSON_GetObjectItem(dp, "stored")) ? "" : " [the router file stores no default: quality mode]");
    printf("\nsingle models (test mean quality, cost):\n");
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "models"))
        printf("  %-32s %.4f  %.3g\n", r->string, tr_json_get_num(r, "quality"), tr_json_get_num(r, "cost"));
}

/* "0.7261 ± 0.0031" of a {mean, se} object; pct: as percentages */
static void fmt_stat(char *b, size_t n, const cJSON *st, int pct, int sign)
{
    double m = tr_json_get_num(st, "mean"), se = tr_json_get_num(st, "se"), k = pct ? 100 : 1;
    if (isnan(m)) { snprintf(b, n, "-"); return; }
    if (isnan(se)) snprintf(b, n, sign ? "%+.*f%s" : "%.*f%s", pct ? 1 : 4, k * m, pct ? "%" : "");
    else snprintf(b, n, sign ? "%+.*f%s +- %.*f" : "%.*f%s +- %.*f", pct ? 1 : 4, k * m, pct ? "%" : "", pct ? 1 : 4, k * se);
}

static void print_kfold(const cJSON *j)
{
    const cJSON *ref = cJSON_GetObjectItem(j, "reference"), *v;
    const cJSON *nt = cJSON_GetObjectItem(j, "n_test");
    int K = (int)tr_json_get_num(j, "folds");
    printf("dataset %s: %d folds, %.0f test prompts (per fold:", cJSON_GetStringValue(cJSON_GetObjectItem(j, "dataset")),
           K, tr_json_get_num(nt, "total"));
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(nt, "folds")) printf(" %.0f", v->valuedouble);
    char a[4][48];
    fmt_stat(a[0], 48, cJSON_GetObjectItem(ref, "q_best"), 0, 0);
    fmt_stat(a[1], 48, cJSON_GetObjectItem(ref, "q_oracle"), 0, 0);
    printf(")\nbest single model Q_best %s (per fold:", a[0]);
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(ref, "best_model")) printf(" %s", v->valuestring);
    printf("); oracle %s\nheads chosen per fold:", a[1]);
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(j, "heads"))
        printf(" %s+%s", cJSON_GetStringValue(cJSON_GetObjectItem(v, "quality")),
               cJSON_GetStringValue(cJSON_GetObjectItem(v, "cost")));
    printf("\n\nmean +- standard error over the folds:\n");
    static const struct { const char *key, *title; int pct; } F[] = {
        {"q_at_c_best", "Q@C_best", 0}, {"gap_captured", "gap", 0}, {"cost_saving", "saving", 1},
        {"q_max", "Q_max", 0}, {"aiq_lin", "AIQ_lin", 0}, {"aiq_log", "AIQ_log", 0}, {"ece", "ECE", 0}};
    const size_t NF = sizeof F / sizeof F[0];
    printf("%-36s", "router");
    for (size_t k = 0; k < NF; k++) printf(" %17s", F[k].title);
    printf("\n");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "routers")) {
        printf("%-36s", r->string);
        for (size_t k = 0; k < NF; k++) {
            char b[48];
            fmt_stat(b, sizeof b, cJSON_GetObjectItem(r, F[k].key), F[k].pct, 0);
            printf(" %17s", b);
        }
        printf("\n");
    }
    const cJSON *ours = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "routers"), "taskroute");
    printf("\ntaskroute per fold: Q@C_best");
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(cJSON_GetObjectItem(ours, "q_at_c_best"), "folds")) printf(" %.4f", v->valuedouble);
    printf("; AIQ_log");
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(cJSON_GetObjectItem(ours, "aiq_log"), "folds")) printf(" %.4f", v->valuedouble);
    const cJSON *dp = cJSON_GetObjectItem(j, "default_policy");
    if (dp) {
        char q[48], d[48], c[48], l[48];
        fmt_stat(q, sizeof q, cJSON_GetObjectItem(dp, "mean_quality"), 0, 0);
        fmt_stat(d, sizeof d, cJSON_GetObjectItem(dp, "quality_vs_best"), 0, 1);
        fmt_stat(c, sizeof c, cJSON_GetObjectItem(dp, "cost_share_of_best"), 1, 0);
        fmt_stat(l, sizeof l, cJSON_GetObjectItem(dp, "lambda"), 0, 0);
        printf("\n\ndefault policy (serve with no --policy; each fold's router's own lambda, %s): quality %s, "
               "against the best single model %s (per-fold difference), cost %s of its cost",
               l, q, d, c);
    }
    printf("\n\ntaskroute minus each router: mean +- SE of the per-fold difference (folds won/lost)\n");
    static const struct { const char *key, *title; int pct; } D[] = {
        {"q_at_c_best", "dQ@C_best", 0}, {"cost_saving", "dsaving", 1}, {"aiq_lin", "dAIQ_lin", 0}, {"aiq_log", "dAIQ_log", 0}};
    printf("%-36s", "router");
    for (size_t k = 0; k < sizeof D / sizeof D[0]; k++) printf(" %24s", D[k].title);
    printf("\n");
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "paired")) {
        printf("%-36s", r->string);
        for (size_t k = 0; k < sizeof D / sizeof D[0]; k++) {
            const cJSON *p = cJSON_GetObjectItem(r, D[k].key);
            char b[48], c[72];
            if (!p) { printf(" %24s", ""); continue; }
            fmt_stat(b, sizeof b, p, D[k].pct, 1);
            snprintf(c, sizeof c, "%s (%.0f/%.0f)", b, tr_json_get_num(p, "won"), tr_json_get_num(p, "lost"));
            printf(" %24s", c);
        }
        printf("\n");
    }
}

static void fold_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "taskroute eval: %s\n", line);
}

static int eval_kfold(const char *data, int K, int jobs, int baselines, int json, int skip_bad,
                      const tr_train_options *o)
{
    tr_dataset *ds = NULL;
    if (cli_load_dataset("eval", data, skip_bad, &ds)) return TR_EXIT_ERR;
    tr_kfold_options ko;
    tr_kfold_options_default(&ko);
    ko.folds = K;
    ko.jobs = jobs;
    ko.baselines = baselines;
    if (!cli_quiet) ko.fold_done = fold_line;
    char err[1024], *out = NULL;
    int rc = tr_evaluate_kfold(ds, o, &ko, &out, err, sizeof err);
    tr_dataset_free(ds);
    if (rc) return cli_fail("eval", TR_EXIT_ERR, "%s", err);
    if (json) puts(out);
    else {
        cJSON *j = cJSON_Parse(out);
        if (!j) { tr_free(out); return cli_fail("eval", TR_EXIT_ERR, "out of memory"); }
        print_kfold(j);
        cJSON_Delete(j);
    }
    tr_free(out);
    return TR_EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    /* one BLAS thread, as `serve` runs: a threaded SGEMV in the task
     * classifier sums in another order, and the decisions' last bits would
     * differ from the server's */
    openblas_set_num_threads(1);
    int baselines = 0, json = 0, skip_bad = 0, by_label = 0, c;
    const char *plot = NULL;
    static const struct option base[] = {
        {"baselines", no_argument, 0, 'b'}, {"by-label", no_argument, 0, 'L'}, {"plot", required_argument, 0, 'p'}, {"json", no_argument, 0, 'j'},
        {"skip-bad", no_argument, 0, 'B'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        CLI_KFOLD_OPTIONS};
    struct option longopts[64];
    cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0], 1);
    cli_kfold_opts ko;   /* --folds, --jobs and the train options (the experiments' knobs too) */
    cli_kfold_opts_init(&ko);
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': baselines = 1; break;
        case 'L': by_label = 1; break;
        case 'p': plot = optarg; break;
        case 'j': json = 1; break;
        case 'B': skip_bad = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: {
            int r = cli_kfold_opts_parse("eval", c, optarg, &ko);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    cli_train_opts_finish(&ko.x);
    if (ko.folds) {
        if (optind != argc - 1) {
            fprintf(stderr, "taskroute eval: --folds K takes DATA.jsonl alone (each fold trains its own router)\n");
            help(stderr);
            return TR_EXIT_USAGE;
        }
        if (plot || by_label) return cli_fail("eval", TR_EXIT_USAGE, "--plot and --by-label score one router: not with --folds");
        return eval_kfold(argv[optind], ko.folds, (int)ko.jobs, baselines, json, skip_bad, &ko.x.pub);
    }
    if (ko.train_opts || ko.jobs) return cli_fail("eval", TR_EXIT_USAGE, "train options and --jobs need --folds K");
    if (optind != argc - 2) { help(stderr); return TR_EXIT_USAGE; }
    char err[1024];
    tr_router *r = NULL;
    if (tr_router_open(argv[optind], &r, err, sizeof err)) return cli_fail("eval", TR_EXIT_ERR, "%s", err);
    tr_dataset *ds = NULL;
    if (cli_load_dataset("eval", argv[optind + 1], skip_bad, &ds)) { tr_router_close(r); return TR_EXIT_ERR; }
    char *out = NULL;
    int rc = tr_evaluate(r, ds, baselines, &out, err, sizeof err);
    /* data with verifier confidences: the cascade's figures beside
     * (docs/cascade.md); with the tuning defaults of tune-cascade */
    cJSON *cascade = NULL;
    tr_cascade_opts copts = {NAN, 3, 4, 0.5};
    int crc = rc ? 1 : cli_cascade_figures("eval", r, ds, argv[optind], argv[optind + 1], &copts, &cascade);
    tr_dataset_free(ds);
    tr_router_close(r);
    if (rc) return cli_fail("eval", TR_EXIT_ERR, "%s", err);
    cJSON *j = cJSON_Parse(out);
    int exit = crc < 0 ? TR_EXIT_ERR : TR_EXIT_OK;
    if (plot && eval_plot_write(plot, j)) exit = cli_fail("eval", TR_EXIT_ERR, "%s: cannot write the plot", plot);
    if (json && cascade) {
        cJSON_AddItemToObject(j, "cascade", cascade);
        cascade = NULL;
        char *s = cJSON_PrintUnformatted(j);
        if (s) puts(s);
        cJSON_free(s);
    } else if (json) {
        puts(out);
    } else {
        print_table(j);
        if (by_label) print_labels(j);
        if (cascade) {
            printf("\n");
            cli_cascade_print(cascade);
        }
    }
    cJSON_Delete(cascade);
    cJSON_Delete(j);
    tr_free(out);
    return exit;
}
