/* taskroute tune-cascade: the verified cascade's thresholds from data that
 * carries the verifier's confidence per answer ("verify": {model: c}),
 * tuned on the training split, scored on the test split next to plain
 * routing; with --folds K, the same on every fold of the k-fold evaluation,
 * a router trained per fold (docs/cascade.md). */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cascade_figures.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: taskroute tune-cascade ROUTER.trm DATA.jsonl [options]\n"
            "       taskroute tune-cascade --folds K DATA.jsonl [train options] [--jobs N] [options]\n"
            "\n"
            "Pick where the cascade starts (a tolerance below the best prediction, or the\n"
            "router's own choice) and the verifier threshold that maximise mean quality\n"
            "- lambda x mean cost on DATA's training split, and score them on its test split\n"
            "(the evaluation protocol's split) next to plain routing on the same predictions.\n"
            "Plain routing is one of the choices (the router's at threshold 0).\n"
            "DATA's records carry \"verify\": {model: confidence in [0, 1]} beside \"scores\" and\n"
            "\"costs\" (docs/cascade.md); a missing confidence counts as a verifier failure.\n"
            "With --folds K, the k-fold figures instead: for each fold f, train a router with\n"
            "the train options on the records with fnv1a64(id) %% K != f (as eval --folds),\n"
            "tune the cascade on those records and score it and plain routing on fold f's\n"
            "complete records; every figure as mean +- standard error over the folds, and\n"
            "the paired difference cascade - plain (mean +- SE of the per-fold difference,\n"
            "folds won and lost).  No cascade file: each fold tunes its own.\n"
            "\n"
            "options:\n"
            "  -o FILE                  write the cascade file serve --cascade reads [none]\n"
            "  --lambda L               quality points per USD [the router's default policy's;\n"
            "                           with --folds, each fold's router's]\n"
            "  --max-steps N            models that may answer a prompt, 1..16 [3]\n"
            "  --k K                    verification samples the server asks for (recorded) [4]\n"
            "  --verify-cost-share S    a verification costs S x the answer's cost [0.5]\n"
            "  --json                   the figures as JSON on stdout\n"
            "  --skip-bad               skip bad records instead of stopping\n"
            "  -q                       no progress on stderr\n"
            "k-fold figures (a progress line per fold on stderr):\n"
            "  --folds K                folds, 2 to 100; 5 is the protocol's\n"
            "  --jobs N                 folds trained at once; 0 = as many as the cores allow\n"
            "                           given --threads (the figures do not depend on it) [0]\n"
            "Train options (each fold's router is trained with them, as `train` would; the\n"
            "graph's --k is not among them here: --k above is the verification samples):\n");
    cli_train_opts_help(f);
    cli_heads_opts_help(f);
}

static int write_file(const char *out_path, const cJSON *res)
{
    cli_out co;
    char *s = cJSON_Print(res);
    if (!s || cli_out_open(&co, out_path)) {
        cJSON_free(s);
        return cli_fail("tune-cascade", -1, "%s: cannot write", out_path);
    }
    fputs(s, co.f);
    fputc('\n', co.f);
    cJSON_free(s);
    if (cli_out_commit(&co)) return cli_fail("tune-cascade", -1, "%s: cannot write", out_path);
    return 0;
}

enum { O_LAMBDA = 700, O_STEPS, O_K, O_SHARE, O_JSON, O_SKIP };

int cmd_tune_cascade(int argc, char **argv)
{
    const char *out_path = NULL;
    double lambda = NAN, share = 0.5;
    long max_steps = 3, k = 4;
    int json = 0, skip_bad = 0;
    static const struct option base[] = {
        {"lambda", 1, 0, O_LAMBDA}, {"max-steps", 1, 0, O_STEPS}, {"k", 1, 0, O_K},
        {"verify-cost-share", 1, 0, O_SHARE}, {"json", 0, 0, O_JSON}, {"skip-bad", 0, 0, O_SKIP},
        {"help", 0, 0, 'h'}, CLI_KFOLD_OPTIONS};
    /* base first: getopt_long takes the first exact match, so --k stays ours */
    struct option lo[64];
    cli_train_opts_merge(lo, 64, base, sizeof base / sizeof base[0], 1);
    cli_kfold_opts ko;
    cli_kfold_opts_init(&ko);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'o': out_path = optarg; break;
        case 'q': cli_quiet = 1; break;
        case O_LAMBDA: if (cli_parse_double("tune-cascade", "--lambda", optarg, 0, 1e15, &lambda)) return TR_EXIT_USAGE; break;
        case O_STEPS: if (cli_parse_int("tune-cascade", "--max-steps", optarg, 1, 16, &max_steps)) return TR_EXIT_USAGE; break;
        case O_K: if (cli_parse_int("tune-cascade", "--k", optarg, 1, 16, &k)) return TR_EXIT_USAGE; break;
        case O_SHARE: if (cli_parse_double("tune-cascade", "--verify-cost-share", optarg, 0, 100, &share)) return TR_EXIT_USAGE; break;
        case O_JSON: json = 1; break;
        case O_SKIP: skip_bad = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: {
            int r = cli_kfold_opts_parse("tune-cascade", ch, optarg, &ko);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    cli_train_opts_finish(&ko.x);
    tr_cascade_opts copts = {lambda, max_steps, k, share};
    cJSON *res = NULL;
    int f;
    const char *dpath;
    if (ko.folds) {
        if (optind != argc - 1) {
            fprintf(stderr, "taskroute tune-cascade: --folds K takes DATA.jsonl alone (each fold trains its own router)\n");
            help(stderr);
            return TR_EXIT_USAGE;
        }
        if (out_path)
            return cli_fail("tune-cascade", TR_EXIT_USAGE, "-o writes one cascade file: not with --folds (each fold "
                            "tunes its own; tune on a router without --folds)");
        dpath = argv[optind];
        tr_dataset *ds = NULL;
        if (cli_load_dataset("tune-cascade", dpath, skip_bad, &ds)) return TR_EXIT_ERR;
        tr_kfold_options kf;
        tr_kfold_options_default(&kf);
        kf.folds = ko.folds;
        kf.jobs = (int)ko.jobs;
        f = cli_cascade_kfold("tune-cascade", ds, dpath, &ko.x.pub, &kf, &copts, &res);
        tr_dataset_free(ds);
    } else {
        if (ko.train_opts || ko.jobs) return cli_fail("tune-cascade", TR_EXIT_USAGE, "train options and --jobs need --folds K");
        if (optind != argc - 2) { help(stderr); return TR_EXIT_USAGE; }
        const char *rpath = argv[optind];
        dpath = argv[optind + 1];
        char err[1024];
        tr_router *r = NULL;
        if (tr_router_open(rpath, &r, err, sizeof err)) return cli_fail("tune-cascade", TR_EXIT_ERR, "%s", err);
        tr_dataset *ds = NULL;
        if (cli_load_dataset("tune-cascade", dpath, skip_bad, &ds)) { tr_router_close(r); return TR_EXIT_ERR; }
        f = cli_cascade_figures("tune-cascade", r, ds, rpath, dpath, &copts, &res);
        tr_dataset_free(ds);
        tr_router_close(r);
    }
    if (f == 1) return cli_fail("tune-cascade", TR_EXIT_ERR, "%s has no \"verify\" confidences (docs/cascade.md)", dpath);
    if (f) return TR_EXIT_ERR;
    int exit = TR_EXIT_ERR;
    if (out_path && write_file(out_path, res)) goto done;
    if (json) {
        char *s = cJSON_PrintUnformatted(res);
        if (s) puts(s);
        cJSON_free(s);
    } else if (ko.folds) {
        cli_cascade_kfold_print(res);
    } else {
        cli_cascade_print(res);
    }
    exit = TR_EXIT_OK;
done:
    cJSON_Delete(res);
    return exit;
}
