/* The task classifier P(task | x): multinomial logistic (softmax)
 * regression on unit embeddings, L2-regularised, trained by L-BFGS with
 * SGEMM for the batch logits and gradient.  The L2 strength is chosen on a
 * deterministic holdout inside the training data.  Prediction allocates
 * nothing, so it can sit on the routing hot path.  Also calibration and
 * accuracy helpers (ECE). */
#ifndef TR_CLASSIFIER_H
#define TR_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct tr_softmax {
    size_t T, d;      /* classes, input dimension */
    float *W;         /* T x d row-major */
    float *b;         /* T */
    double l2;        /* the L2 strength it was trained with */
} tr_softmax;

typedef struct tr_softmax_params {
    double l2;        /* L2 strength; < 0: choose from {1e-5,1e-4,1e-3,1e-2} on a holdout [-1] */
    int max_iter;     /* L-BFGS iterations [200] */
    double tol;       /* stop when max |gradient| < tol [1e-5] */
    uint64_t seed;    /* holdout split [42] */
    double holdout;   /* holdout fraction when choosing l2 [0.2] */
    size_t select_max;/* rows used to choose l2 (a deterministic sample) [20000] */
    int threads;      /* worker threads; 0 = all cores [0].  The fit does not depend on it */
    const struct tr_softmax *init;  /* start from this model's weights (T x d), borrowed; NULL: zeros [NULL] */
} tr_softmax_params;

void tr_softmax_params_default(tr_softmax_params *p);

/* Fit on n rows of X (n x d, borrowed) with labels y[i] in [0, T) (borrowed).
 * p may be NULL (defaults).  *out owned by the caller: tr_softmax_free.
 * Deterministic for a seed, whatever the thread count. */
int tr_softmax_fit(const float *X, size_t n, size_t d, const int32_t *y, size_t T,
                   const tr_softmax_params *p, tr_softmax **out, char *err, size_t errlen);

/* probs (T floats, caller's) = P(task | x) for one x (d floats, borrowed).
 * Allocates nothing; thread-safe on a shared model. */
void tr_softmax_predict(const tr_softmax *m, const float *x, float *probs);

/* probs (n x T, caller's) for n rows of X (borrowed), one SGEMM. */
void tr_softmax_predict_batch(const tr_softmax *m, const float *X, size_t n, float *probs);

/* The same, and *energy (energy[i] for the batch; NULL: not wanted) gets
 * -log sum_t exp(logit_t), the out-of-distribution score of classify/ood.h:
 * the softmax computes the log-sum-exp anyway, so it costs nothing. */
void tr_softmax_predict_energy(const tr_softmax *m, const float *x, float *probs, float *energy);
void tr_softmax_predict_batch_energy(const tr_softmax *m, const float *X, size_t n, float *probs, float *energy);

/* Append the model to b (version, T, d, l2, W, b).  Borrows m. */
void tr_softmax_save(const tr_softmax *m, tr_buf *b);

/* Read a model written by tr_softmax_save, validating counts against the
 * bytes that remain.  *out owned by the caller: tr_softmax_free.
 * Errors: TR_ETRUNC, TR_EFORMAT, TR_EVERSION. */
int tr_softmax_load(tr_cursor *c, tr_softmax **out, char *err, size_t errlen);

void tr_softmax_free(tr_softmax *m);

/* Expected calibration error (eval_metrics.c's binning) of n predictions: confidences conf[i] in
 * [0,1], correct[i] in {0,1}; 'bins' equal-width bins (10 is standard). */
double tr_ece_binary(const float *conf, const unsigned char *correct, size_t n, int bins);

/* Index of the largest of probs[0..T) (first on ties); *conf = its value
 * when conf is not NULL. */
size_t tr_argmax(const float *probs, size_t T, float *conf);

/* Fraction of rows whose argmax equals y[i], over n rows of probs (n x T). */
double tr_accuracy(const float *probs, size_t n, size_t T, const int32_t *y);

#endif
