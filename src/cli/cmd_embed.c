/* `taskroute embed`: fit the prompt embedder on a routing dataset's training
 * split (or every record with --all), embed every record, and write the
 * vectors as one .f32 file:
 *
 *   offset 0   magic "TRF32\0\0\0" (8 bytes)
 *          8   u32 version (1)
 *         12   u64 n (records, in file order)
 *         20   u32 d (dimension)
 *         24   n x d float32, little-endian, row i = record i (unit norm;
 *              all zeros for a prompt with no known feature)
 *
 * The file is written to a temporary name and renamed into place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "embed/embedder.h"

#define CMD "embed"

static void usage(FILE *f)
{
    tr_embed_params p;
    tr_embed_params_default(&p);
    fprintf(f,
            "usage: taskroute embed DATA.jsonl -o OUT.f32 [options]\n"
            "\n"
            "Fit the embedder (SentencePiece + piece uni/bigram TF-IDF + randomised SVD)\n"
            "on the training split and write every record's unit vector.\n"
            "DATA.jsonl may be '-' (stdin); OUT.f32 may be '-' (stdout).\n"
            "\n"
            "options:\n"
            "  -o PATH        output file (required)\n"
            "  --dim D        embedding dimension [%d]\n"
            "  --vocab V      SentencePiece vocabulary size [%d]\n"
            "  --min-df N     drop features seen in fewer training prompts [%d]\n"
            "  --seed S       random seed [%llu]\n"
            "  --threads N    worker threads, 0 = all cores [%d]\n"
            "  --all          fit on every record, not only the training split\n"
            "  -q             no diagnostics on stderr\n"
            "  -h, --help     this help\n"
            "\n"
            "output: \"TRF32\\0\\0\\0\", u32 version 1, u64 n, u32 d, then n x d little-endian\n"
            "float32 in record order.\n",
            p.dim, p.vocab_size, p.min_df, (unsigned long long)p.seed, p.threads);
}

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    if (!cli_quiet) { cli_progress_done(); fprintf(stderr, "taskroute embed: %s\n", msg); }
}

static void load_progress(void *ctx, double frac) { cli_progress(ctx, "loading", frac); }

static void fit_progress(void *ctx, const char *stage, double frac) { cli_progress(ctx, stage, frac); }

int cmd_embed(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL;
    int use_all = 0;
    tr_embed_params p;
    tr_embed_params_default(&p);
    cli_quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        unsigned long long u;
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return TR_EXIT_OK; }
        else if (!strcmp(a, "-q")) cli_quiet = 1;
        else if (!strcmp(a, "--all")) use_all = 1;
        else if (!strcmp(a, "-o")) {
            if (!has_val) return cli_fail(CMD, TR_EXIT_USAGE, "-o needs a path");
            outp = argv[++i];
        } else if (!strcmp(a, "--dim") || !strcmp(a, "--vocab") || !strcmp(a, "--min-df") ||
                   !strcmp(a, "--threads")) {
            if (!has_val) return cli_fail(CMD, TR_EXIT_USAGE, "%s needs a value", a);
            long lo = 1, hi = 4096;
            if (!strcmp(a, "--vocab")) { lo = 8; hi = 1000000; }
            if (!strcmp(a, "--min-df")) hi = 1000000;
            if (!strcmp(a, "--threads")) { lo = 0; hi = 64; }
            if (cli_parse_int(CMD, a, argv[++i], lo, hi, &v)) return TR_EXIT_USAGE;
            if (!strcmp(a, "--dim")) p.dim = (int)v;
            else if (!strcmp(a, "--vocab")) p.vocab_size = (int)v;
            else if (!strcmp(a, "--min-df")) p.min_df = (int)v;
            else p.threads = (int)v;
        } else if (!strcmp(a, "--seed")) {
            if (!has_val) return cli_fail(CMD, TR_EXIT_USAGE, "--seed needs a value");
            if (cli_parse_u64(CMD, a, argv[++i], &u)) return TR_EXIT_USAGE;
            p.seed = u;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "taskroute embed: unknown option '%s'\n\n", a);
            usage(stderr);
            return TR_EXIT_USAGE;
        } else if (!in) in = a;
        else return cli_fail(CMD, TR_EXIT_USAGE, "one input file only ('%s' and '%s')", in, a);
    }
    if (!in) { usage(stderr); return TR_EXIT_USAGE; }
    if (!outp) return cli_fail(CMD, TR_EXIT_USAGE, "-o OUT.f32 is required");

    char err[1024] = "";
    int code = TR_EXIT_ERR;
    tr_dataset *ds = NULL;
    tr_embedder *e = NULL;
    size_t *idx = NULL, n_fit = 0;
    const char **texts = NULL;
    size_t *lens = NULL;
    float *X = NULL;
    cli_out o = {0};
    int out_open = 0;

    double t0 = tr_now();
    tr_load_options lo;
    tr_load_options_default(&lo);
    lo.report = report;
    lo.progress = load_progress;
    int rc = tr_dataset_load(in, &lo, &ds, err, sizeof err);
    if (rc) { cli_fail(CMD, TR_EXIT_ERR, "%s", err); goto done; }
    size_t n = ds->n;
    if (tr_dataset_train_indices(ds, use_all, &idx, &n_fit) != TR_OK) { cli_fail(CMD, 1, "out of memory"); goto done; }
    texts = malloc((n ? n : 1) * sizeof *texts);
    lens = malloc((n ? n : 1) * sizeof *lens);
    if (!texts || !lens) { cli_fail(CMD, 1, "out of memory"); goto done; }
    for (size_t i = 0; i < n_fit; i++) { texts[i] = ds->rec[idx[i]].prompt; lens[i] = ds->rec[idx[i]].prompt_len; }
    double t1 = tr_now();
    p.progress = fit_progress;
    rc = tr_embedder_fit(texts, lens, n_fit, &p, &e, err, sizeof err);
    cli_progress_done();
    if (rc) { cli_fail(CMD, TR_EXIT_ERR, "fitting on %zu prompts of %s: %s", n_fit, in, err); goto done; }
    double t2 = tr_now();
    size_t d = tr_embedder_dim(e);
    for (size_t i = 0; i < n; i++) { texts[i] = ds->rec[i].prompt; lens[i] = ds->rec[i].prompt_len; }
    X = tr_mallocarray(n ? n : 1, d * sizeof *X);
    if (!X) { cli_fail(CMD, 1, "out of memory for %zu x %zu floats", n, d); goto done; }
    cli_progress(NULL, "embedding", 0);
    rc = tr_embedder_embed_batch(e, texts, lens, n, X, p.threads, err, sizeof err);
    cli_progress_done();
    if (rc) { cli_fail(CMD, TR_EXIT_ERR, "%s", err); goto done; }
    double t3 = tr_now();
    size_t zero = 0;
    for (size_t i = 0; i < n; i++) {
        int any = 0;
        for (size_t c = 0; c < d && !any; c++) any = X[i * d + c] != 0;
        zero += !any;
    }

    if (cli_out_open(&o, outp)) { cli_fail(CMD, TR_EXIT_ERR, "cannot write %s", outp); goto done; }
    out_open = 1;
    tr_buf b;
    tr_buf_init(&b);
    tr_buf_put(&b, "TRF32\0\0\0", 8);
    tr_buf_u32(&b, 1);
    tr_buf_u64(&b, n);
    tr_buf_u32(&b, (uint32_t)d);
    int wr_ok = 1;
    for (size_t i = 0; i < n && wr_ok; i++) {
        tr_buf_f32s(&b, X + i * d, d);      /* little-endian on any host */
        if (b.len >= (1 << 20) || i + 1 == n) {
            wr_ok = tr_buf_ok(&b) == TR_OK && fwrite(b.data, 1, b.len, o.f) == b.len;
            b.len = 0;
        }
    }
    if (n == 0) wr_ok = tr_buf_ok(&b) == TR_OK && fwrite(b.data, 1, b.len, o.f) == b.len;
    tr_buf_free(&b);
    if (!wr_ok) { cli_fail(CMD, TR_EXIT_ERR, "writing %s failed", outp); goto done; }
    out_open = 0;
    if (cli_out_commit(&o)) { cli_fail(CMD, TR_EXIT_ERR, "cannot finish writing %s", outp); goto done; }
    if (!cli_quiet) {
        fprintf(stderr,
                "taskroute embed: %zu records (%zu fitted%s) -> %zu x %zu in %s\n"
                "  vocabulary %d pieces, %zu features; %zu prompt(s) with no known feature (zero vectors)\n"
                "  load %.2f s, fit %.2f s, embed %.2f s (%.0f prompts/s, %d thread(s))\n",
                n, n_fit, use_all ? ", --all" : ", training split", n, d, outp,
                tr_embedder_vocab_size(e), tr_embedder_feature_count(e), zero,
                t1 - t0, t2 - t1, t3 - t2, n / (t3 - t2 > 0 ? t3 - t2 : 1e-9),
                p.threads ? p.threads : tr_ncpu());
    }
    code = TR_EXIT_OK;
done:
    if (out_open) cli_out_abort(&o);
    tr_free(X);
    free(texts); free(lens);
    tr_free(idx);
    tr_embedder_free(e);
    tr_dataset_free(ds);
    return code;
}
