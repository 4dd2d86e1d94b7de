/* The pieces tr_heads_train assembles, each in its own file: shrunk task
 * priors (prior.c), the top-k gate (gate.c), the ridge correction
 * (expert.c), calibration (calibrate.c), the cost model (cost.c), the
 * cost/quality frontier figures (frontier.c) and the risk bound (risk.c).
 * Internal to heads/; every array is row-major and borrowed unless a
 * comment says otherwise. */
#ifndef TR_HEADS_PARTS_H
#define TR_HEADS_PARTS_H

#include <stddef.h>
#include <stdint.h>

/* ---- prior.c */
/* Shrunk per-task means of a n x M label matrix V (NaN = no label) over the
 * rows 'rows' (nrows of them; NULL = 0..n-1) with hard labels y in [0,T):
 *   mu[t,m] = (sum_{i in t} V_im + k0 * g_m) / (n_tm + k0)
 * where g_m is m's mean over all labelled rows.  A model with no label at
 * all gets g_m = mu[.,m] = NaN.  mu (T x M), g (M) and cnt (T x M, may be
 * NULL) are the caller's. */
void tr_prior_fit(const float *V, size_t M, const int32_t *y, size_t T,
                  const size_t *rows, size_t nrows, double k0, float *mu,
                  float *g, float *cnt);
/* The same from label sums and counts per task x model (T x M each, e.g.
 * added up over several machines): g_m from their totals. */
void tr_prior_from_sums(const double *sum, const double *num, size_t T, size_t M, double k0,
                        float *mu, float *g);

/* ---- gate.c */
/* The k most probable tasks of p (T values; ties -> lower index) into
 * idx[k], their probabilities renormalised to sum 1 into w[k] (uniform when
 * they sum to 0).  Returns the number used, min(k, T). */
size_t tr_gate_topk(const float *p, size_t T, size_t k, int32_t *idx, float *w);
/* The tasks a kNN search reads: the most probable first (idx, as
 * tr_gate_topk), stopping once their probabilities reach mass, at most k
 * (<= TR_HEADS_MAX_TOPK) of them; mass 0 or >= 1: always min(k, T).  A
 * prompt the classifier is sure of searches one task, an ambiguous one
 * more.  Returns how many. */
size_t tr_gate_search(const float *p, size_t T, size_t k, float mass, int32_t *idx);
/* out[m] = sum_j w[j] * tab[idx[j], m] over M models. */
void tr_gate_mix(const float *tab, size_t M, const int32_t *idx,
                 const float *w, size_t k, float *out);

/* ---- expert.c */
/* Per-model ridge regression of the residual V_im - base[y_i, m] on [x_i, 1]
 * over the labelled rows of 'rows' (the intercept is not penalised).
 * One fit per penalty alphas[k] into Ws[k] (M x (d+1) each, the caller's);
 * a model without labels gets zeros.  Uses BLAS for the Gram matrix and
 * LAPACKE (dposv) per model and penalty. */
int tr_expert_fit(const float *X, size_t d, const float *V, size_t M,
                  const float *base, const int32_t *y, const size_t *rows,
                  size_t nrows, const double *alphas, size_t na, float *const *Ws,
                  char *err, size_t errlen);
/* Rows gathered per SSYRK call by tr_expert_gram_add. */
#define TR_EXPERT_BLOCK 2048
/* G (D x D, D = d+1, upper triangle, double) += sign * [Xr 1]^T [Xr 1] over
 * the rows idx[0..nidx) of X (n x d).  buf: TR_EXPERT_BLOCK*(d+1) floats,
 * gb: D*D floats, both scratch. */
void tr_expert_gram_add(const float *X, size_t d, const size_t *idx, size_t nidx,
                        double sign, double *G, float *buf, float *gb);
/* One model's ridge weights w (d+1 floats) from its normal equations: A
 * (D x D upper triangle, the Gram matrix of its nl labelled rows) and rhs0
 * (D), with penalty alpha on the first d weights and a tiny one on the
 * intercept.  A2 (D x D) and rhs (D) are scratch.  TR_EDEP naming 'model'
 * when LAPACK fails. */
int tr_expert_solve(const double *A, const double *rhs0, size_t d, size_t nl, double alpha,
                    double *A2, double *rhs, float *w, size_t model, char *err, size_t errlen);
/* out[m] += W[m,:d] . x + W[m,d] for models whose out[m] is not NaN;
 * corr: M floats of the caller's scratch. */
void tr_expert_apply(const float *W, size_t d, size_t M, const float *x, float *out, float *corr);

/* ---- knn_smooth.c */
/* Similarities of x to the stored rows Xs (n x d, unit) of the segments
 * [lo[s], hi[s]), concatenated into sims. */
void tr_knn_sims(const float *Xs, size_t d, const uint32_t *lo, const uint32_t *hi,
                 size_t nseg, const float *x, float *sims);
/* The same over rows stored as half (half.h's gemv). */
void tr_knn_sims_half(const uint16_t *Xs, size_t d, const uint32_t *lo, const uint32_t *hi,
                      size_t nseg, const float *x, float *sims);
/* S (n x M, NaN = no label) packed into out (n x 2M): each row [score, 0
 * where unlabelled | 1 where labelled, else 0]. */
void tr_knn_pack(const float *S, size_t n, size_t M, float *out);
/* One packed row (2M) back to M scores with NaN for no label. */
void tr_knn_unpack_row(const float *packed, size_t M, float *S);
/* The kNN estimate from those similarities: the k largest (ties: earlier
 * rows; k = 0: every candidate) weighted by max(sim,0)^p (tau == 0) or
 * exp((sim-1)/tau) (tau > 0) over the labelled entries of Ss (n x 2M,
 * packed by tr_knn_pack), shrunk to prior by kk0.
 * work: 2M + (number of candidates) floats. */
void tr_knn_combine(const float *Ss, size_t M, const uint32_t *lo, const uint32_t *hi,
                    size_t nseg, const float *sims, size_t k, float p, float tau, float kk0,
                    const float *prior, float *out, float *work);

/* ---- cost.c */
/* Length model per model over its labelled rows: least squares of cost on
 * [1, len] (b = 0 when the lengths do not vary), then each task's mean
 * residual shrunk toward 0 by n/(n+k0).  ab is M x 2, res T x M, cmin M
 * (the least observed cost, the prediction's floor); NaN for models
 * without any cost. */
void tr_cost_fit_len(const float *C, const float *lens, size_t M,
                     const int32_t *y, size_t T, const size_t *rows,
                     size_t nrows, double k0, float *ab, float *res, float *cmin);
/* The same from sums over the costed rows: len5 (M x 5: count, sum of
 * lengths, of costs, of squared lengths, of length x cost), cmin_obs (M
 * least costs), and per task x model (T x M) the sum of costs sc, their
 * count nc and the sum of those rows' lengths sl. */
void tr_cost_len_from_sums(const double *len5, const double *cmin_obs, const double *sc, const double *nc,
                           const double *sl, size_t M, size_t T, double k0, float *ab, float *res, float *cmin);

/* ---- calibrate.c */
enum { TR_CAL_IDENTITY = 0, TR_CAL_PLATT = 1, TR_CAL_ISOTONIC = 2 };
/* Platt scaling on the logit of the prediction: cal(p) = σ(a logit(p) + b),
 * fitted by Newton's method on the log loss (targets may be fractional). */
void tr_platt_fit(const float *pred, const float *y, size_t n, float *a, float *b);
float tr_platt_apply(float a, float b, float p);
/* Isotonic regression (pool adjacent violators) of y on pred; the knots are
 * the pooled blocks' (mean pred, mean y), interpolated linearly between
 * them and flat outside.  kx, ky: n floats each, the caller's; *nk gets the
 * knot count.  TR_OK or TR_ENOMEM. */
int tr_isotonic_fit(const float *pred, const float *y, size_t n, float *kx,
                    float *ky, size_t *nk);
float tr_isotonic_apply(const float *kx, const float *ky, size_t nk, float p);
/* Expected calibration error by eval_metrics.c's binning (tr_ece_bins);
 * NaN pairs skipped, 0 when nothing is left. */
double tr_ece(const float *pred, const float *y, size_t n, int bins);

/* ---- frontier.c */
typedef struct tr_frontier_ref {
    double q_best, c_best, q_oracle, c_lo, c_hi;
} tr_frontier_ref;
typedef struct tr_frontier_figs {
    double q_at_cbest, gap, c_at_qbest, saving, q_max, c_qmax, aiq_lin, aiq_log;
    size_t n_hull;
} tr_frontier_figs;
/* Reference figures (eval_metrics.c's tr_eval_reference) of the complete
 * rows 'rows' (NULL: 0..n-1) of an n x M score/cost pair.  TR_OK, TR_ENOMEM
 * or TR_EINVAL (n or M zero). */
int tr_frontier_ref_compute(const float *S, const float *C, size_t n, size_t M,
                            const size_t *rows, tr_frontier_ref *ref);
/* docs/evaluation.md figures of the sweep points (cost[i], qual[i]); np >= 1.
 * Returns TR_OK or TR_ENOMEM. */
int tr_frontier_figures(const double *cost, const double *qual, size_t np,
                        const tr_frontier_ref *ref, tr_frontier_figs *out);

/* ---- risk.c */
/* Clopper-Pearson one-sided upper bound: the p with P(Bin(n, p) <= k) = δ
 * (1 when k >= n). */
double tr_cp_upper(size_t k, size_t n, double delta);

#endif
