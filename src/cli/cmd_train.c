/* `taskroute train`: the whole router from a routing dataset. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_train_opts.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute train DATA.jsonl -o router.trm [options]\n"
        "Train the router (embedder, tasks, classifier, expert heads, calibration,\n"
        "costs) on the EVAL.md training split of DATA (\"-\" = stdin).\n\n"
        "  -o, --output FILE       router file to write (atomically) [required]\n"
        "      --all               train on every record, not only the train split\n"
        "      --warm-start FILE   current router: keep task ids stable\n"
        "      --skip-bad          report and skip bad records instead of stopping\n");
    cli_train_opts_help(f);
    fprintf(f, "  -q, --quiet             no progress or summary on stderr\n"
               "  -h, --help              this help\n");
}

int cmd_train(int argc, char **argv)
{
    const char *out = NULL;
    int skip_bad = 0;
    tr_train_options o;
    tr_train_options_default(&o);
    static const struct option base[] = {
        {"output", required_argument, 0, 'o'}, {"all", no_argument, 0, 'A'},
        {"warm-start", required_argument, 0, 'W'}, {"skip-bad", no_argument, 0, 'B'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    size_t nl = cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0]);
    (void)nl;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'A': o.use_all = 1; break;
        case 'W': o.warm_start = optarg; break;
        case 'B': skip_bad = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: {
            int r = cli_train_opts_parse("train", c, optarg, &o);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "taskroute train: need DATA.jsonl and -o router.trm\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    const char *data = argv[optind];
    char err[1024];
    tr_dataset *ds = NULL;
    if (cli_load_dataset("train", data, skip_bad, &ds)) return TR_EXIT_ERR;
    o.progress = cli_progress;
    tr_router *r = NULL;
    int rc = tr_train(ds, &o, &r, err, sizeof err);
    cli_progress_done();
    if (rc) { tr_dataset_free(ds); return cli_fail("train", TR_EXIT_ERR, "%s", err); }
    rc = tr_router_save(r, out, err, sizeof err);
    if (rc) { tr_router_close(r); tr_dataset_free(ds); return cli_fail("train", TR_EXIT_ERR, "%s", err); }
    if (!cli_quiet)
        fprintf(stderr, "taskroute train: wrote %s: %zu tasks, %zu models, dim %zu\n", out,
                tr_router_task_count(r), tr_router_model_count(r), tr_router_dim(r));
    tr_router_close(r);
    tr_dataset_free(ds);
    return TR_EXIT_OK;
}
