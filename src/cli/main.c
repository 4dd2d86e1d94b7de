/* taskroute: the command-line front end.  Dispatches to one file per
 * subcommand; see `taskroute --help`. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "taskroute.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"synth", cmd_synth, "write a deterministic synthetic routing dataset"},
    {"embed", cmd_embed, "embed prompts into unit vectors (.f32 file)"},
    {"discover", cmd_discover, "discover task types; write a stage-1 router and a report"},
    {"train", cmd_train, "train the full router (tasks, heads, calibration, costs)"},
    {"route", cmd_route, "route prompts (JSONL on stdin) to models"},
    {"eval", cmd_eval, "score a router on the EVAL.md test split, with baselines"},
    {"inspect", cmd_inspect, "describe a router file"},
    {"serve", cmd_serve, "HTTP routing server and OpenAI-compatible proxy"},
    {"tune-cascade", cmd_tune_cascade, "tune the verified cascade's thresholds on data with verifier confidences"},
    {"drift", cmd_drift, "how new traffic moved against a router's tasks"},
    {"rename", cmd_rename, "give a task a name of your own (kept by retraining)"},
    {"label", cmd_label, "call candidate models on prompts; write routing data to train on"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: taskroute <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n`taskroute <command> --help` shows a command's options and defaults.\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage error (see README).\n");
}

int main(int argc, char **argv)
{
    /* The process is the CLI's, and so is OpenBLAS's thread count, which
     * the library leaves to its caller: one thread.  taskroute's own workers
     * (--threads) carry the parallelism, so routers, evaluations and
     * decisions are the same bits whatever the core or thread count. */
    openblas_set_num_threads(1);
    if (argc < 2) { usage(stderr); return TR_EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return TR_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("taskroute %s (library %s)\n", TR_VERSION_STRING, tr_version());
        return TR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "taskroute: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return TR_EXIT_USAGE;
}
