/* Stage 2 of the router: expert heads that predict every model's quality on a
 * prompt, the gate that mixes them by task probability, per-model
 * calibration, the cost model and the tables selection needs (budget -> λ,
 * risk α -> threshold).  Everything works on plain arrays so it can be
 * trained and tested without the embedder or the clustering.
 *
 * Training (tr_heads_train) fits every predictor variant, chooses the one the
 * router uses by K-fold cross-validation inside the training rows (the
 * criterion is a figure of EVAL.md computed on the folds' λ sweep), and keeps
 * all variants available so an evaluation can print them side by side
 * (tr_heads_predict_variant).  Prediction allocates nothing. */
#ifndef TR_HEADS_H
#define TR_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "heads/select.h"

#define TR_HEADS_MAX_ALPHAS 8
#define TR_HEADS_SURF 10   /* surface features per prompt (surface.c) */

/* The ten surface ("format") features of a prompt (heads/surface.c lists
 * them) into out[TR_HEADS_SURF], raw (the heads standardise them).  Pure,
 * no allocation, O(len); prompt borrowed (NULL with len 0: an empty one). */
void tr_surface_features(const char *prompt, size_t len, float out[TR_HEADS_SURF]);

/* Quality predictors.  Values are file format: append only. */
typedef enum tr_qvariant {
    TR_QV_PRIOR_HARD = 0,  /* shrunk task prior of the most probable task */
    TR_QV_PRIOR_SOFT = 1,  /* top-k task priors mixed by P(t|x), renormalised */
    TR_QV_RIDGE = 2,       /* soft prior + ridge correction on the embedding */
    TR_QV_KNN = 3,         /* kNN-smoothed neighbours' scores shrunk to the soft prior */
    TR_QV_ENSEMBLE = 4,    /* (soft prior + kNN + ridge) / 3 (the reference recipe's ensemble) */
    TR_QV_KNN_TAU = 5,     /* kNN with weights exp((cos - 1) / tau) (knn_smooth.c) */
    TR_QV_RIDGE_SURF = 6,  /* soft prior + ridge correction on [embedding, surface features] (b, c) */
    TR_QV_ENS_KT_RS = 7,   /* (kNN-tau + ridge-surface) / 2 */
    TR_QV_KNN_SUP = 8,     /* kNN-tau in a supervised space: [x, beta z(x)], z the
                              standardised prior+ridge prediction (knn_sup.c) */
    TR_QV_KNN_SUP_RIDGE = 9,  /* kNN-sup whose mean is shrunk to its own prior+ridge
                                 prediction instead of the soft prior (knn_sup.c) */
    TR_QV_COUNT
} tr_qvariant;

/* Cost predictors.  File format: append only. */
typedef enum tr_cvariant {
    TR_CV_TASK = 0,        /* shrunk per-task mean cost, gated like the prior */
    TR_CV_LEN = 1,         /* a_m + b_m * prompt bytes + gated per-task residual */
    TR_CV_COUNT
} tr_cvariant;

/* What cross-validation maximises (EVAL.md figures on the folds' sweep). */
typedef enum tr_cv_criterion {
    TR_CRIT_AIQ_LIN = 0,
    TR_CRIT_AIQ_LOG = 1,
    TR_CRIT_Q_AT_CBEST = 2,
    TR_CRIT_AIQ_MEAN = 3,  /* (AIQ_lin + AIQ_log) / 2 */
    /* sum over gap captured, cost saving and AIQ_log of each eligible
     * row's rank among the eligible rows (best = 0; ties -> the earlier
     * row); the least sum wins (the reference recipe's CV procedure) */
    TR_CRIT_RANKSUM = 4
} tr_cv_criterion;

struct tr_heads_oof;

/* The most tasks gate_top_k and knn_tasks may name. */
#define TR_HEADS_MAX_TOPK 64

typedef struct tr_heads_params {
    double k0;             /* prior shrinkage pseudo-count: n/(n+k0) weight on the task mean [30] */
    double cost_k0;        /* the same for per-task costs [10] */
    int gate_top_k;        /* tasks mixed per prompt [4] */
    /* ridge penalties of the prompt-level correction that CV compares
     * (the first n_ridge_alphas entries) [{100}, 1: the reference recipe's constant] */
    double ridge_alphas[TR_HEADS_MAX_ALPHAS];
    int n_ridge_alphas;
    int knn_k;             /* neighbours of the kNN estimate; 0 disables kNN and ensemble [200] */
    double knn_k0;         /* pseudo-count shrinking the kNN mean to the prior [5] */
    double knn_p;          /* neighbour weight max(cos, 0)^p [3] */
    int knn_tau_k;         /* neighbours of the kNN-tau variant; 0 disables it and
                              the kNN-tau/ridge-surface ensemble [400] */
    double knn_tau;        /* its weight exp((cos - 1) / tau) [0.1] */
    /* kNN-sup: weight w of the predicted-score block in the similarity
     * (beta^2 = w / M, so w = 1 weighs it about like the unit embedding);
     * 0 disables the variant (and kNN-sup-ridge, which shares its store).
     * Uses knn_tau_k and knn_tau.  [0.25: the
     * best of {1/32 .. 4} in the training-split CV on llmrouter; on
     * mmlu-pro smaller is better and CV keeps knn-tau] */
    double sup_w;
    double sup_alpha;      /* ridge penalty of kNN-sup's z; 0: ridge_alphas[0] [0] */
    int knn_tasks;         /* search only the prompts of the g most probable tasks;
                              0 = all training prompts (exact, as the recipe; ~6x
                              slower: 275 vs 45 us on mmlu-pro, same CV AIQ) [2] */
    double knn_mass;       /* ...but stop at fewer tasks once their probabilities
                              sum to knn_mass: a prompt the classifier is sure of
                              searches one task; 0 = always knn_tasks [0.9] */
    int knn_cap;           /* at most this many prompts of a task in the kNN store, a
                              fixed pseudo-random sample of a larger task; 0 = all.
                              Bounds a decision's kNN work and the CV's, which
                              otherwise grow with the training set once the task
                              count stops growing [1024: above every task of the
                              shared datasets, so their routers are unchanged] */
    int cv_folds;          /* K of the cross-validation; < 2: no CV (forced variants) [5] */
    int threads;           /* worker threads for the CV's kNN rows; 0 = all cores [0].
                            * The result does not depend on it */
    int qvariant;          /* >= 0: forced; < 0: chosen by CV among qv_mask [-1] */
    int cvariant;          /* >= 0: forced; < 0: chosen by CV among cv_mask [-1] */
    /* Variants CV may choose (bit v = variant v); the others are still
     * trained and reported for ablations.  Defaults follow the reference recipe's
     * candidates: soft prior, ridge, kNN, ensemble; cost length+task (the
     * task mean when no lengths are given). */
    unsigned qv_mask;      /* [0xFE: all but the hard prior] */
    unsigned cv_mask;      /* [0x2] */
    int criterion;         /* tr_cv_criterion [TR_CRIT_RANKSUM, as the reference recipe] */
    int n_lambda;          /* λ sweep size for CV and the budget table [101] */
    double risk_delta;     /* confidence 1-δ of the risk guarantee [0.1] */
    uint64_t seed;         /* fold assignment when fold == NULL [42] */
    const int32_t *fold;   /* optional fold id per row in [0, cv_folds); borrowed */
    /* optional n x TR_HEADS_SURF raw surface features of the training
     * prompts (tr_surface_features); borrowed.  NULL: no ridge-surface or
     * kNN-tau/ridge-surface variants (e.g. caller-supplied embeddings, where
     * routing never sees a prompt) */
    const float *surf;
    tr_progress_fn progress;  /* called after each CV fold; NULL: none */
    void *progress_ctx;
    /* called once, after cross-validation has chosen, with every head's
     * out-of-fold predictions; a non-zero return stops training with that
     * code, the callback having described the failure.  Set, it needs
     * cross-validation (TR_EINVAL without).  NULL: none [NULL] */
    int (*oof)(void *ctx, const struct tr_heads_oof *o);
    void *oof_ctx;
} tr_heads_params;

/* Out-of-fold predictions: row i of head h, model m is Q[h][i * M + m]
 * (NaN where the head cannot predict), made by the heads fitted without
 * row i's fold.  All borrowed for the call. */
typedef struct tr_heads_oof {
    size_t n, M, n_heads;
    const char *name[8 + 2 * TR_HEADS_MAX_ALPHAS];  /* variant names; "@alpha" added when CV tried several */
    const float *Q[8 + 2 * TR_HEADS_MAX_ALPHAS];
    const int32_t *fold;       /* n fold ids */
    const char *chosen;        /* the name CV chose */
} tr_heads_oof;

void tr_heads_params_default(tr_heads_params *p);

/* Restrict the variants CV may choose to a comma-separated list of variant
 * names (tr_qvariant_name), and turn off what none of them reads: the kNN
 * store (knn_k, knn_tau_k = 0) and the surface features (surf = NULL), so
 * that they are neither trained nor saved.  TR_EINVAL naming an unknown or
 * empty name. */
int tr_heads_params_restrict(tr_heads_params *p, const char *list, char *err, size_t errlen);
/* 1 when a variant CV may choose reads surface features (so training
 * needs them in p->surf). */
int tr_heads_params_want_surface(const tr_heads_params *p);
/* The parameters' own ranges (gate_top_k, knn_tasks, ...), checked before
 * any data is seen: TR_ERANGE / TR_EINVAL with a message. */
int tr_heads_params_check(const tr_heads_params *p, char *err, size_t errlen);

/* Trained heads; immutable after training or loading, share across threads. */
typedef struct tr_heads tr_heads;

/* Figures of one (quality, cost) variant pair on the CV folds. */
typedef struct tr_heads_cvrow {
    int qv, cv;
    int eligible;          /* 1 when CV could choose this row */
    double alpha;          /* ridge penalty (ridge and ensemble rows), else 0 */
    double aiq_lin, aiq_log, q_at_cbest, gap, saving, q_max, ece, crit;
} tr_heads_cvrow;

/* Train on n rows.  All arrays are borrowed, row-major:
 *   X      n x d unit embeddings (may be NULL when d == 0: no ridge/kNN)
 *   P      n x T task probabilities (NULL: one-hot from y)
 *   y      n hard task labels in [0, T) (NULL: argmax of P)
 *   scores n x M quality in [0,1], NaN = no label (skipped, never imputed)
 *   costs  n x M USD, NaN = no label
 *   lens   n prompt lengths in bytes (NULL: no length cost model)
 * *out is owned by the caller: tr_heads_free. */
int tr_heads_train(const float *X, const float *P, const int32_t *y, size_t n,
                   size_t d, size_t T, const float *scores, const float *costs,
                   const float *lens, size_t M, const tr_heads_params *params,
                   tr_heads **out, char *err, size_t errlen);

void tr_heads_free(tr_heads *h);   /* NULL is a no-op */

/* The reference recipe's CV folds: record i goes to fold (fnv1a64(id_i) / 5) % K
 * (independent of the test rule fnv1a64 % 5 == 0).  lens may be NULL
 * (NUL-terminated ids).  fold (n) is the caller's; pass it as params.fold,
 * and compute the task probabilities P of training rows out of fold on the
 * same folds. */
void tr_heads_folds_from_ids(const char *const *ids, const size_t *lens, size_t n, int K,
                             int32_t *fold);

size_t tr_heads_models(const tr_heads *h);
size_t tr_heads_tasks(const tr_heads *h);
size_t tr_heads_dim(const tr_heads *h);
int tr_heads_qvariant(const tr_heads *h);   /* the variant predict uses */
/* 1 when the chosen variant reads the surface features: tr_route computes
 * them only then. */
int tr_heads_uses_surface(const tr_heads *h);
int tr_heads_cvariant(const tr_heads *h);
double tr_heads_ridge_alpha(const tr_heads *h);   /* the penalty CV chose */
double tr_heads_surf_alpha(const tr_heads *h);    /* the same for the ridge-surface head (0: none) */
/* 1 when variant qv (cv) was trained and can be asked for. */
int tr_heads_has_qvariant(const tr_heads *h, int qv);
int tr_heads_has_cvariant(const tr_heads *h, int cv);
/* CV table: *rows owned by h; n_rows 0 when CV did not run. */
const tr_heads_cvrow *tr_heads_cv_table(const tr_heads *h, size_t *n_rows);
/* Out-of-fold ECE (10 bins, every labelled (prompt, model) pair) of the
 * chosen variant before and after calibration. */
void tr_heads_ece(const tr_heads *h, double *raw, double *calibrated);
/* Model m's calibration: 0 identity, 1 Platt, 2 isotonic. */
int tr_heads_calibration_kind(const tr_heads *h, size_t m);
/* Selection tables (budget, risk) owned by h. */
const tr_select_tables *tr_heads_tables(const tr_heads *h);
/* The default policy training fitted (select_tables.c): 1 and *out filled
 * for heads trained in this process, 0 for heads loaded from a file (the
 * router's config keeps it). */
int tr_heads_default_policy(const tr_heads *h, tr_policy_estimate *out);
const char *tr_qvariant_name(int qv);   /* static strings */
const char *tr_cvariant_name(int cv);

/* Floats of scratch predict needs. */
size_t tr_heads_scratch_floats(const tr_heads *h);

/* Predict one prompt with the chosen variants: x (d floats, unit),
 * p_task (T floats), prompt_len bytes, surf the prompt's TR_HEADS_SURF raw
 * surface features (tr_surface_features) or NULL when there is no prompt
 * (caller-supplied embeddings): then the training mean is used, i.e. zero
 * after standardisation.  Writes q_out[M] (raw quality),
 * qcal_out[M] (calibrated; may be NULL) and c_out[M] (USD); NaN for a model
 * without any label.  scratch: tr_heads_scratch_floats(h) floats of the
 * caller's.  Allocates nothing; all arguments borrowed. */
int tr_heads_predict(const tr_heads *h, const float *x, const float *p_task,
                     size_t prompt_len, const float *surf, float *q_out, float *qcal_out,
                     float *c_out, float *scratch);
/* The same with any trained variant pair (ablations).  TR_EINVAL when the
 * variant was not trained.  q_out or c_out may be NULL: not computed. */
int tr_heads_predict_variant(const tr_heads *h, int qv, int cv, const float *x,
                             const float *p_task, size_t prompt_len, const float *surf,
                             float *q_out, float *qcal_out, float *c_out,
                             float *scratch);

/* Serialise into the router file's four sections (HEAD, CALB, COST, SELC).
 * The buffers are the caller's (initialised); check tr_buf_ok after. */
void tr_heads_save(const tr_heads *h, tr_buf *heads, tr_buf *calib,
                   tr_buf *cost, tr_buf *select);
/* Load from the four sections' bytes (borrowed; copied).  Every count is
 * checked against the bytes that remain before allocating.  *out owned by
 * the caller: tr_heads_free. */
int tr_heads_load(const void *heads, size_t heads_len, const void *calib,
                  size_t calib_len, const void *cost, size_t cost_len,
                  const void *select, size_t select_len, tr_heads **out,
                  char *err, size_t errlen);

#endif
