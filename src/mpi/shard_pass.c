/* The pass of sums over this rank's records (shard_pass.h). */
#include "mpi/shard_pass.h"

#include <math.h>
#include <mpi.h>
#include <string.h>

#include "base/util.h"
#include "base/vec.h"
#include "dist/keys.h"
#include "dist/knn_pick.h"
#include "retrain/drift.h"
#include "router/router.h"

#define CHUNK 4096

typedef struct chunk {
    const char **texts;
    size_t *lens;
    float *X, *P, *S, *C, *L, *Z, *pay;
    int32_t *y;
} chunk;

static void chunk_alloc(const mpi_ctx *c, chunk *k, size_t d, size_t T, size_t M)
{
    k->texts = tr_mallocarray(CHUNK, sizeof *k->texts);
    k->lens = tr_mallocarray(CHUNK, sizeof *k->lens);
    k->X = tr_mallocarray(CHUNK * d, sizeof *k->X);
    k->P = tr_mallocarray(CHUNK * T, sizeof *k->P);
    k->S = tr_mallocarray(CHUNK * (M ? M : 1), sizeof *k->S);
    k->C = tr_mallocarray(CHUNK * (M ? M : 1), sizeof *k->C);
    k->L = tr_mallocarray(CHUNK, sizeof *k->L);
    k->Z = tr_mallocarray(CHUNK * TR_HEADS_SURF, sizeof *k->Z);
    k->pay = tr_mallocarray(d + M + T, sizeof *k->pay);
    k->y = tr_mallocarray(CHUNK, sizeof *k->y);
    if (!k->texts || !k->lens || !k->X || !k->P || !k->S || !k->C || !k->L || !k->Z || !k->pay || !k->y)
        mpi_fail(c, "out of memory for a chunk of %d prompts", CHUNK);
}

static void chunk_free(chunk *k)
{
    tr_free(k->texts); tr_free(k->lens); tr_free(k->X); tr_free(k->P); tr_free(k->S); tr_free(k->C);
    tr_free(k->L); tr_free(k->Z); tr_free(k->pay); tr_free(k->y);
}

/* The embeddings of the chunk's records: the embedder's, or the records'
 * own unit-normalised (as training does with caller-supplied ones). */
static void embed_chunk(const mpi_ctx *c, const tr_dataset *ds, const tr_embedder *emb, const size_t *rows,
                        size_t nb, size_t d, int threads, chunk *k)
{
    char err[1024];
    if (emb) {
        for (size_t j = 0; j < nb; j++) {
            k->texts[j] = ds->rec[rows[j]].prompt;
            k->lens[j] = ds->rec[rows[j]].prompt_len;
        }
        mpi_check(c, tr_embedder_embed_batch(emb, k->texts, k->lens, nb, k->X, threads, err, sizeof err), err);
        return;
    }
    for (size_t j = 0; j < nb; j++) {
        double n2 = tr_vec_unit(k->X + j * d, ds->emb + rows[j] * d, d);
        if (!(n2 > 0) || !isfinite(n2))
            mpi_fail(c, "%s:%u: field 'embedding': zero or non-finite vector", ds->path, ds->rec[rows[j]].line);
    }
}

/* The kNN store: every rank's candidate keys to rank 0, each task's cut
 * back, and the rows at or below it to rank 0 in file order. */
static void gather_store(mpi_ctx *c, const tr_knn_pick *pk, size_t d, size_t M, size_t T, mpi_pass *out)
{
    size_t held = 0;
    for (size_t t = 0; t < T; t++) held += pk->count[t];
    uint32_t *task = tr_mallocarray(held ? held : 1, sizeof *task);
    uint64_t *key = tr_mallocarray(held ? held : 1, sizeof *key);
    size_t *slot = tr_mallocarray(held ? held : 1, sizeof *slot);
    uint64_t *cut = tr_mallocarray(T, sizeof *cut);
    if (!task || !key || !slot || !cut) mpi_fail(c, "out of memory");
    tr_knn_pick_keys(pk, task, key);
    void *at = NULL, *ak = NULL;
    size_t nat = 0, nak = 0;
    mpi_gather_bytes(c, 0, task, held * sizeof *task, &at, &nat, NULL);
    mpi_gather_bytes(c, 0, key, held * sizeof *key, &ak, &nak, NULL);
    if (c->rank == 0 && tr_task_cuts(at, ak, nak / sizeof *key, T, pk->cap, cut))
        mpi_fail(c, "out of memory choosing the kNN store");
    tr_free(at);
    tr_free(ak);
    MPI_Bcast(cut, (int)T, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    size_t n = tr_knn_pick_select(pk, cut, task, slot);
    if (n == (size_t)-1) mpi_fail(c, "out of memory");
    /* rows: task (as a float, exact below 2^24) and the payload */
    size_t w = 1 + pk->width;
    float *rows = tr_mallocarray(n ? n * w : 1, sizeof *rows);
    if (!rows) mpi_fail(c, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rows[i * w] = (float)task[i];
        memcpy(rows + i * w + 1, tr_knn_pick_data(pk, task[i], slot[i]), pk->width * sizeof *rows);
    }
    void *all = NULL;
    size_t nall = 0;
    mpi_gather_bytes(c, 0, rows, n * w * sizeof *rows, &all, &nall, NULL);
    tr_free(rows);
    if (c->rank == 0) {
        size_t kn = nall / (w * sizeof(float));
        const float *v = all;
        out->kn = kn;
        out->kX = tr_mallocarray(kn * d + 1, sizeof *out->kX);
        out->kS = tr_mallocarray(kn * M + 1, sizeof *out->kS);
        out->kP = tr_mallocarray(kn * T + 1, sizeof *out->kP);
        out->ky = tr_mallocarray(kn + 1, sizeof *out->ky);
        if (!out->kX || !out->kS || !out->kP || !out->ky) mpi_fail(c, "out of memory for the kNN store");
        for (size_t i = 0; i < kn; i++) {
            const float *r = v + i * w;
            out->ky[i] = (int32_t)r[0];
            memcpy(out->kX + i * d, r + 1, d * sizeof *r);
            memcpy(out->kS + i * M, r + 1 + d, M * sizeof *r);
            memcpy(out->kP + i * T, r + 1 + d + M, T * sizeof *r);
        }
    }
    tr_free(all);
    tr_free(task); tr_free(key); tr_free(slot); tr_free(cut);
}

void mpi_shard_pass(mpi_ctx *c, const mpi_shard *sh, const mpi_sample *s, const int32_t *labels,
                    const mpi_parts *parts, uint64_t seed, size_t knn_cap, int threads, mpi_pass *out)
{
    memset(out, 0, sizeof *out);
    double t0 = tr_now();
    const tr_dataset *ds = sh->ds;
    const tr_tasks *tk = &parts->tasks;
    size_t T = tk->n_tasks, d = tk->dim, M = ds->n_models;
    char err[1024];
    if (parts->clf->T != T || parts->clf->d != d || (parts->emb && tr_embedder_dim(parts->emb) != d))
        mpi_fail(c, "the sample's router: classifier, tasks and embedder disagree");
    if (tr_task_sums_init(&out->ts, T, d, M)) mpi_fail(c, "out of memory");
    const tr_heads *h = parts->heads;
    if (h) mpi_check(c, tr_heads_sums_init(&out->hs, h, err, sizeof err), err);
    int want_store = h && tr_heads_has_knn_store(h);
    tr_knn_pick pk = {0};
    if (want_store && tr_knn_pick_init(&pk, T, knn_cap, d + M + T)) mpi_fail(c, "out of memory for the kNN store's candidates");
    chunk k;
    chunk_alloc(c, &k, d, T, M);
    size_t mine = 0;   /* next of this rank's sample labels */
    for (size_t r0 = 0; r0 < s->nrows; r0 += CHUNK) {
        size_t nb = s->nrows - r0 < CHUNK ? s->nrows - r0 : CHUNK;
        const size_t *rows = s->rows + r0;
        embed_chunk(c, ds, parts->emb, rows, nb, d, threads, &k);
        tr_softmax_predict_batch(parts->clf, k.X, nb, k.P);
        for (size_t j = 0; j < nb; j++) {
            size_t i = rows[j];
            k.y[j] = s->in[r0 + j] ? labels[mine++] : (int32_t)tr_argmax(k.P + j * T, T, NULL);
            memcpy(k.S + j * M, ds->scores + i * M, M * sizeof *k.S);
            memcpy(k.C + j * M, ds->costs + i * M, M * sizeof *k.C);
            k.L[j] = (float)ds->rec[i].prompt_len;
            if (out->hs.nsurf) {
                const tr_record *rec = &ds->rec[i];
                tr_surface_features(rec->prompt, tr_prompt_cut(rec->prompt, rec->prompt_len), k.Z + j * TR_HEADS_SURF);
            }
        }
        if (tr_task_sums_add(&out->ts, k.X, k.S, k.C, k.y, nb)) mpi_fail(c, "task out of range");
        if (h)
            mpi_check(c, tr_heads_sums_add(&out->hs, k.X, out->hs.nsurf ? k.Z : NULL, k.S, k.C,
                                           parts->emb ? k.L : NULL, k.y, nb, err, sizeof err), err);
        if (want_store)
            for (size_t j = 0; j < nb; j++) {
                const char *id = ds->rec[rows[j]].id;
                memcpy(k.pay, k.X + j * d, d * sizeof *k.pay);
                memcpy(k.pay + d, k.S + j * M, M * sizeof *k.pay);
                memcpy(k.pay + d + M, k.P + j * T, T * sizeof *k.pay);
                tr_knn_pick_offer(&pk, (size_t)k.y[j], tr_dist_key(id, strlen(id), seed, TR_KEY_STORE), r0 + j, k.pay);
            }
    }
    chunk_free(&k);
    mpi_sum_doubles(c, out->ts.sum, out->ts.n_sum);
    if (h) {
        mpi_sum_doubles(c, out->hs.sum, out->hs.n_sum);
        mpi_min_doubles(c, out->hs.cmin, out->hs.M);
    }
    if (want_store) {
        gather_store(c, &pk, d, M, T, out);
        tr_knn_pick_free(&pk);
    }
    out->seconds = tr_now() - t0;
}

void mpi_pass_free(mpi_pass *p)
{
    if (!p) return;
    tr_task_sums_free(&p->ts);
    tr_heads_sums_free(&p->hs);
    tr_free(p->kX); tr_free(p->kS); tr_free(p->kP); tr_free(p->ky);
    memset(p, 0, sizeof *p);
}
