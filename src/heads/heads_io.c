/* The heads in the router file: four sections, each opening with its own
 * format version (u32) so one can change without the others.  HEAD is at
 * version 4, the others at 1.  HEAD version 2 added kNN-tau and the
 * surface variants; version 3 adds kNN-sup and kNN-sup-ridge and stores the
 * kNN store's embeddings X as IEEE half (half.h: the kNN similarities read
 * half the bytes); version 4 adds knn_mass (a confident prompt searches
 * fewer tasks).  Versions 2 and 3 still load and are saved in their own
 * version again (version 3 with knn_mass 0, as it searched), so that a
 * re-saved router predicts as before; version 2 keeps its float store and
 * BLAS path; version 1 (variants 0-4 only) loads and is saved as version 2.
 *
 *   HEAD  u32 ver, M, T, d, top_k; i32 qv, cv; u32 qmask, cmask;
 *         f32 k0, cost_k0, ridge_alpha; f32 prior[T*M], gmean[M];
 *         f32 ridge[M*(d+1)] if qmask has TR_QV_RIDGE;
 *         if qmask has TR_QV_KNN or (v2) TR_QV_KNN_TAU: u32 knn_n, knn_k,
 *         knn_tasks; f32 knn_p, knn_k0; v4: f32 knn_mass; u32 off[T+1] (0 .. knn_n,
 *         non-decreasing); X[knn_n*d] (f16 from v3, f32 before), f32 S[knn_n*M];
 *         v2 and later: u32 nsurf (0 or TR_HEADS_SURF); f32 surf_mean[nsurf],
 *         surf_scale[nsurf]; if qmask has TR_QV_KNN_TAU: u32 knn_tau_k;
 *         f32 knn_tau; if qmask has TR_QV_RIDGE_SURF: f32 rs_alpha;
 *         f32 ridge_surf[M*(d+nsurf+1)];
 *         v3, if qmask has TR_QV_KNN_SUP (which TR_QV_KNN_SUP_RIDGE
 *         needs): f32 sup_w, sup_alpha;
 *         f32 sup_W[M*(d+1)], sup_mean[M], sup_scale[M], Z[knn_n*M]
 *         (knn_zn is recomputed on loading);
 *         u32 n_cv; n_cv x {i32 qv, cv, eligible; f64 alpha, aiq_lin, aiq_log, q_at_cbest,
 *         gap, saving, q_max, ece, crit}
 *   COST  u32 ver, M, T; f32 ctask[T*M], cgmean[M];
 *         if cmask has TR_CV_LEN: f32 cab[2M], cres[T*M], cmin[M]
 *   CALB  u32 ver, M; f32 ece_raw, ece_cal; u8 kind[M]; f32 ab[2M];
 *         u32 off[M+1] (off[0] = 0, non-decreasing); f32 x[off[M]], y[off[M]]
 *   SELC  u32 ver, n_budget; f32 lambda[], cost[], quality[];
 *         u32 n_risk, risk_n; f32 delta; f32 t[n_risk], ucb[n_risk]
 * Every count is checked against the bytes that remain before anything is
 * allocated; values that would break prediction (variants outside their
 * masks, non-monotone knots or tables) are rejected as TR_EFORMAT. */
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"
#include "kernels/half.h"

#define HEADS_FMT 1u       /* CALB, COST, SELC */
#define HEAD_FMT 4u        /* HEAD */

/* The version h is saved in: the one it was loaded in (1 becomes 2: float
 * kNN store), a trained router HEAD_FMT. */
static uint32_t head_fmt(const tr_heads *h) { return h->fmt ? h->fmt : HEAD_FMT; }

void tr_heads_save(const tr_heads *h, tr_buf *hb, tr_buf *cal, tr_buf *cost, tr_buf *sel)
{
    size_t M = h->M, T = h->T, D = (size_t)h->d + 1;
    tr_buf_u32(hb, head_fmt(h));
    tr_buf_u32(hb, h->M); tr_buf_u32(hb, h->T); tr_buf_u32(hb, h->d); tr_buf_u32(hb, h->top_k);
    tr_buf_i32(hb, h->qv); tr_buf_i32(hb, h->cv);
    tr_buf_u32(hb, h->qmask); tr_buf_u32(hb, h->cmask);
    tr_buf_f32(hb, h->k0); tr_buf_f32(hb, h->cost_k0); tr_buf_f32(hb, h->ridge_alpha);
    tr_buf_f32s(hb, h->prior, T * M);
    tr_buf_f32s(hb, h->gmean, M);
    if (h->qmask & (1u << TR_QV_RIDGE)) tr_buf_f32s(hb, h->ridge, M * D);
    if (h->qmask & TR_QV_KNN_MASK) {
        tr_buf_u32(hb, h->knn_n); tr_buf_u32(hb, h->knn_k); tr_buf_u32(hb, h->knn_tasks);
        tr_buf_f32(hb, h->knn_p); tr_buf_f32(hb, h->knn_k0);
        if (head_fmt(h) >= 4) tr_buf_f32(hb, h->knn_mass);
        for (size_t t = 0; t <= T; t++) tr_buf_u32(hb, h->knn_off[t]);
        if (h->knn_Xh) tr_buf_u16s(hb, h->knn_Xh, (size_t)h->knn_n * h->d);
        else tr_buf_f32s(hb, h->knn_X, (size_t)h->knn_n * h->d);
        /* the file keeps the plain scores (NaN = no label); memory, packed */
        float row[1024];
        for (size_t i = 0; i < h->knn_n; i++) {
            const float *pk = h->knn_S + i * 2 * M;
            for (size_t m0 = 0; m0 < M; m0 += 1024) {
                size_t nm = M - m0 < 1024 ? M - m0 : 1024;
                for (size_t m = 0; m < nm; m++) row[m] = pk[M + m0 + m] != 0 ? pk[m0 + m] : NAN;
                tr_buf_f32s(hb, row, nm);
            }
        }
    }
    tr_buf_u32(hb, h->nsurf);
    tr_buf_f32s(hb, h->surf_mean, h->nsurf);
    tr_buf_f32s(hb, h->surf_scale, h->nsurf);
    if (h->qmask & (1u << TR_QV_KNN_TAU)) { tr_buf_u32(hb, h->knn_tau_k); tr_buf_f32(hb, h->knn_tau); }
    if (h->qmask & (1u << TR_QV_RIDGE_SURF)) {
        tr_buf_f32(hb, h->rs_alpha);
        tr_buf_f32s(hb, h->ridge_surf, M * (D + h->nsurf));
    }
    if (h->qmask & (1u << TR_QV_KNN_SUP)) {
        tr_buf_f32(hb, h->sup_w); tr_buf_f32(hb, h->sup_alpha);
        tr_buf_f32s(hb, h->sup_W, M * D);
        tr_buf_f32s(hb, h->sup_mean, M);
        tr_buf_f32s(hb, h->sup_scale, M);
        tr_buf_f32s(hb, h->knn_Z, (size_t)h->knn_n * M);
    }
    tr_buf_u32(hb, h->n_cv);
    for (uint32_t i = 0; i < h->n_cv; i++) {
        const tr_heads_cvrow *r = &h->cvrows[i];
        tr_buf_i32(hb, r->qv); tr_buf_i32(hb, r->cv); tr_buf_i32(hb, r->eligible); tr_buf_f64(hb, r->alpha);
        tr_buf_f64(hb, r->aiq_lin); tr_buf_f64(hb, r->aiq_log); tr_buf_f64(hb, r->q_at_cbest);
        tr_buf_f64(hb, r->gap); tr_buf_f64(hb, r->saving); tr_buf_f64(hb, r->q_max);
        tr_buf_f64(hb, r->ece); tr_buf_f64(hb, r->crit);
    }

    tr_buf_u32(cost, HEADS_FMT);
    tr_buf_u32(cost, h->M); tr_buf_u32(cost, h->T);
    tr_buf_f32s(cost, h->ctask, T * M);
    tr_buf_f32s(cost, h->cgmean, M);
    if (h->cmask & (1u << TR_CV_LEN)) {
        tr_buf_f32s(cost, h->cab, 2 * M);
        tr_buf_f32s(cost, h->cres, T * M);
        tr_buf_f32s(cost, h->cmin, M);
    }

    tr_buf_u32(cal, HEADS_FMT);
    tr_buf_u32(cal, h->M);
    tr_buf_f32(cal, h->ece_raw); tr_buf_f32(cal, h->ece_cal);
    tr_buf_put(cal, h->cal_kind, M);
    tr_buf_f32s(cal, h->cal_ab, 2 * M);
    for (size_t m = 0; m <= M; m++) tr_buf_u32(cal, h->cal_off[m]);
    tr_buf_f32s(cal, h->cal_x, h->cal_off[M]);
    tr_buf_f32s(cal, h->cal_y, h->cal_off[M]);

    tr_buf_u32(sel, HEADS_FMT);
    tr_buf_u32(sel, h->n_budget);
    tr_buf_f32s(sel, h->b_lambda, h->n_budget);
    tr_buf_f32s(sel, h->b_cost, h->n_budget);
    tr_buf_f32s(sel, h->b_quality, h->n_budget);
    tr_buf_u32(sel, h->n_risk); tr_buf_u32(sel, h->risk_n);
    tr_buf_f32(sel, h->risk_delta);
    tr_buf_f32s(sel, h->r_t, h->n_risk);
    tr_buf_f32s(sel, h->r_ucb, h->n_risk);
}

/* Read n floats into a fresh array after checking the count. */
static float *get_fs(tr_cursor *c, uint64_t n, const char *what)
{
    tr_cursor_field(c, what);
    float *v = NULL;
    if (tr_cursor_check_count(c, n, 4, what)) return NULL;
    tr_get_f32s_alloc(c, (size_t)n, &v);
    return v;
}

static int cursor_error(tr_cursor *c, const char *sec, char *err, size_t errlen)
{
    int code = c->err == TR_ETRUNC ? TR_ETRUNC : c->err == TR_ENOMEM ? TR_ENOMEM : TR_EFORMAT;
    return tr_errorf(err, errlen, code, "heads section %s: %s at field '%s'", sec,
                     code == TR_ETRUNC ? "truncated" : code == TR_ENOMEM ? "out of memory" : "count exceeds the section",
                     c->what ? c->what : "?");
}

#define BAD(...) do { rc = tr_errorf(err, errlen, TR_EFORMAT, __VA_ARGS__); goto fail; } while (0)
#define CHECK(cur, sec) do { if ((cur)->err) { rc = cursor_error(cur, sec, err, errlen); goto fail; } } while (0)

int tr_heads_load(const void *heads, size_t heads_len, const void *calib,
                  size_t calib_len, const void *cost, size_t cost_len,
                  const void *select, size_t select_len, tr_heads **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    int rc = TR_ENOMEM;
    tr_heads *h = tr_calloc(1, sizeof *h);
    if (!h) return tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading");
    tr_cursor c;
    uint32_t ver, M2, T2;

    /* HEAD */
    tr_cursor_init(&c, heads, heads_len);
    tr_cursor_field(&c, "version");
    tr_get_u32(&c, &ver);
    tr_cursor_field(&c, "counts");
    tr_get_u32(&c, &h->M); tr_get_u32(&c, &h->T); tr_get_u32(&c, &h->d); tr_get_u32(&c, &h->top_k);
    tr_cursor_field(&c, "variants");
    tr_get_i32(&c, &h->qv); tr_get_i32(&c, &h->cv);
    tr_get_u32(&c, &h->qmask); tr_get_u32(&c, &h->cmask);
    tr_cursor_field(&c, "constants");
    tr_get_f32(&c, &h->k0); tr_get_f32(&c, &h->cost_k0); tr_get_f32(&c, &h->ridge_alpha);
    CHECK(&c, "HEAD");
    if (ver == 0 || ver > HEAD_FMT) {
        rc = tr_errorf(err, errlen, TR_EVERSION, "heads section HEAD: format %u is newer than this reader (%u)", ver, HEAD_FMT);
        goto fail;
    }
    h->fmt = ver < 2 ? 2u : ver;
    /* version 1 knew variants 0-4, version 2 variants 0-7 */
    const unsigned nqv = ver == 1 ? 5u : ver == 2 ? 8u : TR_QV_COUNT;
    const uint32_t ks_bit = 1u << TR_QV_KNN_SUP;
    const uint32_t rs_bit = 1u << TR_QV_RIDGE_SURF, kt_bit = 1u << TR_QV_KNN_TAU;
    if (h->M == 0 || h->T == 0) BAD("heads section HEAD: %u models, %u tasks", h->M, h->T);
    if (h->top_k < 1 || h->top_k > TR_HEADS_MAX_TOPK || h->top_k > h->T) BAD("heads section HEAD: top_k %u", h->top_k);
    if (h->qmask >> nqv || h->cmask >> TR_CV_COUNT || !(h->qmask & 3u) || !(h->cmask & 1u))
        BAD("heads section HEAD: variant masks %#x/%#x", h->qmask, h->cmask);
    if ((h->qmask & TR_QV_KNN_MASK) && h->d == 0) BAD("heads section HEAD: kNN heads with d = 0");
    if ((h->qmask & (1u << TR_QV_ENSEMBLE)) && (h->qmask & 0xCu) != 0xCu)
        BAD("heads section HEAD: ensemble without ridge and kNN heads");
    if ((h->qmask & (1u << TR_QV_ENS_KT_RS)) && (h->qmask & (rs_bit | kt_bit)) != (rs_bit | kt_bit))
        BAD("heads section HEAD: kNN-tau/ridge-surface ensemble without its parts");
    if ((h->qmask & ((1u << TR_QV_RIDGE) | rs_bit | ks_bit)) && h->d == 0) BAD("heads section HEAD: ridge heads with d = 0");
    if ((h->qmask & (1u << TR_QV_KNN_SUP_RIDGE)) && !(h->qmask & ks_bit))
        BAD("heads section HEAD: kNN-sup-ridge without kNN-sup");
    if (!tr_heads_has_qvariant(h, h->qv) || !tr_heads_has_cvariant(h, h->cv))
        BAD("heads section HEAD: chosen variant %d/%d not trained", h->qv, h->cv);
    {
        uint64_t M = h->M, T = h->T, D = (uint64_t)h->d + 1;
        /* the counts must fit the bytes before anything is allocated */
        if (tr_cursor_check_count(&c, T * M + M + ((h->qmask & (1u << TR_QV_RIDGE)) ? M * D : 0), 4, "prior"))
            CHECK(&c, "HEAD");
        /* ridge_surf's size depends on nsurf, and kNN-sup's arrays are
         * read further on */
        uint32_t qmask = h->qmask;
        h->qmask &= ~(rs_bit | ks_bit);
        rc = tr_heads_alloc_parts(h);
        h->qmask = qmask;
        if (rc) { rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading"); goto fail; }
        tr_cursor_field(&c, "prior");
        tr_get_f32s(&c, h->prior, T * M);
        tr_get_f32s(&c, h->gmean, M);
        if (h->ridge) { tr_cursor_field(&c, "ridge"); tr_get_f32s(&c, h->ridge, M * D); }
        if (h->qmask & TR_QV_KNN_MASK) {
            tr_cursor_field(&c, "knn header");
            tr_get_u32(&c, &h->knn_n); tr_get_u32(&c, &h->knn_k); tr_get_u32(&c, &h->knn_tasks);
            tr_get_f32(&c, &h->knn_p); tr_get_f32(&c, &h->knn_k0);
            if (ver >= 4) tr_get_f32(&c, &h->knn_mass);
            CHECK(&c, "HEAD");
            if (h->knn_tasks > TR_HEADS_MAX_TOPK || !(h->knn_p > 0) || !(h->knn_k0 >= 0) ||
                !(h->knn_mass >= 0 && h->knn_mass <= 1))
                BAD("heads section HEAD: kNN settings tasks %u, p %g, k0 %g, mass %g", h->knn_tasks, h->knn_p,
                    h->knn_k0, h->knn_mass);
            uint64_t kn = h->knn_n;
            if (tr_cursor_check_count(&c, 4 * ((T + 1) + kn * M) + kn * (D - 1) * (ver >= 3 ? 2 : 4), 1, "knn store"))
                CHECK(&c, "HEAD");
            h->knn_off = tr_mallocarray(T + 1, sizeof *h->knn_off);
            if (!h->knn_off) { rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading"); goto fail; }
            for (size_t t = 0; t <= T; t++) tr_get_u32(&c, &h->knn_off[t]);
            if (ver >= 3) {
                tr_cursor_field(&c, "knn X");
                tr_get_u16s_alloc(&c, (size_t)(kn * (D - 1)), &h->knn_Xh);
            } else {
                h->knn_X = get_fs(&c, kn * (D - 1), "knn X");
            }
            float *plain = get_fs(&c, kn * M, "knn S");
            CHECK(&c, "HEAD");
            h->knn_S = tr_mallocarray(kn ? kn * 2 * M : 1, sizeof *h->knn_S);
            if (h->knn_S) tr_knn_pack(plain, kn, M, h->knn_S);
            tr_free(plain);
            if (!h->knn_S) { rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading"); goto fail; }
            if (h->knn_off[0] != 0 || h->knn_off[T] != h->knn_n) BAD("heads section HEAD: kNN task offsets do not span the store");
            for (size_t i = 0; h->knn_Xh && i < kn * (D - 1); i++)
                if (tr_half_nonfinite(h->knn_Xh[i])) BAD("heads section HEAD: kNN store row %zu is not finite", i / (D - 1));
            for (size_t t = 0; t < T; t++)
                if (h->knn_off[t + 1] < h->knn_off[t]) BAD("heads section HEAD: kNN task offsets decrease at task %zu", t);
        }
        if (ver >= 2) {
            tr_cursor_field(&c, "surface features");
            tr_get_u32(&c, &h->nsurf);
            CHECK(&c, "HEAD");
            if (h->nsurf != 0 && h->nsurf != TR_HEADS_SURF)
                BAD("heads section HEAD: %u surface features (this reader knows %d)", h->nsurf, TR_HEADS_SURF);
            if ((h->qmask & rs_bit) && h->nsurf == 0) BAD("heads section HEAD: ridge-surface head without surface features");
            h->surf_mean = get_fs(&c, h->nsurf, "surface mean");
            h->surf_scale = get_fs(&c, h->nsurf, "surface scale");
            CHECK(&c, "HEAD");
            for (uint32_t k = 0; k < h->nsurf; k++)
                if (!isfinite(h->surf_mean[k]) || !isfinite(h->surf_scale[k]))
                    BAD("heads section HEAD: surface feature %u: mean %g, scale %g", k, h->surf_mean[k], h->surf_scale[k]);
            if (h->qmask & kt_bit) {
                tr_cursor_field(&c, "knn-tau");
                tr_get_u32(&c, &h->knn_tau_k); tr_get_f32(&c, &h->knn_tau);
                CHECK(&c, "HEAD");
                if (!(h->knn_tau > 0 && h->knn_tau < INFINITY)) BAD("heads section HEAD: kNN-tau temperature %g", h->knn_tau);
            }
            if (h->qmask & rs_bit) {
                tr_cursor_field(&c, "ridge-surface");
                tr_get_f32(&c, &h->rs_alpha);
                h->ridge_surf = get_fs(&c, M * (D + h->nsurf), "ridge-surface weights");
                CHECK(&c, "HEAD");
            }
        }
        if (h->qmask & ks_bit) {
            tr_cursor_field(&c, "knn-sup");
            tr_get_f32(&c, &h->sup_w); tr_get_f32(&c, &h->sup_alpha);
            CHECK(&c, "HEAD");
            if (!(h->sup_w > 0 && h->sup_w < INFINITY)) BAD("heads section HEAD: kNN-sup weight %g", h->sup_w);
            if (!(h->qmask & kt_bit)) BAD("heads section HEAD: kNN-sup without kNN-tau");
            uint64_t kn = h->knn_n;
            if (tr_cursor_check_count(&c, M * D + 2 * M + kn * M, 4, "knn-sup")) CHECK(&c, "HEAD");
            h->sup_W = get_fs(&c, M * D, "knn-sup weights");
            h->sup_mean = get_fs(&c, M, "knn-sup mean");
            h->sup_scale = get_fs(&c, M, "knn-sup scale");
            h->knn_Z = get_fs(&c, kn * M, "knn-sup z");
            CHECK(&c, "HEAD");
            h->knn_zn = tr_mallocarray(kn ? kn : 1, sizeof *h->knn_zn);
            if (!h->knn_zn) { rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading"); goto fail; }
            for (size_t m = 0; m < M; m++)
                if (!isfinite(h->sup_mean[m]) || !isfinite(h->sup_scale[m]))
                    BAD("heads section HEAD: kNN-sup model %zu: mean %g, scale %g", m, h->sup_mean[m], h->sup_scale[m]);
            double b2 = (double)h->sup_w / (double)M;
            for (size_t j = 0; j < kn; j++) {
                double q = 0;
                for (size_t m = 0; m < M; m++) {
                    float v = h->knn_Z[j * M + m];
                    if (!isfinite(v)) BAD("heads section HEAD: kNN-sup z of stored row %zu not finite", j);
                    q += (double)v * v;
                }
                h->knn_zn[j] = (float)(1.0 / sqrt(1.0 + b2 * q));
            }
        }
        tr_cursor_field(&c, "cv rows");
        tr_get_u32(&c, &h->n_cv);
        CHECK(&c, "HEAD");
        if (h->n_cv > (TR_QV_COUNT + 2 * TR_HEADS_MAX_ALPHAS) * TR_CV_COUNT) BAD("heads section HEAD: %u CV rows", h->n_cv);
        if (tr_cursor_check_count(&c, h->n_cv, 84, "cv rows")) CHECK(&c, "HEAD");
        h->cvrows = tr_calloc(h->n_cv ? h->n_cv : 1, sizeof *h->cvrows);
        if (!h->cvrows) { rc = tr_errorf(err, errlen, TR_ENOMEM, "heads: out of memory loading"); goto fail; }
        for (uint32_t i = 0; i < h->n_cv; i++) {
            tr_heads_cvrow *r = &h->cvrows[i];
            int32_t el = 0;
            tr_get_i32(&c, &r->qv); tr_get_i32(&c, &r->cv); tr_get_i32(&c, &el); tr_get_f64(&c, &r->alpha);
            r->eligible = el != 0;
            tr_get_f64(&c, &r->aiq_lin); tr_get_f64(&c, &r->aiq_log); tr_get_f64(&c, &r->q_at_cbest);
            tr_get_f64(&c, &r->gap); tr_get_f64(&c, &r->saving); tr_get_f64(&c, &r->q_max);
            tr_get_f64(&c, &r->ece); tr_get_f64(&c, &r->crit);
        }
        CHECK(&c, "HEAD");

        /* COST */
        tr_cursor_init(&c, cost, cost_len);
        tr_cursor_field(&c, "header");
        tr_get_u32(&c, &ver); tr_get_u32(&c, &M2); tr_get_u32(&c, &T2);
        CHECK(&c, "COST");
        if (ver == 0 || ver > HEADS_FMT) { rc = tr_errorf(err, errlen, TR_EVERSION, "heads section COST: format %u is newer than this reader", ver); goto fail; }
        if (M2 != M || T2 != T) BAD("heads section COST: %u models x %u tasks, HEAD has %u x %u", M2, T2, h->M, h->T);
        tr_cursor_field(&c, "task costs");
        tr_get_f32s(&c, h->ctask, T * M);
        tr_get_f32s(&c, h->cgmean, M);
        if (h->cab) {
            tr_cursor_field(&c, "length model");
            tr_get_f32s(&c, h->cab, 2 * M);
            tr_get_f32s(&c, h->cres, T * M);
            tr_get_f32s(&c, h->cmin, M);
        }
        CHECK(&c, "COST");

        /* CALB */
        tr_cursor_init(&c, calib, calib_len);
        tr_cursor_field(&c, "header");
        tr_get_u32(&c, &ver); tr_get_u32(&c, &M2);
        tr_get_f32(&c, &h->ece_raw); tr_get_f32(&c, &h->ece_cal);
        CHECK(&c, "CALB");
        if (ver == 0 || ver > HEADS_FMT) { rc = tr_errorf(err, errlen, TR_EVERSION, "heads section CALB: format %u is newer than this reader", ver); goto fail; }
        if (M2 != M) BAD("heads section CALB: %u models, HEAD has %u", M2, h->M);
        tr_cursor_field(&c, "kinds");
        if (tr_cursor_check_count(&c, M, 1, "kinds") == TR_OK) {
            const unsigned char *k = c.p;
            memcpy(h->cal_kind, k, M);
            c.p += M; c.left -= M;
        }
        tr_cursor_field(&c, "platt");
        tr_get_f32s(&c, h->cal_ab, 2 * M);
        tr_cursor_field(&c, "offsets");
        if (tr_cursor_check_count(&c, M + 1, 4, "offsets") == TR_OK)
            for (size_t m = 0; m <= M; m++) tr_get_u32(&c, &h->cal_off[m]);
        CHECK(&c, "CALB");
        for (size_t m = 0; m < M; m++) {
            if (h->cal_kind[m] > TR_CAL_ISOTONIC) BAD("heads section CALB: model %zu: calibration kind %u", m, h->cal_kind[m]);
            if (h->cal_off[m + 1] < h->cal_off[m]) BAD("heads section CALB: model %zu: knot offsets decrease", m);
        }
        if (h->cal_off[0] != 0) BAD("heads section CALB: first knot offset %u", h->cal_off[0]);
        uint64_t nk = h->cal_off[M];
        if (tr_cursor_check_count(&c, 2 * nk, 4, "knots")) CHECK(&c, "CALB");
        h->cal_x = get_fs(&c, nk, "knots x");
        h->cal_y = get_fs(&c, nk, "knots y");
        CHECK(&c, "CALB");
        for (size_t m = 0; m < M; m++)
            for (uint32_t j = h->cal_off[m] + 1; j < h->cal_off[m + 1]; j++)
                if (!(h->cal_x[j] >= h->cal_x[j - 1])) BAD("heads section CALB: model %zu: knots not sorted", m);
    }

    /* SELC */
    tr_cursor_init(&c, select, select_len);
    tr_cursor_field(&c, "header");
    tr_get_u32(&c, &ver); tr_get_u32(&c, &h->n_budget);
    CHECK(&c, "SELC");
    if (ver == 0 || ver > HEADS_FMT) { rc = tr_errorf(err, errlen, TR_EVERSION, "heads section SELC: format %u is newer than this reader", ver); goto fail; }
    if (tr_cursor_check_count(&c, 3 * (uint64_t)h->n_budget, 4, "budget table")) CHECK(&c, "SELC");
    h->b_lambda = get_fs(&c, h->n_budget, "budget lambda");
    h->b_cost = get_fs(&c, h->n_budget, "budget cost");
    h->b_quality = get_fs(&c, h->n_budget, "budget quality");
    tr_cursor_field(&c, "risk header");
    tr_get_u32(&c, &h->n_risk); tr_get_u32(&c, &h->risk_n); tr_get_f32(&c, &h->risk_delta);
    CHECK(&c, "SELC");
    if (tr_cursor_check_count(&c, 2 * (uint64_t)h->n_risk, 4, "risk table")) CHECK(&c, "SELC");
    h->r_t = get_fs(&c, h->n_risk, "risk t");
    h->r_ucb = get_fs(&c, h->n_risk, "risk bound");
    CHECK(&c, "SELC");
    for (uint32_t j = 1; j < h->n_budget; j++)
        if (!(h->b_lambda[j] > h->b_lambda[j - 1]) || !(h->b_cost[j] <= h->b_cost[j - 1]))
            BAD("heads section SELC: budget table not monotone at row %u", j);
    for (uint32_t j = 1; j < h->n_risk; j++)
        if (!(h->r_t[j] > h->r_t[j - 1]) || !(h->r_ucb[j] >= h->r_ucb[j - 1]))
            BAD("heads section SELC: risk table not monotone at row %u", j);
    tr_heads_bind_tables(h);
    *out = h;
    return TR_OK;
fail:
    tr_heads_free(h);
    return rc;
}
