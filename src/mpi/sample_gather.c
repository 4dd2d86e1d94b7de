/* Choosing and gathering the sample (sample_gather.h). */
#include "mpi/sample_gather.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "dist/keys.h"
#include "dist/shard_data.h"

void mpi_sample_take(mpi_ctx *c, const mpi_shard *sh, int use_all, uint64_t seed, size_t cap, mpi_sample *out)
{
    memset(out, 0, sizeof *out);
    const tr_dataset *ds = sh->ds;
    out->nrows = mpi_shard_train_rows(c, sh, use_all, &out->rows);
    size_t n = out->nrows;
    uint64_t *key = tr_mallocarray(n ? n : 1, sizeof *key), *sorted = tr_mallocarray(n ? n : 1, sizeof *sorted);
    out->in = tr_calloc(n ? n : 1, 1);
    if (!key || !sorted || !out->in) mpi_fail(c, "out of memory");
    for (size_t r = 0; r < n; r++) {
        const char *id = ds->rec[out->rows[r]].id;
        key[r] = sorted[r] = tr_dist_key(id, strlen(id), seed, TR_KEY_SAMPLE);
    }
    out->n_train = n;
    mpi_sum_u64(c, &out->n_train, 1);
    /* each rank's cap smallest keys hold the global cap smallest */
    tr_keys_cut(sorted, n, n);   /* sorts */
    size_t send = n < cap ? n : cap;
    void *all = NULL;
    size_t nall = 0;
    mpi_gather_bytes(c, 0, sorted, send * sizeof *sorted, &all, &nall, NULL);
    uint64_t cut = 0;
    if (c->rank == 0) cut = tr_keys_cut(all, nall / sizeof(uint64_t), cap);
    tr_free(all);
    tr_free(sorted);
    MPI_Bcast(&cut, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    size_t *pick = tr_mallocarray(n ? n : 1, sizeof *pick);
    if (!pick) mpi_fail(c, "out of memory");
    for (size_t r = 0; r < n; r++)
        if (key[r] <= cut) { out->in[r] = 1; pick[out->n_mine++] = out->rows[r]; }
    tr_free(key);
    out->n_total = out->n_mine;
    mpi_sum_u64(c, &out->n_total, 1);
    tr_buf b;
    tr_buf_init(&b);
    tr_records_pack(ds, pick, out->n_mine, &b);
    tr_free(pick);
    if (tr_buf_ok(&b)) mpi_fail(c, "out of memory packing %zu sample records", out->n_mine);
    uint64_t mine = out->n_mine;
    void *cnt = NULL;
    size_t ncnt = 0;
    mpi_gather_bytes(c, 0, &mine, sizeof mine, &cnt, &ncnt, NULL);
    mpi_gather_bytes(c, 0, b.data, b.len, &all, &nall, NULL);
    tr_buf_free(&b);
    if (c->rank == 0) {
        char err[512];
        out->counts = tr_mallocarray((size_t)c->size, sizeof *out->counts);
        if (!out->counts) mpi_fail(c, "out of memory");
        for (int r = 0; r < c->size; r++) out->counts[r] = (size_t)((uint64_t *)cnt)[r];
        mpi_check(c, tr_records_unpack(all, nall, ds->path, ds->models, ds->n_models, sh->emb_dim, &out->ds,
                                       err, sizeof err), err);
    }
    tr_free(cnt);
    tr_free(all);
}

int32_t *mpi_sample_scatter(mpi_ctx *c, const mpi_sample *s, const int32_t *labels)
{
    size_t *bytes = NULL;
    if (c->rank == 0) {
        bytes = tr_mallocarray((size_t)c->size, sizeof *bytes);
        if (!bytes) mpi_fail(c, "out of memory");
        for (int r = 0; r < c->size; r++) bytes[r] = s->counts[r] * sizeof *labels;
    }
    void *mine = NULL;
    size_t n = 0;
    mpi_scatter_bytes(c, 0, labels, bytes, &mine, &n);
    tr_free(bytes);
    if (n != s->n_mine * sizeof *labels) mpi_fail(c, "sample labels: %zu bytes for %zu records", n, s->n_mine);
    return mine;
}

void mpi_sample_free(mpi_sample *s)
{
    if (!s) return;
    tr_free(s->rows);
    tr_free(s->in);
    tr_free(s->counts);
    tr_dataset_free(s->ds);
    memset(s, 0, sizeof *s);
}
