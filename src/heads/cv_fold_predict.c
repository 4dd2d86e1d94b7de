/* The heads' cross-validation predictions (cv.h): every trained variant
 * for a fold's held-out rows.  The kNN variants are most of the CV's time,
 * so their similarities go through SGEMM and their rows through worker
 * threads.  tr_heads_train runs OpenBLAS on one thread: with its threads
 * spinning beside our workers, heads took 2.5 times as long.  Every row's
 * result is the same whatever the thread count. */
#include "heads/cv.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>

#include "base/util.h"
#include "heads/parts.h"
#include "kernels/half.h"

int tr_cv_slot_qv(const tr_cv_slots *sl, size_t s)
{
    if (s < 2) return (int)s;
    if (s < 2 + sl->na) return TR_QV_RIDGE;
    if (sl->knn && s == sl->knn) return TR_QV_KNN;
    if (sl->ens && s == sl->ens) return TR_QV_ENSEMBLE;
    if (sl->kt && s == sl->kt) return TR_QV_KNN_TAU;
    if (sl->rs && s >= sl->rs && s < sl->rs + sl->na) return TR_QV_RIDGE_SURF;
    if (sl->ks && s == sl->ks) return TR_QV_KNN_SUP;
    if (sl->ksr && s == sl->ksr) return TR_QV_KNN_SUP_RIDGE;
    return TR_QV_ENS_KT_RS;
}

/* Row i's kNN slots from its similarities sims to the store rows of the
 * segments [lo[s], hi[s]), s < nseg, laid end to end.  Both kNN kernels
 * share them; the kNN-sup kernels overwrite them with their own. */
static void knn_row(tr_heads *h, const tr_cv_data *D, size_t i, float **Q, const tr_cv_slots *sl, const uint32_t *lo,
                    const uint32_t *hi, size_t nseg, float *sims, float *scr)
{
    size_t M = D->M;
    const float *pt = D->P + i * D->T;
    float *prior = scr + M;
    tr_heads_predict_variant(h, TR_QV_PRIOR_SOFT, TR_CV_TASK, NULL, pt, 0, NULL, prior, NULL, NULL, NULL);
    for (int kern = 0; kern < 2; kern++) {
        size_t s = kern ? sl->kt : sl->knn;
        if (!s || !Q[s]) continue;
        float *out = Q[s] + i * M;
        if (kern)
            tr_knn_combine(h->knn_S, M, lo, hi, nseg, sims, h->knn_tau_k, 0.0f, h->knn_tau, h->knn_k0, prior,
                           out, scr + 3 * M);
        else
            tr_knn_combine(h->knn_S, M, lo, hi, nseg, sims, h->knn_k, h->knn_p, 0.0f, h->knn_k0, prior, out,
                           scr + 3 * M);
        for (size_t m = 0; m < M; m++) out[m] = out[m] < 0 ? 0 : out[m] > 1 ? 1 : out[m];
    }
    if ((sl->ks && Q[sl->ks]) || (sl->ksr && Q[sl->ksr])) {
        /* kNN-sup: the same candidates, similarities in [x, beta z];
         * kNN-sup-ridge combines the same neighbours toward the
         * prior+ridge prediction rt */
        float *zq = scr + 5 * M + 2 * D->n + 1 + D->d + TR_HEADS_SURF, *rt = zq + M;
        tr_heads_sup_z(h, D->X + i * D->d, pt, zq, scr, rt);
        tr_heads_sup_sims(h, lo, hi, nseg, zq, sims, scr + 5 * M);
        for (int kern = 0; kern < 2; kern++) {
            size_t s = kern ? sl->ksr : sl->ks;
            if (!s || !Q[s]) continue;
            float *out = Q[s] + i * M;
            tr_knn_combine(h->knn_S, M, lo, hi, nseg, sims, h->knn_tau_k, 0.0f, h->knn_tau, h->knn_k0,
                           kern ? rt : prior, out, scr + 3 * M);
            for (size_t m = 0; m < M; m++) out[m] = out[m] < 0 ? 0 : out[m] > 1 ? 1 : out[m];
        }
    }
}

#define TASK_BLOCK 512

/* Phase one of a block: the per-task SGEMMs, tasks taken in turn. */
typedef struct tasks_job {
    const tr_heads *h;
    const tr_cv_data *D;
    const size_t *rows;
    size_t r0;
    const float *Xs;
    const size_t *end;      /* T: the end of task t's entries in who */
    const size_t *who, *at;
    float *S;
    size_t K;
    atomic_size_t next;
} tasks_job;

typedef struct task_ws {
    tasks_job *J;
    float *xt, *Gt;         /* this worker's rows and similarities */
} task_ws;

static void *tasks_run(void *arg)
{
    task_ws *w = arg;
    tasks_job *J = w->J;
    size_t d = J->D->d, T = J->h->T;
    for (size_t t; (t = atomic_fetch_add(&J->next, 1)) < T;) {
        size_t beg = t ? J->end[t - 1] : 0, m = J->end[t] - beg;
        size_t lo = J->h->knn_off[t], len = J->h->knn_off[t + 1] - lo;
        if (m == 0 || len == 0) continue;
        for (size_t e = 0; e < m; e++) {
            size_t b = J->who[beg + e] / J->K, i = J->rows ? J->rows[J->r0 + b] : J->r0 + b;
            memcpy(w->xt + e * d, J->D->X + i * d, d * sizeof *w->xt);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)len, (int)d, 1.0f, w->xt, (int)d,
                    J->Xs + lo * d, (int)d, 0.0f, w->Gt, (int)len);
        for (size_t e = 0; e < m; e++) memcpy(J->S + J->at[J->who[beg + e]], w->Gt + e * len, len * sizeof *J->S);
    }
    return NULL;
}

/* Phase two: the rows' kNN combines, a contiguous share of the block per
 * worker, each with its own scratch. */
typedef struct rows_job {
    tr_heads *h;
    const tr_cv_data *D;
    const size_t *rows;
    size_t r0;
    float **Q;
    const tr_cv_slots *sl;
    const int32_t *seg;
    const size_t *nseg;
    float *S;
    size_t stride, K;
    float *scr;
    size_t b0, b1;   /* this worker's rows of the block */
} rows_job;

static void *rows_run(void *arg)
{
    rows_job *j = arg;
    const uint32_t *off = j->h->knn_off;
    for (size_t b = j->b0; b < j->b1; b++) {
        size_t i = j->rows ? j->rows[j->r0 + b] : j->r0 + b;
        uint32_t lo[TR_HEADS_MAX_TOPK], hi[TR_HEADS_MAX_TOPK];
        for (size_t s = 0; s < j->nseg[b]; s++) {
            lo[s] = off[j->seg[b * j->K + s]];
            hi[s] = off[j->seg[b * j->K + s] + 1];
        }
        knn_row(j->h, j->D, i, j->Q, j->sl, lo, hi, j->nseg[b], j->S + b * j->stride, j->scr);
    }
    return NULL;
}

/* The kNN slots when each row searches only its knn_tasks most probable
 * tasks: rows go in blocks of TASK_BLOCK, and within a block one SGEMM per
 * task takes the rows that search it against that task's segment, instead
 * of every row against the whole store (which computed T / knn_tasks times
 * the similarities used).  Row b's similarities sit at S + b * stride, its
 * segments in gate order, as the whole-store path lays them out.  Returns 0
 * (nothing done) when out of memory, and the caller takes that path. */
static int knn_by_task(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows, float **Q,
                       const tr_cv_slots *sl, float *scr, const float *Xs)
{
    size_t d = D->d, T = h->T, K = h->knn_tasks < h->T ? h->knn_tasks : h->T, maxseg = 0;
    for (size_t t = 0; t < T; t++)
        if (h->knn_off[t + 1] - h->knn_off[t] > maxseg) maxseg = h->knn_off[t + 1] - h->knn_off[t];
    size_t stride = K * maxseg, nbmax = nrows < TASK_BLOCK ? nrows : TASK_BLOCK;
    int nth = tr_workers(D->threads, nbmax);
    float *S = tr_mallocarray(nbmax * stride + 1, sizeof *S);
    float *Gt = tr_mallocarray((size_t)nth * nbmax * maxseg + 1, sizeof *Gt);
    float *xt = tr_mallocarray((size_t)nth * nbmax * d + 1, sizeof *xt);
    int32_t *seg = tr_mallocarray(nbmax * K, sizeof *seg);
    size_t *nseg = tr_mallocarray(nbmax, sizeof *nseg), *at = tr_mallocarray(nbmax * K, sizeof *at);
    size_t *cnt = tr_calloc(T + 1, sizeof *cnt), *who = tr_mallocarray(nbmax * K, sizeof *who);
    size_t scr_n = TR_CV_SCRATCH(D->M, D->n, d);
    float *tscr = nth > 1 ? tr_mallocarray((size_t)(nth - 1) * scr_n, sizeof *tscr) : NULL;
    int ok = S && Gt && xt && seg && nseg && at && cnt && who && (nth == 1 || tscr);
    for (size_t r0 = 0; ok && r0 < nrows; r0 += TASK_BLOCK) {
        size_t nb = nrows - r0 < TASK_BLOCK ? nrows - r0 : TASK_BLOCK;
        /* each row's tasks and where each segment's similarities go */
        memset(cnt, 0, (T + 1) * sizeof *cnt);
        for (size_t b = 0; b < nb; b++) {
            size_t i = rows ? rows[r0 + b] : r0 + b;
            nseg[b] = tr_gate_search(D->P + i * D->T, T, K, h->knn_mass, seg + b * K);
            size_t o = b * stride;
            for (size_t s = 0; s < nseg[b]; s++) {
                int32_t t = seg[b * K + s];
                at[b * K + s] = o;
                o += h->knn_off[t + 1] - h->knn_off[t];
                cnt[t + 1]++;
            }
        }
        for (size_t t = 0; t < T; t++) cnt[t + 1] += cnt[t];
        for (size_t b = 0; b < nb; b++)
            for (size_t s = 0; s < nseg[b]; s++) who[cnt[seg[b * K + s]]++] = b * K + s;
        /* cnt[t] is now the end of task t's entries in who */
        tasks_job TJ = {.h = h, .D = D, .rows = rows, .r0 = r0, .Xs = Xs, .end = cnt, .who = who, .at = at, .S = S,
                        .K = K};
        atomic_init(&TJ.next, 0);
        task_ws W[TR_RUN_MAX_THREADS];
        for (int t = 0; t < nth; t++)
            W[t] = (task_ws){&TJ, xt + (size_t)t * nbmax * d, Gt + (size_t)t * nbmax * maxseg};
        tr_run_workers(nth, tasks_run, W, sizeof W[0]);
        /* the rows' combines, on worker threads: each row writes only its
         * own outputs and similarities */
        rows_job J[TR_RUN_MAX_THREADS];
        for (int t = 0; t < nth; t++)
            J[t] = (rows_job){h, D, rows, r0, Q, sl, seg, nseg, S, stride, K, t ? tscr + (size_t)(t - 1) * scr_n : scr,
                              nb * (size_t)t / (size_t)nth, nb * (size_t)(t + 1) / (size_t)nth};
        tr_run_workers(nth, rows_run, J, sizeof J[0]);
    }
    tr_free(S); tr_free(Gt); tr_free(xt); tr_free(seg); tr_free(nseg); tr_free(at); tr_free(cnt); tr_free(who);
    tr_free(tscr);
    return ok;
}

void tr_cv_predict_rows(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows,
                        float **Q, const tr_cv_slots *sl, float *const *Ws, float *const *Wrs,
                        float **Cc, float *scr, float *G, float *xb, float *Xf)
{
    float *keep = h->ridge, *keep_rs = h->ridge_surf;
    size_t M = D->M;
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r;
        const float *x = D->X ? D->X + i * D->d : NULL;
        size_t len = D->L ? (size_t)D->L[i] : 0;
        const float *pt = D->P + i * D->T;
        const float *z = D->Z ? D->Z + i * TR_HEADS_SURF : NULL;
        for (size_t s = 0; s < 2 + sl->na; s++) {
            if (!Q[s]) continue;
            if (s >= 2 && Ws) h->ridge = Ws[s - 2];
            tr_heads_predict_variant(h, tr_cv_slot_qv(sl, s), TR_CV_TASK, x, pt, len, z, Q[s] + i * M, NULL, NULL, scr);
        }
        for (size_t a = 0; sl->rs && a < sl->na; a++) {
            if (!Q[sl->rs + a]) continue;
            if (Wrs) h->ridge_surf = Wrs[a];
            tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_TASK, x, pt, len, z, Q[sl->rs + a] + i * M, NULL,
                                     NULL, scr);
        }
        for (int cv = 0; cv < TR_CV_COUNT; cv++)
            if (Cc[cv])
                tr_heads_predict_variant(h, TR_QV_PRIOR_SOFT, cv, x, pt, len, z, NULL, NULL, Cc[cv] + i * M, NULL);
    }
    h->ridge = keep;
    h->ridge_surf = keep_rs;
    if (!(sl->knn && Q[sl->knn]) && !(sl->kt && Q[sl->kt]) && !(sl->ks && Q[sl->ks]) && !(sl->ksr && Q[sl->ksr]))
        return;
    if (h->knn_n == 0) return;
    size_t d = D->d, nk = h->knn_n;
    const float *Xs = h->knn_X;
    if (h->knn_Xh) {
        tr_half_to_floats(h->knn_Xh, nk * d, Xf);
        Xs = Xf;
    }
    if (!tr_knn_whole_store(h) && knn_by_task(h, D, rows, nrows, Q, sl, scr, Xs)) return;
    for (size_t r0 = 0; r0 < nrows; r0 += TR_CV_KNN_BLOCK) {
        size_t nb = nrows - r0 < TR_CV_KNN_BLOCK ? nrows - r0 : TR_CV_KNN_BLOCK;
        for (size_t b = 0; b < nb; b++) {
            size_t i = rows ? rows[r0 + b] : r0 + b;
            memcpy(xb + b * d, D->X + i * d, d * sizeof *xb);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nk, (int)d, 1.0f, xb, (int)d,
                    Xs, (int)d, 0.0f, G, (int)nk);
        for (size_t b = 0; b < nb; b++) {
            size_t i = rows ? rows[r0 + b] : r0 + b;
            uint32_t lo[TR_HEADS_MAX_TOPK], hi[TR_HEADS_MAX_TOPK];
            float *sims = scr + 5 * M + nk;
            const float *g = G + b * nk;
            size_t nseg;
            if (tr_knn_whole_store(h)) {
                lo[0] = 0; hi[0] = (uint32_t)nk; nseg = 1;
                memcpy(sims, g, nk * sizeof *sims);
            } else {
                int32_t idx[TR_HEADS_MAX_TOPK];
                nseg = tr_gate_search(D->P + i * D->T, h->T, h->knn_tasks, h->knn_mass, idx);
                size_t o = 0;
                for (size_t s = 0; s < nseg; s++) {
                    lo[s] = h->knn_off[idx[s]]; hi[s] = h->knn_off[idx[s] + 1];
                    memcpy(sims + o, g + lo[s], (hi[s] - lo[s]) * sizeof *sims);
                    o += hi[s] - lo[s];
                }
            }
            knn_row(h, D, i, Q, sl, lo, hi, nseg, sims, scr);
        }
    }
}

