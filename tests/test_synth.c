/* The synthetic dataset: the same seed gives the same bytes (and the
 * committed data/demo.jsonl is exactly what the defaults make), it loads
 * cleanly, and the structure it plants for routing is there. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "data/dataset.h"
#include "data/synth.h"

/* The whole output in memory; *len bytes, free() it. */
static char *synth_mem(const tr_synth_options *o, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    char err[256];
    assert_int_equal(tr_synth_write(o, f, err, sizeof err), TR_OK);
    fclose(f);
    return buf;
}

static void test_determinism(void **state)
{
    (void)state;
    tr_synth_options o;
    tr_synth_options_default(&o);
    o.prompts = 300;
    size_t n1, n2, n3;
    char *a = synth_mem(&o, &n1), *b = synth_mem(&o, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    o.seed = 43;
    char *c = synth_mem(&o, &n3);
    assert_true(n3 != n1 || memcmp(a, c, n1) != 0);
    free(a); free(b); free(c);
}

static void test_demo_file_matches_defaults(void **state)
{
    (void)state;
    FILE *f = fopen("data/demo.jsonl", "rb");
    if (!f) { skip(); return; }
    tr_synth_options o;
    tr_synth_options_default(&o);
    /* Records are drawn one after the other, so fewer prompts give a prefix
     * of the file: under valgrind compare the first 500 only. */
    int whole = !tu_slow_mode();
    if (!whole) o.prompts = 500;
    size_t n;
    char *want = synth_mem(&o, &n);
    char *got = malloc(n + 1);
    size_t k = fread(got, 1, n + 1, f);
    fclose(f);
    if (whole) assert_int_equal(k, n); /* if not: taskroute synth -o data/demo.jsonl */
    assert_true(k >= n);
    assert_memory_equal(got, want, n);
    free(got); free(want);
}

static void test_bad_options(void **state)
{
    (void)state;
    tr_synth_options o;
    tr_synth_options_default(&o);
    char err[256];
    o.models = 9;
    assert_int_equal(tr_synth_write(&o, stdout, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "synth: models 9 is outside [1, 8]");
    tr_synth_options_default(&o);
    o.tasks = 0;
    assert_int_equal(tr_synth_write(&o, stdout, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "synth: tasks 0 is outside [1, 12]");
    tr_synth_options_default(&o);
    o.missing = 1;
    assert_int_equal(tr_synth_write(&o, stdout, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "synth: missing 1 is outside [0, 1)");
    assert_string_equal(tr_synth_model_name(0), "tiny-1b");
    assert_null(tr_synth_model_name(8));
    assert_true(tr_synth_model_price(5) / tr_synth_model_price(0) >= 99);
}

static void test_structure(void **state)
{
    (void)state;
    tr_synth_options o;
    tr_synth_options_default(&o);
    if (tu_slow_mode()) o.prompts = 2000;
    size_t len;
    char *buf = synth_mem(&o, &len);
    tr_dataset *ds;
    char err[512];
    assert_int_equal(tr_dataset_load_mem(buf, len, "synth", NULL, &ds, err, sizeof err), TR_OK);
    free(buf);
    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    assert_int_equal(st.kept, o.prompts);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(tr_dataset_model_count(ds), 6);
    for (int m = 0; m < 6; m++) assert_string_equal(tr_dataset_model_name(ds, (size_t)m), tr_synth_model_name(m));

    /* per task x model mean score; labels present and 0/1 share */
    enum { T = TR_SYNTH_MAX_TASKS, M = 6 };
    double sum[T][M] = {{0}}, cnt[T][M] = {{0}}, cost[M] = {0}, ccnt[M] = {0};
    size_t cells = 0, absent = 0, binary = 0, labels = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int t = -1;
        for (int k = 0; k < T; k++)
            if (!strcmp(ds->rec[i].task, tr_synth_task_name(k))) t = k;
        assert_true(t >= 0);
        for (int m = 0; m < M; m++) {
            float s = tr_ds_score(ds, i, (size_t)m), c = tr_ds_cost(ds, i, (size_t)m);
            cells++;
            if (isnan(s)) { absent++; assert_true(isnan(c)); continue; }
            labels++;
            binary += s == 0 || s == 1;
            sum[t][m] += s; cnt[t][m]++;
            assert_true(c > 0);
            cost[m] += c; ccnt[m]++;
        }
    }
    double miss = (double)absent / (double)cells;
    assert_true(miss > 0.015 && miss < 0.045);            /* ~3% missing */
    assert_true((double)binary / (double)labels > 0.7);   /* mostly 0/1 */
    assert_true((double)binary / (double)labels < 0.95);  /* some fractional */
    assert_true(cost[5] / ccnt[5] > 50 * cost[0] / ccnt[0]); /* ~100x price range */

    /* real per-task structure: each task's best model, the best single model overall, and what picking
     * each task's best model gives against it */
    int best_models = 0;
    unsigned seen = 0;
    double q[T][M], mean_q[M] = {0}, n_all = 0, n_t[T] = {0};
    for (int t = 0; t < T; t++) {
        n_t[t] = cnt[t][0];
        n_all += n_t[t];
        for (int m = 0; m < M; m++) {
            q[t][m] = sum[t][m] / cnt[t][m];
            mean_q[m] += sum[t][m];
        }
    }
    int top = 0;
    for (int m = 0; m < M; m++) {
        mean_q[m] /= n_all;
        if (mean_q[m] > mean_q[top]) top = m;
    }
    double routed_q = 0, routed_c = 0;
    int beaten = 0;
    for (int t = 0; t < T; t++) {
        assert_true(cnt[t][0] > 50); /* every task has real traffic */
        int best = 0;
        for (int m = 1; m < M; m++) if (q[t][m] > q[t][best]) best = m;
        if (!(seen & (1u << best))) { seen |= 1u << best; best_models++; }
        /* the best single model beaten by 0.05 by a model at half its price or less */
        if (q[t][best] - q[t][top] >= 0.05 && 2 * tr_synth_model_price(best) <= tr_synth_model_price(top)) beaten++;
        routed_q += q[t][best] * n_t[t] / n_all;
        routed_c += tr_synth_model_price(best) * n_t[t] / n_all;
        if (!strcmp(tr_synth_task_name(t), "math") || !strcmp(tr_synth_task_name(t), "logic"))
            assert_true(q[t][best] - q[t][0] > 0.4); /* the tiny model is far behind */
    }
    assert_int_equal(top, 5);        /* the frontier model is the best single model... */
    assert_true(best_models >= 5);   /* ...but five models each lead on some task */
    assert_true(beaten >= 4);
    /* each task's best model: better than the best single model, at well under its price */
    assert_true(routed_q - mean_q[top] >= 0.05);
    assert_true(routed_c <= 0.5 * tr_synth_model_price(top));
    tr_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_demo_file_matches_defaults),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
