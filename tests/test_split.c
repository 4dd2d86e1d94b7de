/* The evaluation protocol's split rule, pinned by memberships computed outside C (a few
 * lines of /usr/bin/python3 over the ids' UTF-8 bytes), and the split counts
 * of a real dataset cross-checked the same way.  The hash's own vectors are
 * in test_hash.c. */
#include "testutil.h"

#include <math.h>

#include "data/dataset.h"

static void test_split_membership(void **state)
{
    (void)state;
    /* Expected membership from Python: fnv1a64(id) % 5 == 0. */
    static const struct { const char *id; int test; } v[] = {
        {"70", 1}, {"3", 1}, {"4", 1}, {"r0", 1}, {"r5", 1}, {"r17", 1}, {"r20", 1},
        {"0", 0}, {"1", 0}, {"2", 0}, {"5", 0}, {"10", 0}, {"r1", 0}, {"r24", 0},
        {"train.0", 0}, {"q-001", 0}, {"foobar", 0},
        {"\xc3\xa9" "0", 1}, {"\xc3\xa9" "7", 1}, {"\xc3\xa9" "12", 1}, {"\xc3\xa9" "1", 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (tr_split_is_test(v[i].id, strlen(v[i].id)) != v[i].test)
            fail_msg("id '%s': expected test=%d", v[i].id, v[i].test);
    }
    /* Only len bytes count. */
    assert_int_equal(tr_split_is_test("70xyz", 2), 1);
}

static void test_split_mmlu_pro(void **state)
{
    (void)state;
    const char *path = tu_shared("mmlu-pro.jsonl");
    if (!path) { print_message("../shared/data/mmlu-pro.jsonl absent\n"); skip(); return; }
    /* 27 MB of JSON under valgrind takes ~15 s; ASan and normal runs cover it */
    if (getenv("TR_VALGRIND")) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_dataset *ds;
    char err[512];
    assert_int_equal(tr_dataset_load(path, NULL, &ds, err, sizeof err), TR_OK);
    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    /* Counted independently with /usr/bin/python3 (json + a hand FNV-1a). */
    assert_int_equal(st.lines, 12032);
    assert_int_equal(st.kept, 12032);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(st.train, 9634);
    assert_int_equal(st.test, 2398);
    assert_int_equal(st.test_complete, 2065);
    assert_int_equal(tr_dataset_model_count(ds), 29);
    assert_string_equal(tr_dataset_model_name(ds, 0), "DeepSeek-Coder-V2");
    size_t *idx, n;
    assert_int_equal(tr_dataset_train_indices(ds, 0, &idx, &n), TR_OK);
    assert_int_equal(n, 9634);
    for (size_t i = 0; i < n; i++) assert_false(ds->rec[idx[i]].is_test);
    tr_free(idx);
    assert_int_equal(tr_dataset_train_indices(ds, 1, &idx, &n), TR_OK);
    assert_int_equal(n, 12032);
    tr_free(idx);
    assert_int_equal(tr_dataset_test_indices(ds, &idx, &n), TR_OK);
    assert_int_equal(n, 2065);
    for (size_t i = 0; i < n; i++) {
        assert_true(ds->rec[idx[i]].is_test && ds->rec[idx[i]].complete);
        for (size_t m = 0; m < ds->n_models; m++)
            assert_false(isnan(tr_ds_score(ds, idx[i], m)) || isnan(tr_ds_cost(ds, idx[i], m)));
    }
    tr_free(idx);
    tr_dataset_free(ds);
}

static void test_split_llmrouter(void **state)
{
    (void)state;
    const char *path = tu_shared("llmrouter.jsonl");
    if (!path) { print_message("../shared/data/llmrouter.jsonl absent\n"); skip(); return; }
    /* 27 MB of JSON under valgrind takes ~15 s; ASan and normal runs cover it */
    if (getenv("TR_VALGRIND")) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_dataset *ds;
    char err[512];
    assert_int_equal(tr_dataset_load(path, NULL, &ds, err, sizeof err), TR_OK);
    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    assert_int_equal(st.kept, 6108);
    assert_int_equal(st.train, 4879);
    assert_int_equal(st.test, 1229);
    assert_int_equal(st.test_complete, 1229);
    assert_int_equal(tr_dataset_model_count(ds), 9);
    tr_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_membership),
        cmocka_unit_test(test_split_mmlu_pro),
        cmocka_unit_test(test_split_llmrouter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
