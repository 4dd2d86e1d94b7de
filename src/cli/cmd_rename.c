/* `taskroute rename ROUTER.trm ID "name"`: give a task a name of your own.
 * The file is rewritten atomically, nothing but the task table changes, and
 * the name survives warm-started retraining (tr_router_rename_task). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute rename ROUTER.trm ID \"name\" [-o OUT.trm]\n"
        "Name the task whose stable id is ID (the \"task_id\" of decisions; `taskroute\n"
        "inspect` lists them).  The name (UTF-8, 1 to 200 bytes, unique among the\n"
        "router's tasks) replaces the one discovery gave it, the task's slug follows\n"
        "it, and warm-started retraining (`train --warm-start`) keeps it.  The router\n"
        "file is rewritten atomically; a running server sees the name on its next\n"
        "reload.\n\n"
        "  -o, --output FILE   write the renamed router there instead [ROUTER.trm]\n"
        "  -q, --quiet         no summary on stderr\n"
        "  -h, --help          this help\n");
}

int cmd_rename(int argc, char **argv)
{
    const char *out = NULL;
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: help(stderr); return TR_EXIT_USAGE;
        }
    }
    if (optind != argc - 3) {
        fprintf(stderr, "taskroute rename: need ROUTER.trm, ID and a name\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    const char *path = argv[optind], *name = argv[optind + 2];
    long id;
    if (cli_parse_int("rename", "ID", argv[optind + 1], 0, 2147483647L, &id)) return TR_EXIT_USAGE;
    if (!out) out = path;
    char err[1024];
    int rc = tr_router_rename_task(path, (int)id, name, out, err, sizeof err);
    if (rc) return cli_fail("rename", rc == TR_EINVAL ? TR_EXIT_USAGE : TR_EXIT_ERR, "%s", err);
    if (!cli_quiet) {
        tr_router *r = NULL;
        if (!tr_router_open(out, &r, err, sizeof err)) {
            for (size_t t = 0; t < tr_router_task_count(r); t++)
                if (tr_router_task_id(r, t) == (int)id)
                    fprintf(stderr, "taskroute rename: %s: task %ld is now \"%s\" (slug %s)\n", out, id,
                            tr_router_task_name(r, t), tr_router_task_slug(r, t));
            tr_router_close(r);
        }
    }
    return TR_EXIT_OK;
}
