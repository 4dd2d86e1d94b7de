/* The kNN-smoothed quality estimate of the reference recipe: the similarity-
 * weighted mean score of the k most similar training prompts, shrunk toward
 * the prompt's soft task prior by kk0 pseudo-prompts:
 *   q_m = (Σ_{j in N, S_jm labelled} w_j S_jm + kk0 prior_m) / (Σ_{j labelled} w_j + kk0),
 *   w_j = max(cos(x, x_j), 0)^p, or with a temperature tau > 0
 *   w_j = exp((cos(x, x_j) - 1) / tau)   (kNN-tau:
 *   the nearest neighbours dominate more sharply than with cos^3, so a
 *   larger k adds support without diluting them; best CV on both datasets).
 * The training prompts are stored sorted by task so the search can be
 * limited to the prompts of the g most probable tasks (g = 0: all of them,
 * exact as in the recipe).  Candidates are given as segments of the stored
 * rows; the k-th largest similarity is found by quickselect on a copy, so
 * nothing is allocated per prompt.  The scores are stored packed, each row
 * [score with 0 for no label | 1 if labelled else 0], so that the weighted
 * sums are one BLAS matrix-vector product instead of a per-entry NaN test
 * (that test was over a quarter of a decision's instructions). */
#include "heads/parts.h"

#include <math.h>
#include <string.h>

#include "kernels/gemv.h"
#include "kernels/half.h"

/* Order-preserving map of a float to an unsigned key (ascending floats give
 * ascending keys; -0 sorts just below +0, which compare equal as floats). */
static inline uint32_t fkey(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* k-th largest (0-based) of v[0..n) by radix select, a byte of the key per
 * pass from the top: each pass counts without a data-dependent branch and
 * keeps only the bucket holding the answer.  Quickselect's partition loops
 * mispredicted on about every other element; this was a tenth of a
 * server's profile.  Reorders v. */
static float kth_largest(float *v, size_t n, size_t k)
{
    size_t m = n;   /* candidates: v[0..m) */
    for (int shift = 24; shift >= 0 && m > 1; shift -= 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < m; i++) count[(fkey(v[i]) >> shift) & 255u]++;
        size_t b = 256, above = 0;
        while (b-- > 0) {   /* buckets from the largest keys down */
            if (above + count[b] > k) break;
            above += count[b];
        }
        k -= above;
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (((fkey(v[i]) >> shift) & 255u) == b) v[w++] = v[i];
        m = w;
    }
    return v[0];   /* every remaining candidate has the same key */
}

static float wpow(float s, float p)
{
    if (s <= 0) return 0;
    if (p == 1) return s;
    if (p == 3) return s * s * s;
    return powf(s, p);
}

void tr_knn_sims(const float *Xs, size_t d, const uint32_t *lo, const uint32_t *hi,
                 size_t nseg, const float *x, float *sims)
{
    size_t o = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t nr = hi[s] - lo[s];
        if (nr == 0) continue;
        tr_gemv(nr, d, Xs + (size_t)lo[s] * d, d, x, sims + o);
        o += nr;
    }
}

void tr_knn_sims_half(const uint16_t *Xs, size_t d, const uint32_t *lo, const uint32_t *hi,
                      size_t nseg, const float *x, float *sims)
{
    const tr_half_ops *ops = tr_half_best();
    size_t o = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t nr = hi[s] - lo[s];
        ops->gemv(nr, d, Xs + (size_t)lo[s] * d, x, sims + o);
        o += nr;
    }
}

void tr_knn_pack(const float *S, size_t n, size_t M, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *row = S + i * M;
        float *o = out + i * 2 * M;
        for (size_t m = 0; m < M; m++) {
            int has = !isnan(row[m]);
            o[m] = has ? row[m] : 0.0f;
            o[M + m] = has ? 1.0f : 0.0f;
        }
    }
}

void tr_knn_unpack_row(const float *packed, size_t M, float *S)
{
    for (size_t m = 0; m < M; m++) S[m] = packed[M + m] != 0 ? packed[m] : NAN;
}

void tr_knn_combine(const float *Ss, size_t M, const uint32_t *lo, const uint32_t *hi,
                    size_t nseg, const float *sims, size_t k, float p, float tau, float kk0,
                    const float *prior, float *out, float *work)
{
    size_t nc = 0;
    for (size_t s = 0; s < nseg; s++) nc += hi[s] - lo[s];
    float *acc = work, *w = work + 2 * M;     /* acc: [num M | den M] */
    for (size_t m = 0; m < 2 * M; m++) acc[m] = 0;
    float thr = -INFINITY;
    size_t n_eq = nc;                 /* how many rows equal to thr may still join */
    if (k > 0 && nc > k) {
        memcpy(w, sims, nc * sizeof *w);
        thr = kth_largest(w, nc, k - 1);
        size_t above = 0;
        for (size_t i = 0; i < nc; i++) above += sims[i] > thr;
        n_eq = k - above;
    }
    /* The neighbours' weights, zero for every other candidate; then one
     * pass per segment: [num | den] += [scores | labelled]^T w over the
     * rows (gemv.h: in row order, never on OpenBLAS's threads). */
    for (size_t i = 0; i < nc; i++) {
        float sim = sims[i];
        if (sim < thr || (sim == thr && n_eq == 0)) { w[i] = 0; continue; }
        if (sim == thr) n_eq--;
        w[i] = tau > 0 ? expf((sim - 1) / tau) : wpow(sim, p);
    }
    size_t o = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t nr = hi[s] - lo[s];
        if (nr == 0) continue;
        tr_gemv_t_acc(nr, 2 * M, Ss + (size_t)lo[s] * 2 * M, 2 * M, w + o, acc);
        o += nr;
    }
    for (size_t m = 0; m < M; m++) {
        if (isnan(prior[m])) { out[m] = NAN; continue; }
        out[m] = (acc[m] + kk0 * prior[m]) / (acc[M + m] + kk0);
    }
}
