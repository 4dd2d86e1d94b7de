/* The steps of tr_heads_train (heads_train.c) that are not the
 * cross-validation itself (cv.h): fitting the components on a set of rows
 * (fit_parts.c), per-model calibration (calibrate.c) and the selection
 * tables (select_tables.c).  Internal to heads/. */
#ifndef TR_HEADS_TRAIN_STEPS_H
#define TR_HEADS_TRAIN_STEPS_H

#include <stddef.h>

#include "heads/cv.h"
#include "heads/heads_impl.h"

/* Fit h's components (allocated, masks set) on rows (NULL: every row).
 * Ridge: one fit per penalty alphas[k] into Ws[k] when Ws is given, else
 * h->ridge at h->ridge_alpha; the ridge-surface head likewise into Wrs[k]
 * or h->ridge_surf at h->rs_alpha. */
int tr_heads_fit_parts(tr_heads *h, const tr_cv_data *D, const size_t *rows, size_t nrows,
                       const double *alphas, size_t na, float *const *Ws, float *const *Wrs,
                       char *err, size_t errlen);

/* Standardise the n rows of surface features surf (n x TR_HEADS_SURF,
 * borrowed) into h->surf_mean and h->surf_scale (h->nsurf of them) and
 * return the rows [X, z] (n x (d + nsurf), owned by the caller: tr_free);
 * NULL when out of memory. */
float *tr_heads_fit_surface(tr_heads *h, const float *X, const float *surf, size_t n, size_t d);

/* Set up f (zeroed, owned by the caller) as h's twin for the CV folds:
 * h's settings and masks, every part allocated but the ridge and
 * ridge-surface weights, which the folds fit into arrays of their own.
 * TR_ENOMEM possible. */
int tr_heads_fold_twin(tr_heads *f, const tr_heads *h);

/* Per-model calibration of h on (out-of-fold) predictions Q (D->n x D->M)
 * against the scores: isotonic from 200 labels, else Platt, else identity.
 * TR_ENOMEM possible. */
int tr_heads_fit_calibration(tr_heads *h, const tr_cv_data *D, const float *Q);
/* Model m's calibrated quality for raw prediction q. */
float tr_heads_cal_apply(const tr_heads *h, size_t m, float q);

/* The budget table from the λ grid (lam, nl; the last λ infinite) and the
 * risk table at confidence 1 - delta, on predictions Q (raw), Qcal
 * (calibrated) and predicted costs Cc.  TR_ENOMEM possible. */
int tr_heads_build_budget(tr_heads *h, const tr_cv_data *D, const float *Q, const float *Cc,
                          const double *lam, size_t nl);
int tr_heads_build_risk(tr_heads *h, const tr_cv_data *D, const float *Qcal, const float *Cc,
                        double delta);
/* The default policy, "the best single model's quality at the least cost",
 * on the same rows and predictions as the budget table: the λ of the grid
 * whose selection costs least while its mean quality reaches the best
 * single model's (observed scores and costs, predictions where a row lacks
 * one); when no λ reaches it, the λ of highest quality.  Sets h->dp.
 * TR_ENOMEM possible. */
int tr_heads_fit_default(tr_heads *h, const tr_cv_data *D, const float *Q, const float *Cc,
                         const double *lam, size_t nl);

#endif
