/* The cost model's length variant.  Observed costs are mostly tokens x price,
 * and prompt tokens scale with prompt bytes, so per model a line in the
 * prompt length explains most of the spread; the per-task residual (shrunk
 * toward 0) keeps what length misses, e.g. tasks whose answers are long.
 * The task-mean variant is tr_prior_fit applied to the cost matrix. */
#include "heads/parts.h"

#include <math.h>
#include <string.h>

/* Least squares of cost on [1, len] from the sums over one model's costed
 * rows; b = 0 when the lengths do not vary, NaN for both without a row. */
static void len_line(double n, double sl, double sc, double sll, double slc, double *a, double *b)
{
    *a = *b = NAN;
    if (!(n > 0)) return;
    double ml = sl / n, mc = sc / n, vl = sll / n - ml * ml, cv = slc / n - ml * mc;
    *b = vl > 1e-12 * (ml * ml + 1) ? cv / vl : 0;
    *a = mc - *b * ml;
}

void tr_cost_len_from_sums(const double *len5, const double *cmin_obs, const double *sc, const double *nc,
                           const double *sl, size_t M, size_t T, double k0, float *ab, float *res, float *cmin)
{
    for (size_t m = 0; m < M; m++) {
        const double *q = len5 + 5 * m;
        double a, b;
        len_line(q[0], q[1], q[2], q[3], q[4], &a, &b);
        ab[2 * m] = (float)a;
        ab[2 * m + 1] = (float)b;
        cmin[m] = q[0] > 0 ? (float)cmin_obs[m] : NAN;
        for (size_t t = 0; t < T; t++) {
            size_t k = t * M + m;
            /* sum over the task's rows of c - (a + b l) */
            double r = sc[k] - a * nc[k] - b * sl[k];
            res[k] = q[0] > 0 ? (float)(nc[k] + k0 > 0 ? r / (nc[k] + k0) : 0) : NAN;
        }
    }
}

void tr_cost_fit_len(const float *C, const float *lens, size_t M,
                     const int32_t *y, size_t T, const size_t *rows,
                     size_t nrows, double k0, float *ab, float *res, float *cmin)
{
    for (size_t m = 0; m < M; m++) {
        double n = 0, sl = 0, sc = 0, sll = 0, slc = 0, mn = INFINITY;
        for (size_t r = 0; r < nrows; r++) {
            size_t i = rows ? rows[r] : r;
            float c = C[i * M + m];
            if (isnan(c)) continue;
            double l = lens[i];
            n += 1; sl += l; sc += c; sll += l * l; slc += l * c;
            if (c < mn) mn = c;
        }
        double a, b;
        len_line(n, sl, sc, sll, slc, &a, &b);
        ab[2 * m] = (float)a;
        ab[2 * m + 1] = (float)b;
        cmin[m] = n > 0 ? (float)mn : NAN;
        for (size_t t0 = 0; t0 < T; t0 += 256) {
            size_t tn = T - t0 < 256 ? T - t0 : 256;
            double s[256], k[256];
            memset(s, 0, sizeof s);
            memset(k, 0, sizeof k);
            for (size_t r = 0; r < nrows && n > 0; r++) {
                size_t i = rows ? rows[r] : r;
                size_t t = (size_t)y[i];
                float c = C[i * M + m];
                if (isnan(c) || t < t0 || t >= t0 + tn) continue;
                s[t - t0] += c - (a + b * lens[i]);
                k[t - t0] += 1;
            }
            for (size_t t = 0; t < tn; t++)
                res[(t0 + t) * M + m] = n > 0 ? (float)(k[t] + k0 > 0 ? s[t] / (k[t] + k0) : 0) : NAN;
        }
    }
}
