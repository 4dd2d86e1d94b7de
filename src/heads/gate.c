/* The gate: a prompt's quality for model m is the mixture of the experts of
 * its k most probable tasks, weighted by P(t|x) renormalised over those k.
 * Truncating to the top k keeps prediction O(kM) and stops a long tail of
 * improbable tasks from pulling every prompt toward the global mean. */
#include "heads/heads_impl.h"
#include "heads/parts.h"

size_t tr_gate_search(const float *p, size_t T, size_t k, float mass, int32_t *idx)
{
    float w[TR_HEADS_MAX_TOPK];
    size_t n = tr_gate_topk(p, T, k < TR_HEADS_MAX_TOPK ? k : TR_HEADS_MAX_TOPK, idx, w);
    if (!(mass > 0 && mass < 1)) return n;
    double s = 0;
    for (size_t j = 0; j < n; j++) {
        float v = p[idx[j]];
        s += v > 0 ? v : 0;   /* NaN and negatives count as 0 */
        if (s >= mass) return j + 1;
    }
    return n;
}

size_t tr_gate_topk(const float *p, size_t T, size_t k, int32_t *idx, float *w)
{
    if (k > T) k = T;
    if (k == 0) return 0;
    size_t n = 0;
    for (size_t t = 0; t < T; t++) {
        float v = p[t] > 0 ? p[t] : 0;   /* NaN and negatives count as 0 */
        if (n == k && !(v > w[n - 1])) continue;
        size_t j = n < k ? n++ : k - 1;
        while (j > 0 && v > w[j - 1]) { w[j] = w[j - 1]; idx[j] = idx[j - 1]; j--; }
        w[j] = v;
        idx[j] = (int32_t)t;
    }
    double s = 0;
    for (size_t j = 0; j < n; j++) s += w[j];
    for (size_t j = 0; j < n; j++) w[j] = s > 0 ? (float)(w[j] / s) : 1.0f / (float)n;
    return n;
}

void tr_gate_mix(const float *tab, size_t M, const int32_t *idx,
                 const float *w, size_t k, float *out)
{
    for (size_t m = 0; m < M; m++) out[m] = 0;
    for (size_t j = 0; j < k; j++) {
        const float *row = tab + (size_t)idx[j] * M;
        float wj = w[j];
        for (size_t m = 0; m < M; m++) out[m] += wj * row[m];
    }
}
