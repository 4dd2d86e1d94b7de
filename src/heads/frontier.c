/* The cost/quality frontier figures of docs/evaluation.md for cross-validation inside
 * the heads: the reference figures of a fold, and the sweep's figures
 * through base/eval_metrics.c, so a variant is chosen by exactly the figure
 * `taskroute eval` reports (conventions there). */
#include "heads/parts.h"

#include <math.h>

#include "base/eval_metrics.h"
#include "base/util.h"

int tr_frontier_ref_compute(const float *S, const float *C, size_t n, size_t M,
                            const size_t *rows, tr_frontier_ref *ref)
{
    double *s = tr_mallocarray(2 * n * M, sizeof *s);
    if (!s) return TR_ENOMEM;
    double *c = s + n * M;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r;
        for (size_t m = 0; m < M; m++) { s[r * M + m] = S[i * M + m]; c[r * M + m] = C[i * M + m]; }
    }
    tr_eval_ref er;
    char err[160];
    int rc = tr_eval_reference(s, c, n, M, &er, err, sizeof err);
    tr_free(s);
    if (rc) return rc;
    ref->q_best = er.q_best; ref->c_best = er.c_best; ref->q_oracle = er.q_oracle;
    ref->c_lo = er.c_lo; ref->c_hi = er.c_hi;
    return TR_OK;
}

/* The hull and its figures are eval_metrics.c's, so that cross-validation
 * chooses a variant by exactly the figure `taskroute eval` reports. */
int tr_frontier_figures(const double *cost, const double *qual, size_t np,
                        const tr_frontier_ref *ref, tr_frontier_figs *out)
{
    tr_point *p = tr_mallocarray(np ? np : 1, sizeof *p);
    if (!p) return TR_ENOMEM;
    for (size_t i = 0; i < np; i++) { p[i].cost = cost[i]; p[i].quality = qual[i]; }
    tr_eval_ref er = {0, ref->q_best, ref->c_best, ref->q_oracle, NAN, ref->c_lo, ref->c_hi};
    tr_eval_figures f;
    char err[160];
    int rc = tr_eval_figures_compute(p, np, &er, p, &f, err, sizeof err);
    if (rc) { tr_free(p); return rc; }
    double den = ref->q_oracle - ref->q_best;
    out->q_at_cbest = f.q_at_cbest;
    out->gap = den > 0 ? f.gap : 0;
    out->c_at_qbest = f.c_at_qbest;
    out->saving = f.saving;
    out->q_max = f.q_max;
    out->c_qmax = f.c_at_qmax;
    out->aiq_lin = f.aiq_lin;
    out->aiq_log = f.aiq_log;
    /* a free model has no place on a log axis: start the axis six decades
     * below the dearest model, so variants still compare */
    if (!(ref->c_lo > 0) && ref->c_hi > 0)
        out->aiq_log = tr_eval_aiq(p, f.hull_n, ref->c_hi * 1e-6, ref->c_hi, 1);
    out->n_hull = f.hull_n;
    tr_free(p);
    return TR_OK;
}
