/* `taskroute inspect`: what is inside a router file, as JSON (or a summary). */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f, "usage: taskroute inspect router.trm [--json]\n"
               "Validate a router file and describe it: configuration, models, tasks\n"
               "(id, name, slug, size, best model), the out-of-distribution threshold,\n"
               "sections with their sizes.\n\n"
               "      --json      the full description as JSON [summary]\n"
               "  -h, --help      this help\n");
}

int cmd_inspect(int argc, char **argv)
{
    int json = 0, c;
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'h') { help(stdout); return TR_EXIT_OK; }
        else { help(stderr); return TR_EXIT_USAGE; }
    }
    if (optind != argc - 1) { help(stderr); return TR_EXIT_USAGE; }
    char err[1024];
    tr_router *r = NULL;
    if (tr_router_open(argv[optind], &r, err, sizeof err)) return cli_fail("inspect", TR_EXIT_ERR, "%s", err);
    char *desc = NULL;
    if (tr_router_describe(r, &desc, err, sizeof err)) {
        tr_router_close(r);
        return cli_fail("inspect", TR_EXIT_ERR, "%s", err);
    }
    if (json) {
        puts(desc);
    } else {
        printf("%s: %s router, %zu models, %zu tasks, embedding dim %zu\n", argv[optind],
               tr_router_has_heads(r) ? "full" : "stage-1 (tasks only)", tr_router_model_count(r),
               tr_router_task_count(r), tr_router_dim(r));
        cJSON *j = cJSON_Parse(desc);
        cJSON *secs = cJSON_GetObjectItem(j, "sections"), *s;
        printf("sections:");
        cJSON_ArrayForEach(s, secs)
            printf(" %s(%.0f B)", cJSON_GetStringValue(cJSON_GetObjectItem(s, "tag")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(s, "bytes")));
        printf("\n");
        tr_route_options opt;
        tr_route_options_default(&opt);
        opt.mode = TR_SELECT_QUALITY;
        tr_policy_estimate e;
        if (tr_router_default_policy(r, &opt, &e) == TR_OK) {
            const char *b = e.best_model >= 0 ? tr_router_model_name(r, (size_t)e.best_model) : NULL;
            printf("default policy: lambda %.4g; on its training prompts quality %.4f against %.4f for the best "
                   "single model (%s), at %.0f%% of its cost\n", e.lambda, e.quality, e.best_quality, b ? b : "?",
                   e.best_cost > 0 ? 100 * e.cost / e.best_cost : 0.0);
        } else if (tr_router_has_heads(r)) {
            printf("default policy: none stored (an older router file): serve routes for quality unless --policy\n");
        }
        size_t priced = 0;
        for (size_t m = 0; m < tr_router_model_count(r); m++) priced += tr_router_reference_price(r, m, NULL, NULL) == TR_OK;
        printf("reference prices: %zu of %zu models%s\n", priced, tr_router_model_count(r),
               priced ? "" : " (train --prices FILE records them)");
        double thr = tr_router_ood_threshold(r);
        if (!isnan(thr)) printf("\nout of distribution: energy above %.4f\n", thr);
        else printf("\nout of distribution: no calibrated threshold (a router file that predates it)\n");
        printf("tasks (id, name, slug):\n");
        cJSON *tasks = cJSON_GetObjectItem(j, "tasks"), *t;
        cJSON_ArrayForEach(t, tasks) {
            cJSON *best = cJSON_GetObjectItem(t, "best_model");
            printf("  %4.0f  %-40s %-34s %6.0f prompts%s%s%s\n", cJSON_GetNumberValue(cJSON_GetObjectItem(t, "id")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(t, "slug")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(t, "size")),
                   cJSON_IsString(best) ? "  best: " : "", cJSON_IsString(best) ? best->valuestring : "",
                   cJSON_IsTrue(cJSON_GetObjectItem(t, "renamed")) ? "  (renamed)" : "");
        }
        cJSON_Delete(j);
    }
    tr_free(desc);
    tr_router_close(r);
    return TR_EXIT_OK;
}
