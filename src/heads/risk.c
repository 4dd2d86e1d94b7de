/* The finite-sample bound behind the RISK selection mode.
 *
 * Guarantee (Learn-then-Test, Angelopoulos et al. 2021, with fixed-sequence
 * testing): on n calibration prompts the rule with threshold t misroutes k(t)
 * of them (the chosen model scores strictly below the model with the highest
 * calibrated predicted quality).  For each t the one-sided Clopper-Pearson
 * bound U(t) is the p solving P(Bin(n, p) <= k(t)) = δ, i.e. the (1-δ)
 * quantile of Beta(k+1, n-k).  Testing H_t: risk(t) > α in order of
 * increasing t and stopping at the first U(t) > α controls the family-wise
 * error at δ without a multiplicity correction, so with probability >= 1-δ
 * over the calibration set every accepted t has true misrouting rate <= α on
 * new prompts exchangeable with the calibration ones.  The calibration
 * prompts are the training rows' out-of-fold predictions: the guarantee is
 * exact for the fold models and approximate for the final model refitted on
 * all rows. */
#include "heads/parts.h"

#include <math.h>

/* log P(Bin(n,p) <= k) for k < n and p >= k/n, where the terms fall
 * geometrically below j = k: start from the j = k term and walk down by the
 * ratio t_{j-1}/t_j = j q / ((n-j+1) p) until the rest is negligible. */
static double log_binom_cdf(size_t k, size_t n, double p)
{
    double q = 1 - p;
    double lt = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1)
                + (double)k * log(p) + (double)(n - k) * log1p(-p);
    double s = 1, r = 1;
    for (size_t j = k; j >= 1; j--) {
        r *= (double)j * q / ((double)(n - j + 1) * p);
        s += r;
        if (r < 1e-17 * s) break;
    }
    return lt + log(s);
}

double tr_cp_upper(size_t k, size_t n, double delta)
{
    if (n == 0 || k >= n) return 1.0;
    if (k == 0) return 1.0 - pow(delta, 1.0 / (double)n);
    double lo = (double)k / (double)n, hi = 1.0, ld = log(delta);
    /* the CDF falls in p: bisect for CDF(p) = δ */
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (log_binom_cdf(k, n, mid) > ld) lo = mid; else hi = mid;
    }
    return hi;
}
