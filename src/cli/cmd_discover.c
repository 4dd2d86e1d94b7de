/* `taskroute discover`: find the task types in a prompt log; write a stage-1
 * router (embedder, tasks, classifier) and the taxonomy report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "cli/report_md.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute discover DATA.jsonl -o tasks.trm [--report tasks.md] [--json tasks.json] [options]\n"
        "Discover the task types in DATA (prompts; scores and costs optional) and\n"
        "write a stage-1 router: `taskroute route tasks.trm` then gives each\n"
        "prompt's task and probabilities.\n\n"
        "  -o, --output FILE       stage-1 router file [required]\n"
        "      --report FILE       taxonomy report as Markdown (\"-\" = stdout): per task its id, slug,\n"
        "                          name, keywords, size, 3 representative prompts, best and best\n"
        "                          value model, every model's quality and cost\n"
        "      --heatmap FILE      task x model quality heatmap as SVG, linked from the report\n"
        "                          [beside --report FILE: FILE without .md + -heatmap.svg]\n"
        "      --json FILE         taxonomy report as JSON\n"
        "      --all               use every record, not only the EVAL.md train split\n"
        "      --skip-bad          report and skip bad records instead of stopping\n");
    cli_train_opts_help(f);
    fprintf(f, "  -q, --quiet             no progress or summary on stderr\n"
               "  -h, --help              this help\n");
}

/* markdown: write the report as Markdown linking heatmap (NULL: no link). */
static int write_text(const char *path, const char *json, int markdown, const char *heatmap)
{
    cli_out o;
    if (cli_out_open(&o, path)) return -1;
    int rc = markdown ? report_md_write(o.f, json, heatmap) : (fputs(json, o.f) < 0 || fputc('\n', o.f) < 0 ? -1 : 0);
    if (rc) { cli_out_abort(&o); return -1; }
    return cli_out_commit(&o);
}

int cmd_discover(int argc, char **argv)
{
    const char *out = NULL, *report = NULL, *json = NULL, *heatmap = NULL;
    char heatmap_buf[4096];
    int skip_bad = 0;
    tr_train_options_x ox;   /* the public options and the experiments' knobs */
    tr_train_options_x_default(&ox);
    tr_train_options *o = &ox.pub;
    static const struct option base[] = {
        {"output", required_argument, 0, 'o'}, {"report", required_argument, 0, 'R'},
        {"json", required_argument, 0, 'J'}, {"heatmap", required_argument, 0, 'H'}, {"all", no_argument, 0, 'A'},
        {"skip-bad", no_argument, 0, 'B'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0], 0);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'R': report = optarg; break;
        case 'J': json = optarg; break;
        case 'H': heatmap = optarg; break;
        case 'A': o->use_all = 1; break;
        case 'B': skip_bad = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: {
            int r = cli_train_opts_parse("discover", c, optarg, &ox);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "taskroute discover: need DATA.jsonl and -o tasks.trm\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    tr_dataset *ds = NULL;
    if (cli_load_dataset("discover", argv[optind], skip_bad, &ds)) return TR_EXIT_ERR;
    o->progress = cli_progress;
    char err[1024], *rep = NULL;
    tr_router *r = NULL;
    int rc = tr_discover(ds, o, &r, &rep, err, sizeof err);
    cli_progress_done();
    tr_dataset_free(ds);
    if (rc) return cli_fail("discover", TR_EXIT_ERR, "%s", err);
    int exit = TR_EXIT_OK;
    if (tr_router_save(r, out, err, sizeof err)) exit = cli_fail("discover", TR_EXIT_ERR, "%s", err);
    if (!heatmap && report && strcmp(report, "-")) {
        /* beside the report: tasks.md -> tasks-heatmap.svg */
        size_t n = strlen(report);
        if (n > 3 && !strcmp(report + n - 3, ".md")) n -= 3;
        if (n + 16 < sizeof heatmap_buf) {
            snprintf(heatmap_buf, sizeof heatmap_buf, "%.*s-heatmap.svg", (int)n, report);
            heatmap = heatmap_buf;
        }
    }
    int have_heatmap = 0;
    if (!exit && heatmap) {
        char herr[1024];
        if (!report_heatmap_write(rep, heatmap, herr, sizeof herr)) have_heatmap = 1;
        else if (!cli_quiet) fprintf(stderr, "taskroute discover: no heatmap: %s\n", herr);
    }
    /* the report links the heatmap by its name when both sit in one directory */
    const char *link = NULL;
    if (have_heatmap) {
        const char *hs = strrchr(heatmap, '/'), *rs = report ? strrchr(report, '/') : NULL;
        size_t hd = hs ? (size_t)(hs - heatmap) : 0, rd = rs ? (size_t)(rs - report) : 0;
        link = hd == rd && !strncmp(heatmap, report ? report : "", hd) ? (hs ? hs + 1 : heatmap) : heatmap;
    }
    if (!exit && json && write_text(json, rep, 0, NULL)) exit = cli_fail("discover", TR_EXIT_ERR, "%s: cannot write", json);
    if (!exit && report && write_text(report, rep, 1, link))
        exit = cli_fail("discover", TR_EXIT_ERR, "%s: cannot write", report);
    if (!exit && !cli_quiet)
        fprintf(stderr, "taskroute discover: wrote %s: %zu tasks (dim %zu)%s%s%s%s\n", out, tr_router_task_count(r),
                tr_router_dim(r), report ? ", report " : "", report ? report : "", have_heatmap ? ", heatmap " : "",
                have_heatmap ? heatmap : "");
    tr_free(rep);
    tr_router_close(r);
    return exit;
}
