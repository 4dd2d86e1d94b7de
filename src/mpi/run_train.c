/* Training and discovery under MPI (docs/distributed.md): read the parts,
 * train on the sample on rank 0, one pass of sums everywhere, and rank 0
 * writes the router once every rank has finished. */
#include "mpi/run_train.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "cli/cli.h"
#include "cli/cli_train_opts.h"
#include "cli/report_md.h"
#include "cluster/taxonomy.h"
#include "heads/heads_sums.h"
#include "mpi/bcast_parts.h"
#include "mpi/sample_gather.h"
#include "mpi/shard.h"
#include "mpi/shard_pass.h"
#include "router/router.h"
#include "train/train.h"

enum { O_SAMPLE = 2000, O_SAMPLE_ROUTER, O_UNSUPPORTED };

typedef struct args {
    tr_train_options_x ox;   /* the public options and the experiments' knobs (train/train.h) */
    const char *data, *out, *report_md, *report_json, *sample_router;
    int skip_bad;
    size_t sample;
} args;

static void usage(FILE *f, int heads)
{
    if (heads)
        fprintf(f,
                "usage: mpirun -np N taskroute-mpi train DATA.jsonl -o router.trm [options]\n"
                "Train the router under MPI: each rank reads its byte range of DATA, rank 0\n"
                "trains on a sample, every rank assigns its own prompts to the tasks and\n"
                "adds up the statistics (docs/distributed.md).  The options are those of\n"
                "`taskroute train` (its --help lists them), and:\n"
                "      --sample N          prompts the embedder, the tasks, the classifier and\n"
                "                          the heads' choices are fitted on [%d]\n"
                "      --sample-router F   also write the router trained on the sample alone,\n"
                "                          before the sums over every prompt replace its own\n"
                "Not under MPI: DATA from standard input, --warm-start and the options that\n"
                "go with it, --feedback, --decisions, --cv-predictions, --knn-cap 0.\n",
                MPI_SAMPLE_DEFAULT);
    else
        fprintf(f,
                "usage: mpirun -np N taskroute-mpi discover DATA.jsonl -o tasks.trm [options]\n"
                "Discover the task types under MPI: each rank reads its byte range of DATA,\n"
                "rank 0 discovers the tasks on a sample, every rank assigns its own prompts\n"
                "to them and adds up the statistics (docs/distributed.md).  The options are\n"
                "those of `taskroute discover` (its --help lists them), and:\n"
                "      --sample N          prompts the embedder, the tasks and the classifier\n"
                "                          are fitted on [%d]\n"
                "      --sample-router F   also write the stage-1 router of the sample alone\n"
                "Not under MPI: DATA from standard input.\n",
                MPI_SAMPLE_DEFAULT);
}

/* 0: go on; -1: help shown (exit 0); else the exit code (the message
 * printed by rank 0: the other ranks parse the same arguments silently). */
static int parse(const mpi_ctx *c, int argc, char **argv, int heads, args *a)
{
    const char *cmd = heads ? "train" : "discover";
    memset(a, 0, sizeof *a);
    cli_train_opts_init(&a->ox);
    tr_train_options *o = &a->ox.pub;
    a->sample = MPI_SAMPLE_DEFAULT;
    static const struct option base[] = {
        {"output", required_argument, 0, 'o'}, {"all", no_argument, 0, 'A'}, {"skip-bad", no_argument, 0, 'B'},
        {"report", required_argument, 0, 'R'}, {"json", required_argument, 0, 'J'},
        {"sample", required_argument, 0, O_SAMPLE}, {"sample-router", required_argument, 0, O_SAMPLE_ROUTER},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"warm-start", required_argument, 0, O_UNSUPPORTED}, {"refit-embedder", no_argument, 0, O_UNSUPPORTED},
        {"match-min", required_argument, 0, O_UNSUPPORTED}, {"drift-report", required_argument, 0, O_UNSUPPORTED},
        {"drift-json", required_argument, 0, O_UNSUPPORTED}, {"max-regression", required_argument, 0, O_UNSUPPORTED},
        {"force", no_argument, 0, O_UNSUPPORTED}, {"feedback", required_argument, 0, O_UNSUPPORTED},
        {"decisions", required_argument, 0, O_UNSUPPORTED}, {"cv-predictions", required_argument, 0, O_UNSUPPORTED},
    };
    struct option longopts[64];
    cli_train_opts_merge(longopts, 64, base, sizeof base / sizeof base[0], heads);
    FILE *msg = c->rank == 0 ? stderr : NULL;
    if (!msg) opterr = 0;
    int ch, li = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", longopts, &li)) != -1) {
        switch (ch) {
        case 'o': a->out = optarg; break;
        case 'A': o->use_all = 1; break;
        case 'B': a->skip_bad = 1; break;
        case 'R': if (heads) goto unknown; a->report_md = optarg; break;
        case 'J': if (heads) goto unknown; a->report_json = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'h': if (msg) usage(stdout, heads); return -1;
        case O_SAMPLE: {
            long v;
            if (cli_parse_int(cmd, "--sample", optarg, MPI_SAMPLE_MIN, MPI_SAMPLE_MAX, &v)) return TR_EXIT_USAGE;
            a->sample = (size_t)v;
            break;
        }
        case O_SAMPLE_ROUTER: a->sample_router = optarg; break;
        case O_UNSUPPORTED:
            if (msg) fprintf(msg, "taskroute-mpi %s: --%s is not supported under MPI (docs/distributed.md); "
                             "use `taskroute %s`\n", cmd, longopts[li].name, cmd);
            return TR_EXIT_USAGE;
        default: {
            int r = cli_train_opts_parse(cmd, ch, optarg, &a->ox);
            if (r < 0) return TR_EXIT_USAGE;
            if (r == 0) break;
        unknown:
            if (msg) usage(stderr, heads);
            return TR_EXIT_USAGE;
        }
        }
    }
    cli_train_opts_finish(&a->ox);
    if (optind != argc - 1 || !a->out) {
        if (msg) {
            fprintf(msg, "taskroute-mpi %s: need DATA.jsonl and -o FILE\n", cmd);
            usage(stderr, heads);
        }
        return TR_EXIT_USAGE;
    }
    a->data = argv[optind];
    if (!strcmp(a->data, "-")) {
        if (msg) fprintf(msg, "taskroute-mpi %s: DATA must be a file: each rank reads a byte range of it\n", cmd);
        return TR_EXIT_USAGE;
    }
    if (heads && o->knn_cap == 0) {
        if (msg) fprintf(msg, "taskroute-mpi %s: --knn-cap 0 (no cap) would let the kNN store grow with the data; "
                         "give a cap\n", cmd);
        return TR_EXIT_USAGE;
    }
    return 0;
}

static int mpi_parse_quietly(const mpi_ctx *c, int argc, char **argv, int heads, args *a)
{
    if (c->rank == 0) return parse(c, argc, argv, heads, a);
    int ex;
    MPI_SILENTLY(ex = parse(c, argc, argv, heads, a));
    return ex;
}

/* The sample router's config with what the whole run saw. */
static void patch_config(const mpi_ctx *c, tr_router *r, const mpi_sample *s, const mpi_pass *p)
{
    cJSON *j = cJSON_Parse(r->config_json ? r->config_json : "{}");
    if (!j) mpi_fail(c, "the sample router's config is not JSON");
    cJSON_ReplaceItemInObject(j, "n_train", cJSON_CreateNumber((double)s->n_train));
    cJSON *d = cJSON_AddObjectToObject(j, "distributed");
    cJSON_AddNumberToObject(d, "ranks", c->size);
    cJSON_AddNumberToObject(d, "sample", (double)s->n_total);
    cJSON_AddNumberToObject(d, "knn_store", (double)p->kn);
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt) mpi_fail(c, "out of memory");
    tr_free(r->config_json);
    r->config_json = tr_strdup(txt);
    cJSON_free(txt);
    if (!r->config_json) mpi_fail(c, "out of memory");
}

/* The taxonomy report: the sample's exemplars and label agreement, the
 * task table of every prompt.  Rank 0. */
static char *report(const mpi_ctx *c, const args *a, const mpi_sample *s, const tr_router *r, const int32_t *memb,
                    const char *sample_report)
{
    char err[1024];
    const tr_dataset *ds = s->ds;
    size_t *idx = NULL, n = 0;
    if (tr_dataset_train_indices(ds, a->ox.pub.use_all, &idx, &n)) mpi_fail(c, "out of memory");
    size_t d = r->dim;
    float *X = tr_mallocarray(n * d + 1, sizeof *X);
    const char **texts = tr_mallocarray(n + 1, sizeof *texts);
    size_t *lens = tr_mallocarray(n + 1, sizeof *lens);
    if (!X || !texts || !lens) mpi_fail(c, "out of memory");
    if (r->emb) {
        for (size_t i = 0; i < n; i++) { texts[i] = ds->rec[idx[i]].prompt; lens[i] = ds->rec[idx[i]].prompt_len; }
        mpi_check(c, tr_embedder_embed_batch(r->emb, texts, lens, n, X, a->ox.pub.threads, err, sizeof err), err);
    } else {
        for (size_t i = 0; i < n; i++) tr_vec_unit(X + i * d, ds->emb + idx[i] * d, d);
    }
    cJSON *sr = cJSON_Parse(sample_report);
    const cJSON *clf = cJSON_GetObjectItem(sr, "classifier"), *sec = cJSON_GetObjectItem(sr, "seconds");
    tr_taxonomy_input in = {0};
    in.ds = ds;
    in.idx = idx;
    in.n = n;
    in.X = X;
    in.dim = d;
    in.membership = memb;
    in.tasks = &r->tasks;
    in.models = (const char *const *)r->models;
    in.modularity = tr_json_get_num(sr, "modularity");
    in.resolution = tr_json_get_num(sr, "resolution");
    in.algo = a->ox.pub.algo == TR_ALGO_LEIDEN ? "leiden" : "louvain";
    in.clf_accuracy = tr_json_get_num(clf, "heldout_accuracy");
    in.clf_ece = tr_json_get_num(clf, "heldout_ece");
    in.seconds_embed = tr_json_get_num(sec, "embed");
    in.seconds_graph = tr_json_get_num(sec, "graph");
    in.seconds_cluster = tr_json_get_num(sec, "cluster");
    in.seconds_classifier = tr_json_get_num(sec, "classifier");
    in.n_total = (size_t)s->n_train;
    /* out of distribution: calibrated on the sample's held-out prompts */
    in.ood_threshold = r->ood.calibrated ? r->ood.threshold : NAN;
    in.ood_fpr = r->ood.fpr;
    in.ood_calibration = r->ood.n_calibration;
    char *json = NULL;
    mpi_check(c, tr_taxonomy_json(&in, &json, err, sizeof err), err);
    cJSON_Delete(sr);
    tr_free(idx); tr_free(X); tr_free(texts); tr_free(lens);
    return json;
}

static int write_report(const char *path, const char *json, int markdown)
{
    cli_out o;
    if (cli_out_open(&o, path)) return -1;
    int rc = markdown ? report_md_write(o.f, json, NULL) : (fputs(json, o.f) < 0 || fputc('\n', o.f) < 0 ? -1 : 0);
    if (rc) { cli_out_abort(&o); return -1; }
    return cli_out_commit(&o);
}

/* Per rank: records, seconds reading, waiting for the sample, in the pass,
 * peak memory; printed by rank 0. */
static void print_ranks(const mpi_ctx *c, const mpi_shard *sh, double t_sample, const mpi_pass *p, double t_all)
{
    double mine[6] = {(double)sh->ds->n, sh->seconds, t_sample, p->seconds, (double)mpi_peak_rss(), t_all};
    void *all = NULL;
    size_t n = 0;
    mpi_gather_bytes(c, 0, mine, sizeof mine, &all, &n, NULL);
    if (c->rank == 0 && !cli_quiet) {
        const double *v = all;
        for (int r = 0; r < c->size; r++, v += 6)
            fprintf(stderr, "taskroute-mpi %s: rank %d: %.0f records; read %.1f s, sample %.1f s, pass %.1f s, "
                    "total %.1f s; peak memory %.0f MiB\n", c->cmd, r, v[0], v[1], v[2], v[3], v[5], v[4] / 1048576.0);
    }
    tr_free(all);
}

int mpi_run_train(mpi_ctx *c, int argc, char **argv, int heads)
{
    args a;
    int ex = mpi_parse_quietly(c, argc, argv, heads, &a);
    if (ex) return ex < 0 ? TR_EXIT_OK : ex;
    c->quiet = cli_quiet;
    double t_start = tr_now();
    char err[1024];
    mpi_shard sh;
    mpi_shard_load(c, a.data, a.skip_bad, &sh);
    if (heads && sh.ds->n_models == 0)
        mpi_fail(c, "%s: no record has scores: training needs per-model scores (`taskroute-mpi discover` "
                 "needs prompts only)", a.data);
    /* the sample, and rank 0's single-process run on it */
    double t0 = tr_now();
    mpi_sample smp;
    mpi_sample_take(c, &sh, a.ox.pub.use_all, a.ox.pub.seed, a.sample, &smp);
    tr_router *r0 = NULL;
    int32_t *memb = NULL;
    size_t nm = 0;
    char *sample_report = NULL, sample_tmp[4096] = "";
    if (c->rank == 0) {
        if (!cli_quiet)
            fprintf(stderr, "taskroute-mpi %s: training on a sample of %llu of %llu prompts on rank 0\n", c->cmd,
                    (unsigned long long)smp.n_total, (unsigned long long)smp.n_train);
        tr_train_options_x o = a.ox;
        o.pub.progress = cli_progress;
        int want_report = !heads && (a.report_md || a.report_json);
        int rc = tr_train_tasks(smp.ds, &o.pub, heads, &r0, want_report ? &sample_report : NULL, &memb, &nm, err, sizeof err);
        cli_progress_done();
        if (rc) mpi_fail(c, "training on the sample of %llu prompts: %s", (unsigned long long)smp.n_total, err);
        if (nm != smp.n_total) mpi_fail(c, "the sample's training used %zu of its %llu prompts", nm,
                                        (unsigned long long)smp.n_total);
        /* its own file now, before the sums change it; renamed into place with the rest */
        if (a.sample_router) {
            snprintf(sample_tmp, sizeof sample_tmp, "%s.sample.%ld", a.sample_router, (long)getpid());
            if (tr_router_save(r0, sample_tmp, err, sizeof err)) mpi_fail(c, "%s", err);
        }
    }
    mpi_quiet_barrier(c);
    double t_sample = tr_now() - t0;
    mpi_parts parts;
    mpi_parts_bcast(c, r0 ? r0->emb : NULL, r0 ? r0->clf : NULL, r0 ? &r0->tasks : NULL, r0 ? r0->heads : NULL, &parts);
    int32_t *labels = mpi_sample_scatter(c, &smp, memb);
    int threads = a.ox.pub.threads > 0 ? a.ox.pub.threads : tr_ncpu() / c->node_ranks;
    if (threads < 1) threads = 1;
    mpi_pass pass;
    mpi_shard_pass(c, &sh, &smp, labels, &parts, a.ox.pub.seed, (size_t)a.ox.pub.knn_cap, threads, &pass);
    char *rep = NULL;
    if (c->rank == 0) {
        if (tr_task_sums_apply(&pass.ts, &r0->tasks)) mpi_fail(c, "task table: shapes differ");
        if (heads) {
            mpi_check(c, tr_heads_sums_apply(r0->heads, &pass.hs, err, sizeof err), err);
            mpi_check(c, tr_heads_set_knn_store(r0->heads, pass.kX, pass.kS, pass.kP, pass.ky, pass.kn, err, sizeof err),
                      err);
        }
        patch_config(c, r0, &smp, &pass);
        if (sample_report) rep = report(c, &a, &smp, r0, memb, sample_report);
    }
    /* every rank got here: nothing failed; only now is anything written */
    MPI_Barrier(MPI_COMM_WORLD);
    print_ranks(c, &sh, t_sample, &pass, tr_now() - t_start);
    ex = TR_EXIT_OK;
    if (c->rank == 0) {
        if (tr_router_save(r0, a.out, err, sizeof err)) ex = cli_fail(c->cmd, TR_EXIT_ERR, "%s", err);
        if (!ex && a.report_json && write_report(a.report_json, rep, 0))
            ex = cli_fail(c->cmd, TR_EXIT_ERR, "%s: cannot write", a.report_json);
        if (!ex && a.report_md && write_report(a.report_md, rep, 1))
            ex = cli_fail(c->cmd, TR_EXIT_ERR, "%s: cannot write", a.report_md);
        if (!ex && a.sample_router && rename(sample_tmp, a.sample_router))
            ex = cli_fail(c->cmd, TR_EXIT_ERR, "%s: cannot write", a.sample_router);
        if (sample_tmp[0]) unlink(sample_tmp);
        if (!ex && !cli_quiet)
            fprintf(stderr, "taskroute-mpi %s: wrote %s: %zu tasks, %zu models, dim %zu; %llu prompts on %d ranks "
                    "in %.1f s\n", c->cmd, a.out, tr_router_task_count(r0), tr_router_model_count(r0),
                    tr_router_dim(r0), (unsigned long long)smp.n_train, c->size, tr_now() - t_start);
    }
    tr_free(rep);
    tr_free(sample_report);
    tr_free(labels);
    tr_free(memb);
    mpi_pass_free(&pass);
    mpi_parts_free(&parts);
    tr_router_close(r0);
    mpi_sample_free(&smp);
    mpi_shard_free(&sh);
    return ex;
}
