/* `taskroute drift ROUTER TRAFFIC.jsonl`: without retraining, how new
 * traffic's task shares moved against the router's training shares and how
 * much of it is out of distribution (retrain/drift.h).  Prompts only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "classify/ood.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "retrain/drift.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute drift ROUTER.trm TRAFFIC.jsonl [--json]\n"
        "Task shares of TRAFFIC (every record; prompts only, scores ignored) against\n"
        "the router's training shares, and the share of out-of-distribution prompts,\n"
        "by the rule every decision applies: the OOD score (a decision's ood_score)\n"
        "above the threshold calibrated at training to flag %g%% of held-out training\n"
        "prompts (a router file that predates it: not counted).\n\n"
        "      --json              JSON instead of Markdown on stdout\n"
        "      --threshold T       OOD score threshold instead of the router's\n"
        "      --skip-bad          report and skip bad records instead of stopping\n"
        "  -q, --quiet             no summary on stderr\n"
        "  -h, --help              this help\n",
        100 * TR_OOD_FPR);
}

int cmd_drift(int argc, char **argv)
{
    int as_json = 0, skip_bad = 0;
    double thr = 0;
    int have_thr = 0;
    static const struct option lo[] = {
        {"json", no_argument, 0, 'j'}, {"threshold", required_argument, 0, 't'},
        {"skip-bad", no_argument, 0, 'B'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 't':
            if (cli_parse_double("drift", "--threshold", optarg, -1e30, 1e30, &thr)) return TR_EXIT_USAGE;
            have_thr = 1;
            break;
        case 'B': skip_bad = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: help(stderr); return TR_EXIT_USAGE;
        }
    }
    if (optind != argc - 2) {
        fprintf(stderr, "taskroute drift: need ROUTER.trm and TRAFFIC.jsonl\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    char err[1024];
    tr_router *r = NULL;
    tr_dataset *ds = NULL;
    char *json = NULL, *md = NULL;
    int ex = TR_EXIT_ERR, rc;
    if ((rc = tr_router_open(argv[optind], &r, err, sizeof err))) { cli_fail("drift", TR_EXIT_ERR, "%s", err); goto done; }
    if (cli_load_dataset("drift", argv[optind + 1], skip_bad, &ds)) goto done;
    if ((rc = tr_drift_traffic(r, ds, have_thr ? &thr : NULL, &json, err, sizeof err))) { cli_fail("drift", TR_EXIT_ERR, "%s", err); goto done; }
    if (as_json) {
        puts(json);
    } else {
        if ((rc = tr_drift_markdown(json, &md, err, sizeof err))) { cli_fail("drift", TR_EXIT_ERR, "%s", err); goto done; }
        fputs(md, stdout);
    }
    ex = fflush(stdout) ? TR_EXIT_ERR : TR_EXIT_OK;
done:
    tr_free(json);
    tr_free(md);
    tr_dataset_free(ds);
    tr_router_close(r);
    return ex;
}
