/* The figures of the evaluation protocol (docs/evaluation.md), on plain arrays, so that
 * every router, baseline and outside peer is scored by the same few lines of
 * code.  They live in base/ because the task classifier and the heads score
 * with them too, below the evaluation driver (eval/evaluate.c).
 *
 * Conventions (docs/evaluation.md leaves them open; these match an independent Python
 * reference implementation to 1e-9):
 *   hull   sort the sweep by (cost, quality); of equal costs keep the best
 *          quality; upper hull by Andrew's monotone chain (a point on or
 *          below the chord of its neighbours is dropped); then cut after the
 *          first highest-quality vertex, so the hull rises strictly in cost
 *          and no vertex is dominated (costlier and not better).
 *   Q@C    linear interpolation between vertices; flat past the last vertex;
 *          NaN below the first (cheapest) vertex: the router cannot spend
 *          that little, so it has no quality there (gap captured is NaN too).
 *   C@Q    least hull cost with quality >= Q (interpolated on the segment
 *          that crosses Q); +inf when the hull never reaches Q.
 *   AIQ    the interpolant above (linear in cost on both axes) integrated
 *          exactly over [c_lo, c_hi], extended flat to c_hi, counted as 0
 *          below the first vertex; divided by c_hi - c_lo, or on the log
 *          axis integrated in d(log10 c) and divided by log10(c_hi/c_lo).
 *   ECE    predictions clipped to [0,1]; 10 equal-width bins (1.0 falls in
 *          the last); sum over bins of (share of items) * |mean predicted -
 *          mean realised|.
 * Nothing here allocates except tr_eval_figures with hull == NULL. */
#ifndef TR_EVAL_METRICS_H
#define TR_EVAL_METRICS_H

#include <stddef.h>

/* docs/evaluation.md: a router with a knob is swept over at least this many settings
 * (callers check; the metrics themselves accept any n >= 1, e.g. a single
 * model's one point). */
#define TR_EVAL_MIN_SWEEP 41

typedef struct tr_point {
    double cost;    /* mean cost per query (USD) */
    double quality; /* mean quality in [0, 1] */
} tr_point;

/* The reference figures a router is compared with. */
typedef struct tr_eval_ref {
    size_t best;      /* index of the best single model */
    double q_best;    /* its mean quality and mean cost */
    double c_best;
    double q_oracle;  /* per-prompt best score, cheapest among ties: mean quality, mean cost */
    double c_oracle;
    double c_lo;      /* cheapest and costliest single model's mean cost */
    double c_hi;
} tr_eval_ref;

typedef struct tr_eval_figures {
    double q_at_cbest;  /* hull quality at C_best; NaN below the hull's first vertex */
    double gap;         /* (Q@C_best - Q_best) / (Q_oracle - Q_best); NaN if undefined */
    double c_at_qbest;  /* least hull cost reaching Q_best, as a fraction of C_best; +inf if never */
    double saving;      /* 1 - c_at_qbest (-inf if never) */
    double q_max;       /* hull's highest quality and its cost */
    double c_at_qmax;
    double aiq_lin;     /* area under the hull / (c_hi - c_lo); NaN if c_hi <= c_lo */
    double aiq_log;     /* same on a log10 cost axis; NaN if c_lo <= 0 or c_hi <= c_lo */
    size_t hull_n;      /* vertices in the hull */
} tr_eval_figures;

/* The hull of n >= 1 sweep points (convention above).  'pts' borrowed;
 * 'hull' is the caller's array of capacity n (may be pts itself); *hull_n
 * receives the vertex count.  TR_EINVAL (message in err) for n == 0 or a
 * non-finite point. */
int tr_eval_hull(const tr_point *pts, size_t n, tr_point *hull, size_t *hull_n, char *err, size_t errlen);

/* Quality of the hull (h >= 1 vertices from tr_eval_hull) at 'cost'. */
double tr_eval_quality_at(const tr_point *hull, size_t h, double cost);
/* Least cost at which the hull reaches 'quality'; +inf if it never does. */
double tr_eval_cost_at(const tr_point *hull, size_t h, double quality);
/* Average quality under the hull between c_lo and c_hi (log10 axis when
 * log_axis is 1). */
double tr_eval_aiq(const tr_point *hull, size_t h, double c_lo, double c_hi, int log_axis);

/* Every per-router figure from the sweep.  'sweep' and 'ref' borrowed;
 * 'hull' the caller's array of capacity n that receives the hull, or NULL
 * (then a temporary is allocated: TR_ENOMEM possible).  'out' the caller's. */
int tr_eval_figures_compute(const tr_point *sweep, size_t n, const tr_eval_ref *ref, tr_point *hull,
                            tr_eval_figures *out, char *err, size_t errlen);

/* ECE of n predictions against realised scores, 'bins' equal-width bins
 * (docs/evaluation.md: 10).  NaN when n == 0 or bins outside [1, 1000].  Arrays borrowed. */
double tr_eval_ece(const double *pred, const double *actual, size_t n, int bins);

/* The one binning rule behind every ECE in the project (evaluation, heads'
 * calibration, the task classifier), as an accumulator so callers keep their
 * own element types: predictions clipped to [0,1], 1.0 in the last bin, a
 * pair with a NaN skipped.  Lives on the caller's stack; allocates nothing. */
#define TR_ECE_MAX_BINS 1000
typedef struct tr_ece_bins {
    int bins;               /* 0 after init with a count outside [1, TR_ECE_MAX_BINS] */
    size_t n;
    double sp[TR_ECE_MAX_BINS], sa[TR_ECE_MAX_BINS];
    size_t cnt[TR_ECE_MAX_BINS];
} tr_ece_bins;
void tr_ece_bins_init(tr_ece_bins *e, int bins);
void tr_ece_bins_add(tr_ece_bins *e, double pred, double actual);
/* Σ (share of items in bin) |mean predicted − mean realised|; NaN when no item. */
double tr_ece_bins_value(const tr_ece_bins *e);

/* Per-model mean quality and cost over n prompts of the complete test
 * matrices scores[i*m + j], costs[i*m + j] (row = prompt).  q_mean, c_mean:
 * the caller's arrays of m. */
void tr_eval_model_means(const double *scores, const double *costs, size_t n, size_t m, double *q_mean,
                         double *c_mean);

/* Best single model: highest mean quality; ties: the cheaper; then the lower index. */
size_t tr_eval_best_single(const double *q_mean, const double *c_mean, size_t m);

/* Oracle: per prompt the highest score, cheapest among ties (then the lower
 * index).  choice: the caller's array of n, or NULL.  *q, *c: mean score and
 * mean cost of the oracle's choices (NaN when n == 0). */
void tr_eval_oracle(const double *scores, const double *costs, size_t n, size_t m, size_t *choice, double *q,
                    double *c);

/* All of tr_eval_ref from the test matrices (layout as tr_eval_model_means).
 * TR_EINVAL when n or m is 0; TR_ENOMEM possible.  'out' the caller's. */
int tr_eval_reference(const double *scores, const double *costs, size_t n, size_t m, tr_eval_ref *out, char *err,
                      size_t errlen);

#endif
