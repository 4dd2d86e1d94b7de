/* Embedding under MPI (run_embed.h).  The output is cmd_embed.c's .f32
 * layout: a 24-byte header, then n x d little-endian floats in record
 * order; rank r's records start at row (records before rank r). */
#include "mpi/run_embed.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "embed/embedder.h"
#include "mpi/bcast_parts.h"
#include "mpi/run_train.h"
#include "mpi/sample_gather.h"
#include "mpi/shard.h"

#define CHUNK 4096
#define HEADER 24

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -np N taskroute-mpi embed DATA.jsonl -o OUT.f32 [options]\n"
            "`taskroute embed` under MPI: rank 0 fits the embedder on a sample of the\n"
            "training split, every rank embeds its byte range of DATA and writes its\n"
            "rows into OUT.f32.  The options are `taskroute embed`'s (its --help lists\n"
            "them), and:\n"
            "  --sample N     prompts the embedder is fitted on [%d]\n"
            "Not under MPI: DATA from standard input, OUT.f32 to standard output.\n",
            MPI_SAMPLE_DEFAULT);
}

typedef struct eargs {
    tr_embed_params p;
    const char *in, *out;
    int use_all;
    size_t sample;
} eargs;

/* 0 go on, -1 help shown, else the exit code; as cmd_embed's parser. */
static int parse(int argc, char **argv, eargs *a)
{
    const char *cmd = "embed";
    memset(a, 0, sizeof *a);
    tr_embed_params_default(&a->p);
    a->sample = MPI_SAMPLE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        long v;
        unsigned long long u;
        int has_val = i + 1 < argc;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); return -1; }
        else if (!strcmp(s, "-q")) cli_quiet = 1;
        else if (!strcmp(s, "--all")) a->use_all = 1;
        else if (!strcmp(s, "-o")) {
            if (!has_val) return cli_fail(cmd, TR_EXIT_USAGE, "-o needs a path");
            a->out = argv[++i];
        } else if (!strcmp(s, "--dim") || !strcmp(s, "--vocab") || !strcmp(s, "--min-df") || !strcmp(s, "--threads") ||
                   !strcmp(s, "--sample")) {
            if (!has_val) return cli_fail(cmd, TR_EXIT_USAGE, "%s needs a value", s);
            long lo = 1, hi = 4096;
            if (!strcmp(s, "--vocab")) { lo = 8; hi = 1000000; }
            if (!strcmp(s, "--min-df")) hi = 1000000;
            if (!strcmp(s, "--threads")) { lo = 0; hi = 64; }
            if (!strcmp(s, "--sample")) { lo = MPI_SAMPLE_MIN; hi = MPI_SAMPLE_MAX; }
            if (cli_parse_int(cmd, s, argv[++i], lo, hi, &v)) return TR_EXIT_USAGE;
            if (!strcmp(s, "--dim")) a->p.dim = (int)v;
            else if (!strcmp(s, "--vocab")) a->p.vocab_size = (int)v;
            else if (!strcmp(s, "--min-df")) a->p.min_df = (int)v;
            else if (!strcmp(s, "--sample")) a->sample = (size_t)v;
            else a->p.threads = (int)v;
        } else if (!strcmp(s, "--seed")) {
            if (!has_val) return cli_fail(cmd, TR_EXIT_USAGE, "--seed needs a value");
            if (cli_parse_u64(cmd, s, argv[++i], &u)) return TR_EXIT_USAGE;
            a->p.seed = u;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "taskroute-mpi embed: unknown option '%s'\n\n", s);
            usage(stderr);
            return TR_EXIT_USAGE;
        } else if (!a->in) a->in = s;
        else return cli_fail(cmd, TR_EXIT_USAGE, "one input file only ('%s' and '%s')", a->in, s);
    }
    if (!a->in) { usage(stderr); return TR_EXIT_USAGE; }
    if (!a->out) return cli_fail(cmd, TR_EXIT_USAGE, "-o OUT.f32 is required");
    if (!strcmp(a->in, "-") || !strcmp(a->out, "-"))
        return cli_fail(cmd, TR_EXIT_USAGE, "DATA and OUT.f32 must be files: each rank reads and writes its own part");
    return 0;
}

static void write_at(const mpi_ctx *c, MPI_File f, uint64_t off, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        int k = n > (1u << 30) ? 1 << 30 : (int)n;
        MPI_Status st;
        int rc = MPI_File_write_at(f, (MPI_Offset)off, b, k, MPI_BYTE, &st);
        int got = 0;
        MPI_Get_count(&st, MPI_BYTE, &got);
        if (rc != MPI_SUCCESS || got != k) mpi_fail(c, "writing the output at byte %llu failed", (unsigned long long)off);
        b += k; off += (uint64_t)k; n -= (size_t)k;
    }
}

int mpi_run_embed(mpi_ctx *c, int argc, char **argv)
{
    eargs a;
    int ex;
    if (c->rank == 0) ex = parse(argc, argv, &a);
    else MPI_SILENTLY(ex = parse(argc, argv, &a));
    if (ex) return ex < 0 ? TR_EXIT_OK : ex;
    c->quiet = cli_quiet;
    double t0 = tr_now();
    char err[1024];
    mpi_shard sh;
    mpi_shard_load(c, a.in, 0, &sh);
    mpi_sample smp;
    mpi_sample_take(c, &sh, a.use_all, a.p.seed, a.sample, &smp);
    tr_embedder *e0 = NULL;
    double t1 = tr_now();
    if (c->rank == 0) {
        size_t n = smp.ds->n;
        const char **texts = tr_mallocarray(n + 1, sizeof *texts);
        size_t *lens = tr_mallocarray(n + 1, sizeof *lens);
        if (!texts || !lens) mpi_fail(c, "out of memory");
        for (size_t i = 0; i < n; i++) { texts[i] = smp.ds->rec[i].prompt; lens[i] = smp.ds->rec[i].prompt_len; }
        tr_embed_params p = a.p;
        if (tr_embedder_fit(texts, lens, n, &p, &e0, err, sizeof err))
            mpi_fail(c, "fitting on the sample of %zu prompts of %s: %s", n, a.in, err);
        tr_free(texts);
        tr_free(lens);
    }
    mpi_quiet_barrier(c);
    double t_fit = tr_now() - t1;
    mpi_parts parts;
    mpi_parts_bcast(c, e0, NULL, NULL, NULL, &parts);
    tr_embedder_free(e0);
    const tr_embedder *e = parts.emb;
    size_t d = tr_embedder_dim(e);
    const tr_dataset *ds = sh.ds;
    uint64_t row0 = mpi_exscan_u64(c, ds->n), n_all = ds->n;
    mpi_sum_u64(c, &n_all, 1);
    /* one temporary name, rank 0's, renamed into place at the end */
    char tmp[4096];
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", a.out, pid);
    MPI_File f;
    if (MPI_File_open(MPI_COMM_WORLD, tmp, MPI_MODE_WRONLY | MPI_MODE_CREATE, MPI_INFO_NULL, &f) != MPI_SUCCESS)
        mpi_fail(c, "cannot create %s", tmp);
    if (c->rank == 0) {
        tr_buf h;
        tr_buf_init(&h);
        tr_buf_put(&h, "TRF32\0\0\0", 8);
        tr_buf_u32(&h, 1);
        tr_buf_u64(&h, n_all);
        tr_buf_u32(&h, (uint32_t)d);
        if (tr_buf_ok(&h)) mpi_fail(c, "out of memory");
        write_at(c, f, 0, h.data, h.len);
        tr_buf_free(&h);
    }
    int threads = a.p.threads > 0 ? a.p.threads : tr_ncpu() / c->node_ranks;
    if (threads < 1) threads = 1;
    const char **texts = tr_mallocarray(CHUNK, sizeof *texts);
    size_t *lens = tr_mallocarray(CHUNK, sizeof *lens);
    float *X = tr_mallocarray((size_t)CHUNK * d, sizeof *X);
    if (!texts || !lens || !X) mpi_fail(c, "out of memory");
    uint64_t zero = 0;
    double t2 = tr_now();
    tr_buf b;
    tr_buf_init(&b);
    for (size_t i0 = 0; i0 < ds->n; i0 += CHUNK) {
        size_t nb = ds->n - i0 < CHUNK ? ds->n - i0 : CHUNK;
        for (size_t j = 0; j < nb; j++) { texts[j] = ds->rec[i0 + j].prompt; lens[j] = ds->rec[i0 + j].prompt_len; }
        mpi_check(c, tr_embedder_embed_batch(e, texts, lens, nb, X, threads, err, sizeof err), err);
        for (size_t j = 0; j < nb; j++) {
            int any = 0;
            for (size_t k = 0; k < d && !any; k++) any = X[j * d + k] != 0;
            zero += !any;
        }
        b.len = 0;
        tr_buf_f32s(&b, X, nb * d);   /* little-endian on any host */
        if (tr_buf_ok(&b)) mpi_fail(c, "out of memory");
        write_at(c, f, HEADER + (row0 + i0) * d * sizeof(float), b.data, b.len);
    }
    tr_buf_free(&b);
    double t_embed = tr_now() - t2;
    tr_free(texts); tr_free(lens); tr_free(X);
    if (MPI_File_sync(f) != MPI_SUCCESS) mpi_fail(c, "writing %s failed", tmp);
    MPI_File_close(&f);
    mpi_sum_u64(c, &zero, 1);
    /* every rank wrote its rows: the file is whole */
    MPI_Barrier(MPI_COMM_WORLD);
    ex = TR_EXIT_OK;
    double mine[4] = {(double)ds->n, t_embed, (double)mpi_peak_rss(), tr_now() - t0}, *all = NULL;
    size_t nall = 0;
    mpi_gather_bytes(c, 0, mine, sizeof mine, (void **)&all, &nall, NULL);
    if (c->rank == 0) {
        if (rename(tmp, a.out)) {
            unlink(tmp);
            ex = cli_fail("embed", TR_EXIT_ERR, "cannot finish writing %s", a.out);
        } else if (!cli_quiet) {
            fprintf(stderr, "taskroute-mpi embed: %llu records (embedder fitted on %llu of %llu) -> %llu x %zu in %s\n"
                    "  vocabulary %d pieces, %zu features; %llu prompt(s) with no known feature (zero vectors)\n"
                    "  fit %.2f s on rank 0; %d ranks\n",
                    (unsigned long long)n_all, (unsigned long long)smp.n_total, (unsigned long long)smp.n_train,
                    (unsigned long long)n_all, d, a.out, tr_embedder_vocab_size(e), tr_embedder_feature_count(e),
                    (unsigned long long)zero, t_fit, c->size);
            for (int r = 0; r < c->size; r++)
                fprintf(stderr, "taskroute-mpi embed: rank %d: %.0f records, embed %.1f s, total %.1f s, peak memory %.0f MiB\n",
                        r, all[4 * r], all[4 * r + 1], all[4 * r + 3], all[4 * r + 2] / 1048576.0);
        }
    }
    tr_free(all);
    mpi_parts_free(&parts);
    mpi_sample_free(&smp);
    mpi_shard_free(&sh);
    return ex;
}
