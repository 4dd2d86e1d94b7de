/* Reading this rank's part of the input (shard.h). */
#include "mpi/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/util.h"
#include "dist/byte_range.h"
#include "dist/shard_data.h"

/* A model labelled in only one record of a dataset this large is a typo
 * (data/dataset.c's rule, applied over every rank). */
#define TYPO_MIN_RECORDS 20
#define QUOTE_MAX 40

static void report_line(void *ctx, const char *msg)
{
    const mpi_ctx *c = ctx;
    if (!c->quiet) fprintf(stderr, "taskroute-mpi %s: rank %d: %s\n", c->cmd, c->rank, msg);
}

/* The byte ranges of every rank, on rank 0's stderr: a rank that dies
 * without a word (SIGKILL) is named by mpirun, and this says what it read. */
static void print_ranges(const mpi_ctx *c)
{
    uint64_t mine[4] = {c->begin, c->end, c->line0, c->lines};
    void *all = NULL;
    size_t n = 0;
    mpi_gather_bytes(c, 0, mine, sizeof mine, &all, &n, NULL);
    if (c->rank == 0 && !c->quiet) {
        const uint64_t *v = all;
        for (int r = 0; r < c->size; r++)
            fprintf(stderr, "taskroute-mpi %s: rank %d reads %s bytes %llu-%llu (%llu lines from line %llu)\n", c->cmd,
                    r, c->path, (unsigned long long)v[4 * r], (unsigned long long)(v[4 * r + 1] ? v[4 * r + 1] - 1 : 0),
                    (unsigned long long)v[4 * r + 3], (unsigned long long)v[4 * r + 2]);
    }
    tr_free(all);
}

static void common_models(const mpi_ctx *c, tr_dataset *ds)
{
    char err[1024];
    tr_buf b;
    tr_buf_init(&b);
    tr_models_blob(ds, &b);
    if (tr_buf_ok(&b)) mpi_fail(c, "out of memory");
    void *all = NULL;
    size_t n = 0;
    mpi_allgather_bytes(c, b.data, b.len, &all, &n);
    tr_buf_free(&b);
    char **names = NULL;
    size_t M = 0;
    mpi_check(c, tr_models_union(all, n, &names, &M, err, sizeof err), err);
    tr_free(all);
    mpi_check(c, tr_dataset_use_models(ds, names, M, err, sizeof err), err);
    tr_models_free(names, M);
}

/* data/dataset.c's typo rule over every rank: a model labelled in exactly
 * one record of 20 or more is refused (or, with skip_bad, dropped). */
static void typo_models(const mpi_ctx *c, tr_dataset *ds, int skip_bad)
{
    size_t M = ds->n_models;
    uint64_t *cnt = tr_calloc(M + 1, sizeof *cnt);
    if (!cnt) mpi_fail(c, "out of memory");
    for (size_t i = 0; i < ds->n; i++)
        for (size_t m = 0; m < M; m++) cnt[m] += !isnan(tr_ds_score(ds, i, m)) || !isnan(tr_ds_cost(ds, i, m));
    cnt[M] = ds->n;
    mpi_sum_u64(c, cnt, M + 1);
    uint64_t N = cnt[M];
    size_t keep = 0;
    char **names = tr_calloc(M ? M : 1, sizeof *names);
    if (!names) mpi_fail(c, "out of memory");
    for (size_t m = 0; m < M; m++) {
        if (N < TYPO_MIN_RECORDS || cnt[m] != 1) { names[keep++] = ds->models[m]; continue; }
        for (size_t i = 0; i < ds->n; i++) {
            int s = !isnan(tr_ds_score(ds, i, m));
            if (!s && isnan(tr_ds_cost(ds, i, m))) continue;
            if (!skip_bad)
                mpi_fail(c, "%s:%u: field '%s.%s': model '%s' is labelled in only this record of %llu (a typo?) "
                         "(--skip-bad reports and skips bad records instead)",
                         ds->path, (unsigned)ds->rec[i].line, s ? "scores" : "costs", ds->models[m], ds->models[m],
                         (unsigned long long)N);
            char msg[512];
            snprintf(msg, sizeof msg, "%s:%u: field '%s.%s': model '%s' is labelled in only this record of %llu (a typo?); "
                     "model dropped", ds->path, (unsigned)ds->rec[i].line, s ? "scores" : "costs", ds->models[m],
                     ds->models[m], (unsigned long long)N);
            report_line((void *)c, msg);
        }
    }
    if (keep < M) {
        char err[512];
        mpi_check(c, tr_dataset_use_models(ds, names, keep, err, sizeof err), err);
    }
    tr_free(names);
    tr_free(cnt);
}

/* Pack "u32 line, str id" entries for the rank each id hashes to. */
typedef struct id_entry { uint32_t line; const char *id; int from; } id_entry;

static int cmp_entry(const void *a, const void *b)
{
    const id_entry *x = a, *y = b;
    int k = strcmp(x->id, y->id);
    return k ? k : (x->line > y->line) - (x->line < y->line);
}

static void send_counts(const mpi_ctx *c, tr_buf *out, int **sc, int **sd, int **rc, int **rd, size_t *total)
{
    int R = c->size;
    *sc = tr_calloc((size_t)R, sizeof **sc); *sd = tr_calloc((size_t)R, sizeof **sd);
    *rc = tr_calloc((size_t)R, sizeof **rc); *rd = tr_calloc((size_t)R, sizeof **rd);
    if (!*sc || !*sd || !*rc || !*rd) mpi_fail(c, "out of memory");
    size_t s = 0;
    for (int r = 0; r < R; r++) {
        if (out[r].len > (size_t)INT32_MAX - s) mpi_fail(c, "ids of more than 2 GiB to exchange: use more ranks");
        (*sc)[r] = (int)out[r].len;
        (*sd)[r] = (int)s;
        s += out[r].len;
    }
    MPI_Alltoall(*sc, 1, MPI_INT, *rc, 1, MPI_INT, MPI_COMM_WORLD);
    size_t t = 0;
    for (int r = 0; r < R; r++) {
        if ((size_t)(*rc)[r] > (size_t)INT32_MAX - t) mpi_fail(c, "ids of more than 2 GiB to check on one rank: use more ranks");
        (*rd)[r] = (int)t;
        t += (size_t)(*rc)[r];
    }
    *total = t;
}

/* Everything in per-rank buffers, exchanged: *in (tr_malloc'ed) holds what
 * every rank sent here, rank after rank; rc, rd its counts and offsets. */
static void *exchange(const mpi_ctx *c, tr_buf *out, int **rc, int **rd)
{
    int R = c->size, *sc, *sd;
    size_t total;
    send_counts(c, out, &sc, &sd, rc, rd, &total);
    size_t sendn = 0;
    for (int r = 0; r < R; r++) sendn += out[r].len;
    unsigned char *send = tr_malloc(sendn ? sendn : 1), *in = tr_malloc(total ? total : 1);
    if (!send || !in) mpi_fail(c, "out of memory exchanging ids");
    for (int r = 0; r < R; r++) if (out[r].len) memcpy(send + sd[r], out[r].data, out[r].len);
    MPI_Alltoallv(send, sc, sd, MPI_BYTE, in, *rc, *rd, MPI_BYTE, MPI_COMM_WORLD);
    tr_free(send); tr_free(sc); tr_free(sd);
    return in;
}

/* data/dataset.c refuses an id seen on an earlier line; across ranks each
 * id goes to the rank its hash picks, which finds the repeats and tells
 * their owners the line of the first. */
static void duplicate_ids(const mpi_ctx *c, tr_dataset *ds, int skip_bad)
{
    int R = c->size;
    tr_buf *out = tr_calloc((size_t)R, sizeof *out);
    if (!out) mpi_fail(c, "out of memory");
    for (size_t i = 0; i < ds->n; i++) {
        const char *id = ds->rec[i].id;
        tr_buf *b = &out[tr_fnv1a64(id, strlen(id)) % (uint64_t)R];
        tr_buf_u32(b, ds->rec[i].line);
        tr_buf_str(b, id);
    }
    for (int r = 0; r < R; r++) if (tr_buf_ok(&out[r])) mpi_fail(c, "out of memory");
    int *rc, *rd;
    unsigned char *in = exchange(c, out, &rc, &rd);
    /* parse what arrived: every entry needs >= 8 bytes */
    size_t total = rd[R - 1] + (size_t)rc[R - 1], ne = 0;
    id_entry *e = tr_mallocarray(total / 8 + 1, sizeof *e);
    if (!e) mpi_fail(c, "out of memory");
    for (int r = 0; r < R; r++) {
        tr_cursor cur;
        tr_cursor_init(&cur, in + rd[r], (size_t)rc[r]);
        while (cur.left && !cur.err) {
            uint32_t line = 0;
            char *id = NULL;
            tr_get_u32(&cur, &line);
            tr_get_str(&cur, &id);
            if (cur.err || !id) mpi_fail(c, "duplicate id check: malformed ids from rank %d", r);
            e[ne++] = (id_entry){line, id, r};
        }
    }
    qsort(e, ne, sizeof *e, cmp_entry);
    for (int r = 0; r < R; r++) { out[r].len = 0; }
    for (size_t i = 1; i < ne; i++) {
        size_t f = i - 1;
        while (f > 0 && !strcmp(e[f - 1].id, e[i].id)) f--;
        if (strcmp(e[f].id, e[i].id)) continue;
        tr_buf_u32(&out[e[i].from], e[i].line);
        tr_buf_u32(&out[e[i].from], e[f].line);
    }
    for (size_t i = 0; i < ne; i++) tr_free((void *)e[i].id);
    tr_free(e);
    tr_free(in); tr_free(rc); tr_free(rd);
    for (int r = 0; r < R; r++) if (tr_buf_ok(&out[r])) mpi_fail(c, "out of memory");
    in = exchange(c, out, &rc, &rd);
    for (int r = 0; r < R; r++) tr_buf_free(&out[r]);
    tr_free(out);
    total = rd[R - 1] + (size_t)rc[R - 1];
    unsigned char *keep = NULL;
    if (total) {
        keep = tr_malloc(ds->n);
        if (!keep) mpi_fail(c, "out of memory");
        memset(keep, 1, ds->n);
    }
    tr_cursor cur;
    tr_cursor_init(&cur, in, total);
    while (cur.left >= 8) {
        uint32_t line = 0, first = 0;
        tr_get_u32(&cur, &line);
        tr_get_u32(&cur, &first);
        size_t lo = 0, hi = ds->n;   /* records are in line order */
        while (lo < hi) { size_t mid = (lo + hi) / 2; if (ds->rec[mid].line < line) lo = mid + 1; else hi = mid; }
        if (lo >= ds->n || ds->rec[lo].line != line) mpi_fail(c, "duplicate id check: no record on line %u", line);
        const char *id = ds->rec[lo].id;
        size_t il = strlen(id);
        char msg[512];
        snprintf(msg, sizeof msg, "%s:%u: field 'id': duplicate id \"%.*s%s\" (first on line %u)", ds->path, line,
                 (int)(il > QUOTE_MAX ? QUOTE_MAX : il), id, il > QUOTE_MAX ? "..." : "", first);
        if (!skip_bad) mpi_fail(c, "%s (--skip-bad reports and skips bad records instead)", msg);
        report_line((void *)c, msg);
        keep[lo] = 0;
    }
    tr_free(in); tr_free(rc); tr_free(rd);
    if (keep) {
        char err[256];
        mpi_check(c, tr_dataset_keep_records(ds, keep, err, sizeof err), err);
        tr_free(keep);
    }
}

void mpi_shard_load(mpi_ctx *c, const char *path, int skip_bad, mpi_shard *out)
{
    memset(out, 0, sizeof *out);
    double t0 = tr_now();
    char err[1024];
    c->path = path;
    struct stat st;
    if (stat(path, &st)) mpi_fail(c, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) mpi_fail(c, "%s: not a regular file (each rank reads a byte range of it)", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) mpi_fail(c, "%s: cannot open: %s", path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size, b, e, lines;
    mpi_check(c, tr_range_start(fd, path, size, c->rank, c->size, &b, err, sizeof err), err);
    mpi_check(c, tr_range_start(fd, path, size, c->rank + 1, c->size, &e, err, sizeof err), err);
    mpi_check(c, tr_range_lines(fd, path, b, e, &lines, err, sizeof err), err);
    close(fd);
    uint64_t line0 = 1 + mpi_exscan_u64(c, lines);
    mpi_set_input(c, path, b, e, line0, lines);
    print_ranges(c);
    if (line0 + lines > UINT32_MAX) mpi_fail(c, "%s: more than %u lines", path, UINT32_MAX);
    tr_load_options lo;
    tr_load_options_default(&lo);
    lo.skip_bad = skip_bad;
    lo.report = report_line;
    lo.report_ctx = c;
    int rc = tr_dataset_load_range(path, b, e, (uint32_t)line0, &lo, &out->ds, err, sizeof err);
    if (rc) {
        if (!skip_bad && rc == TR_EFORMAT) mpi_fail(c, "%s (--skip-bad reports and skips bad records instead)", err);
        mpi_fail(c, "%s", err);
    }
    tr_dataset *ds = out->ds;
    common_models(c, ds);
    typo_models(c, ds, skip_bad);
    duplicate_ids(c, ds, skip_bad);
    /* caller-supplied embeddings: one dimension on every rank that has
     * records (the least and the largest agree) */
    double dim[2] = {ds->n ? (double)ds->emb_dim : INFINITY, ds->n ? -(double)ds->emb_dim : INFINITY};
    mpi_min_doubles(c, dim, 2);
    if (dim[0] != -dim[1])
        mpi_fail(c, "%s: records with an \"embedding\" of %zu numbers here, other ranks' have %g to %g", path,
                 ds->emb_dim, dim[0], -dim[1]);
    out->emb_dim = isfinite(dim[0]) ? (size_t)dim[0] : 0;
    uint64_t s[6] = {ds->stats.lines, ds->stats.kept, ds->stats.skipped, ds->stats.train, ds->stats.test,
                     ds->stats.test_complete};
    mpi_sum_u64(c, s, 6);
    out->total.lines = s[0]; out->total.kept = s[1]; out->total.skipped = s[2];
    out->total.train = s[3]; out->total.test = s[4]; out->total.test_complete = s[5];
    if (out->total.kept == 0) mpi_fail(c, "%s: no records%s", path, out->total.skipped ? " kept" : " (empty file)");
    out->seconds = tr_now() - t0;
    if (c->rank == 0 && !c->quiet)
        fprintf(stderr, "taskroute-mpi %s: %s: read %zu, kept %zu, skipped %zu (train %zu, test %zu of which complete %zu), "
                "%zu models, %d ranks\n", c->cmd, path, out->total.lines, out->total.kept, out->total.skipped,
                out->total.train, out->total.test, out->total.test_complete, ds->n_models, c->size);
}

void mpi_shard_free(mpi_shard *s)
{
    if (!s) return;
    tr_dataset_free(s->ds);
    memset(s, 0, sizeof *s);
}

size_t mpi_shard_train_rows(const mpi_ctx *c, const mpi_shard *s, int use_all, size_t **idx)
{
    size_t n = 0;
    if (tr_dataset_train_indices(s->ds, use_all, idx, &n)) mpi_fail(c, "out of memory");
    return n;
}
