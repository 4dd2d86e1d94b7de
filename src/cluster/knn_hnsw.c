/* Approximate cosine kNN with HNSW (hnswlib via hnsw_wrap.cc), for sizes
 * where the exact O(n^2 d) tiles get slow.  The index is built on one thread
 * in row order (deterministic: hnswlib's parallel insert is not), then every
 * row is queried for k+1 candidates on 'threads' threads; queries only read
 * the index, so the lists do not depend on the schedule.  Candidates are
 * rescored with an exact dot product, self is dropped and ties are broken by
 * index, as in the exact path; a row that comes back short is filled by
 * brute force so every list has exactly k entries. */
#include "cluster/knn_hnsw.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/util.h"
#include "cluster/hnsw_wrap.h"

#define QCHUNK 256

typedef struct approx_job {
    const float *X;
    size_t n, d, k, kq;
    const tr_hnsw *h;
    tr_knn *out;
    atomic_size_t next;
    atomic_int rc;
    atomic_size_t short_rows;
    char err[256];
    pthread_mutex_t err_lock;
} approx_job;

static void sort_by_index(int32_t *lab, size_t m)
{
    for (size_t a = 1; a < m; a++) {
        int32_t v = lab[a];
        size_t b = a;
        while (b > 0 && lab[b - 1] > v) { lab[b] = lab[b - 1]; b--; }
        lab[b] = v;
    }
}

static void *approx_worker(void *arg)
{
    approx_job *J = arg;
    int32_t *lab = tr_mallocarray(J->kq, sizeof(int32_t));
    float *dist = tr_mallocarray(J->kq, sizeof(float));
    float *row = NULL;
    char err[256];
    if (!lab || !dist) {
        atomic_store(&J->rc, TR_ENOMEM);
        goto done;
    }
    for (;;) {
        size_t c = atomic_fetch_add(&J->next, QCHUNK);
        if (c >= J->n || atomic_load(&J->rc) != TR_OK) break;
        size_t end = c + QCHUNK < J->n ? c + QCHUNK : J->n;
        for (size_t i = c; i < end; i++) {
            const float *x = J->X + i * J->d;
            size_t found = 0, len = 0;
            float *sim = J->out->sim + i * J->k;
            int32_t *idx = J->out->idx + i * J->k;
            int rc = tr_hnsw_query(J->h, x, J->kq, lab, dist, &found, err, sizeof err);
            if (rc != TR_OK) {
                pthread_mutex_lock(&J->err_lock);
                if (atomic_load(&J->rc) == TR_OK) {
                    memcpy(J->err, err, sizeof err);
                    atomic_store(&J->rc, rc);
                }
                pthread_mutex_unlock(&J->err_lock);
                goto done;
            }
            sort_by_index(lab, found);
            for (size_t a = 0; a < found; a++) {
                if ((size_t)lab[a] == i || lab[a] < 0 || (size_t)lab[a] >= J->n) continue;
                float v = cblas_sdot((int)J->d, x, 1, J->X + (size_t)lab[a] * J->d, 1);
                tr_knn_topk_insert(sim, idx, &len, J->k, v, lab[a]);
            }
            if (len < J->k) {
                /* HNSW came back short (rare: tiny or degenerate data). */
                if (!row && !(row = tr_mallocarray(J->n, sizeof(float)))) {
                    atomic_store(&J->rc, TR_ENOMEM);
                    goto done;
                }
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)J->n, (int)J->d, 1.0f, J->X,
                            (int)J->d, x, 1, 0.0f, row, 1);
                len = 0;
                for (size_t j = 0; j < J->n; j++)
                    if (j != i) tr_knn_topk_insert(sim, idx, &len, J->k, row[j], (int32_t)j);
                atomic_fetch_add(&J->short_rows, 1);
            }
        }
    }
done:
    tr_free(lab);
    tr_free(dist);
    tr_free(row);
    return NULL;
}

int tr_knn_approx(const float *X, size_t n, size_t d, size_t k,
                  const tr_knn_params *p, tr_knn *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n > INT32_MAX || d > INT32_MAX)
        return tr_errorf(err, errlen, TR_ERANGE, "knn: n=%zu d=%zu too large", n, d);
    size_t m = p->hnsw_m > 0 ? (size_t)p->hnsw_m : 16;
    size_t efc = p->hnsw_ef_construction > 0 ? (size_t)p->hnsw_ef_construction : 64;
    size_t efs = p->hnsw_ef_search > 0 ? (size_t)p->hnsw_ef_search : 2 * k + 10;
    if (efs < 64) efs = 64;
    tr_hnsw *h = NULL;
    int rc = tr_hnsw_new(d, n, m, efc, p->seed, &h, err, errlen);
    if (rc != TR_OK) return rc;
    /* the rescoring sdot calls run inside our workers */
    approx_job J = {.X = X, .n = n, .d = d, .k = k, .kq = k + 1, .h = h, .out = out};
    atomic_init(&J.next, 0);
    atomic_init(&J.rc, TR_OK);
    atomic_init(&J.short_rows, 0);
    pthread_mutex_init(&J.err_lock, NULL);

    rc = tr_hnsw_add_all(h, X, n, err, errlen);
    if (rc != TR_OK) goto fail;
    tr_hnsw_set_ef(h, efs);
    out->n = n;
    out->k = k;
    out->idx = tr_mallocarray(n * k, sizeof(int32_t));
    out->sim = tr_mallocarray(n * k, sizeof(float));
    if (!out->idx || !out->sim) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "knn: cannot allocate %zu x %zu lists", n, k);
        goto fail;
    }
    tr_run_workers(tr_workers(p->threads, (n + QCHUNK - 1) / QCHUNK), approx_worker, &J, 0);
    rc = atomic_load(&J.rc);
    if (rc != TR_OK) {
        if (J.err[0]) tr_errorf(err, errlen, rc, "%s", J.err);
        else tr_errorf(err, errlen, rc, "knn: out of memory in a query thread");
        goto fail;
    }
    pthread_mutex_destroy(&J.err_lock);
    tr_hnsw_free(h);
    return TR_OK;
fail:
    pthread_mutex_destroy(&J.err_lock);
    tr_hnsw_free(h);
    tr_knn_free(out);
    return rc;
}
