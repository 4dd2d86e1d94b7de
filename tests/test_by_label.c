/* The per-label breakdown of `eval --by-label`: each label's training-best
 * model (missing scores skipped, ties to the cheaper, a label unseen in
 * training falls back to the best single model), the sums per label, the
 * order (most prompts lost first) and the label oracle over all labelled
 * test prompts; nothing added when no test record has a label. */
#include "testutil.h"

#include <cJSON.h>
#include <math.h>

#include "base/util.h"
#include "data/dataset.h"
#include "eval/by_label.h"

/* The i-th id (counting from 0) that falls in the wanted split. */
static void nth_id(int test, int i, char *out, size_t n)
{
    for (int k = 0, seen = 0;; k++) {
        snprintf(out, n, "r%d", k);
        if (tr_split_is_test(out, strlen(out)) == test && seen++ == i) return;
    }
}

typedef struct row {
    int test, i;          /* the i-th id of the test (1) or training (0) split */
    const char *task;     /* NULL: no label */
    const char *scores;
} row;

/* Write the rows (every model costs a 2, b 1), load them and fill S with
 * the test records' scores (all complete here); returns their count. */
static size_t load(const char *name, const row *r, size_t n, tr_dataset **ds, size_t **test, double *S)
{
    const char *p = tu_tmp(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t k = 0; k < n; k++) {
        char id[32];
        nth_id(r[k].test, r[k].i, id, sizeof id);
        fprintf(f, "{\"id\":\"%s\",\"prompt\":\"p\",%s%s%s\"scores\":{%s},\"costs\":{\"a\":2,\"b\":1}}\n", id,
                r[k].task ? "\"task\":\"" : "", r[k].task ? r[k].task : "", r[k].task ? "\"," : "", r[k].scores);
    }
    fclose(f);
    char err[256] = "";
    assert_int_equal(tr_dataset_load(p, NULL, ds, err, sizeof err), TR_OK);
    assert_int_equal(tr_dataset_find_model(*ds, "a"), 0);
    size_t nt;
    assert_int_equal(tr_dataset_test_indices(*ds, test, &nt), TR_OK);
    for (size_t i = 0; i < nt; i++)
        for (size_t m = 0; m < (*ds)->n_models; m++) S[i * (*ds)->n_models + m] = tr_ds_score(*ds, (*test)[i], m);
    return nt;
}

static double getn(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *gets(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void test_breakdown(void **state)
{
    (void)state;
    /* training: on x, a is right and b wrong; on y, a scored once (1) and
     * unlabelled twice, b 1, 1, 0: skipping a's missing scores makes a
     * y's best (1 > 0.667), reading them as 0 would make it b; on w, a
     * tie (0.5 each) goes to the cheaper b.  Test, in file order: x x y z
     * w and one without a label. */
    static const row rows[] = {
        {0, 0, "x", "\"a\":1,\"b\":0"}, {0, 1, "x", "\"a\":1,\"b\":0"}, {0, 2, "y", "\"a\":1,\"b\":1"},
        {0, 3, "y", "\"b\":1"},          {0, 4, "y", "\"b\":0"},          {0, 5, "w", "\"a\":1,\"b\":0"},
        {0, 6, "w", "\"a\":0,\"b\":1"}, {1, 0, "x", "\"a\":1,\"b\":0"}, {1, 1, "x", "\"a\":1,\"b\":1"},
        {1, 2, "y", "\"a\":0,\"b\":1"}, {1, 3, "z", "\"a\":0,\"b\":0.5"}, {1, 4, "w", "\"a\":0,\"b\":1"},
        {1, 5, NULL, "\"a\":1,\"b\":1"}};
    tr_dataset *ds = NULL;
    size_t *test = NULL;
    double S[12];
    char err[256] = "";
    size_t nt = load("labels.jsonl", rows, sizeof rows / sizeof rows[0], &ds, &test, S);
    assert_int_equal(nt, 6);
    /* the router: b, a, b, a, b, a; the best single model: a (index 0) */
    int pick[6] = {1, 0, 1, 0, 1, 0};
    cJSON *root = cJSON_CreateObject();
    assert_int_equal(tr_eval_by_label(ds, 5, 0, test, nt, S, 2, pick, 0, root, err, sizeof err), TR_OK);

    const cJSON *by = cJSON_GetObjectItem(root, "by_label");
    assert_int_equal(cJSON_GetArraySize(by), 4);
    const cJSON *x = cJSON_GetObjectItem(by, "x"), *y = cJSON_GetObjectItem(by, "y"),
                *z = cJSON_GetObjectItem(by, "z"), *w = cJSON_GetObjectItem(by, "w");
    assert_non_null(x); assert_non_null(y); assert_non_null(z); assert_non_null(w);
    assert_string_equal(gets(x, "label_best_model"), "a");
    assert_string_equal(gets(y, "label_best_model"), "a");
    assert_string_equal(gets(w, "label_best_model"), "b");
    assert_string_equal(gets(z, "label_best_model"), "a");   /* unseen in training */
    assert_float_equal(getn(y, "n_train"), 3, 0);
    assert_float_equal(getn(z, "n_train"), 0, 0);
    /* x: ours b, a -> 0 + 1; a, a -> 1 + 1; best single a; oracle 1, 1 */
    assert_float_equal(getn(x, "n"), 2, 0);
    assert_float_equal(getn(x, "taskroute"), 0.5, 1e-12);
    assert_float_equal(getn(x, "label_best"), 1.0, 1e-12);
    assert_float_equal(getn(x, "best_single"), 1.0, 1e-12);
    assert_float_equal(getn(x, "oracle"), 1.0, 1e-12);
    assert_float_equal(getn(x, "prompts_vs_label_best"), -1.0, 1e-12);
    assert_float_equal(getn(x, "top_pick_share"), 0.5, 1e-12);
    /* y: ours b = 1, label best a = 0; z: ours a = 0, oracle 0.5; w: b = 1 */
    assert_float_equal(getn(y, "prompts_vs_label_best"), 1.0, 1e-12);
    assert_string_equal(gets(y, "top_pick"), "b");
    assert_float_equal(getn(z, "oracle"), 0.5, 1e-12);
    assert_float_equal(getn(z, "prompts_vs_label_best"), 0.0, 1e-12);
    assert_float_equal(getn(w, "taskroute"), 1.0, 1e-12);
    assert_float_equal(getn(w, "label_best"), 1.0, 1e-12);
    /* order: x (-1), then w and z (0) by name, then y (+1) */
    const char *order[4] = {"x", "w", "z", "y"};
    int k = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, by) assert_string_equal(l->string, order[k++]);
    /* the label oracle over the five labelled prompts: 1 1 0 0 1 */
    const cJSON *lo = cJSON_GetObjectItem(root, "label_oracle");
    assert_float_equal(getn(lo, "n_labelled"), 5, 0);
    assert_float_equal(getn(lo, "quality"), 3.0 / 5, 1e-12);
    assert_float_equal(getn(lo, "taskroute"), 3.0 / 5, 1e-12);
    cJSON_Delete(root);
    tr_free(test);
    tr_dataset_free(ds);
}

static void test_no_labels(void **state)
{
    (void)state;
    static const row rows[] = {{0, 0, "x", "\"a\":1,\"b\":0"}, {1, 0, NULL, "\"a\":1,\"b\":0"}};
    tr_dataset *ds = NULL;
    size_t *test = NULL;
    double S[2];
    char err[256] = "";
    size_t nt = load("nolabels.jsonl", rows, 2, &ds, &test, S);
    assert_int_equal(nt, 1);
    int pick[1] = {0};
    cJSON *root = cJSON_CreateObject();
    assert_int_equal(tr_eval_by_label(ds, 5, 0, test, nt, S, 2, pick, 0, root, err, sizeof err), TR_OK);
    assert_null(cJSON_GetObjectItem(root, "by_label"));
    assert_null(cJSON_GetObjectItem(root, "label_oracle"));
    cJSON_Delete(root);
    tr_free(test);
    tr_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakdown),
        cmocka_unit_test(test_no_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
