/* Regression guard: evaluate the current and the candidate router on the
 * same test split and compare.  See regress_guard.h. */
#include "retrain/regress_guard.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/defaults.h"
#include "base/opts.h"
#include "base/util.h"

/* routers.taskroute.{aiq_log, q_at_c_best} of a tr_evaluate JSON. */
static int figures(const char *json, double *aiq, double *qc, size_t *n_test)
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "routers"), "taskroute");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "aiq_log"), *q = cJSON_GetObjectItemCaseSensitive(t, "q_at_c_best");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n_test");
    int ok = cJSON_IsNumber(a) && cJSON_IsNumber(q);
    *aiq = ok ? a->valuedouble : NAN;
    *qc = ok ? q->valuedouble : NAN;
    if (n_test && cJSON_IsNumber(n)) *n_test = (size_t)n->valuedouble;
    cJSON_Delete(j);
    return ok ? TR_OK : TR_EFORMAT;
}

int tr_regression_check(const tr_router *cur, const tr_router *cand, const tr_dataset *ds, double max_regression,
                        tr_guard_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->old_aiq_log = res->old_q_at_cbest = NAN;
    char *jn = NULL, *jo = NULL;
    int rc = tr_evaluate(cand, ds, 0, &jn, err, errlen);
    if (rc) return tr_error_prefix(err, errlen, rc, "regression guard: evaluating the new router");
    if ((rc = figures(jn, &res->new_aiq_log, &res->new_q_at_cbest, &res->n_test))) {
        tr_free(jn);
        return tr_errorf(err, errlen, TR_EINTERNAL, "regression guard: the evaluation has no figures");
    }
    tr_free(jn);
    char e2[512];
    rc = tr_evaluate(cur, ds, 0, &jo, e2, sizeof e2);
    if (rc == TR_EINVAL) {
        /* the current router knows none of the models (or has no heads):
         * nothing to regress from */
        return TR_OK;
    }
    if (rc) return tr_errorf(err, errlen, rc, "regression guard: evaluating the current router: %s", e2);
    rc = figures(jo, &res->old_aiq_log, &res->old_q_at_cbest, NULL);
    tr_free(jo);
    if (rc) return tr_errorf(err, errlen, TR_EINTERNAL, "regression guard: the evaluation has no figures");
    res->old_usable = 1;
    double da = res->new_aiq_log - res->old_aiq_log, dq = res->new_q_at_cbest - res->old_q_at_cbest;
    if (da < -max_regression || dq < -max_regression) {
        res->refused = 1;
        return tr_errorf(err, errlen, TR_EREGRESS,
                         "new router refused as a regression on %zu test prompts: AIQ(log) %.4f -> %.4f (%+.4f), "
                         "Q@C_best %.4f -> %.4f (%+.4f); the limit is -%g (--max-regression; --force skips the guard)",
                         res->n_test, res->old_aiq_log, res->new_aiq_log, da, res->old_q_at_cbest,
                         res->new_q_at_cbest, dq, max_regression);
    }
    return TR_OK;
}

char *tr_guard_json(const tr_guard_result *r, double max_regression)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n_test", (double)r->n_test);
    cJSON_AddNumberToObject(j, "max_regression", max_regression);
    cJSON_AddBoolToObject(j, "current_usable", r->old_usable);
#define N(k, v) cJSON_AddItemToObject(j, k, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull())
    N("aiq_log_before", r->old_aiq_log);
    N("aiq_log_after", r->new_aiq_log);
    N("q_at_c_best_before", r->old_q_at_cbest);
    N("q_at_c_best_after", r->new_q_at_cbest);
#undef N
    cJSON_AddStringToObject(j, "verdict", r->refused ? "refused" : "accepted");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *c = s ? tr_strdup(s) : NULL;
    cJSON_free(s);
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
