/* `taskroute route`: route JSONL prompts on stdin, one decision per line on
 * stdout.  A stage-1 router (from `discover`) answers the task only. */
#include <cJSON.h>
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "taskroute.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: taskroute route router.trm [options] < prompts.jsonl > decisions.jsonl\n"
        "Each input line is a JSON object with \"prompt\" (and optionally \"id\", or\n"
        "\"embedding\" for a router trained on caller-supplied embeddings).  Each output\n"
        "line: \"model\", the most probable task's \"task\" (name), \"task_id\" (stable\n"
        "across warm-started retrains), \"task_slug\" and \"task_prob\", and \"ood\": true\n"
        "when the prompt looks like none of the router's tasks; without --brief also\n"
        "\"ood_score\" (larger = more out of distribution), \"task_index\" (the task's\n"
        "place in this router's table), per-model \"quality\" and \"cost\", the top 3\n"
        "\"tasks\".\n\n"
        "selection (one of):\n"
        "      --lambda L      maximise quality - L x cost (USD) [default, L=0]\n"
        "      --tolerance T   cheapest model within T of the best predicted quality\n"
        "      --budget B      keep the mean cost per query <= B USD\n"
        "      --risk A        cheapest model whose misrouting risk is <= A\n"
        "      --best          best predicted quality, cost ignored\n"
        "      --models a,b    only these models are candidates [all]\n"
        "      --brief         omit the per-model explanation\n"
        "  -q, --quiet         no summary on stderr\n"
        "  -h, --help          this help\n");
}

/* Parse "a,b,c" into an allowed-mask over the router's models. */
static int parse_models(const tr_router *r, const char *list, unsigned char *mask)
{
    size_t M = tr_router_model_count(r);
    memset(mask, 0, M);
    char *dup = strdup(list), *save = NULL;
    if (!dup) return -1;
    int n = 0;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int m = tr_router_find_model(r, tok);
        if (m < 0) {
            fprintf(stderr, "taskroute route: --models: unknown model '%s' (the router knows:", tok);
            for (size_t i = 0; i < M; i++) fprintf(stderr, " %s", tr_router_model_name(r, i));
            fprintf(stderr, ")\n");
            free(dup);
            return -1;
        }
        mask[m] = 1;
        n++;
    }
    free(dup);
    if (!n) { fprintf(stderr, "taskroute route: --models: empty list\n"); return -1; }
    return 0;
}

static void print_decision(const tr_router *r, const char *id, const tr_decision *d, int brief)
{
    cJSON *o = cJSON_CreateObject();
    if (id) cJSON_AddStringToObject(o, "id", id);
    if (d->model >= 0) cJSON_AddStringToObject(o, "model", d->model_name);
    cJSON_AddStringToObject(o, "task", d->task_name);
    /* the id that survives a warm-started retrain; the index is this file's */
    cJSON_AddNumberToObject(o, "task_id", d->task_id);
    cJSON_AddNumberToObject(o, "task_index", d->task);
    cJSON_AddStringToObject(o, "task_slug", tr_router_task_slug(r, (size_t)d->task));
    cJSON_AddNumberToObject(o, "task_prob", round(d->task_prob * 1e4) / 1e4);
    cJSON_AddBoolToObject(o, "ood", d->ood);
    if (!brief) {
        cJSON_AddNumberToObject(o, "ood_score", round(d->ood_score * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "task_index", d->task);
    }
    if (!brief && d->model >= 0) {
        cJSON *q = cJSON_AddObjectToObject(o, "quality"), *c = cJSON_AddObjectToObject(o, "cost");
        for (size_t m = 0; m < d->n_models; m++) {
            const char *name = tr_router_model_name(r, m);
            if (!isnan(d->quality[m])) cJSON_AddNumberToObject(q, name, round(d->quality[m] * 1e4) / 1e4);
            if (!isnan(d->cost[m])) cJSON_AddNumberToObject(c, name, d->cost[m]);
        }
    }
    if (!brief) {
        /* the three most probable tasks */
        cJSON *tp = cJSON_AddArrayToObject(o, "tasks");
        int used[3] = {-1, -1, -1};
        for (int k = 0; k < 3 && (size_t)k < d->n_tasks; k++) {
            int best = -1;
            for (size_t t = 0; t < d->n_tasks; t++) {
                if ((int)t == used[0] || (int)t == used[1]) continue;
                if (best < 0 || d->task_probs[t] > d->task_probs[best]) best = (int)t;
            }
            used[k] = best;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "task", tr_router_task_name(r, (size_t)best));
            cJSON_AddNumberToObject(e, "task_id", tr_router_task_id(r, (size_t)best));
            cJSON_AddNumberToObject(e, "prob", round(d->task_probs[best] * 1e4) / 1e4);
            cJSON_AddItemToArray(tp, e);
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s) { fputs(s, stdout); fputc('\n', stdout); }
    free(s);
    cJSON_Delete(o);
}

int cmd_route(int argc, char **argv)
{
    /* one BLAS thread, as `serve` runs: a threaded SGEMV in the task
     * classifier sums in another order, and the decisions' last bits would
     * differ from the server's */
    openblas_set_num_threads(1);
    tr_route_options ro;
    tr_route_options_default(&ro);
    const char *models = NULL;
    int brief = 0, modes = 0;
    static const struct option longopts[] = {
        {"lambda", required_argument, 0, 'l'}, {"tolerance", required_argument, 0, 't'},
        {"budget", required_argument, 0, 'b'}, {"risk", required_argument, 0, 'r'},
        {"best", no_argument, 0, 'B'}, {"models", required_argument, 0, 'm'},
        {"brief", no_argument, 0, 'R'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            ro.mode = TR_SELECT_LAMBDA; modes++;
            if (cli_parse_double("route", "--lambda", optarg, 0, 1e12, &ro.value)) return TR_EXIT_USAGE;
            break;
        case 't':
            ro.mode = TR_SELECT_TOLERANCE; modes++;
            if (cli_parse_double("route", "--tolerance", optarg, 0, 1, &ro.value)) return TR_EXIT_USAGE;
            break;
        case 'b':
            ro.mode = TR_SELECT_BUDGET; modes++;
            if (cli_parse_double("route", "--budget", optarg, 0, 1e9, &ro.value)) return TR_EXIT_USAGE;
            break;
        case 'r':
            ro.mode = TR_SELECT_RISK; modes++;
            if (cli_parse_double("route", "--risk", optarg, 0, 1, &ro.value)) return TR_EXIT_USAGE;
            break;
        case 'B': ro.mode = TR_SELECT_QUALITY; modes++; break;
        case 'm': models = optarg; break;
        case 'R': brief = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: help(stderr); return TR_EXIT_USAGE;
        }
    }
    if (modes > 1) { fprintf(stderr, "taskroute route: give one of --lambda, --tolerance, --budget, --risk, --best\n"); return TR_EXIT_USAGE; }
    if (optind != argc - 1) { help(stderr); return TR_EXIT_USAGE; }
    char err[1024];
    tr_router *r = NULL;
    if (tr_router_open(argv[optind], &r, err, sizeof err)) return cli_fail("route", TR_EXIT_ERR, "%s", err);
    unsigned char *mask = NULL;
    if (models) {
        mask = malloc(tr_router_model_count(r) + 1);
        if (!mask || parse_models(r, models, mask)) { free(mask); tr_router_close(r); return TR_EXIT_USAGE; }
        ro.allowed = mask;
    }
    tr_scratch *s = NULL;
    if (tr_scratch_new(r, &s)) { free(mask); tr_router_close(r); return cli_fail("route", TR_EXIT_ERR, "out of memory"); }
    size_t dim = tr_router_dim(r);
    float *x = malloc((dim ? dim : 1) * sizeof *x);
    char *line = NULL;
    size_t cap = 0, lineno = 0, routed = 0, failed = 0;
    ssize_t len;
    int rc = TR_EXIT_OK;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(line, (size_t)len, &end, 0);
        const char *p = line;
        while (p < line + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
        if (p == line + len) { cJSON_Delete(j); continue; }  /* blank line */
        cJSON *jp = j ? cJSON_GetObjectItemCaseSensitive(j, "prompt") : NULL;
        cJSON *je = j ? cJSON_GetObjectItemCaseSensitive(j, "embedding") : NULL;
        cJSON *jid = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        const char *id = cJSON_IsString(jid) ? jid->valuestring : NULL;
        tr_decision d;
        int e;
        const char *field = "prompt", *hint = "";
        if (!j || !cJSON_IsObject(j)) {
            fprintf(stderr, "taskroute route: stdin:%zu: not a JSON object (column %ld)\n", lineno,
                    end ? (long)(end - line) + 1 : 1L);
            failed++; cJSON_Delete(j); continue;
        }
        if (cJSON_IsString(jp)) {
            e = tr_route(r, jp->valuestring, strlen(jp->valuestring), &ro, s, &d);
            if (e == TR_EINVAL)
                hint = " (this router was trained on caller-supplied embeddings: send \"embedding\" arrays)";
        } else if (cJSON_IsArray(je)) {
            size_t n = (size_t)cJSON_GetArraySize(je), i = 0;
            if (n != dim) {
                fprintf(stderr, "taskroute route: stdin:%zu: field 'embedding': %zu values, the router wants %zu\n", lineno, n, dim);
                failed++; cJSON_Delete(j); continue;
            }
            cJSON *v;
            cJSON_ArrayForEach(v, je) x[i++] = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
            e = tr_route_embedding(r, x, dim, &ro, s, &d);
            field = "embedding";
            if (e == TR_EINVAL) hint = " (a value is not a finite number, or the vector is all zeros)";
        } else {
            fprintf(stderr, "taskroute route: stdin:%zu: field 'prompt': missing or not a string\n", lineno);
            failed++; cJSON_Delete(j); continue;
        }
        if (e) {
            if (e == TR_ENOTFOUND) hint = " (no allowed model has a prediction: check --models)";
            fprintf(stderr, "taskroute route: stdin:%zu: field '%s': %s%s\n", lineno, field, tr_strerror(e), hint);
            failed++;
        } else {
            print_decision(r, id, &d, brief);
            routed++;
        }
        cJSON_Delete(j);
    }
    if (ferror(stdin)) { fprintf(stderr, "taskroute route: reading stdin failed\n"); rc = TR_EXIT_ERR; }
    if (fflush(stdout)) rc = TR_EXIT_ERR;
    if (!cli_quiet) fprintf(stderr, "taskroute route: routed %zu, failed %zu\n", routed, failed);
    if (failed) rc = TR_EXIT_ERR;
    free(line); free(x); free(mask);
    tr_scratch_free(s);
    tr_router_close(r);
    return rc;
}
