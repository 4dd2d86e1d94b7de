/* The heads' cross-validation, shared by heads/train.c (fits, sweeps,
 * the choice of a variant) and heads/cv_fold_predict.c (every variant's
 * predictions for a fold's held-out rows).  Internal. */
#ifndef TR_HEADS_CV_H
#define TR_HEADS_CV_H

#include <stddef.h>
#include <stdint.h>

#include "heads/heads_impl.h"

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

#endif
