/* Regression guard: both routers' sweeps on the same test prompts, a
 * paired bootstrap over those prompts.  See regress_guard.h. */
#include "retrain/regress_guard.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/defaults.h"
#include "base/eval_metrics.h"
#include "base/json.h"
#include "base/opts.h"
#include "base/util.h"
#include "eval/eval_fold.h"
#include "eval/stats.h"

/* What a resample needs: both sweeps (same test prompts, so the same S
 * and C) and room for one resample's matrices and sweep points. */
typedef struct boot {
    const tr_eval_sweep *now, *cur;
    double *S, *C;          /* nt x M: the resample's rows */
    tr_point *pts, *hull;   /* n_lambda each */
    char err[256];
} boot;

/* Q@C_best and AIQ(log) of the sweep 'sw' on the prompts idx[0..n). */
static int figures_on(boot *b, const tr_eval_sweep *sw, const size_t *idx, size_t n, const tr_eval_ref *ref,
                      double *qc, double *aiq)
{
    size_t M = sw->M, nt = sw->nt;
    for (size_t k = 0; k < sw->n_lambda; k++) {
        const int *p = sw->pick + k * nt;
        double sq = 0, sc = 0;
        for (size_t i = 0; i < n; i++) {
            size_t r = idx[i] * M + (size_t)p[idx[i]];
            sq += sw->S[r];
            sc += sw->C[r];
        }
        b->pts[k].cost = sc / (double)n;
        b->pts[k].quality = sq / (double)n;
    }
    tr_eval_figures f;
    int rc = tr_eval_figures_compute(b->pts, sw->n_lambda, ref, b->hull, &f, b->err, sizeof b->err);
    *qc = rc ? NAN : f.q_at_cbest;
    *aiq = rc ? NAN : f.aiq_log;
    return rc;
}

/* out: new − current Q@C_best, new − current AIQ(log), current Q@C_best − Q_best */
static int resample(void *ctx, const size_t *idx, size_t n, double *out)
{
    boot *b = ctx;
    size_t M = b->now->M;
    for (size_t i = 0; i < n; i++) {
        memcpy(b->S + i * M, b->now->S + idx[i] * M, M * sizeof *b->S);
        memcpy(b->C + i * M, b->now->C + idx[i] * M, M * sizeof *b->C);
    }
    tr_eval_ref ref;
    int rc = tr_eval_reference(b->S, b->C, n, M, &ref, b->err, sizeof b->err);
    if (rc) return rc;
    double qn, an, qo, ao;
    if ((rc = figures_on(b, b->now, idx, n, &ref, &qn, &an))) return rc;
    if ((rc = figures_on(b, b->cur, idx, n, &ref, &qo, &ao))) return rc;
    out[0] = qn - qo;
    out[1] = an - ao;
    out[2] = qo - ref.q_best;
    return TR_OK;
}

/* figure k of router "taskroute" in an evaluation tree */
static double fig(const cJSON *tree, const char *k)
{
    return tr_json_get_num(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tree, "routers"), "taskroute"), k);
}

/* "worse beyond noise": the whole interval below −limit */
static int worse(const tr_guard_figure *g, double limit) { return g->hi < -limit; }

int tr_regression_check(const tr_router *cur, const tr_router *cand, const tr_dataset *ds, double max_regression,
                        tr_guard_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    tr_guard_figure *Q = &res->q_at_cbest, *A = &res->aiq_log;
    Q->before = Q->lo = Q->hi = A->before = A->lo = A->hi = res->beat_lo = res->beat_hi = NAN;
    tr_eval_sweep now = {0}, old = {0};
    cJSON *tn = NULL, *to = NULL;
    boot b = {0};
    int rc = tr_evaluate_fold(cand, ds, 5, 0, 0, &tn, &now, err, errlen);
    if (rc) return tr_error_prefix(err, errlen, rc, "regression guard: evaluating the new router");
    res->n_test = now.nt;
    res->q_best = tr_json_get_num(tn, "q_best");
    Q->after = fig(tn, "q_at_c_best");
    A->after = fig(tn, "aiq_log");
    res->beat_after = Q->after > res->q_best;
    char e2[512];
    rc = tr_evaluate_fold(cur, ds, 5, 0, 0, &to, &old, e2, sizeof e2);
    if (rc == TR_EINVAL) {
        /* the current router knows none of the models (or has no heads):
         * nothing to regress from */
        rc = TR_OK;
        goto done;
    }
    if (rc) { rc = tr_errorf(err, errlen, rc, "regression guard: evaluating the current router: %s", e2); goto done; }
    res->old_usable = 1;
    Q->before = fig(to, "q_at_c_best");
    A->before = fig(to, "aiq_log");
    Q->diff = Q->after - Q->before;
    A->diff = A->after - A->before;
    b.now = &now;
    b.cur = &old;
    b.S = tr_mallocarray(now.nt * now.M, sizeof *b.S);
    b.C = tr_mallocarray(now.nt * now.M, sizeof *b.C);
    b.pts = tr_mallocarray(now.n_lambda, sizeof *b.pts);
    b.hull = tr_mallocarray(now.n_lambda, sizeof *b.hull);
    if (!b.S || !b.C || !b.pts || !b.hull) { rc = tr_errorf(err, errlen, TR_ENOMEM, "regression guard: out of memory"); goto done; }
    double lo[3], hi[3];
    rc = tr_stats_bootstrap(now.nt, 3, TR_GUARD_RESAMPLES, TR_GUARD_SEED, TR_GUARD_LEVEL, resample, &b, lo, hi, NULL);
    if (rc) {
        rc = tr_errorf(err, errlen, rc, "regression guard: bootstrap: %s", rc == TR_ENOMEM ? "out of memory" : b.err);
        goto done;
    }
    Q->lo = lo[0]; Q->hi = hi[0];
    A->lo = lo[1]; A->hi = hi[1];
    res->beat_lo = lo[2]; res->beat_hi = hi[2];
    res->beat_before = res->beat_lo > 0;
    if (worse(Q, max_regression) || worse(A, max_regression)) {
        const tr_guard_figure *g = worse(Q, max_regression) ? Q : A;
        snprintf(res->reason, sizeof res->reason,
                 "its %s is lower beyond noise: %.4f -> %.4f (%+.4f, 95%% interval %+.4f to %+.4f, below -%g)",
                 g == Q ? "Q@C_best" : "AIQ(log)", g->before, g->after, g->diff, g->lo, g->hi, max_regression);
    } else if (res->beat_before && !res->beat_after) {
        snprintf(res->reason, sizeof res->reason,
                 "it no longer beats the best single model (Q_best %.4f): Q@C_best %.4f -> %.4f, where the current "
                 "router's lead was %+.4f to %+.4f (95%% interval)",
                 res->q_best, Q->before, Q->after, res->beat_lo, res->beat_hi);
    }
    if (res->reason[0]) {
        res->refused = 1;
        rc = tr_errorf(err, errlen, TR_EREGRESS,
                       "new router refused as a regression on %zu test prompts: %s (Q@C_best %.4f -> %.4f, difference's "
                       "interval %+.4f to %+.4f; AIQ(log) %.4f -> %.4f, %+.4f to %+.4f; --force skips the guard)",
                       res->n_test, res->reason, Q->before, Q->after, Q->lo, Q->hi, A->before, A->after, A->lo, A->hi);
    }
done:
    cJSON_Delete(tn);
    cJSON_Delete(to);
    tr_eval_sweep_free(&now);
    tr_eval_sweep_free(&old);
    tr_free(b.S); tr_free(b.C); tr_free(b.pts); tr_free(b.hull);
    return rc;
}

static cJSON *interval(double lo, double hi)
{
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, tr_json_num(lo));
    cJSON_AddItemToArray(a, tr_json_num(hi));
    return a;
}

static cJSON *figure(const tr_guard_figure *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "before", tr_json_num(g->before));
    cJSON_AddItemToObject(o, "after", tr_json_num(g->after));
    cJSON_AddItemToObject(o, "diff", tr_json_num(g->diff));
    cJSON_AddItemToObject(o, "ci", interval(g->lo, g->hi));
    return o;
}

char *tr_guard_json(const tr_guard_result *r, double max_regression)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "test", "paired bootstrap over the test prompts");
    cJSON_AddNumberToObject(j, "n_test", (double)r->n_test);
    cJSON_AddNumberToObject(j, "resamples", TR_GUARD_RESAMPLES);
    cJSON_AddNumberToObject(j, "level", TR_GUARD_LEVEL);
    cJSON_AddNumberToObject(j, "seed", TR_GUARD_SEED);
    cJSON_AddNumberToObject(j, "max_regression", max_regression);
    cJSON_AddBoolToObject(j, "current_usable", r->old_usable);
    cJSON_AddItemToObject(j, "q_at_c_best", figure(&r->q_at_cbest));
    cJSON_AddItemToObject(j, "aiq_log", figure(&r->aiq_log));
    cJSON_AddItemToObject(j, "q_best", tr_json_num(r->q_best));
    cJSON *bb = cJSON_AddObjectToObject(j, "beats_best_single");
    cJSON_AddBoolToObject(bb, "before", r->beat_before);
    cJSON_AddItemToObject(bb, "before_ci", interval(r->beat_lo, r->beat_hi));
    cJSON_AddBoolToObject(bb, "after", r->beat_after);
    cJSON_AddStringToObject(j, "verdict", r->refused ? "refused" : "accepted");
    cJSON_AddStringToObject(j, "reason", r->reason);
    char *c = tr_json_print(j);
    cJSON_Delete(j);
    return c;
}

void tr_guard_options_default(tr_guard_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_regression = TR_DEFAULT_MAX_REGRESSION;
}

/* tr_guard_options as first published */
#define GUARD_OPTIONS_MIN TR_SIZE_THROUGH(tr_guard_options, max_regression)

int tr_regression_guard(const tr_router *current, const tr_router *candidate, const tr_dataset *ds,
                        const tr_guard_options *opt, char **evidence, char *err, size_t errlen)
{
    if (evidence) *evidence = NULL;
    if (!current || !candidate || !ds)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_regression_guard: %s is NULL",
                         !current ? "current" : !candidate ? "candidate" : "ds");
    tr_guard_options o;
    tr_guard_options_default(&o);
    int rc = opt ? tr_opts_take(&o, sizeof o, opt, GUARD_OPTIONS_MIN, "tr_guard_options", err, errlen) : TR_OK;
    if (rc) return rc;
    if (!(o.max_regression >= 0 && o.max_regression <= 1))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_guard_options: max_regression %g not in [0, 1]",
                         o.max_regression);
    tr_guard_result g;
    rc = tr_regression_check(current, candidate, ds, o.max_regression, &g, err, errlen);
    if (rc != TR_OK && rc != TR_EREGRESS) return rc;
    if (evidence && !(*evidence = tr_guard_json(&g, o.max_regression)))
        return tr_errorf(err, errlen, TR_ENOMEM, "regression guard: out of memory for the evidence");
    return rc;
}
