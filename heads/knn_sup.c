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
 * The stored rows' z come from the same ridge fit (in-sample on the rows it
 * was fitted on), in cross-validation as in the final fit, so the CV
 * figures measure what routing does.  Routing adds one M x d SGEMV (the
 * ridge) and one n_candidates x M SGEMV (z against the stored z). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "heads_impl.h"
#include "parts.h"
#include "util.h"

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

void tr_heads_sup_z(const tr_heads *h, const float *x, const float *p_task, float *z, float *corr)
{
    sup_raw(h, x, p_task, z, corr);
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
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nr, (int)M, 1.0f, h->knn_Z + (size_t)lo[s] * M, (int)M,
                    zq, 1, 0.0f, zs + o, 1);
        const float *zn = h->knn_zn + lo[s];
        for (size_t j = 0; j < nr; j++) sims[o + j] = (sims[o + j] + b2 * zs[o + j]) * nq * zn[j];
        o += nr;
    }
}

/* ---- kNN-sup-surface: the similarity also sees the prompt's format.
 *
 * knn-sup's z comes from a head on the embedding, which is dominated by
 * topic; two benchmarks of one discovered task (commonsense_qa's everyday
 * "...?" questions and openbook_qa's unfinished science sentences) look
 * alike to it.  This variant appends to [x, beta z] the standardised
 * surface features s (surface.c) weighted by gamma, and may take z from
 * the ridge-surface head (sup2_src = 1), so that a format effect enters
 * the neighbour search twice: through the predicted scores and directly.
 * The stored rows keep u_j = [beta z_j, gamma s_j] pre-scaled and
 *   sim = (x.x_j + u.u_j) / sqrt((1 + |u|^2)(1 + |u_j|^2)),
 * beta^2 = sup2_w / M, gamma^2 = sup2_g / nsurf. */

size_t tr_heads_st_dim(const tr_heads *h) { return (size_t)h->d + (size_t)h->nsurf * (1 + h->T); }

void tr_heads_st_row(const tr_heads *h, const float *x, const float *s, const float *p_task, float *out)
{
    size_t d = h->d, ns = h->nsurf;
    if (out != x) memcpy(out, x, d * sizeof *out);
    if (out + d != s) memcpy(out + d, s, ns * sizeof *out);
    for (size_t t = 0; t < h->T; t++)
        for (size_t k = 0; k < ns; k++) out[d + ns * (1 + t) + k] = p_task[t] * s[k];
}

size_t tr_heads_sup2_xdim(const tr_heads *h) { return h->sup2_src == 2 ? tr_heads_st_dim(h) : (size_t)h->d + h->nsurf; }

size_t tr_heads_sup2_din(const tr_heads *h)
{
    return h->sup2_src == 2 ? tr_heads_st_dim(h) : (size_t)h->d + (h->sup2_src ? h->nsurf : 0);
}

/* Raw z of the design row xs = [x, s]: soft prior + the ridge head on x or
 * on [x, s]. */
static void sup2_raw(const tr_heads *h, const float *xs, const float *p_task, float *z, float *corr)
{
    int32_t idx[TR_HEADS_MAX_TOPK];
    float w[TR_HEADS_MAX_TOPK];
    size_t k = tr_gate_topk(p_task, h->T, h->top_k, idx, w);
    tr_gate_mix(h->prior, h->M, idx, w, k, z);
    tr_expert_apply(h->sup2_W, tr_heads_sup2_din(h), h->M, xs, z, corr);
}

/* u from the raw z (M, standardised in place) and s. */
static void sup2_finish(const tr_heads *h, const float *s, float *u)
{
    size_t M = h->M;
    float b = sqrtf(h->sup2_w / (float)M), g = h->nsurf ? sqrtf(h->sup2_g / (float)h->nsurf) : 0.0f;
    for (size_t m = 0; m < M; m++) u[m] = isnan(u[m]) ? 0.0f : b * (u[m] - h->sup2_mean[m]) * h->sup2_scale[m];
    for (size_t k = 0; k < h->nsurf; k++) u[M + k] = g * s[k];
}

void tr_heads_sup2_u(const tr_heads *h, const float *xs, const float *p_task, float *u, float *corr, float *raw)
{
    sup2_raw(h, xs, p_task, u, corr);
    if (raw)
        for (size_t m = 0; m < h->M; m++) raw[m] = isnan(u[m]) ? NAN : u[m] < 0 ? 0.0f : u[m] > 1 ? 1.0f : u[m];
    sup2_finish(h, xs + h->d, u);
}

int tr_heads_sup2_store(tr_heads *h, const float *Xa, const float *P, const int32_t *y,
                        const size_t *rows, size_t nrows)
{
    size_t M = h->M, T = h->T, da = tr_heads_sup2_xdim(h), U = M + h->nsurf;
    float *Us = tr_mallocarray(nrows ? nrows * U : 1, sizeof *Us);
    float *un = tr_mallocarray(nrows ? nrows : 1, sizeof *un);
    float *corr = tr_mallocarray(M, sizeof *corr);
    size_t *off = tr_calloc(T + 1, sizeof *off), *src = tr_mallocarray(nrows ? nrows : 1, sizeof *src);
    if (!Us || !un || !corr || !off || !src) {
        tr_free(Us); tr_free(un); tr_free(corr); tr_free(off); tr_free(src);
        return TR_ENOMEM;
    }
    /* the store's order: tr_heads_knn_store's stable counting sort by task */
    for (size_t r = 0; r < nrows; r++) off[(size_t)y[rows ? rows[r] : r] + 1]++;
    for (size_t t = 0; t < T; t++) off[t + 1] += off[t];
    for (size_t r = 0; r < nrows; r++) {
        size_t i = rows ? rows[r] : r;
        size_t j = off[(size_t)y[i]]++;
        src[j] = i;
        sup2_raw(h, Xa + i * da, P + i * T, Us + j * U, corr);
    }
    for (size_t m = 0; m < M; m++) {
        double s1 = 0, s2 = 0;
        size_t c = 0;
        for (size_t j = 0; j < nrows; j++) {
            float v = Us[j * U + m];
            if (!isnan(v)) { s1 += v; c++; }
        }
        double mean = c ? s1 / (double)c : 0;
        for (size_t j = 0; j < nrows; j++) {
            float v = Us[j * U + m];
            if (!isnan(v)) s2 += (v - mean) * (v - mean);
        }
        double sd = c ? sqrt(s2 / (double)c) : 0;
        h->sup2_mean[m] = (float)mean;
        h->sup2_scale[m] = sd > 1e-6 ? (float)(1.0 / sd) : 0.0f;
    }
    for (size_t j = 0; j < nrows; j++) {
        sup2_finish(h, Xa + src[j] * da + h->d, Us + j * U);
        double q = 0;
        for (size_t e = 0; e < U; e++) q += (double)Us[j * U + e] * Us[j * U + e];
        un[j] = (float)(1.0 / sqrt(1.0 + q));
    }
    tr_free(corr); tr_free(off); tr_free(src);
    tr_free(h->knn_U); tr_free(h->knn_un);
    h->knn_U = Us;
    h->knn_un = un;
    return TR_OK;
}

void tr_heads_sup2_sims(const tr_heads *h, const uint32_t *lo, const uint32_t *hi, size_t nseg,
                        const float *uq, float *sims, float *us)
{
    size_t U = (size_t)h->M + h->nsurf, o = 0;
    float q = 0;
    for (size_t e = 0; e < U; e++) q += uq[e] * uq[e];
    float nq = 1.0f / sqrtf(1.0f + q);
    for (size_t s = 0; s < nseg; s++) {
        size_t nr = hi[s] - lo[s];
        if (nr == 0) continue;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nr, (int)U, 1.0f, h->knn_U + (size_t)lo[s] * U, (int)U,
                    uq, 1, 0.0f, us + o, 1);
        const float *un = h->knn_un + lo[s];
        for (size_t j = 0; j < nr; j++) sims[o + j] = (sims[o + j] + us[o + j]) * nq * un[j];
        o += nr;
    }
}
