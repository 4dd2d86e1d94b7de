/* kNN-sup: kNN-tau with neighbours found in a supervised space.
 *
 * The embedding is dominated by topic; two prompts of one topic may need
 * different models (commonsense_qa vs openbook_qa: short questions, other
 * best models).  The ridge head already learns, per model, the directions
 * of the embedding that move that model's score.  kNN-sup appends to the
 * unit embedding x the standardised prediction of that head,
 *   z(x)_m = (prior_soft(P)_m + w_m . x + b_m - mean_m) * scale_m,
 * scaled by beta, and measures similarity by the cosine of [x, beta z]:
 *   sim = (x.x_j + b2 z.z_j) / sqrt((1 + b2 |z|^2) (1 + b2 |z_j|^2)),
 * b2 = beta^2 = sup_w / M (the z block has M entries of unit variance, so
 * w = 1 gives it about the weight of the embedding).  The kernel and the
 * neighbour count are kNN-tau's (exp((sim - 1) / tau), knn_tau_k).
 *
 * kNN-sup-ridge (TR_QV_KNN_SUP_RIDGE) is the same search with another
 * shrinkage target: the kNN mean
 *   q_m = (sum_j w_j S_jm + kk0 r_m) / (sum_j w_j + kk0)
 * falls back to r = clip(prior_soft + ridge), the prediction z is made
 * from, instead of the soft task prior.  The weights are small for short
 * prompts (a cosine of 0.6 gives exp(-4) = 0.018 at tau = 0.1), so kk0 = 5
 * pseudo-neighbours make the estimate mostly its target: with the soft
 * prior that is the discovered task's mean, which hides differences inside
 * a task (on llmrouter's training split the out-of-fold kNN-sup estimate of
 * qwen2.5-7b minus nemotron-51b on one task's commonsense_qa prompts was
 * -0.017, the scores' +0.044).  The ridge head sees the prompt, so the
 * fallback keeps what it learnt.  No extra data: it reads kNN-sup's store.
 *
 * The stored rows' z come from the same ridge fit (in-sample on the rows it
 * was fitted on), in cross-validation as in the final fit, so the CV
 * figures measure what routing does.  Routing adds one M x d GEMV (the
 * ridge) and one n_candidates x M GEMV (z against the stored z), both
 * gemv.h's. */
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"
#include "kernels/gemv.h"

/* Raw z (soft prior + ridge correction, unclipped); NaN for a model
 * without labels. */
static void sup_raw(const tr_heads *h, const float *x, const float *p_task, float *z, float *corr)
{
    int32_t idx[TR_HEADS_MAX_TOPK];
    float w[TR_HEADS_MAX_TOPK];
    size_t k = tr_gate_topk(p_task, h->T, h->top_k, idx, w);
    tr_gate_mix(h->prior, h->M, idx, w, k, z);
    tr_expert_apply(h->sup_W, h->d, h->M, x, z, corr);
}

void tr_heads_sup_z(const tr_heads *h, const float *x, const float *p_task, float *z, float *corr, float *raw)
{
    sup_raw(h, x, p_task, z, corr);
    if (raw)
        for (size_t m = 0; m < h->M; m++) raw[m] = isnan(z[m]) ? NAN : z[m] < 0 ? 0.0f : z[m] > 1 ? 1.0f : z[m];
    for (size_t m = 0; m < h->M; m++) z[m] = isnan(z[m]) ? 0.0f : (z[m] - h->sup_mean[m]) * h->sup_scale[m];
}

int tr_heads_sup_store(tr_heads *h, const float *X, const float *P, const int32_t *y,
                       const size_t *rows, size_t nrows)
{
    size_t M = h->M, T = h->T, d = h->d;
    float *Z = tr_mallocarray(nrows ? nrows * M : 1, sizeof *Z);
    float *zn = tr_mallocarray(nrows ? nrows : 1, sizeof *zn);
    float *corr = tr_mallocarray(M, sizeof *corr);
    size_t *off = tr_calloc(T + 1, sizeof *off);
    if (!Z || !zn || !corr || !off) {
        tr_free(Z); tr_free(zn); tr_free(corr); tr_free(off);
        return TR_ENOMEM;
    }
    /* the store's order: tr_heads_knn_store's stable counting sort by task */
    for (size_t r = 0; r < nrows; r++) off[(size_t)y[rows ? rows[r] : r] + 1]++;
    for (size_t t = 0; t < T; t++) off[t + 1] += off[t];
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r;
        size_t j = off[(size_t)y[i]]++;
        sup_raw(h, X + i * d, P + i * T, Z + j * M, corr);
    }
    /* standardise each model's prediction over the stored rows */
    for (size_t m = 0; m < M; m++) {
        double s1 = 0, s2 = 0;
        size_t c = 0;
        for (size_t j = 0; j < nrows; j++) {
            float v = Z[j * M + m];
            if (isnan(v)) continue;
            s1 += v; c++;
        }
        double mean = c ? s1 / (double)c : 0;
        for (size_t j = 0; j < nrows; j++) {
            float v = Z[j * M + m];
            if (!isnan(v)) s2 += (v - mean) * (v - mean);
        }
        double sd = c ? sqrt(s2 / (double)c) : 0;
        h->sup_mean[m] = (float)mean;
        h->sup_scale[m] = sd > 1e-6 ? (float)(1.0 / sd) : 0.0f;
        for (size_t j = 0; j < nrows; j++) {
            float v = Z[j * M + m];
            Z[j * M + m] = isnan(v) ? 0.0f : (v - h->sup_mean[m]) * h->sup_scale[m];
        }
    }
    double b2 = (double)h->sup_w / (double)M;
    for (size_t j = 0; j < nrows; j++) {
        double q = 0;
        for (size_t m = 0; m < M; m++) q += (double)Z[j * M + m] * Z[j * M + m];
        zn[j] = (float)(1.0 / sqrt(1.0 + b2 * q));
    }
    tr_free(corr); tr_free(off);
    tr_free(h->knn_Z); tr_free(h->knn_zn);
    h->knn_Z = Z;
    h->knn_zn = zn;
    return TR_OK;
}

void tr_heads_sup_sims(const tr_heads *h, const uint32_t *lo, const uint32_t *hi, size_t nseg,
                       const float *zq, float *sims, float *zs)
{
    size_t M = h->M, o = 0;
    float b2 = h->sup_w / (float)M, q = 0;
    for (size_t m = 0; m < M; m++) q += zq[m] * zq[m];
    float nq = 1.0f / sqrtf(1.0f + b2 * q);
    for (size_t s = 0; s < nseg; s++) {
        size_t nr = hi[s] - lo[s];
        if (nr == 0) continue;
        tr_gemv(nr, M, h->knn_Z + (size_t)lo[s] * M, M, zq, zs + o);
        const float *zn = h->knn_zn + lo[s];
        for (size_t j = 0; j < nr; j++) sims[o + j] = (sims[o + j] + b2 * zs[o + j]) * nq * zn[j];
        o += nr;
    }
}
