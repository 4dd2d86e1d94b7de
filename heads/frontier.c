/* The cost/quality frontier figures of EVAL.md (upper convex hull of a
 * sweep's points, Q@C_best, gap captured, C@Q_best, AIQ on linear and log10
 * cost axes), computed here so cross-validation can choose a head variant by
 * the same figure the evaluation reports.  Conventions follow
 * /work/research/eval.py: hull truncated after its first highest point;
 * below the hull's first cost quality counts as 0 in AIQ, and Q@C_best is
 * NaN when C_best lies below it (the router cannot reach that cost). */
#include "parts.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

void tr_frontier_ref_compute(const float *S, const float *C, size_t n, size_t M,
                             const size_t *rows, tr_frontier_ref *ref)
{
    double qb = -1, cb = 0, clo = INFINITY, chi = -INFINITY, qor = 0;
    for (size_t m = 0; m < M; m++) {
        double q = 0, c = 0;
        for (size_t r = 0; r < n; r++) {
            size_t i = rows ? rows[r] : r;
            q += S[i * M + m]; c += C[i * M + m];
        }
        q /= (double)n; c /= (double)n;
        if (q > qb || (q == qb && c < cb)) { qb = q; cb = c; }
        if (c < clo) clo = c;
        if (c > chi) chi = c;
    }
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r;
        double mx = -INFINITY;
        for (size_t m = 0; m < M; m++) if (S[i * M + m] > mx) mx = S[i * M + m];
        qor += mx;
    }
    ref->q_best = qb; ref->c_best = cb; ref->q_oracle = qor / (double)n;
    ref->c_lo = clo; ref->c_hi = chi;
}

typedef struct pt { double c, q; } pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *x = a, *y = b;
    if (x->c != y->c) return (x->c > y->c) - (x->c < y->c);
    return (x->q > y->q) - (x->q < y->q);
}

static double hull_at(const pt *h, size_t nh, double c)
{
    if (c < h[0].c) return NAN;
    if (c >= h[nh - 1].c) return h[nh - 1].q;
    for (size_t j = 1; j < nh; j++)
        if (c < h[j].c) return h[j - 1].q + (h[j].q - h[j - 1].q) * (c - h[j - 1].c) / (h[j].c - h[j - 1].c);
    return h[nh - 1].q;
}

static double cost_at(const pt *h, size_t nh, double q)
{
    if (h[0].q >= q) return h[0].c;
    for (size_t j = 1; j < nh; j++)
        if (h[j].q >= q) return h[j - 1].c + (h[j].c - h[j - 1].c) * (q - h[j - 1].q) / (h[j].q - h[j - 1].q);
    return INFINITY;
}

static double aiq(const pt *h, size_t nh, double lo, double hi, int logx)
{
    if (!(hi > lo)) return h[nh - 1].q;
    if (logx && lo <= 0) lo = hi * 1e-6;   /* a free model: the log axis starts somewhere */
    double area = 0;
    for (size_t j = 0; j < nh; j++) {
        double x0 = h[j].c, x1 = j + 1 < nh ? h[j + 1].c : (hi > x0 ? hi : x0);
        double y0 = h[j].q, y1 = j + 1 < nh ? h[j + 1].q : y0;
        double a0 = x0 > lo ? x0 : lo, a1 = x1 < hi ? x1 : hi;
        if (a1 <= a0) continue;
        double b = x1 > x0 ? (y1 - y0) / (x1 - x0) : 0, a = y0 - b * x0;
        if (logx) area += (a * log(a1 / a0) + b * (a1 - a0)) / log(10.0);
        else area += a * (a1 - a0) + 0.5 * b * (a1 * a1 - a0 * a0);
    }
    double width = logx ? log10(hi) - log10(lo) : hi - lo;
    return area / width;
}

int tr_frontier_figures(const double *cost, const double *qual, size_t np,
                        const tr_frontier_ref *ref, tr_frontier_figs *out)
{
    pt *p = tr_mallocarray(np ? np : 1, sizeof *p);
    pt *h = tr_mallocarray(np ? np : 1, sizeof *h);
    if (!p || !h) { tr_free(p); tr_free(h); return TR_ENOMEM; }
    for (size_t i = 0; i < np; i++) { p[i].c = cost[i]; p[i].q = qual[i]; }
    qsort(p, np, sizeof *p, cmp_pt);
    size_t nd = 0;   /* equal costs keep the best quality (sorted last) */
    for (size_t i = 0; i < np; i++) {
        if (nd && p[nd - 1].c == p[i].c) p[nd - 1] = p[i];
        else p[nd++] = p[i];
    }
    size_t nh = 0;
    for (size_t i = 0; i < nd; i++) {
        while (nh >= 2) {
            pt a = h[nh - 2], b = h[nh - 1];
            if ((b.c - a.c) * (p[i].q - a.q) - (b.q - a.q) * (p[i].c - a.c) >= 0) nh--;
            else break;
        }
        h[nh++] = p[i];
    }
    size_t jm = 0;
    for (size_t j = 1; j < nh; j++) if (h[j].q > h[jm].q) jm = j;
    nh = jm + 1;
    double qc = hull_at(h, nh, ref->c_best);
    double cq = cost_at(h, nh, ref->q_best);
    double den = ref->q_oracle - ref->q_best;
    out->q_at_cbest = qc;
    out->gap = den > 0 ? (qc - ref->q_best) / den : 0;
    out->c_at_qbest = ref->c_best > 0 ? cq / ref->c_best : (cq <= 0 ? 0 : INFINITY);
    out->saving = 1 - out->c_at_qbest;
    out->q_max = h[jm].q;
    out->c_qmax = h[jm].c;
    out->aiq_lin = aiq(h, nh, ref->c_lo, ref->c_hi, 0);
    out->aiq_log = aiq(h, nh, ref->c_lo, ref->c_hi, 1);
    out->n_hull = nh;
    tr_free(p); tr_free(h);
    return TR_OK;
}
