/* The statistics every quality claim rests on, in one place: a mean with
 * its standard error (EVAL.md's k-fold figures), a paired difference of two
 * routers on the same folds or prompts, and a bootstrap percentile interval
 * (the regression guard's test).  Plain arrays in, numbers out; nothing
 * here knows about routers. */
#ifndef TR_STATS_H
#define TR_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Mean and standard error (sample standard deviation / sqrt(n)) of x[0..n).
 * A non-finite value makes both NaN (a figure missing in one fold has no
 * mean); n == 1 gives the value and a NaN error; n == 0 two NaNs.  mean and
 * se may be NULL. */
void tr_stats_mean_se(const double *x, size_t n, double *mean, double *se);

/* a − b, element by element, summarised. */
typedef struct tr_paired {
    double mean, se;        /* of the differences a[i] − b[i] (tr_stats_mean_se) */
    size_t higher, lower;   /* pairs where a is above b, below b */
    size_t ties;            /* pairs equal (or not comparable: a NaN) */
} tr_paired;

/* Summarise the paired differences a[i] − b[i], i < n.  diff: NULL, or the
 * caller's array of n that receives them.  Borrows a and b. */
void tr_stats_paired(const double *a, const double *b, size_t n, double *diff, tr_paired *out);

/* The q-quantile (0 <= q <= 1) of x[0..n) sorted ascending, by linear
 * interpolation between order statistics (Hyndman-Fan type 7, numpy's
 * default).  NaN when n == 0. */
double tr_stats_quantile_sorted(const double *x, size_t n, double q);

/* A statistic of a resample: idx[0..n) are the drawn positions (with
 * repetition) of the n originals; writes k values into out (NaN: not
 * defined for this resample).  Nonzero return aborts the bootstrap with
 * that status. */
typedef int (*tr_boot_stat)(void *ctx, const size_t *idx, size_t n, double *out);

/* Percentile bootstrap: B resamples of n items (seeded: the same seed gives
 * the same interval), each evaluated by stat; lo[j], hi[j] receive the
 * (1 − level)/2 and (1 + level)/2 quantiles of value j over the resamples
 * where it is defined, valid[j] (NULL: not wanted) how many those were.
 * lo, hi, valid are the caller's arrays of k.  TR_EINVAL for n == 0,
 * B < 2, k == 0 or a level outside (0, 1); TR_ENOMEM; or stat's status. */
int tr_stats_bootstrap(size_t n, size_t k, int B, uint64_t seed, double level, tr_boot_stat stat, void *ctx,
                       double *lo, double *hi, size_t *valid);

#endif
