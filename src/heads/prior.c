/* Task priors: each task's mean score (or cost) for each model, shrunk toward
 * the model's global mean by the evidence behind it, n/(n+k0).  A task with a
 * handful of prompts cannot tell a 0.9 model from a 0.6 one, so its prior
 * stays near the global figure until its own labels outweigh k0 of them. */
#include "heads/parts.h"

#include <math.h>
#include <string.h>

/* One task's shrunk mean from its label sum and count and the model's
 * global mean g. */
static float prior_cell(double sum, double num, float g, double k0)
{
    if (isnan(g)) return NAN;
    if (k0 <= 0 && num == 0) return g;
    return (float)((sum + k0 * g) / (num + k0));
}

void tr_prior_from_sums(const double *sum, const double *num, size_t T, size_t M, double k0,
                        float *mu, float *g)
{
    for (size_t m = 0; m < M; m++) {
        double s = 0, c = 0;
        for (size_t t = 0; t < T; t++) { s += sum[t * M + m]; c += num[t * M + m]; }
        g[m] = c > 0 ? (float)(s / c) : NAN;
        for (size_t t = 0; t < T; t++) mu[t * M + m] = prior_cell(sum[t * M + m], num[t * M + m], g[m], k0);
    }
}

void tr_prior_fit(const float *V, size_t M, const int32_t *y, size_t T,
                  const size_t *rows, size_t nrows, double k0, float *mu,
                  float *g, float *cnt)
{
    /* sums in double: a float sum of 1e5 labels would drift by ~1e-3 */
    for (size_t m = 0; m < M; m++) {
        double s = 0;
        size_t c = 0;
        for (size_t r = 0; r < nrows; r++) {
            size_t i = rows ? rows[r] : r;
            float v = V[i * M + m];
            if (!isnan(v)) { s += v; c++; }
        }
        g[m] = c ? (float)(s / (double)c) : NAN;
    }
    for (size_t t = 0; t < T; t++)
        for (size_t m = 0; m < M; m++) mu[t * M + m] = 0;
    if (cnt) memset(cnt, 0, T * M * sizeof *cnt);
    /* one model at a time, tasks in blocks of 256: O(1) stack scratch and no
     * allocation, so the function cannot fail */
    for (size_t m = 0; m < M; m++) {
        double sum[256], num[256];
        for (size_t t0 = 0; t0 < T; t0 += 256) {
            size_t tn = T - t0 < 256 ? T - t0 : 256;
            memset(sum, 0, sizeof sum);
            memset(num, 0, sizeof num);
            for (size_t r = 0; r < nrows; r++) {
                size_t i = rows ? rows[r] : r;
                size_t t = (size_t)y[i];
                if (t < t0 || t >= t0 + tn) continue;
                float v = V[i * M + m];
                if (!isnan(v)) { sum[t - t0] += v; num[t - t0] += 1; }
            }
            for (size_t t = 0; t < tn; t++) {
                mu[(t0 + t) * M + m] = prior_cell(sum[t], num[t], g[m], k0);
                if (cnt) cnt[(t0 + t) * M + m] = (float)num[t];
            }
        }
    }
}
