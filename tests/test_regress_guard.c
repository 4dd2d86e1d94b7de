/* The regression guard's paired test (retrain/regress_guard.c) on the demo
 * data: a router trained on shuffled scores is refused, one retrained with
 * another seed is accepted; the evidence holds the figures tr_evaluate
 * reports and intervals around their differences, and the public
 * tr_regression_guard gives the same verdict and evidence. */
#include "testutil.h"

#include <cJSON.h>
#include <math.h>

#include "base/util.h"
#include "data/dataset.h"
#include "retrain/regress_guard.h"

#define DEMO "data/demo.jsonl"

typedef struct fx {
    tr_dataset *ds, *bad;
    tr_router *cur;
} fx;

/* The first 2000 records of the demo data (1200 under valgrind or a
 * sanitizer: three trainings). */
static int load(tr_dataset **out)
{
    const size_t N_LINES = tu_slow_mode() ? 1200 : 2000;
    FILE *f = fopen(DEMO, "rb");
    if (!f) return -1;
    size_t cap = 1 << 22, len = 0, lines = 0;
    char *buf = malloc(cap);
    int c;
    while (buf && lines < N_LINES && (c = fgetc(f)) != EOF && len + 1 < cap) {
        buf[len++] = (char)c;
        lines += c == '\n';
    }
    fclose(f);
    char err[256];
    int rc = buf ? tr_dataset_load_mem(buf, len, DEMO, NULL, out, err, sizeof err) : TR_ENOMEM;
    free(buf);
    return rc;
}

static int setup(void **state)
{
    if (getenv("TR_VALGRIND")) return 0;   /* three trainings, two bootstraps: ASan and normal runs cover them */
    fx *x = calloc(1, sizeof *x);
    if (!x || load(&x->ds) || load(&x->bad)) {
        print_message("%s not readable: run from the project root\n", DEMO);
        return -1;
    }
    /* the planted regression: training records' score rows shuffled
     * across prompts (the test split keeps its true scores) */
    tr_dataset *b = x->bad;
    size_t M = b->n_models, *tr, n;
    if (tr_dataset_train_indices(b, 0, &tr, &n)) return -1;
    tr_rng r;
    tr_rng_seed(&r, 1);
    float *tmp = malloc(M * sizeof *tmp);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)tr_rng_below(&r, i + 1);
        memcpy(tmp, b->scores + tr[i] * M, M * sizeof *tmp);
        memcpy(b->scores + tr[i] * M, b->scores + tr[j] * M, M * sizeof *tmp);
        memcpy(b->scores + tr[j] * M, tmp, M * sizeof *tmp);
    }
    free(tmp);
    tr_free(tr);
    tr_train_options o;
    tr_train_options_default(&o);
    char err[512];
    if (tr_train(x->ds, &o, &x->cur, err, sizeof err)) { print_message("%s\n", err); return -1; }
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    if (!x) return 0;
    tr_router_close(x->cur);
    tr_dataset_free(x->ds);
    tr_dataset_free(x->bad);
    free(x);
    return 0;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(o, a);
    if (b) v = cJSON_GetObjectItem(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_refuses_shuffled(void **state)
{
    fx *x = *state;
    if (!x) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_train_options o;
    tr_train_options_default(&o);
    tr_router *bad = NULL;
    char err[1024];
    assert_int_equal(tr_train(x->bad, &o, &bad, err, sizeof err), TR_OK);
    tr_guard_result g;
    /* the guard scores both on the true test scores of the same prompts */
    int rc = tr_regression_check(x->cur, bad, x->ds, 0.01, &g, err, sizeof err);
    print_message("shuffled: %s\n", err);
    assert_int_equal(rc, TR_EREGRESS);
    assert_true(g.refused && g.old_usable);
    assert_true(g.aiq_log.hi < -0.01 || g.q_at_cbest.hi < -0.01);
    assert_non_null(strstr(err, "beyond noise"));
    char *j = tr_guard_json(&g, 0.01);
    cJSON *p = cJSON_Parse(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(p, "verdict")), "refused");
    assert_true(jnum(p, "aiq_log", "diff") < 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "aiq_log"), "ci")), 2);
    cJSON_Delete(p);
    /* the public call: the same refusal, the same evidence */
    tr_guard_options go;
    tr_guard_options_default(&go);
    go.max_regression = 0.01;
    char *evidence = NULL;
    assert_int_equal(tr_regression_guard(x->cur, bad, x->ds, &go, &evidence, err, sizeof err), TR_EREGRESS);
    assert_non_null(strstr(err, "beyond noise"));
    assert_non_null(evidence);
    assert_string_equal(evidence, j);
    tr_free(evidence);
    tr_free(j);
    tr_router_close(bad);
}

static void test_accepts_reseeded(void **state)
{
    fx *x = *state;
    if (!x) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_train_options o;
    tr_train_options_default(&o);
    o.seed = 7;
    tr_router *r = NULL;
    char err[1024] = "";
    assert_int_equal(tr_train(x->ds, &o, &r, err, sizeof err), TR_OK);
    tr_guard_result g;
    int rc = tr_regression_check(x->cur, r, x->ds, 0.01, &g, err, sizeof err);
    if (rc) print_message("%s\n", err);
    assert_int_equal(rc, TR_OK);
    assert_false(g.refused);
    assert_string_equal(g.reason, "");
    /* each interval holds its point difference */
    assert_true(g.q_at_cbest.lo <= g.q_at_cbest.diff && g.q_at_cbest.diff <= g.q_at_cbest.hi);
    assert_true(g.aiq_log.lo <= g.aiq_log.diff && g.aiq_log.diff <= g.aiq_log.hi);
    /* the point figures are tr_evaluate's */
    char *ev = NULL;
    assert_int_equal(tr_evaluate(r, x->ds, 0, &ev, err, sizeof err), TR_OK);
    cJSON *e = cJSON_Parse(ev);
    const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "routers"), "taskroute");
    assert_true(fabs(jnum(t, "aiq_log", NULL) - g.aiq_log.after) < 1e-12);
    assert_true(fabs(jnum(t, "q_at_c_best", NULL) - g.q_at_cbest.after) < 1e-12);
    assert_true(fabs(jnum(e, "q_best", NULL) - g.q_best) < 1e-12);
    assert_int_equal((size_t)jnum(e, "n_test", NULL), g.n_test);
    cJSON_Delete(e);
    tr_free(ev);
    /* the public call accepts it too, with the evidence's figures */
    tr_guard_options go;
    tr_guard_options_default(&go);
    go.max_regression = 0.01;
    assert_int_equal(tr_regression_guard(x->cur, r, x->ds, &go, &ev, err, sizeof err), TR_OK);
    e = cJSON_Parse(ev);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "verdict")), "accepted");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "current_usable")));
    assert_true(fabs(jnum(e, "aiq_log", "after") - g.aiq_log.after) < 1e-12);
    assert_true(fabs(jnum(e, "q_at_c_best", "before") - g.q_at_cbest.before) < 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "q_at_c_best"), "ci")), 2);
    assert_int_equal((size_t)jnum(e, "n_test", NULL), g.n_test);
    cJSON_Delete(e);
    tr_free(ev);
    /* the same router against itself: every difference is exactly 0 */
    assert_int_equal(tr_regression_check(r, r, x->ds, 0.0, &g, err, sizeof err), TR_OK);
    assert_true(g.q_at_cbest.lo == 0 && g.q_at_cbest.hi == 0 && g.aiq_log.lo == 0 && g.aiq_log.hi == 0);
    tr_router_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_shuffled),
        cmocka_unit_test(test_accepts_reseeded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
