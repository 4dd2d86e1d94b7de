/* Task matching across retrains (cluster/match.c) and warm-start ids
 * (retrain/warm_start.c): the assignment is the optimal one (checked against
 * brute force), the minimum score makes tasks "added"/"vanished", splits
 * and merges are found, and on real training runs ids stay stable under a
 * new seed and a 90% subsample while a planted new task shows up as added. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "cluster/match.h"
#include "data/dataset.h"
#include "retrain/warm_start.h"
#include "train/train.h"
#include "router/router.h"

/* Unit centroids e_k in dimension d. */
static void basis(float *C, size_t T, size_t d, const int *dirs)
{
    memset(C, 0, T * d * sizeof *C);
    for (size_t t = 0; t < T; t++) C[t * d + (size_t)dirs[t]] = 1;
}

static void test_identity_and_min_score(void **state)
{
    (void)state;
    float C_old[3 * 4], C_new[3 * 4];
    basis(C_old, 3, 4, (int[]){0, 1, 2});
    basis(C_new, 3, 4, (int[]){1, 3, 0});  /* new 0 = old 1, new 2 = old 0, new 1 is new */
    uint32_t O[9] = {0, 10, 50,   40, 0, 0,   0, 0, 0};
    tr_match_input in = {3, 3, 4, C_old, C_new, O};
    tr_match_result r;
    char err[256];
    assert_int_equal(tr_match_tasks(&in, NULL, &r, err, sizeof err), TR_OK);
    assert_int_equal(r.new_to_old[0], 1);
    assert_int_equal(r.new_to_old[2], 0);
    assert_int_equal(r.new_to_old[1], -1);     /* orthogonal to everything: added */
    assert_int_equal(r.old_to_new[2], -1);     /* vanished */
    assert_int_equal(r.n_matched, 2);
    assert_true(fabs(r.score[1 * 3 + 0] - 1.0) < 1e-9);   /* cos 1, dice 1 */
    tr_match_result_clear(&r);
    tr_match_input bad = {0, 3, 4, C_old, C_new, O};
    assert_int_equal(tr_match_tasks(&bad, NULL, &r, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "empty input"));
}

/* Brute force over all injections of a 5 x 5 problem: igraph's matching must
 * reach the best total. */
static void test_optimal_against_brute_force(void **state)
{
    (void)state;
    tr_rng g;
    tr_rng_seed(&g, 7);
    enum { A = 5, B = 5, D = 6 };
    for (int trial = 0; trial < 20; trial++) {
        float Co[A * D], Cn[B * D];
        uint32_t O[A * B];
        for (size_t i = 0; i < A * D; i++) Co[i] = (float)tr_rng_uniform(&g);
        for (size_t i = 0; i < B * D; i++) Cn[i] = (float)tr_rng_uniform(&g);
        for (size_t t = 0; t < A; t++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += Co[t * D + j] * Co[t * D + j];
            for (int j = 0; j < D; j++) Co[t * D + j] /= (float)sqrt(s);
        }
        for (size_t t = 0; t < B; t++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += Cn[t * D + j] * Cn[t * D + j];
            for (int j = 0; j < D; j++) Cn[t * D + j] /= (float)sqrt(s);
        }
        for (size_t i = 0; i < A * B; i++) O[i] = (uint32_t)tr_rng_below(&g, 30);
        tr_match_params p;
        tr_match_params_default(&p);
        p.min_score = 0.5;
        tr_match_input in = {A, B, D, Co, Cn, O};
        tr_match_result r;
        char err[256];
        assert_int_equal(tr_match_tasks(&in, &p, &r, err, sizeof err), TR_OK);
        /* brute force: every permutation, pairs below min_score left out */
        int perm[B] = {0, 1, 2, 3, 4};
        double best = 0;
        for (;;) {
            double tot = 0;
            for (int a = 0; a < A; a++) {
                double s = r.score[a * B + perm[a]];
                if (s >= p.min_score) tot += s;
            }
            if (tot > best) best = tot;
            int i = B - 2;
            while (i >= 0 && perm[i] > perm[i + 1]) i--;
            if (i < 0) break;
            int j = B - 1;
            while (perm[j] < perm[i]) j--;
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            for (int x = i + 1, y = B - 1; x < y; x++, y--) { t = perm[x]; perm[x] = perm[y]; perm[y] = t; }
        }
        assert_true(fabs(r.total - best) < 1e-6);
        tr_match_result_clear(&r);
    }
}

static void test_split_and_merge(void **state)
{
    (void)state;
    float Co[3 * 3], Cn[3 * 3];
    basis(Co, 3, 3, (int[]){0, 1, 2});
    basis(Cn, 3, 3, (int[]){0, 1, 2});
    /* old 0 -> new 0 (55) + new 1 (45): a split; old 1 + old 2 -> new 2: a merge */
    uint32_t O[9] = {55, 45, 0,   0, 0, 60,   0, 2, 40};
    tr_match_input in = {3, 3, 3, Co, Cn, O};
    tr_match_result r;
    char err[256];
    assert_int_equal(tr_match_tasks(&in, NULL, &r, err, sizeof err), TR_OK);
    assert_int_equal(r.n_splits, 1);
    assert_int_equal(r.splits[0].one, 0);
    assert_int_equal(r.splits[0].two[0], 0);
    assert_int_equal(r.splits[0].two[1], 1);
    assert_true(fabs(r.splits[0].share[0] - 0.55) < 1e-9);
    assert_int_equal(r.n_merges, 1);
    assert_int_equal(r.merges[0].one, 2);
    assert_int_equal(r.merges[0].two[0], 1);
    assert_int_equal(r.merges[0].two[1], 2);
    tr_match_result_clear(&r);
    /* one dominant part: no split */
    uint32_t O2[9] = {90, 10, 0,   0, 50, 0,   0, 0, 50};
    in.overlap = O2;
    assert_int_equal(tr_match_tasks(&in, NULL, &r, err, sizeof err), TR_OK);
    assert_int_equal(r.n_splits, 0);
    assert_int_equal(r.n_merges, 0);
    tr_match_result_clear(&r);
}

/* ---- real training runs on a slice of the demo data ---- */

static char *slurp_lines(const char *path, size_t nmax, size_t keep_mod, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap), line[8192];
    size_t i = 0;
    while (i < nmax && fgets(line, sizeof line, f)) {
        i++;
        if (keep_mod && i % keep_mod == 0) continue;   /* drop every keep_mod-th line */
        size_t l = strlen(line);
        if (n + l + 1 > cap) buf = realloc(buf, cap *= 2);
        memcpy(buf + n, line, l);
        n += l;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void opts(tr_train_options *o, uint64_t seed)
{
    tr_train_options_default(o);
    o->seed = seed;
    o->dim = 64;
    o->vocab_size = 1500;
    o->cv_folds = 2;
    o->threads = 2;
}

static tr_dataset *load(const char *buf, size_t len)
{
    tr_dataset *ds = NULL;
    char err[512];
    assert_int_equal(tr_dataset_load_mem(buf, len, "slice", NULL, &ds, err, sizeof err), TR_OK);
    return ds;
}

/* Share of the new run's prompts (by task size) whose task kept an old id. */
static double kept_share(const char *drift_json, const tr_router *r, size_t *added)
{
    (void)drift_json;
    size_t T = r->tasks.n_tasks;
    double tot = 0, kept = 0;
    *added = 0;
    const char *p = drift_json;
    while ((p = strstr(p, "\"status\":\"added\""))) { (*added)++; p++; }
    size_t matched = 0;
    p = drift_json;
    while ((p = strstr(p, "\"status\":\"matched\""))) { matched++; p++; }
    assert_int_equal(matched + *added, T);
    for (size_t t = 0; t < T; t++) tot += r->tasks.sizes[t];
    /* matched tasks are the ones named in the report as such; their sizes */
    const char *q = drift_json;
    for (size_t t = 0; t < T; t++) {
        q = strstr(q, "\"status\":");
        assert_non_null(q);
        if (!strncmp(q, "\"status\":\"matched\"", 18)) kept += r->tasks.sizes[t];
        q++;
    }
    return kept / tot;
}

/* Share of ds's prompts whose most probable task has the same id under a and b. */
static double routed_same(const tr_router *a, const tr_router *b, const tr_dataset *ds)
{
    tr_scratch *sa = NULL, *sb = NULL;
    assert_int_equal(tr_scratch_new(a, &sa), TR_OK);
    assert_int_equal(tr_scratch_new(b, &sb), TR_OK);
    size_t same = 0;
    for (size_t i = 0; i < ds->n; i++) {
        tr_decision da, db;
        assert_int_equal(tr_route(a, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sa, &da), TR_OK);
        assert_int_equal(tr_route(b, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sb, &db), TR_OK);
        same += da.task_id == db.task_id;
    }
    tr_scratch_free(sa);
    tr_scratch_free(sb);
    return (double)same / (double)ds->n;
}

static void test_ids_stable_and_new_task(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    size_t len;
    char *base = slurp_lines("data/demo.jsonl", 1000, 0, &len);
    if (!base) { print_message("data/demo.jsonl missing\n"); skip(); }
    char err[1024];
    tr_train_options o;
    opts(&o, 1);
    tr_dataset *ds = load(base, len);
    tr_router *cur = NULL;
    assert_int_equal(tr_train(ds, &o, &cur, err, sizeof err), TR_OK);
    char cur_path[512];
    snprintf(cur_path, sizeof cur_path, "%s", tu_tmp("cur.trm"));
    assert_int_equal(tr_router_save(cur, cur_path, err, sizeof err), TR_OK);
    /* a person names task 1: warm starts keep that name (and its slug) */
    int named = tr_router_task_id(cur, 1);
    assert_int_equal(tr_router_rename_task(cur_path, named, "Named by hand", cur_path, err, sizeof err), TR_OK);

    /* 1. same data, another seed */
    tr_train_options o2;
    opts(&o2, 2);
    o2.warm_start = cur_path;
    tr_router *r = NULL;
    char *drift = NULL;
    assert_int_equal(tr_train_warm(ds, &o2, NULL, &r, &drift, err, sizeof err), TR_OK);
    assert_non_null(drift);
    size_t added;
    double k = kept_share(drift, r, &added);
    print_message("same data, seed 2: %zu -> %zu tasks, %.0f%% of prompts keep their task id\n",
                  cur->tasks.n_tasks, r->tasks.n_tasks, 100 * k);
    assert_true(k >= 0.9);
    /* ids are the old ones for matched tasks, names follow ids; the named one kept its name */
    for (size_t t = 0; t < r->tasks.n_tasks; t++)
        for (size_t a = 0; a < cur->tasks.n_tasks; a++)
            if (r->tasks.ids[t] == cur->tasks.ids[a] && cur->tasks.ids[a] != named)
                assert_string_equal(r->tasks.names[t], cur->tasks.names[a]);
    int kn = tr_tasks_find_id(&r->tasks, named);
    assert_true(kn >= 0);
    assert_string_equal(r->tasks.names[kn], "Named by hand");
    assert_string_equal(r->tasks.slugs[kn], "named-by-hand");
    assert_true(r->tasks.flags[kn] & TR_TASK_NAMED);
    double same = routed_same(cur, r, ds);
    print_message("same data, seed 2: %.1f%% of prompts keep their task id when routed\n", 100 * same);
    assert_true(same >= 0.95);
    tr_free(drift);
    tr_router_close(r);
    tr_dataset_free(ds);

    /* 2. a 90% subsample (every 10th prompt dropped) */
    size_t len9;
    char *sub = slurp_lines("data/demo.jsonl", 1000, 10, &len9);
    ds = load(sub, len9);
    assert_int_equal(tr_train_warm(ds, &o2, NULL, &r, &drift, err, sizeof err), TR_OK);
    k = kept_share(drift, r, &added);
    print_message("90%% subsample: %.0f%% of prompts keep their task id\n", 100 * k);
    assert_true(k >= 0.8);
    tr_free(drift);
    tr_dataset_free(ds);
    /* routed: every prompt of the slice, subsample or not */
    ds = load(base, len);
    same = routed_same(cur, r, ds);
    print_message("90%% subsample, seed 2: %.1f%% of prompts keep their task id when routed\n", 100 * same);
    assert_true(same >= 0.95);
    kn = tr_tasks_find_id(&r->tasks, named);
    assert_true(kn >= 0 && !strcmp(r->tasks.names[kn], "Named by hand"));
    tr_router_close(r);
    tr_dataset_free(ds);
    free(sub);

    /* 3. a planted new task: 200 haiku prompts nothing in the demo resembles */
    static const char *nouns[] = {"heron", "maple", "lantern", "glacier", "cicada", "willow", "tide", "ember"};
    size_t cap = len + 200 * 600;
    char *plus = malloc(cap);
    memcpy(plus, base, len);
    size_t n = len;
    tr_rng g;
    tr_rng_seed(&g, 5);
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(plus + n, cap - n,
                              "{\"id\":\"haiku-%d\",\"prompt\":\"Compose a haiku with a kigo about the %s and the %s "
                              "beneath the autumn moon, five seven five syllables\",\"scores\":{\"tiny-1b\":%d,"
                              "\"frontier-xl\":1},\"costs\":{\"tiny-1b\":0.00001,\"frontier-xl\":0.003}}\n",
                              i, nouns[tr_rng_below(&g, 8)], nouns[tr_rng_below(&g, 8)], (int)tr_rng_below(&g, 2));
    ds = load(plus, n);
    o2.target_tasks = (int)cur->tasks.n_tasks + 1;
    assert_int_equal(tr_train_warm(ds, &o2, NULL, &r, &drift, err, sizeof err), TR_OK);
    k = kept_share(drift, r, &added);
    /* the haiku task: the task holding haiku prompts must be an added one */
    int32_t max_old = 0;
    for (size_t a = 0; a < cur->tasks.n_tasks; a++)
        if (cur->tasks.ids[a] > max_old) max_old = cur->tasks.ids[a];
    int found = 0;
    for (size_t t = 0; t < r->tasks.n_tasks; t++)
        if (r->tasks.ids[t] > max_old && r->tasks.sizes[t] >= 100) found = 1;
    print_message("planted task: %zu added, haiku task with a fresh id: %d, %.0f%% kept\n", added, found, 100 * k);
    assert_true(added >= 1);
    assert_true(found);
    assert_non_null(strstr(drift, "\"models_added\":[]"));
    tr_free(drift);
    tr_router_close(r);
    tr_dataset_free(ds);
    free(plus);
    free(base);
    tr_router_close(cur);
}

static void test_warm_open_errors(void **state)
{
    (void)state;
    tr_warm *w = NULL;
    char err[512];
    assert_int_equal(tr_warm_open("/nonexistent/cur.trm", NULL, &w, err, sizeof err), TR_EIO);
    assert_null(w);
    assert_non_null(strstr(err, "--warm-start"));
    assert_non_null(strstr(err, "/nonexistent/cur.trm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_min_score),
        cmocka_unit_test(test_optimal_against_brute_force),
        cmocka_unit_test(test_split_and_merge),
        cmocka_unit_test(test_warm_open_errors),
        cmocka_unit_test(test_ids_stable_and_new_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
