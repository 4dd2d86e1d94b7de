/* `taskroute train`: the whole router from a routing dataset; with
 * --warm-start, a scheduled retrain: stable task ids, a drift report, and a
 * regression guard that refuses a worse router (exit 3) before anything is
 * written. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/defaults.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "data/feedback_merge.h"
#include "retrain/drift_report.h"
#include "retrain/regress_guard.h"
#include "retrain/warm_start.h"
#include "train/train.h"
#include "taskroute.h"

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

/* The new router was refused by the regression guard; nothing written. */
#define TR_EXIT_REGRESSION 3
#define MAX_LOGS 64

static void help(FILE *f)
{
    tr_warm_params wp;
    tr_warm_params_default(&wp);
    fprintf(f,
        "usage: taskroute train DATA.jsonl -o router.trm [options]\n"
        "Train the router (embedder, tasks, classifier, expert heads, calibration,\n"
        "costs) on the EVAL.md training split of DATA (\"-\" = stdin).\n\n"
        "  -o, --output FILE       router file to write (atomically) [required]\n"
        "      --all               train on every record, not only the train split\n"
        "      --skip-bad          report and skip bad records instead of stopping\n"
        "Scheduled retraining:\n"
        "      --warm-start FILE   current router: reuse its embedder, keep task ids\n"
        "                          and names stable, guard against regressions\n"
        "      --refit-embedder    fit a new embedder even with --warm-start\n"
        "      --match-min S       least match score for a task to keep its id [%g]\n"
        "      --drift-report MD   write the drift report as Markdown (--warm-start)\n"
        "      --drift-json FILE   write the drift report as JSON (--warm-start)\n"
        "      --max-regression X  refuse the new router when its AIQ(log) or Q@C_best\n"
        "                          on DATA's test split is below the current one's by\n"
        "                          more than X (exit 3, nothing written) [%g]\n"
        "      --force             skip the regression guard\n"
        "Learning from feedback:\n"
        "      --feedback LOG      server feedback log (JSONL); repeatable\n"
        "      --decisions LOG     server decision log to join on request_id; repeatable\n",
        wp.match.min_score, TR_DEFAULT_MAX_REGRESSION);
    cli_train_opts_help(f);
    tr_train_options d;
    tr_train_options_default(&d);
    fprintf(f, "      --heads LIST        quality heads CV may choose among, comma-separated:\n"
               "                          prior-hard, prior-soft, prior+ridge, knn, ensemble,\n"
               "                          knn-tau, prior+ridge-surface, knn-tau/ridge-surface,\n"
               "                          knn-sup, knn-sup-ridge\n"
               "                          [all but prior-hard]; without the kNN heads routing\n"
               "                          is faster and the router file smaller\n"
               "      --knn-tasks G       kNN heads search the prompts of the G most probable\n"
               "                          tasks, 0 = all [%d]\n"
               "      --knn-mass P        ...but stop at fewer once their probabilities sum to\n"
               "                          P (a prompt the classifier is sure of searches one\n"
               "                          task: faster routing); 0 = always G [%.2f]\n"
               "      --knn-cap N         at most N prompts of a task in the kNN store (a fixed\n"
               "                          sample of a larger task), 0 = all [%d]\n"
               "      --fast              the latency profile: --max-features 8000 --heads\n"
               "                          prior-soft,prior+ridge unless given (a smaller router,\n"
               "                          about twice as fast, a little less quality)\n"
               "      --cv-predictions F  also write every head's out-of-fold predictions, the\n"
               "                          ones cross-validation chose by, as JSONL: a line per\n"
               "                          training record {id, line, fold, task_index, chosen, q};\n"
               "                          \"-\" = standard output\n",
            d.knn_tasks, d.knn_mass, d.knn_cap);
    fprintf(f, "  -q, --quiet             no progress or summary on stderr\n"
               "  -h, --help              this help\n"
               "Exit: 0 written; 1 error; 2 usage; 3 refused as a regression (nothing written).\n");
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

enum { O_REFIT = 500, O_DRIFT_MD, O_DRIFT_JSON, O_MAXREG, O_FORCE, O_FEEDBACK, O_DECISIONS, O_MATCHMIN,
       O_CVPRED };

int cmd_train(int argc, char **argv)
{
    const char *out = NULL, *drift_md = NULL, *drift_json = NULL;
    const char *fb[MAX_LOGS], *dec[MAX_LOGS];
    size_t nfb = 0, ndec = 0;
    int skip_bad = 0, force = 0, maxreg_given = 0, fast = 0;
    double max_reg = TR_DEFAULT_MAX_REGRESSION;
    tr_train_options o;
    tr_train_options_default(&o);
    tr_warm_params wp;
    tr_warm_params_default(&wp);
    static const struct option base[] = {
        {"output", required_argument, 0, 'o'}, {"all", no_argument, 0, 'A'},
        {"warm-start", required_argument, 0, 'W'}, {"skip-bad", no_argument, 0, 'B'},
        {"refit-embedder", no_argument, 0, O_REFIT}, {"drift-report", required_argument, 0, O_DRIFT_MD},
        {"drift-json", required_argument, 0, O_DRIFT_JSON}, {"max-regression", required_argument, 0, O_MAXREG},
        {"force", no_argument, 0, O_FORCE}, {"feedback", required_argument, 0, O_FEEDBACK},
        {"decisions", required_argument, 0, O_DECISIONS}, {"match-min", required_argument, 0, O_MATCHMIN},
        {"cv-predictions", required_argument, 0, O_CVPRED}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
    };
    struct option longopts[64];
    size_t nl = cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0]);
    cli_heads_opts_add(longopts, 64, nl);
    int c;
    optind = 1;
    o.max_features = 0;   /* 0: not given (the option's least value is 1); cli_heads_opts_finish */
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'A': o.use_all = 1; break;
        case 'W': o.warm_start = optarg; break;
        case 'B': skip_bad = 1; break;
        case O_REFIT: wp.refit_embedder = 1; break;
        case O_DRIFT_MD: drift_md = optarg; break;
        case O_DRIFT_JSON: drift_json = optarg; break;
        case O_MAXREG:
            if (cli_parse_double("train", "--max-regression", optarg, 0, 1, &max_reg)) return TR_EXIT_USAGE;
            maxreg_given = 1;
            break;
        case O_MATCHMIN:
            if (cli_parse_double("train", "--match-min", optarg, 0, 1, &wp.match.min_score)) return TR_EXIT_USAGE;
            break;
        case O_FORCE: force = 1; break;
        case O_CVPRED: o.cv_predictions = optarg; break;
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
            int r = cli_train_opts_parse("train", c, optarg, &o);
            if (r == 1) r = cli_heads_opts_parse("train", c, optarg, &o, &fast);
            if (r == 1) { help(stderr); return TR_EXIT_USAGE; }
            if (r < 0) return TR_EXIT_USAGE;
        }
        }
    }
    cli_heads_opts_finish(&o, fast);
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "taskroute train: need DATA.jsonl and -o router.trm\n");
        help(stderr);
        return TR_EXIT_USAGE;
    }
    if (!o.warm_start && (drift_md || drift_json || wp.refit_embedder || force || maxreg_given))
        return cli_fail("train", TR_EXIT_USAGE, "--drift-report, --drift-json, --refit-embedder, --max-regression "
                        "and --force need --warm-start CURRENT.trm");
    if (ndec && !nfb) return cli_fail("train", TR_EXIT_USAGE, "--decisions needs --feedback");
    const char *data = argv[optind];
    char err[1024];
    tr_dataset *ds = NULL;
    tr_router *r = NULL, *cur = NULL;
    char *drift = NULL, *guard = NULL, *full = NULL, *md = NULL;
    int ex = TR_EXIT_ERR, rc;
    if (cli_load_dataset("train", data, skip_bad, &ds)) return TR_EXIT_ERR;
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
    o.progress = timed_progress;
    rc = tr_train_warm(ds, &o, &wp, &r, &drift, err, sizeof err);
    double t_end = now_s();
    cli_progress_done();
    if (rc) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
    if (o.warm_start && !force) {
        if ((rc = tr_router_open(o.warm_start, &cur, err, sizeof err))) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
        tr_guard_result g;
        rc = tr_regression_check(cur, r, ds, max_reg, &g, err, sizeof err);
        if (rc == TR_EREGRESS) {
            cli_fail("train", TR_EXIT_REGRESSION, "%s; %s left as it was, nothing written", err, o.warm_start);
            ex = TR_EXIT_REGRESSION;
            goto done;
        }
        if (rc) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
        guard = tr_guard_json(&g, max_reg);
        if (!cli_quiet && g.old_usable)
            fprintf(stderr, "taskroute train: regression guard passed: AIQ(log) %.4f -> %.4f, Q@C_best %.4f -> %.4f\n",
                    g.old_aiq_log, g.new_aiq_log, g.old_q_at_cbest, g.new_q_at_cbest);
    }
    if ((rc = tr_router_save(r, out, err, sizeof err))) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
    if (drift) {
        full = with_guard(drift, guard);
        if (!full) { cli_fail("train", TR_EXIT_ERR, "out of memory"); goto done; }
        if (drift_json && write_text(drift_json, full)) goto done;
        if (drift_md) {
            if ((rc = tr_drift_markdown(full, &md, err, sizeof err))) { cli_fail("train", TR_EXIT_ERR, "%s", err); goto done; }
            if (write_text(drift_md, md)) goto done;
        }
    }
    if (!cli_quiet) {
        fprintf(stderr, "taskroute train: wrote %s: %zu tasks, %zu models, dim %zu\n", out,
                tr_router_task_count(r), tr_router_model_count(r), tr_router_dim(r));
        print_stage_times(t_end);
    }
    ex = TR_EXIT_OK;
done:
    tr_free(drift);
    tr_free(guard);
    free(full);
    tr_free(md);
    tr_router_close(cur);
    tr_router_close(r);
    tr_dataset_free(ds);
    return ex;
}
