/* Mean ± standard error, paired differences, quantiles and the percentile
 * bootstrap.  See stats.h. */
#include "eval/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void tr_stats_mean_se(const double *x, size_t n, double *mean, double *se)
{
    double m = NAN, s = NAN;
    if (n > 0) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += x[i];
        m = sum / (double)n;
        if (n > 1 && isfinite(m)) {
            double ss = 0;   /* two passes: the deviations are small next to the figures */
            for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
            s = sqrt(ss / (double)(n - 1)) / sqrt((double)n);
        }
        if (!isfinite(m)) m = s = NAN;
    }
    if (mean) *mean = m;
    if (se) *se = s;
}

void tr_stats_paired(const double *a, const double *b, size_t n, double *diff, tr_paired *out)
{
    memset(out, 0, sizeof *out);
    double *d = diff ? diff : tr_mallocarray(n ? n : 1, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        double v = a[i] - b[i];
        if (d) d[i] = v;
        if (v > 0) out->higher++;
        else if (v < 0) out->lower++;
        else out->ties++;
    }
    if (d) tr_stats_mean_se(d, n, &out->mean, &out->se);
    else out->mean = out->se = NAN;   /* out of memory: no summary, the counts stand */
    if (!diff) tr_free(d);
}

double tr_stats_quantile_sorted(const double *x, size_t n, double q)
{
    if (n == 0) return NAN;
    if (!(q > 0)) return x[0];
    if (q >= 1) return x[n - 1];
    double h = q * (double)(n - 1);
    size_t i = (size_t)h;
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int tr_stats_bootstrap(size_t n, size_t k, int B, uint64_t seed, double level, tr_boot_stat stat, void *ctx,
                       double *lo, double *hi, size_t *valid)
{
    if (n == 0 || B < 2 || k == 0 || !(level > 0 && level < 1) || !stat) return TR_EINVAL;
    size_t *idx = tr_mallocarray(n, sizeof *idx);
    double *vals = tr_mallocarray((size_t)B * k, sizeof *vals), *row = tr_mallocarray(k, sizeof *row);
    size_t *nv = tr_calloc(k, sizeof *nv);
    int rc = TR_OK;
    if (!idx || !vals || !row || !nv) { rc = TR_ENOMEM; goto done; }
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (int b = 0; b < B && !rc; b++) {
        for (size_t i = 0; i < n; i++) idx[i] = (size_t)tr_rng_below(&rng, n);
        for (size_t j = 0; j < k; j++) row[j] = NAN;
        if ((rc = stat(ctx, idx, n, row))) break;
        /* column j keeps its defined values first, in resample order */
        for (size_t j = 0; j < k; j++)
            if (!isnan(row[j])) vals[j * (size_t)B + nv[j]++] = row[j];
    }
    for (size_t j = 0; j < k && !rc; j++) {
        double *v = vals + j * (size_t)B;
        qsort(v, nv[j], sizeof *v, cmp_double);
        lo[j] = tr_stats_quantile_sorted(v, nv[j], (1 - level) / 2);
        hi[j] = tr_stats_quantile_sorted(v, nv[j], (1 + level) / 2);
        if (valid) valid[j] = nv[j];
    }
done:
    tr_free(idx);
    tr_free(vals);
    tr_free(row);
    tr_free(nv);
    return rc;
}
