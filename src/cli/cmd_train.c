/* `taskroute train`: the whole router from a routing dataset; with
 * --warm-start, a scheduled retrain: stable task ids, a drift report, and a
 * regression guard that refuses a worse router (exit 3) before the router
 * file is written (the drift report, with the guard's evidence, is). */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/defaults.h"
#include "base/json.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "data/feedback_merge.h"
#include "taskroute.h"
#include "upstream/table.h"

/* When each training stage began, from the progress calls: the summary
 * says where the time went, so a scheduled retrain that slows down shows
 * which stage did. */
enum { MAX_STAGES = 16 };
static struct {
    const char *name[MAX_STAGES];
    double t[MAX_STAGES];
    int n;
} clock_of;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void timed_progress(void *ctx, const char *stage, double frac)
{
    int n = clock_of.n;
    if ((n == 0 || strcmp(clock_of.name[n - 1], stage)) && n < MAX_STAGES) {
        clock_of.name[n] = stage;   /* the library's string literals */
        clock_of.t[n] = now_s();
        clock_of.n++;
    }
    cli_progress(ctx, stage, frac);
}

static void print_stage_times(double end)
{
    if (clock_of.n == 0) return;
    fprintf(stderr, "taskroute train: %.1f s:", end - clock_of.t[0]);
    for (int i = 0; i < clock_of.n; i++) {
        if (!strcmp(clock_of.name[i], "done")) continue;
        double t1 = i + 1 < clock_of.n ? clock_of.t[i + 1] : end;
        fprintf(stderr, "%s %s %.1f s", i ? "," : "", clock_of.name[i], t1 - clock_of.t[i]);
    }
    fputc('\n', stderr);
}

/* The new router was refused by the regression guard; no router written. */
#define TR_EXIT_REGRESSION 3
#define MAX_LOGS 64

static void help(FILE *f)
{
    tr_warm_options wo;
    tr_warm_options_default(&wo);
    fprintf(f,
        "usage: taskroute train DATA.jsonl -o router.trm [options]\n"
        "Train the router (embedder, tasks, classifier, expert heads, calibration,\n"
        "costs) on the EVAL.md training split of DATA (\"-\" = stdin).\n\n"
        "  -o, --output FILE       router file to write (atomically) [required]\n"
        "      --all               train on every record, not only the train split\n"
        "      --skip-bad          report and skip bad records instead of stopping\n"
        "      --prices FILE       an upstream table (docs/upstreams.md): each model's\n"
        "                          \"price\" is kept as the price the router was trained\n"
        "                          at; serve then rescales the router's cost estimates\n"
        "                          by its own table's prices, without retraining\n"
        "Scheduled retraining:\n"
        "      --warm-start FILE   current router: reuse its embedder, keep task ids\n"
        "                          and names stable, guard against regressions\n"
        "      --refit-embedder    fit a new embedder even with --warm-start\n"
        "      --match-min S       least match score for a task to keep its id [%g]\n"
        "      --drift-report MD   write the drift report as Markdown (--warm-start)\n"
        "      --drift-json FILE   write the drift report as JSON (--warm-start)\n"
        "      --max-regression X  refuse the new router (exit 3, router not written)\n"
        "                          when, on DATA's test split, its AIQ(log) or Q@C_best\n"
        "                          is below the current one's by more than X beyond\n"
        "                          noise (the 95%% bootstrap interval of the paired\n"
        "                          difference lies below -X), or when it no longer\n"
        "                          beats the best single model where the current one\n"
        "                          did beyond noise [%g]\n"
        "      --force             skip the regression guard\n"
        "Learning from feedback:\n"
        "      --feedback LOG      server feedback log (JSONL); repeatable\n"
        "      --decisions LOG     server decision log to join on request_id; repeatable\n",
        wo.match_min_score, TR_DEFAULT_MAX_REGRESSION);
    cli_train_opts_help(f);
    cli_heads_opts_help(f);
    fprintf(f, "      --cv-predictions F  also write every head's out-of-fold predictions, the\n"
               "                          ones cross-validation chose by, as JSONL: a line per\n"
               "                          training record {id, line, fold, task_index, chosen, q};\n"
               "                          \"-\" = standard output\n");
    fprintf(f, "  -q, --quiet             no progress or summary on stderr\n"
               "  -h, --help              this help\n"
               "Exit: 0 written; 1 error; 2 usage; 3 refused as a regression (router not written).\n");
}

/* Write text to path atomically. */
static int write_text(const char *path, const char *text)
{
    cli_out o;
    if (cli_out_open(&o, path)) return cli_fail("train", TR_EXIT_ERR, "%s: cannot create", path);
    if (fputs(text, o.f) < 0 || (text[0] && text[strlen(text) - 1] != '\n' && fputc('\n', o.f) < 0)) {
        cli_out_abort(&o);
        return cli_fail("train", TR_EXIT_ERR, "%s: write failed", path);
    }
    if (cli_out_commit(&o)) return cli_fail("train", TR_EXIT_ERR, "%s: write failed", path);
    return TR_EXIT_OK;
}

/* figure k of the guard's evidence: before, after, difference, interval */
static void guard_figure(const cJSON *g, const char *k, double v[5])
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(g, k);
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(f, "ci");
    v[0] = tr_json_get_num(f, "before");
    v[1] = tr_json_get_num(f, "after");
    v[2] = tr_json_get_num(f, "diff");
    v[3] = cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) ? cJSON_GetArrayItem(ci, 0)->valuedouble : NAN;
    v[4] = cJSON_IsNumber(cJSON_GetArrayItem(ci, 1)) ? cJSON_GetArrayItem(ci, 1)->valuedouble : NAN;
}

/* The guard's figures from its evidence (tr_regression_guard's JSON). */
static void print_guard_passed(const char *evidence)
{
    cJSON *j = cJSON_Parse(evidence);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "current_usable"))) {
        double a[5], q[5];
        guard_figure(j, "aiq_log", a);
        guard_figure(j, "q_at_c_best", q);
        fprintf(stderr, "taskroute train: regression guard passed on %.0f test prompts: AIQ(log) %.4f -> %.4f "
                "(%+.4f, 95%% interval %+.4f to %+.4f), Q@C_best %.4f -> %.4f (%+.4f, %+.4f to %+.4f)\n",
                tr_json_get_num(j, "n_test"), a[0], a[1], a[2], a[3], a[4], q[0], q[1], q[2], q[3], q[4]);
    }
    cJSON_Delete(j);
}

/* The drift JSON with the guard's verdict added (owned by the caller). */
static char *with_guard(const char *drift, const char *guard)
{
    cJSON *j = cJSON_Parse(drift), *g = guard ? cJSON_Parse(guard) : NULL;
    if (!j) { cJSON_Delete(g); return NULL; }
    if (g) cJSON_AddItemToObject(j, "guard", g);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *c = s ? strdup(s) : NULL;
    cJSON_free(s);
    return c;
}

enum { O_REFIT = 500, O_DRIFT_MD, O_DRIFT_JSON, O_MAXREG, O_FORCE, O_FEEDBACK, O_DECISIONS, O_MATCHMIN, O_CVPRED,
       O_PRICES };

/* --prices: the table's price of each model becomes the router's reference
 * price, so a server rescales costs by later prices against these.  0 ok,
 * -1 message printed. */
static int record_prices(tr_router *r, const tr_upstream_table *t, const char *path)
{
    size_t set = 0, missing = 0;
    char err[512];
    for (size_t m = 0; m < tr_router_model_count(r); m++) {
        int u = tr_upstream_table_find(t, tr_router_model_name(r, m));
        if (u < 0 || !t->u[u].has_price) {
            missing++;
            if (!cli_quiet)
                fprintf(stderr, "taskroute train: --prices %s: no price for model '%s': its costs will not be "
                                "rescaled by a server's prices\n", path, tr_router_model_name(r, m));
            continue;
        }
        if (tr_router_set_reference_price(r, m, t->u[u].price_in, t->u[u].price_out, err, sizeof err)) {
            cli_fail("train", TR_EXIT_ERR, "--prices %s: %s", path, err);
            return -1;
        }
        set++;
    }
    if (!cli_quiet)
        fprintf(stderr, "taskroute train: reference prices of %zu model(s) recorded from %s%s\n", set, path,
                missing ? "" : " (every model)");
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *out = NULL, *drift_md = NULL, *drift_json = NULL, *warm = NULL;
    const char *fb[MAX_LOGS], *dec[MAX_LOGS];
    size_t nfb = 0, ndec = 0;
    int skip_bad = 0, force = 0, maxreg_given = 0;
    double max_reg = TR_DEFAULT_MAX_REGRESSION;
    const char *prices = NULL;
    tr_upstream_table *price_table = NULL;
    tr_train_options_x ox;   /* the public options and the experiments' knobs */
    cli_train_opts_init(&ox);
    tr_train_options *o = &ox.pub;
    tr_warm_options wo;
    tr_warm_options_default(&wo);
    static const struct option base[] = {
        {"output", required_argument, 0, 'o'}, {"all", no_argument, 0, 'A'},
        {"warm-start", required_argument, 0, 'W'}, {"skip-bad", no_argument, 0, 'B'},
        {"refit-embedder", no_argument, 0, O_REFIT}, {"drift-report", required_argument, 0, O_DRIFT_MD},
        {"drift-json", required_argument, 0, O_DRIFT_JSON}, {"max-regression", required_argument, 0, O_MAXREG},
        {"force", no_argument, 0, O_FORCE}, {"feedback", required_argument, 0, O_FEEDBACK},
        {"decisions", required_argument, 0, O_DECISIONS}, {"match-min", required_argument, 0, O_MATCHMIN},
        {"cv-predictions", required_argument, 0, O_CVPRED}, {"prices", required_argument, 0, O_PRICES},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    size_t nl = cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0], 1);
    (void)nl;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'A': o->use_all = 1; break;
        case 'W': warm = optarg; break;
        case 'B': skip_bad = 1; break;
        case O_REFIT: wo.refit_embedder = 1; break;
        case O_DRIFT_MD: drift_md = optarg; break;
        case O_DRIFT_JSON: drift_json = optarg; break;
        case O_MAXREG:
            if (cli_parse_double("train", "--max-regression", optarg, 0, 1, &max_reg)) return TR_EXIT_USAGE;
            maxreg_given = 1;
            break;
        case O_MATCHMIN:
            if (cli_parse_double("train", "--match-min", optarg, 0, 1, &wo.match_min_score)) return TR_EXIT_USAGE;
            break;
        case O_FORCE: force = 1; break;
        case O_CVPRED: ox.cv_predictions = optarg; break;
        case O_PRICES: prices = optarg; break;
        case O_FEEDBACK:
        case O_DECISIONS:
            if ((c == O_FEEDBACK ? nfb : ndec) == MAX_LOGS)
                return cli_fail("train", TR_EXIT_USAGE, "at most %d --feedback and --decisions logs each", MAX_LOGS);
            if (c == O_FEEDBACK) fb[nfb++] = optarg;
            else dec[ndec++] = optarg;
            break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: {
            int r = cli_train_opts_parse("train", c, optarg, &ox);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    cli_train_opts_finish(&ox);
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "taskroute train: need DATA.jsonl and -o router.trm\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    if (!warm && (drift_md || drift_json || wo.refit_embedder || force || maxreg_given))
        return cli_fail("train", TR_EXIT_USAGE, "--drift-report, --drift-json, --refit-embedder, --max-regression "
                        "and --force need --warm-start CURRENT.trm");
    if (ndec && !nfb) return cli_fail("train", TR_EXIT_USAGE, "--decisions needs --feedback");
    const char *data = argv[optind];
    char err[1024];
    tr_dataset *ds = NULL;
    tr_router *r = NULL, *cur = NULL;
    char *drift = NULL, *guard = NULL, *full = NULL, *md = NULL;
    int ex = TR_EXIT_ERR, rc;
    /* read before the long training, so a bad file costs nothing */
    if (prices && (rc = tr_upstream_table_load(prices, NULL, &price_table, err, sizeof err)))
        return cli_fail("train", TR_EXIT_ERR, "--prices %s", err);
    if (cli_load_dataset("train", data, skip_bad, &ds)) { tr_upstream_table_unref(price_table); return TR_EXIT_ERR; }
    if (nfb) {
        tr_feedback_stats st;
        if ((rc = tr_feedback_merge(ds, dec, ndec, fb, nfb, &st, err, sizeof err))) {
            cli_fail("train", TR_EXIT_ERR, "%s", err);
            goto done;
        }
        if (!cli_quiet)
            fprintf(stderr, "taskroute train: feedback: %zu lines, %zu decisions, %zu bad, %zu without a prompt; "
                    "%zu records added, %zu new models\n", st.feedback_lines, st.decision_lines, st.bad_lines,
                    st.unmatched, st.records_added, st.models_added);
    }
    o->progress = timed_progress;
    if (warm) {
        if ((rc = tr_router_open(warm, &cur, err, sizeof err))) {
            cli_fail("train", TR_EXIT_ERR, "--warm-start: %s", err);
            goto done;
        }
        wo.current_name = warm;
        rc = tr_train_warm_start(ds, cur, o, &wo, &r, &drift, err, sizeof err);
    } else {
        rc = tr_train(ds, o, &r, err, sizeof err);
    }
    double t_end = now_s();
    cli_progress_done();
    if (rc) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
    int refused = 0;
    char refusal[1024] = "";
    if (warm && !force) {
        tr_guard_options go;
        tr_guard_options_default(&go);
        go.max_regression = max_reg;
        rc = tr_regression_guard(cur, r, ds, &go, &guard, err, sizeof err);
        if (rc && rc != TR_EREGRESS) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
        refused = rc == TR_EREGRESS;
        if (refused) snprintf(refusal, sizeof refusal, "%s", err);
        else if (!cli_quiet) print_guard_passed(guard);
    }
    if (!refused && price_table && record_prices(r, price_table, prices)) goto done;
    if (!refused && (rc = tr_router_save(r, out, err, sizeof err))) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
    /* the drift report, with the guard's evidence, is written whatever the verdict */
    if (drift) {
        full = with_guard(drift, guard);
        if (!full) { cli_fail("train", TR_EXIT_ERR, "out of memory"); goto done; }
        if (drift_json && write_text(drift_json, full)) goto done;
        if (drift_md) {
            if ((rc = tr_drift_markdown(full, &md, err, sizeof err))) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
            if (write_text(drift_md, md)) goto done;
        }
    }
    if (refused) {
        ex = cli_fail("train", TR_EXIT_REGRESSION, "%s; %s not written%s", refusal, out,
                      drift_md || drift_json ? " (the drift report was, with the guard's evidence)" : "");
        goto done;
    }
    if (!cli_quiet) {
        fprintf(stderr, "taskroute train: wrote %s: %zu tasks, %zu models, dim %zu\n", out,
                tr_router_task_count(r), tr_router_model_count(r), tr_router_dim(r));
        print_stage_times(t_end);
    }
    ex = TR_EXIT_OK;
done:
    tr_upstream_table_unref(price_table);
    tr_free(drift);
    tr_free(guard);
    free(full);
    tr_free(md);
    tr_router_close(cur);
    tr_router_close(r);
    tr_dataset_free(ds);
    return ex;
}
