/* The heads' cross-validation, shared by heads_train.c (the folds),
 * cv_fold_predict.c (every variant's predictions for a fold's held-out
 * rows) and cv_choose.c (sweeps, scores and the choice of a variant).
 * Internal. */
#ifndef TR_HEADS_CV_H
#define TR_HEADS_CV_H

#include <stddef.h>
#include <stdint.h>

#include "heads/heads_impl.h"
#include "heads/parts.h"

/* Rows per blocked SGEMM of the whole-store kNN path. */
#define TR_CV_KNN_BLOCK 128
/* Floats of scratch per CV worker. */
#define TR_CV_SCRATCH(M, n, d) (5 * (M) + 2 * (n) + 1 + (d) + TR_HEADS_SURF + 2 * (M))

/* The training rows that every fit and prediction of the CV reads. */
typedef struct tr_cv_data {
    const float *X, *P, *S, *C, *L;
    const int32_t *y;
    size_t n, d, T, M;
    const float *Z;     /* n x TR_HEADS_SURF raw surface features, or NULL */
    const float *Xa;    /* n x (d + nsurf): [X, standardised Z], or NULL */
    size_t knn_cap;     /* tr_heads_params.knn_cap; 0 = no cap */
    int threads;        /* tr_heads_params.threads, resolved */
} tr_cv_data;

/* A quality "slot" is a variant at one setting: 0 hard, 1 soft, 2..2+na-1
 * ridge at alphas[k], then kNN, the ensemble, kNN-tau, ridge-surface at
 * alphas[k] (na slots from rs) and the kNN-tau/ridge-surface ensemble (each
 * when trained). */
typedef struct tr_cv_slots {
    size_t n, na;               /* count; ridge penalties */
    size_t knn, ens, kt, rs, ekr, ks, ksr;   /* their slots (0: not trained) */
} tr_cv_slots;

/* The quality variant of slot s. */
int tr_cv_slot_qv(const tr_cv_slots *sl, size_t s);

/* Predictions of the prior, ridge, ridge-surface and kNN slots (Ws[k],
 * Wrs[k]: ridge and ridge-surface weights at alphas[k]; NULL: h->ridge and
 * h->ridge_surf for the first) and of every cost variant for the rows, into
 * row i of Q[slot] and Cc[cv] (NULL entries skipped).  The ensemble slots
 * are filled by the caller from the others.  kNN similarities go through
 * SGEMM instead of one SGEMV per row: per task, over the rows that search
 * it, when rows search only their top tasks (on D->threads workers); else a
 * blocked SGEMM against the whole store.  All kNN kernels share them.
 * scr: TR_CV_SCRATCH(M, n, d) floats; G: TR_CV_KNN_BLOCK x knn_n; Xf:
 * knn_n x d, the half store widened to float for SGEMM (the same values
 * routing reads, summed in another order). */
void tr_cv_predict_rows(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows,
                        float **Q, const tr_cv_slots *sl, float *const *Ws, float *const *Wrs,
                        float **Cc, float *scr, float *G, float *xb, float *Xf);

/* Quality slots at most: hard, soft, kNN, ensemble, kNN-tau, the
 * kNN-tau/ridge-surface ensemble, kNN-sup twice, and a ridge and a
 * ridge-surface slot per penalty. */
#define TR_CV_MAX_SLOTS (8 + 2 * TR_HEADS_MAX_ALPHAS)
_Static_assert(TR_CV_MAX_SLOTS <= sizeof ((tr_heads_oof *)0)->Q / sizeof(float *), "tr_heads_oof holds every slot");

/* The slot of variant qv (ridge ones at penalty index ai). */
size_t tr_cv_qv_slot(const tr_cv_slots *sl, int qv, size_t ai);

/* The λ grid of nl points: 0, nl - 2 points log-spaced over [1e-3, 1e3] /
 * scale (scale: the mean observed cost), and +inf. */
void tr_cv_lambda_grid(double *lam, size_t nl, double scale);

/* The index of penalty alpha in p->ridge_alphas (0 when absent). */
size_t tr_cv_alpha_index(const tr_heads_params *p, double alpha);

/* The CV's sweeps are independent (one per quality slot and cost variant),
 * so they run on worker threads first; tr_cv_score_slot then reads them in the
 * usual order, and the CV rows are the same whatever the thread count. */
typedef struct tr_cv_sweeps {
    size_t n;                   /* pairs: slot s, cost variant cv */
    size_t slot[TR_CV_MAX_SLOTS * TR_CV_COUNT];
    int cv[TR_CV_MAX_SLOTS * TR_CV_COUNT];
    double *pc, *pq, ece[TR_CV_MAX_SLOTS * TR_CV_COUNT];   /* n x nl costs and qualities; ECE */
} tr_cv_sweeps;

/* Sweep every cost variant of the slots with want[s] set into W (W->pc and
 * W->pq allocated by the caller for every pair), on D->threads workers. */
void tr_cv_sweep_all(const tr_cv_data *D, const tr_heads *h, size_t nslots, const unsigned char *want, float *const *Q,
                     float *const *Cc, const size_t *ev, size_t nev, const double *lam, size_t nl, tr_cv_sweeps *W);

/* Score Q[slot] with every cost variant on the eval rows ev into new CV rows
 * of h (h->cvrows, h->n_cv); the sweeps from W when it holds them (W may be
 * NULL), else done here in pc, pq (nl each).  TR_ENOMEM possible. */
int tr_cv_score_slot(tr_heads *h, const tr_cv_data *D, const tr_cv_slots *sl, size_t s, float **Q, float **Cc,
                     const size_t *ev, size_t nev, const double *lam, size_t nl, double *pc,
                     double *pq, const tr_frontier_ref *ref, const tr_heads_params *params, const tr_cv_sweeps *W);

/* TR_CRIT_RANKSUM: each row's crit = -(its rank by gap + by saving + by
 * AIQ_log among the eligible rows). */
void tr_cv_rank_sum(tr_heads_cvrow *rows, size_t n);

/* The best CV row of variant only_qv, or (only_qv < 0) of the eligible
 * rows; ties -> the earlier, simpler row; -1 if none. */
long tr_cv_best_row(const tr_heads *h, const tr_heads_params *p, int only_qv);

/* Hand every slot's out-of-fold predictions Q to params->oof; returns its
 * status. */
int tr_cv_give_oof(const tr_heads_params *params, const tr_cv_slots *sl, float *const *Q, const int32_t *fold,
                   size_t n, size_t M, size_t best_slot);

#endif
