/* Exact cosine kNN by blocked SGEMM.  The similarity matrix is computed one
 * tile (TQ query rows x TC columns) at a time and folded into a bounded
 * best-first list per row, so memory is O(n*k + threads*TQ*TC).  Selection
 * costs as much as the GEMM when done naively, so each tile row is scanned
 * 16 floats at a time against the row's current k-th best similarity and
 * only the rare winners are inserted.  Threads take query blocks from an
 * atomic counter with OpenBLAS pinned to one thread each: every row's result
 * is independent of the schedule, so output is deterministic. */
#include "cluster/knn_exact.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/util.h"

#define TQ 256
#define TC 2048

void tr_knn_params_default(tr_knn_params *p)
{
    memset(p, 0, sizeof *p);
    p->k = 15;
    p->mode = TR_KNN_AUTO;
    p->seed = 42;
}

void tr_knn_free(tr_knn *g)
{
    if (!g) return;
    tr_free(g->idx);
    tr_free(g->sim);
    memset(g, 0, sizeof *g);
}

void tr_knn_topk_insert(float *sim, int32_t *idx, size_t *len, size_t k,
                        float v, int32_t j)
{
    size_t p = *len;
    if (p == k) {
        if (!(v > sim[k - 1])) return;
        p = k - 1;
    } else {
        (*len)++;
    }
    while (p > 0 && sim[p - 1] < v) {
        sim[p] = sim[p - 1];
        idx[p] = idx[p - 1];
        p--;
    }
    sim[p] = v;
    idx[p] = j;
}

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

/* Fold one tile row s[0..cb) (columns c0..) into row 'self's list. */
static void scan_row(const float *s, size_t cb, size_t c0, size_t self,
                     float *sim, int32_t *idx, size_t *len, size_t k)
{
    size_t j = 0;
    while (*len < k && j < cb) {
        if (c0 + j != self) tr_knn_topk_insert(sim, idx, len, k, s[j], (int32_t)(c0 + j));
        j++;
    }
    float thr = sim[k - 1];
    for (; j + 16 <= cb; j += 16) {
        v4f a, b, c, e, t = {thr, thr, thr, thr};
        memcpy(&a, s + j, 16);
        memcpy(&b, s + j + 4, 16);
        memcpy(&c, s + j + 8, 16);
        memcpy(&e, s + j + 12, 16);
        v4i m = (a > t) | (b > t) | (c > t) | (e > t);
        if (!(m[0] | m[1] | m[2] | m[3])) continue;
        for (size_t u = j; u < j + 16; u++) {
            if (s[u] > thr && c0 + u != self) {
                tr_knn_topk_insert(sim, idx, len, k, s[u], (int32_t)(c0 + u));
                thr = sim[k - 1];
            }
        }
    }
    for (; j < cb; j++) {
        if (s[j] > thr && c0 + j != self) {
            tr_knn_topk_insert(sim, idx, len, k, s[j], (int32_t)(c0 + j));
            thr = sim[k - 1];
        }
    }
}

typedef struct exact_job {
    const float *X;
    size_t n, d, k, nblocks;
    atomic_size_t next;
    tr_knn *out;
    atomic_int failed;
} exact_job;

static void *exact_worker(void *arg)
{
    exact_job *J = arg;
    float *tile = tr_mallocarray((size_t)TQ * TC, sizeof(float));
    size_t *lens = tr_mallocarray(TQ, sizeof(size_t));
    if (!tile || !lens) {
        atomic_store(&J->failed, 1);
        goto done;
    }
    for (;;) {
        size_t b = atomic_fetch_add(&J->next, 1);
        if (b >= J->nblocks || atomic_load(&J->failed)) break;
        size_t q0 = b * TQ, qb = J->n - q0 < TQ ? J->n - q0 : TQ;
        memset(lens, 0, qb * sizeof *lens);
        for (size_t c0 = 0; c0 < J->n; c0 += TC) {
            size_t cb = J->n - c0 < TC ? J->n - c0 : TC;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)cb,
                        (int)J->d, 1.0f, J->X + q0 * J->d, (int)J->d,
                        J->X + c0 * J->d, (int)J->d, 0.0f, tile, (int)cb);
            for (size_t r = 0; r < qb; r++)
                scan_row(tile + r * cb, cb, c0, q0 + r, J->out->sim + (q0 + r) * J->k,
                         J->out->idx + (q0 + r) * J->k, &lens[r], J->k);
        }
    }
done:
    tr_free(tile);
    tr_free(lens);
    return NULL;
}

int tr_knn_exact(const float *X, size_t n, size_t d, size_t k, int threads,
                 tr_knn *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n > INT32_MAX || d > INT32_MAX)
        return tr_errorf(err, errlen, TR_ERANGE, "knn: n=%zu d=%zu too large", n, d);
    out->n = n;
    out->k = k;
    out->idx = tr_mallocarray(n * k, sizeof(int32_t));
    out->sim = tr_mallocarray(n * k, sizeof(float));
    if (!out->idx || !out->sim) {
        tr_knn_free(out);
        return tr_errorf(err, errlen, TR_ENOMEM, "knn: cannot allocate %zu x %zu lists", n, k);
    }
    size_t nblocks = (n + TQ - 1) / TQ;
    threads = tr_workers(threads, nblocks);

    exact_job J = {.X = X, .n = n, .d = d, .k = k, .nblocks = nblocks, .out = out};
    atomic_init(&J.next, 0);
    atomic_init(&J.failed, 0);
    /* our threads fill the cores: OpenBLAS threads inside them (the
     * caller's setting, tr_train_options.blas_threads) would oversubscribe */
    tr_run_workers(threads, exact_worker, &J, 0);
    if (atomic_load(&J.failed)) {
        tr_knn_free(out);
        return tr_errorf(err, errlen, TR_ENOMEM, "knn: cannot allocate the similarity tile");
    }
    return TR_OK;
}

int tr_knn_recall(const float *X, size_t n, size_t d, const tr_knn *approx,
                  size_t sample, uint64_t seed, double *recall,
                  char *err, size_t errlen)
{
    size_t k = approx->k;
    if (approx->n != n || k == 0 || k >= n)
        return tr_errorf(err, errlen, TR_EINVAL, "knn recall: lists for n=%zu k=%zu, data n=%zu",
                         approx->n, k, n);
    if (sample == 0 || sample > n) sample = n;
    float *s = tr_mallocarray(n, sizeof(float));
    float *tsim = tr_mallocarray(k, sizeof(float));
    int32_t *tidx = tr_mallocarray(k, sizeof(int32_t));
    size_t *rows = tr_mallocarray(n, sizeof(size_t));
    int rc = TR_OK;
    if (!s || !tsim || !tidx || !rows) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "knn recall: out of memory");
        goto fail;
    }
    /* A partial Fisher-Yates shuffle picks 'sample' distinct rows. */
    for (size_t i = 0; i < n; i++) rows[i] = i;
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (size_t i = 0; i < sample; i++) {
        size_t j = i + (size_t)tr_rng_below(&rng, n - i);
        size_t t = rows[i]; rows[i] = rows[j]; rows[j] = t;
    }
    size_t hit = 0;
    for (size_t t = 0; t < sample; t++) {
        size_t i = rows[t];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0f, X, (int)d,
                    X + i * d, 1, 0.0f, s, 1);
        size_t len = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) tr_knn_topk_insert(tsim, tidx, &len, k, s[j], (int32_t)j);
        /* Count by similarity, not identity: with ties any of the tied
         * points is a correct neighbour. */
        float kth = tsim[k - 1];
        for (size_t a = 0; a < k; a++) {
            int32_t j = approx->idx[i * k + a];
            if (j < 0 || (size_t)j >= n) continue;
            float v = cblas_sdot((int)d, X + i * d, 1, X + (size_t)j * d, 1);
            if (v >= kth - 1e-6f) hit++;
        }
    }
    *recall = (double)hit / ((double)sample * (double)k);
fail:
    tr_free(s); tr_free(tsim); tr_free(tidx); tr_free(rows);
    return rc;
}
