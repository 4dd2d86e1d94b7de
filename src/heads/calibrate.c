/* Calibration of each model's predicted quality on out-of-fold predictions.
 *
 * Isotonic regression is the default (used when a model has >= 200
 * labelled out-of-fold predictions): the heads' errors are monotone but not
 * sigmoid-shaped (shrinkage compresses the prior toward the global mean,
 * the ridge correction over- or under-shoots), and with hundreds of labels
 * PAV's step function, interpolated between block centres, fits any
 * monotone distortion without a parametric guess.  Below 200 labels Platt
 * scaling (two parameters on the logit) is used: it cannot overfit a few
 * dozen 0/1 labels.  Both are monotone, so a model's ranking of prompts is
 * unchanged; selection by λ uses the raw predictions, the risk rule and the
 * reported quality use the calibrated ones. */
#include "heads/parts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/util.h"
#include "heads/train_steps.h"

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }
static double logit(double p) { p = clampd(p, 1e-4, 1 - 1e-4); return log(p / (1 - p)); }
static double sigm(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

static double platt_loss(const float *pred, const float *y, size_t n, double a, double b)
{
    double L = 0;
    for (size_t i = 0; i < n; i++) {
        double z = a * logit(pred[i]) + b;
        /* log(1+e^z) computed stably */
        double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        L += sp - y[i] * z;
    }
    return L;
}

void tr_platt_fit(const float *pred, const float *y, size_t n, float *a_out, float *b_out)
{
    double a = 1, b = 0;
    double L = platt_loss(pred, y, n, a, b);
    for (int it = 0; it < 50 && n > 0; it++) {
        double ga = 0, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-9;
        for (size_t i = 0; i < n; i++) {
            double l = logit(pred[i]), s = sigm(a * l + b), r = s - y[i], v = s * (1 - s);
            ga += r * l; gb += r;
            haa += v * l * l; hab += v * l; hbb += v;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        double step = 1;
        for (int h = 0; h < 30; h++, step /= 2) {
            double L2 = platt_loss(pred, y, n, a - step * da, b - step * db);
            if (L2 <= L) { a -= step * da; b -= step * db; L = L2; break; }
        }
        if (fabs(da) + fabs(db) < 1e-9) break;
    }
    *a_out = (float)a;
    *b_out = (float)b;
}

float tr_platt_apply(float a, float b, float p)
{
    if (isnan(p)) return p;
    return (float)sigm(a * logit(p) + b);
}

typedef struct pair { float p, y; } pair;

static int cmp_pair(const void *a, const void *b)
{
    float x = ((const pair *)a)->p, z = ((const pair *)b)->p;
    return (x > z) - (x < z);
}

int tr_isotonic_fit(const float *pred, const float *y, size_t n, float *kx,
                    float *ky, size_t *nk)
{
    *nk = 0;
    if (n == 0) return TR_OK;
    pair *v = tr_mallocarray(n, sizeof *v);
    double *sp = tr_mallocarray(n, sizeof *sp), *sy = tr_mallocarray(n, sizeof *sy);
    double *sw = tr_mallocarray(n, sizeof *sw);
    int rc = TR_ENOMEM;
    if (!v || !sp || !sy || !sw) goto fail;
    for (size_t i = 0; i < n; i++) { v[i].p = pred[i]; v[i].y = y[i]; }
    qsort(v, n, sizeof *v, cmp_pair);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* equal predictions pool first: a step function cannot split them */
        if (k > 0 && sp[k - 1] / sw[k - 1] == v[i].p) {
            sp[k - 1] += v[i].p; sy[k - 1] += v[i].y; sw[k - 1] += 1;
        } else {
            sp[k] = v[i].p; sy[k] = v[i].y; sw[k] = 1; k++;
        }
        while (k > 1 && sy[k - 2] / sw[k - 2] >= sy[k - 1] / sw[k - 1]) {
            sp[k - 2] += sp[k - 1]; sy[k - 2] += sy[k - 1]; sw[k - 2] += sw[k - 1];
            k--;
        }
    }
    for (size_t j = 0; j < k; j++) {
        kx[j] = (float)(sp[j] / sw[j]);
        ky[j] = (float)(sy[j] / sw[j]);
    }
    *nk = k;
    rc = TR_OK;
fail:
    tr_free(v); tr_free(sp); tr_free(sy); tr_free(sw);
    return rc;
}

float tr_isotonic_apply(const float *kx, const float *ky, size_t nk, float p)
{
    if (nk == 0 || isnan(p)) return p;
    if (p <= kx[0]) return ky[0];
    if (p >= kx[nk - 1]) return ky[nk - 1];
    size_t lo = 0, hi = nk - 1;   /* kx[lo] < p < kx[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (kx[mid] <= p) lo = mid; else hi = mid;
    }
    float f = (p - kx[lo]) / (kx[hi] - kx[lo]);
    return ky[lo] + f * (ky[hi] - ky[lo]);
}

double tr_ece(const float *pred, const float *y, size_t n, int bins)
{
    tr_ece_bins e;
    tr_ece_bins_init(&e, bins);
    for (size_t i = 0; i < n; i++) tr_ece_bins_add(&e, pred[i], y[i]);
    double v = tr_ece_bins_value(&e);
    return isnan(v) ? 0 : v;   /* nothing to measure: no miscalibration on record */
}

/* Per-model calibration on (OOF) predictions Q against the scores. */
int tr_heads_fit_calibration(tr_heads *h, const tr_cv_data *D, const float *Q)
{
    size_t n = D->n, M = D->M;
    float *px = tr_mallocarray(n, sizeof *px), *py = tr_mallocarray(n, sizeof *py);
    float *kx = tr_mallocarray(n * M, sizeof *kx), *ky = tr_mallocarray(n * M, sizeof *ky);
    int rc = TR_ENOMEM;
    if (!px || !py || !kx || !ky) goto fail;
    uint32_t off = 0;
    for (size_t m = 0; m < M; m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            float q = Q[i * M + m], s = D->S[i * M + m];
            if (isnan(q) || isnan(s)) continue;
            px[k] = q; py[k] = s; k++;
        }
        h->cal_off[m] = off;
        if (k >= 200) {
            size_t nk;
            if ((rc = tr_isotonic_fit(px, py, k, kx + off, ky + off, &nk))) goto fail;
            h->cal_kind[m] = TR_CAL_ISOTONIC;
            off += (uint32_t)nk;
        } else if (k > 0) {
            tr_platt_fit(px, py, k, &h->cal_ab[2 * m], &h->cal_ab[2 * m + 1]);
            h->cal_kind[m] = TR_CAL_PLATT;
        } else {
            h->cal_kind[m] = TR_CAL_IDENTITY;
        }
    }
    h->cal_off[M] = off;
    h->cal_x = tr_mallocarray(off ? off : 1, sizeof(float));
    h->cal_y = tr_mallocarray(off ? off : 1, sizeof(float));
    if (!h->cal_x || !h->cal_y) goto fail;
    memcpy(h->cal_x, kx, off * sizeof(float));
    memcpy(h->cal_y, ky, off * sizeof(float));
    rc = TR_OK;
fail:
    tr_free(px); tr_free(py); tr_free(kx); tr_free(ky);
    return rc;
}

float tr_heads_cal_apply(const tr_heads *h, size_t m, float q)
{
    switch (h->cal_kind[m]) {
    case TR_CAL_PLATT: return tr_platt_apply(h->cal_ab[2 * m], h->cal_ab[2 * m + 1], q);
    case TR_CAL_ISOTONIC: return tr_isotonic_apply(h->cal_x + h->cal_off[m], h->cal_y + h->cal_off[m],
                                                   h->cal_off[m + 1] - h->cal_off[m], q);
    default: return q;
    }
}
