/* The public contract at its edges: every function of include/taskroute.h
 * called with bad arguments (NULL handles and outputs, options structs of
 * the wrong size, out-of-range enums and values) answers TR_EINVAL with a
 * message where it takes a buffer, or its documented answer (0, NULL, -1, a
 * no-op) where it cannot; and no public function is left out (the header's
 * TR_API list against the one this file covers). */
#include "testutil.h"

#include <math.h>

static tr_dataset *ds;
static tr_router *router;
static char err[1024];

/* err must be empty before a call that should write a message */
#define CLEAR() (err[0] = '\0')
/* a call that takes (err, errlen): TR_EINVAL and a message */
#define EINVAL_MSG(call)                                                                                  \
    do {                                                                                                  \
        CLEAR();                                                                                          \
        assert_int_equal((call), TR_EINVAL);                                                              \
        assert_true(err[0] != '\0');                                                                      \
    } while (0)

/* A small dataset with two models: four kinds of prompt, a model better on two. */
static int setup(void **state)
{
    (void)state;
    static const char *kinds[] = {"Translate this sentence to French: ", "Write a Python function that ",
                                  "Prove that the sum of ", "Summarise the following email: "};
    static const char *tails[] = {"good morning to you", "sorts a list of numbers", "two odd numbers is even",
                                  "the meeting moved to Friday", "reverses a string", "the weather is nice",
                                  "three consecutive integers", "we need the report by noon"};
    const char *p = tu_tmp("api.jsonl");
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    for (int i = 0; i < 160; i++) {
        int k = i % 4;
        double qa = k < 2 ? 0.9 : 0.3, qb = k < 2 ? 0.4 : 0.8;
        fprintf(f, "{\"id\":\"r%d\",\"prompt\":\"%s%s (%d)\",\"scores\":{\"a\":%g,\"b\":%g},"
                   "\"costs\":{\"a\":0.002,\"b\":0.0005}}\n",
                i, kinds[k], tails[(i / 4) % 8], i, qa, qb);
    }
    fclose(f);
    if (tr_dataset_load(p, NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    tr_train_options o;
    tr_train_options_default(&o);
    o.dim = 8;
    o.vocab_size = 100;
    o.cv_folds = 2;
    o.threads = 1;
    o.blas_threads = 1;
    o.use_all = 1;
    o.heads = "prior-soft";
    if (tr_train(ds, &o, &router, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tr_router_close(router);
    tr_dataset_free(ds);
    return 0;
}

static void test_null_arguments(void **state)
{
    (void)state;
    tr_dataset *d = NULL;
    tr_router *r = NULL;
    tr_scratch *s = NULL;
    char *json = NULL;
    tr_decision dec;
    float x[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    const char *path = tu_tmp("api.jsonl");

    EINVAL_MSG(tr_dataset_load(NULL, NULL, &d, err, sizeof err));
    EINVAL_MSG(tr_dataset_load(path, NULL, NULL, err, sizeof err));
    EINVAL_MSG(tr_discover(NULL, NULL, &r, NULL, err, sizeof err));
    EINVAL_MSG(tr_discover(ds, NULL, NULL, NULL, err, sizeof err));
    EINVAL_MSG(tr_train(NULL, NULL, &r, err, sizeof err));
    EINVAL_MSG(tr_train(ds, NULL, NULL, err, sizeof err));
    assert_null(r);
    EINVAL_MSG(tr_router_save(NULL, tu_tmp("x.trm"), err, sizeof err));
    EINVAL_MSG(tr_router_save(router, NULL, err, sizeof err));
    EINVAL_MSG(tr_router_open(NULL, &r, err, sizeof err));
    EINVAL_MSG(tr_router_open(tu_tmp("x.trm"), NULL, err, sizeof err));
    EINVAL_MSG(tr_router_describe(NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_router_describe(router, NULL, err, sizeof err));
    EINVAL_MSG(tr_scratch_new_v2(NULL, &s, err, sizeof err));
    EINVAL_MSG(tr_scratch_new_v2(router, NULL, err, sizeof err));
    assert_int_equal(tr_scratch_new(NULL, &s), TR_EINVAL);
    assert_int_equal(tr_scratch_new(router, NULL), TR_EINVAL);
    EINVAL_MSG(tr_scratch_check(router, NULL, err, sizeof err));
    EINVAL_MSG(tr_evaluate(NULL, ds, 0, &json, err, sizeof err));
    EINVAL_MSG(tr_evaluate(router, NULL, 0, &json, err, sizeof err));
    EINVAL_MSG(tr_evaluate(router, ds, 0, NULL, err, sizeof err));
    EINVAL_MSG(tr_evaluate_kfold(NULL, NULL, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_evaluate_kfold(ds, NULL, NULL, NULL, err, sizeof err));
    EINVAL_MSG(tr_train_warm_start(NULL, router, NULL, NULL, &r, NULL, err, sizeof err));
    EINVAL_MSG(tr_train_warm_start(ds, NULL, NULL, NULL, &r, NULL, err, sizeof err));
    EINVAL_MSG(tr_train_warm_start(ds, router, NULL, NULL, NULL, NULL, err, sizeof err));
    EINVAL_MSG(tr_regression_guard(NULL, router, ds, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_regression_guard(router, NULL, ds, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_regression_guard(router, router, NULL, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_drift_traffic(NULL, ds, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_drift_traffic(router, NULL, NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_drift_traffic(router, ds, NULL, NULL, err, sizeof err));
    EINVAL_MSG(tr_drift_markdown(NULL, &json, err, sizeof err));
    EINVAL_MSG(tr_drift_markdown("{\"kind\":\"traffic\"}", NULL, err, sizeof err));
    assert_null(json);

    /* routing takes no buffer: the code alone */
    assert_int_equal(tr_scratch_new_v2(router, &s, err, sizeof err), TR_OK);
    EINVAL_MSG(tr_scratch_check(NULL, s, err, sizeof err));
    assert_int_equal(tr_scratch_check(router, s, err, sizeof err), TR_OK);
    assert_int_equal(tr_route(NULL, "hi", 2, NULL, s, &dec), TR_EINVAL);
    assert_int_equal(tr_route(router, NULL, 2, NULL, s, &dec), TR_EINVAL);
    assert_int_equal(tr_route(router, "hi", 2, NULL, NULL, &dec), TR_EINVAL);
    assert_int_equal(tr_route(router, "hi", 2, NULL, s, NULL), TR_EINVAL);
    assert_int_equal(tr_route_embedding(NULL, x, 8, NULL, s, &dec), TR_EINVAL);
    assert_int_equal(tr_route_embedding(router, NULL, 8, NULL, s, &dec), TR_EINVAL);
    assert_int_equal(tr_route_embedding(router, x, 8, NULL, NULL, &dec), TR_EINVAL);
    assert_int_equal(tr_route_embedding(router, x, 8, NULL, s, NULL), TR_EINVAL);
    assert_int_equal(tr_route_embedding(router, x, 7, NULL, s, &dec), TR_EINVAL);   /* wrong dimension */
    /* and the handles themselves work */
    assert_int_equal(tr_route(router, "Prove that 2 + 2 = 4", 20, NULL, s, &dec), TR_OK);
    assert_true(dec.model >= 0);
    tr_scratch_free(s);
}

/* The documented answers where no status can be returned. */
static void test_answers_without_status(void **state)
{
    (void)state;
    tr_dataset_free(NULL);
    tr_router_close(NULL);
    tr_scratch_free(NULL);
    tr_free(NULL);
    tr_load_options_default(NULL);
    tr_train_options_default(NULL);
    tr_route_options_default(NULL);
    tr_warm_options_default(NULL);
    tr_guard_options_default(NULL);
    tr_kfold_options_default(NULL);
    tr_load_stats st;
    memset(&st, 0xff, sizeof st);
    tr_dataset_stats(NULL, &st);
    assert_int_equal(st.kept, 0);
    assert_int_equal(st.lines, 0);
    tr_dataset_stats(ds, NULL);
    assert_int_equal(tr_dataset_count(NULL), 0);
    assert_int_equal(tr_dataset_model_count(NULL), 0);
    assert_null(tr_dataset_model_name(NULL, 0));
    assert_null(tr_dataset_model_name(ds, 2));
    assert_int_equal(tr_router_model_count(NULL), 0);
    assert_null(tr_router_model_name(NULL, 0));
    assert_null(tr_router_model_name(router, 2));
    assert_int_equal(tr_router_task_count(NULL), 0);
    assert_null(tr_router_task_name(NULL, 0));
    assert_null(tr_router_task_name(router, tr_router_task_count(router)));
    assert_int_equal(tr_router_dim(NULL), 0);
    assert_int_equal(tr_router_task_id(NULL, 0), -1);
    assert_int_equal(tr_router_task_id(router, tr_router_task_count(router)), -1);
    assert_int_equal(tr_router_has_heads(NULL), 0);
    assert_null(tr_router_task_slug(NULL, 0));
    assert_null(tr_router_task_slug(router, tr_router_task_count(router)));
    assert_true(isnan(tr_router_ood_threshold(NULL)));
    tr_route_options po;
    tr_route_options_default(&po);
    assert_int_equal(tr_router_default_policy(NULL, &po, NULL), TR_EINVAL);
    assert_int_equal(tr_router_default_policy(router, NULL, NULL), TR_EINVAL);
    assert_true(tr_route_lambda(router, NULL) == 0);
    int order[4];
    assert_int_equal(tr_decision_rank(router, NULL, NULL, order, 4), 0);
    EINVAL_MSG(tr_router_set_reference_price(NULL, 0, 1, 1, err, sizeof err));
    EINVAL_MSG(tr_router_set_reference_price(router, tr_router_model_count(router), 1, 1, err, sizeof err));
    assert_int_equal(tr_router_reference_price(NULL, 0, NULL, NULL), TR_ENOTFOUND);
    assert_int_equal(tr_router_set_cost_scale(NULL, 0, 1), TR_EINVAL);
    assert_int_equal(tr_router_set_cost_scale(router, 0, NAN), TR_EINVAL);
    assert_int_equal(tr_router_set_cost_scale(router, 0, -1), TR_EINVAL);
    EINVAL_MSG(tr_router_rename_task(NULL, 0, "x", "out.trm", err, sizeof err));
    EINVAL_MSG(tr_router_rename_task("in.trm", 0, NULL, "out.trm", err, sizeof err));
    EINVAL_MSG(tr_router_rename_task("in.trm", 0, "x", NULL, err, sizeof err));
    assert_int_equal(tr_router_find_model(NULL, "a"), -1);
    assert_int_equal(tr_router_find_model(router, NULL), -1);
    assert_int_equal(tr_router_find_model(router, "zzz"), -1);
    assert_int_equal(tr_split_is_test(NULL, 3), TR_EINVAL);
    assert_int_equal(tr_split_is_test(NULL, 0), tr_split_is_test("", 0));
    assert_true(tr_fnv1a64(NULL, 5) == tr_fnv1a64("", 0));
    assert_int_equal(tr_split_fold(NULL, 3, 5), TR_EINVAL);
    assert_int_equal(tr_split_fold(NULL, 0, 7), tr_split_fold("", 0, 7));
    assert_int_equal(tr_split_fold("r1", 2, 1), 0);    /* one fold, or none: fold 0 */
    assert_int_equal(tr_split_fold("r1", 2, -4), 0);
    assert_int_equal(tr_split_fold("r1", 2, 5) == 0, tr_split_is_test("r1", 2));
    assert_non_null(tr_strerror(12345));
    assert_non_null(tr_strerror_name(12345));
    assert_string_equal(tr_strerror_name(TR_EINVAL), "TR_EINVAL");
    assert_string_equal(tr_strerror(TR_EINVAL), "invalid argument");
    assert_string_equal(tr_version(), TR_VERSION_STRING);
    /* the handles answer normally */
    assert_int_equal(tr_dataset_count(ds), 160);
    assert_int_equal(tr_dataset_model_count(ds), 2);
    assert_int_equal(tr_router_model_count(router), 2);
    assert_int_equal(tr_router_dim(router), 8);
    assert_int_equal(tr_router_has_heads(router), 1);
    assert_int_equal(tr_router_find_model(router, "b"), 1);
}

/* Every options struct: struct_size 0 (never prepared), one byte short of
 * the first layout, one byte more than the library knows. */
static void test_struct_sizes(void **state)
{
    (void)state;
    const char *path = tu_tmp("api.jsonl");
    tr_dataset *d = NULL;
    tr_router *r = NULL;
    char *json = NULL;
    tr_decision dec;
    tr_scratch *s = NULL;
    assert_int_equal(tr_scratch_new_v2(router, &s, err, sizeof err), TR_OK);
    float x[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 3; k++) {
        tr_load_options lo;
        tr_load_options_default(&lo);
        lo.struct_size = k == 0 ? 0 : k == 1 ? sizeof lo - 1 : sizeof lo + 1;
        EINVAL_MSG(tr_dataset_load(path, &lo, &d, err, sizeof err));
        assert_non_null(strstr(err, "tr_load_options"));
        assert_null(d);

        tr_train_options to;
        tr_train_options_default(&to);
        to.struct_size = k == 0 ? 0 : k == 1 ? sizeof to - 1 : sizeof to + 1;
        EINVAL_MSG(tr_train(ds, &to, &r, err, sizeof err));
        assert_non_null(strstr(err, "tr_train_options"));
        EINVAL_MSG(tr_discover(ds, &to, &r, NULL, err, sizeof err));
        EINVAL_MSG(tr_train_warm_start(ds, router, &to, NULL, &r, NULL, err, sizeof err));
        assert_null(r);

        tr_warm_options wo;
        tr_warm_options_default(&wo);
        wo.struct_size = k == 0 ? 0 : k == 1 ? sizeof wo - 1 : sizeof wo + 1;
        EINVAL_MSG(tr_train_warm_start(ds, router, NULL, &wo, &r, NULL, err, sizeof err));
        assert_non_null(strstr(err, "tr_warm_options"));

        tr_guard_options go;
        tr_guard_options_default(&go);
        go.struct_size = k == 0 ? 0 : k == 1 ? sizeof go - 1 : sizeof go + 1;
        EINVAL_MSG(tr_regression_guard(router, router, ds, &go, &json, err, sizeof err));
        assert_non_null(strstr(err, "tr_guard_options"));
        assert_null(json);

        tr_kfold_options ko;
        tr_kfold_options_default(&ko);
        ko.struct_size = k == 0 ? 0 : k == 1 ? sizeof ko - 1 : sizeof ko + 1;
        EINVAL_MSG(tr_evaluate_kfold(ds, NULL, &ko, &json, err, sizeof err));
        assert_non_null(strstr(err, "tr_kfold_options"));
        EINVAL_MSG(tr_evaluate_kfold(ds, &to, NULL, &json, err, sizeof err));
        assert_non_null(strstr(err, "tr_train_options"));
        assert_null(json);

        tr_route_options ro;
        tr_route_options_default(&ro);
        ro.struct_size = k == 0 ? 0 : k == 1 ? sizeof ro - 1 : sizeof ro + 1;
        assert_int_equal(tr_route(router, "hello", 5, &ro, s, &dec), TR_EINVAL);
        assert_int_equal(tr_route_embedding(router, x, 8, &ro, s, &dec), TR_EINVAL);
    }
    /* prepared by *_default(), the same calls work */
    tr_route_options ro;
    tr_route_options_default(&ro);
    assert_int_equal(tr_route(router, "hello", 5, &ro, s, &dec), TR_OK);
    assert_int_equal(tr_route_embedding(router, x, 8, &ro, s, &dec), TR_OK);
    tr_load_options lo;
    tr_load_options_default(&lo);
    assert_int_equal(tr_dataset_load(path, &lo, &d, err, sizeof err), TR_OK);
    tr_dataset_free(d);
    tr_scratch_free(s);
}

/* Enums and values outside their ranges, one at a time. */
static void test_out_of_range(void **state)
{
    (void)state;
    tr_router *r = NULL;
    char *json = NULL;
    tr_dataset *d = NULL;
    const char *path = tu_tmp("api.jsonl");

    tr_load_options lo;
    tr_load_options_default(&lo);
    lo.skip_bad = 2;
    EINVAL_MSG(tr_dataset_load(path, &lo, &d, err, sizeof err));
    assert_non_null(strstr(err, "skip_bad"));

    tr_train_options o;
#define TRAIN_BAD(field, value)                                                              \
    do {                                                                                     \
        tr_train_options_default(&o);                                                        \
        o.field = value;                                                                     \
        EINVAL_MSG(tr_train(ds, &o, &r, err, sizeof err));                                   \
        assert_non_null(strstr(err, #field));                                                \
        EINVAL_MSG(tr_discover(ds, &o, &r, NULL, err, sizeof err));                          \
        assert_null(r);                                                                      \
    } while (0)
    TRAIN_BAD(algo, (tr_algo)7);
    TRAIN_BAD(projection, (tr_projection)-1);
    TRAIN_BAD(dim, 0);
    TRAIN_BAD(threads, -1);
    TRAIN_BAD(blas_threads, -2);
    TRAIN_BAD(use_all, 2);
    TRAIN_BAD(bigrams, 3);
    TRAIN_BAD(knn_k, 0);
    TRAIN_BAD(target_tasks, -1);
    TRAIN_BAD(min_task_size, -5);
    TRAIN_BAD(cv_folds, -1);
    TRAIN_BAD(knn_tasks, 65);
    TRAIN_BAD(knn_mass, 1.5);
    TRAIN_BAD(knn_cap, -1);
    TRAIN_BAD(resolution, NAN);
    TRAIN_BAD(vocab_size, 2);
    TRAIN_BAD(min_df, 0);
    TRAIN_BAD(max_features, 0);
#undef TRAIN_BAD
    /* a file and a router both named as the current one */
    tr_train_options_default(&o);
    o.warm_start = tu_tmp("cur.trm");
    EINVAL_MSG(tr_train_warm_start(ds, router, &o, NULL, &r, NULL, err, sizeof err));
    assert_non_null(strstr(err, "warm_start"));

    tr_warm_options wo;
    tr_warm_options_default(&wo);
    wo.match_min_score = 2;
    EINVAL_MSG(tr_train_warm_start(ds, router, NULL, &wo, &r, NULL, err, sizeof err));
    assert_non_null(strstr(err, "match_min_score"));
    tr_warm_options_default(&wo);
    wo.refit_embedder = 3;
    EINVAL_MSG(tr_train_warm_start(ds, router, NULL, &wo, &r, NULL, err, sizeof err));
    assert_null(r);

    tr_guard_options go;
    tr_guard_options_default(&go);
    go.max_regression = -0.5;
    EINVAL_MSG(tr_regression_guard(router, router, ds, &go, &json, err, sizeof err));
    assert_non_null(strstr(err, "max_regression"));
    go.max_regression = NAN;
    EINVAL_MSG(tr_regression_guard(router, router, ds, &go, &json, err, sizeof err));

    EINVAL_MSG(tr_evaluate(router, ds, 2, &json, err, sizeof err));

    /* k-fold: its own options, and training options that make no sense per
     * fold or are out of range (all refused before any training) */
    tr_kfold_options ko;
#define KFOLD_BAD(field, value, word)                                                        \
    do {                                                                                     \
        tr_kfold_options_default(&ko);                                                       \
        ko.field = value;                                                                    \
        EINVAL_MSG(tr_evaluate_kfold(ds, NULL, &ko, &json, err, sizeof err));                \
        assert_non_null(strstr(err, word));                                                  \
    } while (0)
    KFOLD_BAD(folds, 1, "folds");
    KFOLD_BAD(folds, 101, "folds");
    KFOLD_BAD(baselines, 2, "baselines");
    KFOLD_BAD(jobs, -1, "jobs");
#undef KFOLD_BAD
    tr_train_options_default(&o);
    o.use_all = 1;
    EINVAL_MSG(tr_evaluate_kfold(ds, &o, NULL, &json, err, sizeof err));
    assert_non_null(strstr(err, "use_all"));
    tr_train_options_default(&o);
    o.warm_start = tu_tmp("cur.trm");
    EINVAL_MSG(tr_evaluate_kfold(ds, &o, NULL, &json, err, sizeof err));
    tr_train_options_default(&o);
    o.dim = 0;
    EINVAL_MSG(tr_evaluate_kfold(ds, &o, NULL, &json, err, sizeof err));
    assert_non_null(strstr(err, "dim"));
    assert_null(json);
    double bad = NAN, inf = INFINITY;
    EINVAL_MSG(tr_drift_traffic(router, ds, &bad, &json, err, sizeof err));
    EINVAL_MSG(tr_drift_traffic(router, ds, &inf, &json, err, sizeof err));
    assert_null(json);

    tr_scratch *s = NULL;
    assert_int_equal(tr_scratch_new_v2(router, &s, err, sizeof err), TR_OK);
    tr_route_options ro;
    tr_route_options_default(&ro);
    tr_decision dec;
    ro.mode = (tr_select_mode)9;
    assert_int_equal(tr_route(router, "hello", 5, &ro, s, &dec), TR_EINVAL);
    ro.mode = (tr_select_mode)-1;
    assert_int_equal(tr_route(router, "hello", 5, &ro, s, &dec), TR_EINVAL);
    ro.mode = TR_SELECT_BUDGET;
    ro.value = NAN;
    assert_int_equal(tr_route(router, "hello", 5, &ro, s, &dec), TR_EINVAL);
    tr_scratch_free(s);
}

/* The public calls this file covers; test_header_covered checks the
 * header declares no other. */
static const char *const covered[] = {
    "tr_version", "tr_strerror", "tr_strerror_name", "tr_load_options_default", "tr_dataset_load",
    "tr_dataset_free", "tr_dataset_stats", "tr_dataset_count", "tr_dataset_model_count",
    "tr_dataset_model_name", "tr_split_is_test", "tr_fnv1a64", "tr_train_options_default", "tr_discover",
    "tr_train", "tr_router_save", "tr_router_open", "tr_router_close", "tr_router_model_count",
    "tr_router_model_name", "tr_router_task_count", "tr_router_task_name", "tr_router_dim",
    "tr_router_task_id", "tr_router_has_heads", "tr_router_find_model", "tr_router_describe", "tr_free",
    "tr_scratch_new_v2", "tr_scratch_new", "tr_scratch_free", "tr_scratch_check", "tr_route_options_default", "tr_route",
    "tr_route_embedding", "tr_evaluate", "tr_warm_options_default", "tr_train_warm_start",
    "tr_guard_options_default", "tr_regression_guard", "tr_drift_traffic", "tr_drift_markdown",
    "tr_split_fold", "tr_kfold_options_default", "tr_evaluate_kfold", "tr_router_task_slug",
    "tr_router_ood_threshold", "tr_router_rename_task", "tr_router_default_policy", "tr_route_lambda",
    "tr_decision_rank", "tr_router_set_reference_price", "tr_router_reference_price", "tr_router_set_cost_scale",
};

static void test_header_covered(void **state)
{
    (void)state;
    FILE *f = fopen("include/taskroute.h", "r");
    if (!f) skip();   /* run from elsewhere than the repository root */
    char line[512];
    int declared = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "TR_API ", 7)) continue;
        char *paren = strchr(line, '(');
        assert_non_null(paren);
        char *end = paren, *start = paren;
        while (start > line && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        *end = '\0';
        int found = 0;
        for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) found |= !strcmp(covered[i], start);
        if (!found) print_error("%s is public but test_api.c does not call it with bad arguments\n", start);
        assert_true(found);
        declared++;
    }
    fclose(f);
    assert_int_equal(declared, (int)(sizeof covered / sizeof covered[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_answers_without_status),
        cmocka_unit_test(test_struct_sizes),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_header_covered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
