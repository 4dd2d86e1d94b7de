/* Shared `train` / `discover` / `eval --folds` options and dataset loading
 * for the CLI. */
#include "cli/cli_train_opts.h"

#include <string.h>

#include "cli/cli.h"

enum {
    O_SEED = 1000, O_THREADS, O_DIM, O_VOCAB, O_MINDF, O_MAXFEAT, O_NOBIGRAMS, O_PROJ, O_ALGO, O_K, O_MUTUAL,
    O_RES, O_TASKS, O_MINSIZE, O_TOPK, O_FOLDS, O_HEADS, O_KNN_TASKS, O_KNN_CAP, O_KNN_MASS, O_FAST
};

/* --fast: what bench/RESULTS.md ("Routing latency") measured as the latency profile */
#define FAST_MAX_FEATURES 8000
#define FAST_HEADS "prior-soft,prior+ridge"
/* max_features before parsing: not given; after --fast: --fast's unless given */
#define MAXFEAT_UNSET 0
#define MAXFEAT_FAST (-1)

static const struct option shared[] = {
    {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
    {"dim", required_argument, 0, O_DIM}, {"vocab", required_argument, 0, O_VOCAB},
    {"min-df", required_argument, 0, O_MINDF}, {"max-features", required_argument, 0, O_MAXFEAT},
    {"no-bigrams", no_argument, 0, O_NOBIGRAMS}, {"projection", required_argument, 0, O_PROJ},
    {"algo", required_argument, 0, O_ALGO},
    {"k", required_argument, 0, O_K}, {"mutual", no_argument, 0, O_MUTUAL},
    {"resolution", required_argument, 0, O_RES}, {"tasks", required_argument, 0, O_TASKS},
    {"min-task-size", required_argument, 0, O_MINSIZE}, {"gate-top-k", required_argument, 0, O_TOPK},
    {"cv-folds", required_argument, 0, O_FOLDS},
};

static const struct option heads_opts[] = {
    {"heads", required_argument, 0, O_HEADS}, {"knn-tasks", required_argument, 0, O_KNN_TASKS},
    {"knn-cap", required_argument, 0, O_KNN_CAP}, {"knn-mass", required_argument, 0, O_KNN_MASS},
    {"fast", no_argument, 0, O_FAST},
};

void cli_train_opts_help(FILE *f)
{
    tr_train_options_x dx;
    tr_train_options_x_default(&dx);
    const tr_train_options d = dx.pub;
    fprintf(f,
        "      --seed S            random seed [%llu]\n"
        "      --threads N         worker threads, 0 = all cores [%d]\n"
        "      --dim D             embedding dimension [%d]\n"
        "      --vocab V           SentencePiece vocabulary size [%d]\n"
        "      --min-df N          drop subword features in fewer prompts [%d]\n"
        "      --max-features N    keep the N most frequent features [%d]\n"
        "      --no-bigrams        piece unigrams only: a smaller projection that stays\n"
        "                          in cache, faster routing, a little less quality [off]\n"
        "      --projection P      int8 | half: how the projection's rows are stored;\n"
        "                          int8 reads half the bytes per route [%s]\n"
        "      --algo A            leiden | louvain [%s]\n"
        "      --k K               neighbours per prompt in the graph [%d]\n"
        "      --mutual            keep only mutual-kNN edges [off]\n"
        "      --resolution G      modularity resolution; 0 = automatic [%g]\n"
        "      --tasks N           search the resolution for about N tasks [auto]\n"
        "      --min-task-size N   merge smaller communities; 0 = automatic [%d]\n"
        "      --gate-top-k K      experts mixed per prompt [%d]\n"
        "      --cv-folds K        folds for choosing the head variant [%d]\n",
        (unsigned long long)d.seed, d.threads, d.dim, d.vocab_size, d.min_df, d.max_features,
        d.projection == TR_PROJECTION_HALF ? "half" : "int8", d.algo == TR_ALGO_LEIDEN ? "leiden" : "louvain", d.knn_k, d.resolution,
        d.min_task_size, dx.gate_top_k, d.cv_folds);
}

void cli_heads_opts_help(FILE *f)
{
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
               "      --fast              the latency profile: --max-features %d --heads\n"
               "                          %s unless given (a smaller router,\n"
               "                          about twice as fast, a little less quality)\n",
            d.knn_tasks, d.knn_mass, d.knn_cap, FAST_MAX_FEATURES, FAST_HEADS);
}

size_t cli_train_opts_merge(struct option *out, size_t cap, const struct option *base, size_t nbase, int heads)
{
    size_t n = 0;
    for (size_t i = 0; i < nbase && n + 1 < cap; i++) out[n++] = base[i];
    for (size_t i = 0; i < sizeof shared / sizeof shared[0] && n + 1 < cap; i++) out[n++] = shared[i];
    for (size_t i = 0; heads && i < sizeof heads_opts / sizeof heads_opts[0] && n + 1 < cap; i++)
        out[n++] = heads_opts[i];
    memset(&out[n], 0, sizeof out[n]);
    return n;
}

void cli_train_opts_init(tr_train_options_x *x)
{
    tr_train_options_x_default(x);
    x->pub.max_features = MAXFEAT_UNSET;
}

void cli_train_opts_finish(tr_train_options_x *x)
{
    tr_train_options *o = &x->pub;
    if (o->max_features == MAXFEAT_UNSET) {
        tr_train_options d;
        tr_train_options_default(&d);
        o->max_features = d.max_features;
    } else if (o->max_features == MAXFEAT_FAST) {
        o->max_features = FAST_MAX_FEATURES;
    }
}

void cli_kfold_opts_init(cli_kfold_opts *k)
{
    k->folds = 0;
    k->jobs = 0;
    k->train_opts = 0;
    cli_train_opts_init(&k->x);
}

int cli_kfold_opts_parse(const char *cmd, int code, const char *arg, cli_kfold_opts *k)
{
    long v;
    switch (code) {
    case CLI_O_FOLDS:
        if (cli_parse_int(cmd, "--folds", arg, 2, 100, &v)) return -1;
        k->folds = (int)v;
        return 0;
    case CLI_O_JOBS: return cli_parse_int(cmd, "--jobs", arg, 0, 64, &k->jobs) ? -1 : 0;
    }
    int r = cli_train_opts_parse(cmd, code, arg, &k->x);
    if (r == 0) k->train_opts = 1;
    return r;
}

int cli_train_opts_parse(const char *cmd, int code, const char *arg, tr_train_options_x *x)
{
    tr_train_options *o = &x->pub;
    long v;
    double g;
    unsigned long long u;
    switch (code) {
    case O_SEED: if (cli_parse_u64(cmd, "--seed", arg, &u)) return -1; o->seed = u; return 0;
    case O_THREADS: if (cli_parse_int(cmd, "--threads", arg, 0, 256, &v)) return -1; o->threads = (int)v; return 0;
    case O_DIM: if (cli_parse_int(cmd, "--dim", arg, 2, 4096, &v)) return -1; o->dim = (int)v; return 0;
    case O_VOCAB: if (cli_parse_int(cmd, "--vocab", arg, 100, 1000000, &v)) return -1; o->vocab_size = (int)v; return 0;
    case O_MINDF: if (cli_parse_int(cmd, "--min-df", arg, 1, 1000000, &v)) return -1; o->min_df = (int)v; return 0;
    case O_MAXFEAT:
        if (cli_parse_int(cmd, "--max-features", arg, 1, 100000000, &v)) return -1;
        o->max_features = (int)v;
        return 0;
    case O_NOBIGRAMS: o->bigrams = 0; return 0;
    case O_PROJ:
        if (!strcmp(arg, "int8")) o->projection = TR_PROJECTION_INT8;
        else if (!strcmp(arg, "half")) o->projection = TR_PROJECTION_HALF;
        else { fprintf(stderr, "taskroute %s: --projection wants int8 or half, not '%s'\n", cmd, arg); return -1; }
        return 0;
    case O_ALGO:
        if (!strcmp(arg, "leiden")) o->algo = TR_ALGO_LEIDEN;
        else if (!strcmp(arg, "louvain")) o->algo = TR_ALGO_LOUVAIN;
        else { fprintf(stderr, "taskroute %s: --algo wants leiden or louvain, not '%s'\n", cmd, arg); return -1; }
        return 0;
    case O_K: if (cli_parse_int(cmd, "--k", arg, 1, 1000, &v)) return -1; o->knn_k = (int)v; return 0;
    case O_MUTUAL: x->mutual = 1; return 0;
    case O_RES: if (cli_parse_double(cmd, "--resolution", arg, 0, 1e6, &g)) return -1; o->resolution = g; return 0;
    case O_TASKS: if (cli_parse_int(cmd, "--tasks", arg, 1, 100000, &v)) return -1; o->target_tasks = (int)v; return 0;
    case O_MINSIZE: if (cli_parse_int(cmd, "--min-task-size", arg, 0, 10000000, &v)) return -1; o->min_task_size = (int)v; return 0;
    case O_TOPK: if (cli_parse_int(cmd, "--gate-top-k", arg, 1, 100000, &v)) return -1; x->gate_top_k = (int)v; return 0;
    case O_FOLDS: if (cli_parse_int(cmd, "--cv-folds", arg, 2, 20, &v)) return -1; o->cv_folds = (int)v; return 0;
    case O_HEADS: o->heads = arg; return 0;
    case O_FAST:
        /* a later --heads or --max-features overrides these, an earlier one stays */
        if (!o->heads) o->heads = FAST_HEADS;
        if (o->max_features == MAXFEAT_UNSET) o->max_features = MAXFEAT_FAST;
        return 0;
    case O_KNN_CAP:
        if (cli_parse_int(cmd, "--knn-cap", arg, 0, 100000000, &v)) return -1;
        o->knn_cap = (int)v;
        return 0;
    case O_KNN_MASS: if (cli_parse_double(cmd, "--knn-mass", arg, 0, 1, &o->knn_mass)) return -1; return 0;
    case O_KNN_TASKS:
        if (cli_parse_int(cmd, "--knn-tasks", arg, 0, 64, &v)) return -1;
        o->knn_tasks = (int)v;
        return 0;
    }
    return 1;
}

static void report_line(void *ctx, const char *msg)
{
    fprintf(stderr, "taskroute %s: ", (const char *)ctx);
    cli_fputs_escaped(msg, stderr);
    fputc('\n', stderr);
}

static void load_progress(void *ctx, double frac)
{
    cli_progress(ctx, "loading", frac);
}

int cli_load_dataset(const char *cmd, const char *path, int skip_bad, tr_dataset **out)
{
    char err[1024];
    tr_load_options lo;
    tr_load_options_default(&lo);
    lo.skip_bad = skip_bad;
    lo.report = report_line;
    lo.report_ctx = (void *)cmd;
    lo.progress = load_progress;
    int rc = tr_dataset_load(path, &lo, out, err, sizeof err);
    cli_progress_done();
    if (rc) {
        cli_fail(cmd, TR_EXIT_ERR, "%s", err);
        if (!skip_bad && rc == TR_EFORMAT)
            fprintf(stderr, "taskroute %s: (--skip-bad reports and skips bad records instead)\n", cmd);
        return -1;
    }
    if (!cli_quiet) {
        tr_load_stats st;
        tr_dataset_stats(*out, &st);
        fprintf(stderr, "taskroute %s: %s: read %zu, kept %zu, skipped %zu (train %zu, test %zu of which complete %zu), %zu models\n",
                cmd, path, st.lines, st.kept, st.skipped, st.train, st.test, st.test_complete,
                tr_dataset_model_count(*out));
    }
    /* said even with -q: records that teach nothing, or that another reader
     * of the file may read differently, are worth a look */
    tr_load_stats st;
    tr_dataset_stats(*out, &st);
    if (st.unscored || st.repeated_keys) {
        fprintf(stderr, "taskroute %s: %s: note: %zu records without a score (no \"scores\", {} or only null), "
                        "%zu repeating a key the reader ignores\n", cmd, path, st.unscored, st.repeated_keys);
    }
    return 0;
}
