/* The evaluation protocol's k-fold: fold assignment pinned by vectors computed outside C
 * (/usr/bin/python3 over the ids' UTF-8 bytes), the folds' training parts
 * and test sets, the summary's mean ± SE and paired differences on
 * hand-made fold results, and tr_evaluate_kfold on the demo data: fold 0
 * of 5 is the split, and the result is the same whatever the
 * number of jobs. */
#include "testutil.h"

#include <cJSON.h>
#include <math.h>
#include <pthread.h>

#include "base/util.h"
#include "data/dataset.h"
#include "train/kfold.h"

static void test_fold_vectors(void **state)
{
    (void)state;
    static const struct { const char *id; int f[5]; } v[] = {   /* K = 2, 3, 5, 7, 10 */
        {"70", {0, 2, 0, 0, 0}}, {"3", {0, 0, 0, 0, 0}}, {"4", {1, 1, 0, 6, 5}}, {"r0", {1, 2, 0, 2, 5}},
        {"0", {1, 2, 4, 4, 9}}, {"1", {0, 1, 3, 1, 8}}, {"2", {1, 1, 1, 3, 1}}, {"5", {0, 0, 4, 3, 4}},
        {"10", {0, 1, 1, 0, 6}}, {"foobar", {0, 0, 3, 6, 8}}, {"\xc3\xa9" "0", {1, 1, 0, 0, 5}},
        {"\xe6\x97\xa5\xe6\x9c\xac", {1, 0, 4, 1, 9}}, {"q-001", {0, 2, 4, 2, 4}}, {"train.0", {1, 0, 3, 1, 3}},
    };
    static const int K[5] = {2, 3, 5, 7, 10};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = strlen(v[i].id);
        for (int k = 0; k < 5; k++)
            if (tr_split_fold(v[i].id, len, K[k]) != v[i].f[k])
                fail_msg("id '%s', K %d: expected fold %d", v[i].id, K[k], v[i].f[k]);
        /* K = 5's fold 0 is the test split */
        assert_int_equal(tr_split_fold(v[i].id, len, 5) == 0, tr_split_is_test(v[i].id, len));
    }
    assert_int_equal(tr_split_fold("70", 2, 0), 0);
    assert_int_equal(tr_split_fold("4", 1, 1), 0);
    assert_int_equal(tr_split_fold("4", 1, -3), 0);
    assert_int_equal(tr_split_fold(NULL, 0, 5), (int)(tr_fnv1a64(NULL, 0) % 5));
    assert_int_equal(tr_split_fold(NULL, 1, 5), TR_EINVAL);
}

/* 12 records, "r0".."r11"; r5 lacks a cost (never test data) */
static tr_dataset *small(void)
{
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "{\"id\":\"r%d\",\"prompt\":\"p%d\",\"scores\":{\"a\":1,\"b\":0},\"costs\":{\"a\":1%s}}\n", i,
                              i, i == 5 ? "" : ",\"b\":0.1");
    tr_dataset *ds = NULL;
    char err[256];
    assert_int_equal(tr_dataset_load_mem(buf, n, "small", NULL, &ds, err, sizeof err), TR_OK);
    return ds;
}

static void test_fold_indices(void **state)
{
    (void)state;
    tr_dataset *ds = small();
    for (unsigned K = 2; K <= 7; K++) {
        size_t seen_test = 0;
        for (unsigned f = 0; f < K; f++) {
            size_t *tr, ntr, *te, nte;
            assert_int_equal(tr_dataset_fold_indices(ds, K, f, 0, &tr, &ntr), TR_OK);
            assert_int_equal(tr_dataset_fold_indices(ds, K, f, 1, &te, &nte), TR_OK);
            size_t in_fold = 0;
            for (size_t i = 0; i < ds->n; i++) in_fold += tr_split_fold(ds->rec[i].id, strlen(ds->rec[i].id), (int)K) == (int)f;
            assert_int_equal(ntr, ds->n - in_fold);   /* the training part: everything outside the fold */
            for (size_t i = 0; i < ntr; i++)
                assert_int_not_equal(tr_split_fold(ds->rec[tr[i]].id, strlen(ds->rec[tr[i]].id), (int)K), f);
            for (size_t i = 0; i < nte; i++) {
                assert_int_equal(tr_split_fold(ds->rec[te[i]].id, strlen(ds->rec[te[i]].id), (int)K), f);
                assert_true(ds->rec[te[i]].complete);
                assert_string_not_equal(ds->rec[te[i]].id, "r5");
            }
            seen_test += nte;
            tr_free(tr);
            tr_free(te);
        }
        assert_int_equal(seen_test, ds->n - 1);   /* every complete record is tested once */
    }
    /* (5, 0) is the split */
    size_t *a, na, *b, nb;
    assert_int_equal(tr_dataset_fold_indices(ds, 5, 0, 0, &a, &na), TR_OK);
    assert_int_equal(tr_dataset_train_indices(ds, 0, &b, &nb), TR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    tr_free(a);
    tr_free(b);
    assert_int_equal(tr_dataset_fold_indices(ds, 1, 0, 0, &a, &na), TR_EINVAL);
    assert_int_equal(tr_dataset_fold_indices(ds, 3, 3, 1, &a, &na), TR_EINVAL);
    tr_dataset_free(ds);
}

static void test_fold_sizes_shared(void **state)
{
    (void)state;
    const char *path = tu_shared("mmlu-pro.jsonl");
    if (!path) { print_message("../shared/data/mmlu-pro.jsonl absent\n"); skip(); return; }
    if (getenv("TR_VALGRIND")) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_dataset *ds;
    char err[512];
    assert_int_equal(tr_dataset_load(path, NULL, &ds, err, sizeof err), TR_OK);
    /* complete records per fold, counted with /usr/bin/python3 */
    static const size_t k5[] = {2065, 2052, 2062, 2088, 2059}, k3[] = {3453, 3445, 3428};
    for (unsigned f = 0; f < 5; f++) {
        size_t *idx, n;
        assert_int_equal(tr_dataset_fold_indices(ds, 5, f, 1, &idx, &n), TR_OK);
        assert_int_equal(n, k5[f]);
        tr_free(idx);
    }
    for (unsigned f = 0; f < 3; f++) {
        size_t *idx, n;
        assert_int_equal(tr_dataset_fold_indices(ds, 3, f, 1, &idx, &n), TR_OK);
        assert_int_equal(n, k3[f]);
        tr_free(idx);
    }
    tr_dataset_free(ds);
}

/* A fold's evaluation tree as tr_evaluate_fold makes it, with two figures. */
static cJSON *fold_tree(double qbest, double ours_q, double ours_a, double knn_q, double knn_a, int with_extra)
{
    cJSON *t = cJSON_CreateObject(), *r = cJSON_AddObjectToObject(t, "routers");
    cJSON_AddNumberToObject(t, "n_test", 100);
    cJSON_AddNumberToObject(t, "q_best", qbest);
    cJSON_AddStringToObject(t, "best_model", "a");
    cJSON_AddStringToObject(t, "heads_quality", "knn-tau");
    cJSON_AddStringToObject(t, "heads_cost", "task-mean");
    cJSON *o = cJSON_AddObjectToObject(r, "taskroute");
    cJSON_AddNumberToObject(o, "q_at_c_best", ours_q);
    cJSON_AddNumberToObject(o, "aiq_log", ours_a);
    cJSON_AddNullToObject(o, "c_at_q_best");   /* never reached: infinite */
    o = cJSON_AddObjectToObject(r, "knn");
    cJSON_AddNumberToObject(o, "q_at_c_best", knn_q);
    cJSON_AddNumberToObject(o, "aiq_log", knn_a);
    if (with_extra) cJSON_AddObjectToObject(r, "heads:prior-soft+task-mean");
    return t;
}

static const cJSON *path3(const cJSON *j, const char *a, const char *b, const char *c)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b), c);
}

static double get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_summary(void **state)
{
    (void)state;
    /* taskroute 0.70 0.72 0.71 0.69 0.73 (mean 0.71, SE sqrt(0.001/4)/sqrt(5));
     * knn 0.69 0.70 0.71 0.70 0.70: differences 0.01 0.02 0 -0.01 0.03,
     * mean 0.01, deviations 0 .01 -.01 -.02 .02 -> SE sqrt(0.001/4)/sqrt(5); won 3, lost 1, tied 1 */
    const double ours[] = {0.70, 0.72, 0.71, 0.69, 0.73}, knn[] = {0.69, 0.70, 0.71, 0.70, 0.70};
    const double qb[] = {0.68, 0.70, 0.72, 0.66, 0.70};
    cJSON *t[5];
    for (int f = 0; f < 5; f++) t[f] = fold_tree(qb[f], ours[f], 0.6, knn[f], 0.5 + 0.01 * f, f != 2);
    cJSON *j = tr_kfold_summary("x.jsonl", t, 5);
    assert_non_null(j);
    const double se = sqrt(0.001 / 4) / sqrt(5);
    const cJSON *s = path3(j, "routers", "taskroute", "q_at_c_best");
    assert_true(fabs(get(s, "mean") - 0.71) < 1e-12);
    assert_true(fabs(get(s, "se") - se) < 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "folds")), 5);
    assert_true(fabs(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "folds"), 4)->valuedouble - 0.73) < 1e-15);
    /* an infinite figure in a fold: no mean */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(path3(j, "routers", "taskroute", "c_at_q_best"), "mean")));
    const cJSON *p = path3(j, "paired", "knn", "q_at_c_best");
    assert_true(fabs(get(p, "mean") - 0.01) < 1e-12);
    assert_true(fabs(get(p, "se") - se) < 1e-12);
    assert_int_equal((int)get(p, "won"), 3);
    assert_int_equal((int)get(p, "lost"), 1);
    assert_int_equal((int)get(p, "tied"), 1);
    /* AIQ: taskroute 0.6 against 0.50..0.54: won everywhere, constant difference has SE 0 */
    p = path3(j, "paired", "knn", "aiq_log");
    assert_int_equal((int)get(p, "won"), 5);
    assert_true(fabs(get(p, "mean") - 0.08) < 1e-12);
    /* against the best single model: 0.02 0.02 -0.01 0.03 0.03 */
    p = path3(j, "paired", "best-single", "q_at_c_best");
    assert_true(fabs(get(p, "mean") - 0.018) < 1e-12);
    assert_int_equal((int)get(p, "won"), 4);
    /* a router missing from one fold is not summarised */
    assert_null(path3(j, "routers", "heads:prior-soft+task-mean", "q_at_c_best"));
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "routers"), "heads:prior-soft+task-mean"));
    assert_true(fabs(get(cJSON_GetObjectItem(j, "n_test"), "total") - 500) < 1e-12);
    cJSON_Delete(j);
    for (int f = 0; f < 5; f++) cJSON_Delete(t[f]);
}

/* The first n lines of the demo data. */
static tr_dataset *demo(size_t lines)
{
    FILE *f = fopen("data/demo.jsonl", "rb");
    if (!f) return NULL;
    size_t cap = 1 << 22, len = 0, nl = 0;
    char *buf = malloc(cap);
    int c;
    while (buf && nl < lines && (c = fgetc(f)) != EOF && len + 1 < cap) {
        buf[len++] = (char)c;
        nl += c == '\n';
    }
    fclose(f);
    tr_dataset *ds = NULL;
    char err[256];
    if (buf && tr_dataset_load_mem(buf, len, "demo", NULL, &ds, err, sizeof err)) ds = NULL;
    free(buf);
    return ds;
}

static void count_line(void *ctx, const char *line)
{
    assert_non_null(strstr(line, "fold "));
    (*(int *)ctx)++;
}

static void test_kfold_demo(void **state)
{
    (void)state;
    /* eleven trainings: ASan and normal runs cover it, valgrind would take half an hour */
    if (getenv("TR_VALGRIND")) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_dataset *ds = demo(tu_slow_mode() ? 600 : 1000);
    if (!ds) { print_message("data/demo.jsonl not readable: run from the project root\n"); skip(); return; }
    tr_train_options o;
    tr_train_options_default(&o);
    o.blas_threads = 1;   /* the protocol's setting, as the CLI runs */
    tr_kfold_options ko;
    tr_kfold_options_default(&ko);
    assert_int_equal(ko.folds, 5);
    int lines = 0;
    ko.fold_done = count_line;
    ko.fold_done_ctx = &lines;
    ko.jobs = 1;
    char err[1024], *j1 = NULL, *j2 = NULL, *one = NULL;
    assert_int_equal(tr_evaluate_kfold(ds, &o, &ko, &j1, err, sizeof err), TR_OK);
    assert_int_equal(lines, 5);
    /* fold 0 of 5 is `train` + `eval` on the split */
    tr_router *r = NULL;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    assert_int_equal(tr_evaluate(r, ds, 0, &one, err, sizeof err), TR_OK);
    cJSON *k = cJSON_Parse(j1), *e = cJSON_Parse(one);
    const cJSON *et = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "routers"), "taskroute");
    static const char *const figs[] = {"q_at_c_best", "aiq_lin", "aiq_log", "q_max", "ece"};
    for (size_t g = 0; g < sizeof figs / sizeof figs[0]; g++) {
        const cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(path3(k, "routers", "taskroute", figs[g]), "folds"), 0);
        assert_true(cJSON_IsNumber(f0));
        if (f0->valuedouble != get(et, figs[g])) fail_msg("%s: fold 0 %.17g, split %.17g", figs[g], f0->valuedouble, get(et, figs[g]));
    }
    assert_int_equal((int)cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(k, "n_test"), "folds"), 0)->valuedouble,
                     (int)get(e, "n_test"));
    cJSON_Delete(k);
    cJSON_Delete(e);
    tr_free(one);
    tr_router_close(r);
    /* the same result on two jobs and one training thread each */
    ko.jobs = 2;
    o.threads = 1;
    ko.fold_done = NULL;
    assert_int_equal(tr_evaluate_kfold(ds, &o, &ko, &j2, err, sizeof err), TR_OK);
    assert_string_equal(j1, j2);
    tr_free(j1);
    tr_free(j2);
    /* options that make no sense per fold, and bad K */
    o.use_all = 1;
    assert_int_equal(tr_evaluate_kfold(ds, &o, &ko, &j1, err, sizeof err), TR_EINVAL);
    assert_null(j1);
    o.use_all = 0;
    ko.folds = 1;
    assert_int_equal(tr_evaluate_kfold(ds, &o, &ko, &j1, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_evaluate_kfold(NULL, &o, &ko, &j1, err, sizeof err), TR_EINVAL);
    tr_dataset_free(ds);
}

/* tr_kfold_run with a scorer of its own: each fold scored once, by a router
 * trained without the fold's records, the trees in fold order; a failing
 * fold's error named, no trees. */
typedef struct probe {
    pthread_mutex_t lock;
    int calls, fail_fold;
} probe;

static int probe_score(void *ctx, const tr_router *r, const tr_dataset *ds, unsigned K, unsigned f, cJSON **out,
                       char *err, size_t errlen)
{
    probe *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->calls++;
    pthread_mutex_unlock(&p->lock);
    if ((int)f == p->fail_fold) return tr_errorf(err, errlen, TR_EINVAL, "probe refuses");
    if (!r || K != 3 || f >= K) return tr_errorf(err, errlen, TR_EINVAL, "bad call");
    size_t *idx = NULL, n = 0;
    if (tr_dataset_fold_indices(ds, K, f, 1, &idx, &n)) return TR_EINVAL;
    tr_free(idx);
    *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(*out, "fold", f);
    cJSON_AddNumberToObject(*out, "n_test", (double)n);
    return TR_OK;
}

static void test_kfold_run_scorer(void **state)
{
    (void)state;
    if (getenv("TR_VALGRIND")) { print_message("skipped under valgrind\n"); skip(); return; }
    tr_dataset *ds = demo(300);
    if (!ds) { print_message("data/demo.jsonl not readable: run from the project root\n"); skip(); return; }
    tr_train_options o;
    tr_train_options_default(&o);
    o.blas_threads = 1;
    tr_kfold_options ko;
    tr_kfold_options_default(&ko);
    ko.folds = 3;
    ko.jobs = 2;
    probe p = {PTHREAD_MUTEX_INITIALIZER, 0, -1};
    tr_kfold_scorer sc = {probe_score, NULL, &p};
    cJSON **t = NULL;
    int K = 0;
    char err[1024];
    assert_int_equal(tr_kfold_run(ds, &o, &ko, &sc, &t, &K, err, sizeof err), TR_OK);
    assert_int_equal(K, 3);
    assert_int_equal(p.calls, 3);
    for (int f = 0; f < K; f++) {
        assert_int_equal((int)get(t[f], "fold"), f);
        assert_true(get(t[f], "n_test") > 0);
        cJSON_Delete(t[f]);
    }
    tr_free(t);
    p.calls = 0;
    p.fail_fold = 1;
    assert_int_equal(tr_kfold_run(ds, &o, &ko, &sc, &t, &K, err, sizeof err), TR_EINVAL);
    assert_null(t);
    assert_int_equal(K, 0);
    assert_non_null(strstr(err, "fold 1 of 3"));
    assert_non_null(strstr(err, "probe refuses"));
    ko.folds = 101;
    assert_int_equal(tr_kfold_run(ds, &o, &ko, &sc, &t, &K, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "folds 101"));
    assert_int_equal(p.calls, 3);
    tr_dataset_free(ds);
}

static void test_paired_json_no_verdict(void **state)
{
    (void)state;
    const double a[] = {1, 2, 3}, b[] = {0, 2, 4};
    cJSON *p = tr_kfold_paired_json(a, b, 3, 0);
    assert_true(fabs(get(p, "mean")) < 1e-15);
    assert_null(cJSON_GetObjectItem(p, "won"));
    cJSON_Delete(p);
    p = tr_kfold_paired_json(a, b, 3, -1);   /* lower is better: a wins where below */
    assert_int_equal((int)get(p, "won"), 1);
    assert_int_equal((int)get(p, "lost"), 1);
    assert_int_equal((int)get(p, "tied"), 1);
    cJSON_Delete(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_vectors),
        cmocka_unit_test(test_fold_indices),
        cmocka_unit_test(test_fold_sizes_shared),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_kfold_demo),
        cmocka_unit_test(test_kfold_run_scorer),
        cmocka_unit_test(test_paired_json_no_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
