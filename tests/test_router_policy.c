/* What the router's config carries beyond its parts (src/router/
 * router_policy.c): the default policy training fits and stores, its
 * fallback for files without one, reference prices that survive a save,
 * and the cost scale a server's prices set. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "router/router.h"

static tr_dataset *ds;
static tr_router *trained;

static int setup(void **state)
{
    (void)state;
    tr_synth_options so;
    tr_synth_options_default(&so);
    so.prompts = 600;
    const char *p = tu_tmp("synth.jsonl");
    FILE *f = fopen(p, "wb");
    char err[512];
    if (!f || tr_synth_write(&so, f, err, sizeof err)) return -1;
    fclose(f);
    if (tr_dataset_load(p, NULL, &ds, err, sizeof err)) return -1;
    tr_train_options o;
    tr_train_options_default(&o);
    o.dim = 32;
    o.vocab_size = 400;
    o.cv_folds = 3;
    o.threads = 2;
    if (tr_train(ds, &o, &trained, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tr_router_close(trained);
    tr_dataset_free(ds);
    return 0;
}

static tr_router *reopen(const tr_router *r, const char *name)
{
    char err[512];
    const char *p = tu_tmp(name);
    assert_int_equal(tr_router_save(r, p, err, sizeof err), TR_OK);
    tr_router *o = NULL;
    assert_int_equal(tr_router_open(p, &o, err, sizeof err), TR_OK);
    return o;
}

static void test_default_stored(void **state)
{
    (void)state;
    tr_route_options opt = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_RISK, .value = 7, .allowed = (const unsigned char *)"x"};
    tr_policy_estimate e;
    assert_int_equal(tr_router_default_policy(trained, &opt, &e), TR_OK);
    assert_int_equal(opt.mode, TR_SELECT_LAMBDA);
    assert_true(opt.value >= 0 && isfinite(opt.value));
    assert_ptr_equal(opt.allowed, (const unsigned char *)"x");   /* left as it was */
    assert_true(e.lambda == opt.value);
    assert_true(e.best_model >= 0 && (size_t)e.best_model < tr_router_model_count(trained));
    assert_true(e.best_quality > 0 && e.best_quality <= 1);
    /* it reaches the best single model's quality on the training rows */
    assert_true(e.quality >= e.best_quality);
    assert_true(tr_route_lambda(trained, &opt) == opt.value);
    /* it survives a save */
    tr_router *o = reopen(trained, "dp.trm");
    tr_policy_estimate e2;
    tr_route_options opt2 = {.mode = TR_SELECT_QUALITY, .value = 0, .allowed = NULL};
    assert_int_equal(tr_router_default_policy(o, &opt2, &e2), TR_OK);
    assert_true(opt2.value == opt.value);
    assert_int_equal(e2.best_model, e.best_model);
    assert_true(fabs(e2.quality - e.quality) < 1e-12 && fabs(e2.best_cost - e.best_cost) < 1e-15);
    tr_router_close(o);
}

static void test_older_file_falls_back(void **state)
{
    (void)state;
    tr_router *o = reopen(trained, "old.trm");
    /* a file written before defaults were stored: no "default_policy" */
    char *pos = strstr(o->config_json, "\"default_policy\"");
    assert_non_null(pos);
    memcpy(pos, "\"default_pol1cy\"", 16);
    assert_int_equal(tr_router_config_extras(o), TR_OK);
    tr_route_options opt = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_LAMBDA, .value = 3, .allowed = NULL};
    tr_policy_estimate e;
    assert_int_equal(tr_router_default_policy(o, &opt, &e), TR_ENOTFOUND);
    assert_int_equal(opt.mode, TR_SELECT_QUALITY);
    assert_true(opt.value == 0);
    assert_int_equal(e.best_model, -1);
    assert_true(isnan(e.lambda));
    assert_int_equal(tr_router_default_policy(o, &opt, NULL), TR_ENOTFOUND);
    assert_int_equal(tr_router_default_policy(NULL, &opt, NULL), TR_EINVAL);
    tr_router_close(o);
}

static void test_reference_prices(void **state)
{
    (void)state;
    char err[256];
    tr_router *o = reopen(trained, "p0.trm");
    double in = -1, out = -1;
    assert_int_equal(tr_router_reference_price(o, 0, &in, &out), TR_ENOTFOUND);
    assert_int_equal(tr_router_set_reference_price(o, 0, 2.5, 10, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_set_reference_price(o, 1, 0.15, 0.6, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_set_reference_price(o, 1, 0.2, 0.8, err, sizeof err), TR_OK);   /* replaced */
    assert_int_equal(tr_router_set_reference_price(o, 0, -1, 1, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, tr_router_model_name(o, 0)));
    assert_int_equal(tr_router_set_reference_price(o, 0, 0, 0, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_router_set_reference_price(o, 0, NAN, 1, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_router_set_reference_price(o, 0, INFINITY, 1, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_router_set_reference_price(o, 999, 1, 1, err, sizeof err), TR_EINVAL);
    tr_router *p = reopen(o, "p1.trm");
    assert_int_equal(tr_router_reference_price(p, 0, &in, &out), TR_OK);
    assert_true(in == 2.5 && out == 10);
    assert_int_equal(tr_router_reference_price(p, 1, &in, &out), TR_OK);
    assert_true(in == 0.2 && out == 0.8);
    if (tr_router_model_count(p) > 2) assert_int_equal(tr_router_reference_price(p, 2, &in, &out), TR_ENOTFOUND);
    /* the default policy is still there */
    tr_route_options opt = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_QUALITY, .value = 0, .allowed = NULL};
    assert_int_equal(tr_router_default_policy(p, &opt, NULL), TR_OK);
    tr_router_close(o);
    tr_router_close(p);
}

static void test_cost_scale(void **state)
{
    (void)state;
    tr_router *o = reopen(trained, "s.trm");
    size_t M = tr_router_model_count(o);
    tr_scratch *s = NULL;
    assert_int_equal(tr_scratch_new(o, &s), TR_OK);
    static const char prompt[] = "Write a Python function that sorts a list of tuples by the second item.";
    tr_route_options cheap = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_LAMBDA, .value = INFINITY, .allowed = NULL};
    tr_decision d;
    assert_int_equal(tr_route(o, prompt, sizeof prompt - 1, &cheap, s, &d), TR_OK);
    float *c0 = malloc(M * sizeof *c0);
    memcpy(c0, d.cost, M * sizeof *c0);
    int first = d.model;
    /* the cheapest model made 1000 times dearer is no longer chosen */
    assert_int_equal(tr_router_set_cost_scale(o, (size_t)first, 1000), TR_OK);
    assert_int_equal(tr_route(o, prompt, sizeof prompt - 1, &cheap, s, &d), TR_OK);
    assert_true(d.model != first);
    assert_true(fabsf(d.cost[first] - 1000 * c0[first]) <= 1e-3f * 1000 * c0[first]);
    for (size_t m = 0; m < M; m++)
        if ((int)m != first) assert_true(d.cost[m] == c0[m]);
    assert_int_equal(tr_router_set_cost_scale(o, (size_t)first, 1), TR_OK);
    assert_int_equal(tr_route(o, prompt, sizeof prompt - 1, &cheap, s, &d), TR_OK);
    assert_int_equal(d.model, first);
    assert_int_equal(tr_router_set_cost_scale(o, 0, 0), TR_EINVAL);
    assert_int_equal(tr_router_set_cost_scale(o, 0, NAN), TR_EINVAL);
    assert_int_equal(tr_router_set_cost_scale(o, M, 2), TR_EINVAL);
    free(c0);
    tr_scratch_free(s);
    tr_router_close(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_stored),
        cmocka_unit_test(test_older_file_falls_back),
        cmocka_unit_test(test_reference_prices),
        cmocka_unit_test(test_cost_scale),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
