/* The evaluation protocol's figures on plain arrays: the cost-quality hull, Q@C_best, gap
 * captured, C@Q_best, Q_max, AIQ (linear and log10 cost axes), ECE, and the
 * best-single-model and oracle references.  The conventions are in
 * eval_metrics.h; the arithmetic follows an independent Python reference
 * implementation expression by expression so both agree to 1e-9 (its
 * figures are pinned in tests/test_eval_metrics.c). */
#include "base/eval_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static int cmp_point(const void *a, const void *b)
{
    const tr_point *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    if (x->quality != y->quality) return x->quality < y->quality ? -1 : 1;
    return 0;
}

int tr_eval_hull(const tr_point *pts, size_t n, tr_point *hull, size_t *hull_n, char *err, size_t errlen)
{
    *hull_n = 0;
    if (n == 0) return tr_errorf(err, errlen, TR_EINVAL, "cost-quality hull: no sweep points");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pts[i].cost) || !isfinite(pts[i].quality))
            return tr_errorf(err, errlen, TR_EINVAL, "cost-quality hull: sweep point %zu is (%g, %g), not finite", i,
                             pts[i].cost, pts[i].quality);
    if (hull != pts) memmove(hull, pts, n * sizeof *hull);
    qsort(hull, n, sizeof *hull, cmp_point);
    /* Of equal costs keep the best quality (the last after sorting). */
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && hull[u - 1].cost == hull[i].cost) u--;
        hull[u++] = hull[i];
    }
    /* Monotone chain, in place: the stack hull[0..h) never overtakes the
     * point being read (hull[i], i >= h). */
    size_t h = 0;
    for (size_t i = 0; i < u; i++) {
        tr_point p = hull[i];
        while (h >= 2) {
            double x1 = hull[h - 2].cost, y1 = hull[h - 2].quality;
            double x2 = hull[h - 1].cost, y2 = hull[h - 1].quality;
            /* drop hull[h-1] when it lies on or below the chord to p */
            if ((x2 - x1) * (p.quality - y1) - (y2 - y1) * (p.cost - x1) >= 0)
                h--;
            else
                break;
        }
        hull[h++] = p;
    }
    /* Non-decreasing: keep up to the first highest-quality vertex. */
    size_t k = 0;
    for (size_t i = 1; i < h; i++)
        if (hull[i].quality > hull[k].quality) k = i;
    *hull_n = k + 1;
    return TR_OK;
}

double tr_eval_quality_at(const tr_point *hull, size_t h, double cost)
{
    if (h == 0 || isnan(cost) || cost < hull[0].cost) return NAN;
    if (cost >= hull[h - 1].cost) return hull[h - 1].quality;
    size_t j = 1;
    while (hull[j].cost <= cost) j++; /* hull[j-1].cost <= cost < hull[j].cost */
    double x1 = hull[j - 1].cost, x2 = hull[j].cost, y1 = hull[j - 1].quality, y2 = hull[j].quality;
    return y1 + (y2 - y1) * (cost - x1) / (x2 - x1);
}

double tr_eval_cost_at(const tr_point *hull, size_t h, double quality)
{
    if (h == 0 || isnan(quality)) return NAN;
    if (hull[0].quality >= quality) return hull[0].cost;
    for (size_t j = 1; j < h; j++)
        if (hull[j].quality >= quality) {
            double x1 = hull[j - 1].cost, x2 = hull[j].cost, y1 = hull[j - 1].quality, y2 = hull[j].quality;
            return x1 + (x2 - x1) * (quality - y1) / (y2 - y1);
        }
    return INFINITY;
}

double tr_eval_aiq(const tr_point *hull, size_t h, double c_lo, double c_hi, int log_axis)
{
    if (h == 0 || !(c_hi > c_lo) || (log_axis && !(c_lo > 0))) return NAN;
    double area = 0;
    /* Segments j = 0..h-1; the last runs flat from the last vertex to
     * max(c_hi, its cost). */
    for (size_t j = 0; j < h; j++) {
        double x0 = hull[j].cost, y0 = hull[j].quality;
        double x1 = j + 1 < h ? hull[j + 1].cost : fmax(c_hi, x0);
        double y1 = j + 1 < h ? hull[j + 1].quality : y0;
        double a0 = fmax(x0, c_lo), a1 = fmin(x1, c_hi);
        if (a1 <= a0) continue;
        double b = x1 > x0 ? (y1 - y0) / (x1 - x0) : 0.0;
        double a = y0 - b * x0;
        if (log_axis)
            area += (a * log(a1 / a0) + b * (a1 - a0)) / log(10.0);
        else
            area += a * (a1 - a0) + 0.5 * b * (a1 * a1 - a0 * a0);
    }
    double width = log_axis ? log10(c_hi) - log10(c_lo) : c_hi - c_lo;
    return area / width;
}

int tr_eval_figures_compute(const tr_point *sweep, size_t n, const tr_eval_ref *ref, tr_point *hull,
                            tr_eval_figures *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    tr_point *own = NULL;
    if (!hull && n) {
        own = tr_mallocarray(n, sizeof *own);
        if (!own) return tr_errorf(err, errlen, TR_ENOMEM, "cost-quality hull: out of memory for %zu points", n);
        hull = own;
    }
    size_t h;
    int rc = tr_eval_hull(sweep, n, hull, &h, err, errlen);
    if (rc) goto done;
    out->hull_n = h;
    out->q_at_cbest = tr_eval_quality_at(hull, h, ref->c_best);
    double denom = ref->q_oracle - ref->q_best;
    out->gap = denom > 0 ? (out->q_at_cbest - ref->q_best) / denom : NAN;
    double cq = tr_eval_cost_at(hull, h, ref->q_best);
    out->c_at_qbest = cq / ref->c_best;
    out->saving = 1 - out->c_at_qbest;
    out->q_max = hull[h - 1].quality;
    out->c_at_qmax = hull[h - 1].cost;
    out->aiq_lin = tr_eval_aiq(hull, h, ref->c_lo, ref->c_hi, 0);
    out->aiq_log = tr_eval_aiq(hull, h, ref->c_lo, ref->c_hi, 1);
done:
    tr_free(own);
    return rc;
}

void tr_ece_bins_init(tr_ece_bins *e, int bins)
{
    e->bins = bins >= 1 && bins <= TR_ECE_MAX_BINS ? bins : 0;
    e->n = 0;
    for (int b = 0; b < e->bins; b++) e->sp[b] = e->sa[b] = 0, e->cnt[b] = 0;
}

void tr_ece_bins_add(tr_ece_bins *e, double pred, double actual)
{
    if (!e->bins || isnan(pred) || isnan(actual)) return;
    double p = pred < 0 ? 0 : pred > 1 ? 1 : pred;
    int b = (int)(p * e->bins);
    if (b > e->bins - 1) b = e->bins - 1;
    e->sp[b] += p;
    e->sa[b] += actual;
    e->cnt[b]++;
    e->n++;
}

double tr_ece_bins_value(const tr_ece_bins *e)
{
    if (!e->n) return NAN;
    double v = 0;
    for (int b = 0; b < e->bins; b++)
        if (e->cnt[b])
            v += (double)e->cnt[b] / (double)e->n * fabs(e->sp[b] / (double)e->cnt[b] - e->sa[b] / (double)e->cnt[b]);
    return v;
}

double tr_eval_ece(const double *pred, const double *actual, size_t n, int bins)
{
    tr_ece_bins e;
    tr_ece_bins_init(&e, bins);
    for (size_t i = 0; i < n; i++) tr_ece_bins_add(&e, pred[i], actual[i]);
    return tr_ece_bins_value(&e);
}

void tr_eval_model_means(const double *scores, const double *costs, size_t n, size_t m, double *q_mean,
                         double *c_mean)
{
    for (size_t j = 0; j < m; j++) q_mean[j] = c_mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            q_mean[j] += scores[i * m + j];
            c_mean[j] += costs[i * m + j];
        }
    for (size_t j = 0; j < m; j++) {
        q_mean[j] /= (double)n;
        c_mean[j] /= (double)n;
    }
}

size_t tr_eval_best_single(const double *q_mean, const double *c_mean, size_t m)
{
    size_t b = 0;
    for (size_t j = 1; j < m; j++)
        if (q_mean[j] > q_mean[b] || (q_mean[j] == q_mean[b] && c_mean[j] < c_mean[b])) b = j;
    return b;
}

void tr_eval_oracle(const double *scores, const double *costs, size_t n, size_t m, size_t *choice, double *q,
                    double *c)
{
    double sq = 0, sc = 0;
    for (size_t i = 0; i < n; i++) {
        const double *s = scores + i * m, *k = costs + i * m;
        size_t b = 0;
        for (size_t j = 1; j < m; j++)
            if (s[j] > s[b] || (s[j] == s[b] && k[j] < k[b])) b = j;
        if (choice) choice[i] = b;
        sq += s[b];
        sc += k[b];
    }
    *q = n ? sq / (double)n : NAN;
    *c = n ? sc / (double)n : NAN;
}

int tr_eval_reference(const double *scores, const double *costs, size_t n, size_t m, tr_eval_ref *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || m == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "evaluation: %zu test prompts and %zu models", n, m);
    double *q = tr_mallocarray(2 * m, sizeof *q);
    if (!q) return tr_errorf(err, errlen, TR_ENOMEM, "evaluation: out of memory for %zu models", m);
    double *c = q + m;
    tr_eval_model_means(scores, costs, n, m, q, c);
    out->best = tr_eval_best_single(q, c, m);
    out->q_best = q[out->best];
    out->c_best = c[out->best];
    out->c_lo = out->c_hi = c[0];
    for (size_t j = 1; j < m; j++) {
        out->c_lo = fmin(out->c_lo, c[j]);
        out->c_hi = fmax(out->c_hi, c[j]);
    }
    tr_eval_oracle(scores, costs, n, m, NULL, &out->q_oracle, &out->c_oracle);
    tr_free(q);
    return TR_OK;
}
