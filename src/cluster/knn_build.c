/* The one entry point of the neighbour lists: validates the input once, then
 * picks the exact tiles or HNSW by size (knn_exact.c, knn_hnsw.c), so both
 * paths share one set of error messages and one size rule. */
#include "cluster/knn_build.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "cluster/knn_hnsw.h"

int tr_knn_build(const float *X, size_t n, size_t d, const tr_knn_params *p,
                 tr_knn *out, char *err, size_t errlen)
{
    tr_knn_params def;
    if (!p) {
        tr_knn_params_default(&def);
        p = &def;
    }
    if (out) memset(out, 0, sizeof *out);
    if (!X || !out) return tr_errorf(err, errlen, TR_EINVAL, "knn: NULL argument");
    if (n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "knn: no prompts (n=0)");
    if (d == 0) return tr_errorf(err, errlen, TR_EINVAL, "knn: dimension d=0");
    if (p->k == 0) return tr_errorf(err, errlen, TR_EINVAL, "knn: k=0");
    if (p->k >= n)
        return tr_errorf(err, errlen, TR_ETOOFEW, "knn: need more than k prompts: n=%zu k=%zu",
                         n, p->k);
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * d;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[j]))
                return tr_errorf(err, errlen, TR_EINVAL,
                                 "knn: row %zu has a non-finite value at column %zu", i, j);
    }
    double lim = (double)TR_KNN_AUTO_EXACT_MAX * TR_KNN_AUTO_EXACT_MAX * 64.0;
    int approx = p->mode == TR_KNN_APPROX ||
                 (p->mode == TR_KNN_AUTO && (double)n * (double)n * (double)d > lim);
    if (approx) return tr_knn_approx(X, n, d, p->k, p, out, err, errlen);
    return tr_knn_exact(X, n, d, p->k, p->threads, out, err, errlen);
}
