/* The kNN store's pick: per task the cap smallest keys with their
 * payloads, in one pass; over three parts with per-task cuts, the same
 * rows as a pick over the whole, in row order. */
#include "testutil.h"

#include "base/util.h"
#include "dist/keys.h"
#include "dist/knn_pick.h"

enum { N = 3000, T = 5, CAP = 37, W = 3 };

static void rows(uint64_t *key, uint32_t *task)
{
    tr_rng r;
    tr_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) { key[i] = tr_rng_next(&r); task[i] = (uint32_t)(tr_rng_below(&r, T * T) % T); }
    task[5] = 4;   /* task 4 also gets few rows: */
    for (int i = 0; i < N; i++) if (task[i] == 4 && i % 50) task[i] = 3;
}

static void test_smallest_per_task(void **state)
{
    (void)state;
    uint64_t key[N];
    uint32_t task[N];
    rows(key, task);
    tr_knn_pick p;
    assert_int_equal(tr_knn_pick_init(&p, T, CAP, W), TR_OK);
    for (int i = 0; i < N; i++) {
        float pay[W] = {(float)i, (float)task[i], 1};
        tr_knn_pick_offer(&p, task[i], key[i], (uint64_t)i, pay);
    }
    uint64_t cut[T];
    for (int t = 0; t < T; t++) cut[t] = UINT64_MAX;
    uint32_t st[T * CAP];
    size_t ss[T * CAP];
    size_t n = tr_knn_pick_select(&p, cut, st, ss);
    /* the expected rows: per task, keys below the cap-th smallest */
    uint32_t t2[N];
    uint64_t k2[N], want[T];
    memcpy(t2, task, sizeof task);
    memcpy(k2, key, sizeof key);
    assert_int_equal(tr_task_cuts(t2, k2, N, T, CAP, want), TR_OK);
    size_t expect = 0, prev = 0;
    for (int i = 0; i < N; i++) expect += key[i] <= want[task[i]];
    assert_int_equal(n, expect);
    for (size_t j = 0; j < n; j++) {
        const float *pay = tr_knn_pick_data(&p, st[j], ss[j]);
        size_t i = (size_t)pay[0];
        assert_int_equal((uint32_t)pay[1], st[j]);
        assert_true(key[i] <= want[task[i]]);
        if (j) assert_true(i > prev);   /* row order */
        prev = i;
    }
    tr_knn_pick_free(&p);
}

static void test_three_parts(void **state)
{
    (void)state;
    uint64_t key[N];
    uint32_t task[N];
    rows(key, task);
    size_t b[4] = {0, 1000, 1001, N};
    tr_knn_pick p[3];
    uint32_t ct[3 * T * CAP];
    uint64_t ck[3 * T * CAP];
    size_t nc = 0;
    for (int r = 0; r < 3; r++) {
        assert_int_equal(tr_knn_pick_init(&p[r], T, CAP, W), TR_OK);
        for (size_t i = b[r]; i < b[r + 1]; i++) {
            float pay[W] = {(float)i, 0, 0};
            tr_knn_pick_offer(&p[r], task[i], key[i], i - b[r], pay);
        }
        nc += tr_knn_pick_keys(&p[r], ct + nc, ck + nc);
    }
    uint64_t cut[T], want[T];
    assert_int_equal(tr_task_cuts(ct, ck, nc, T, CAP, cut), TR_OK);
    assert_int_equal(tr_task_cuts(task, key, N, T, CAP, want), TR_OK);
    assert_memory_equal(cut, want, sizeof cut);
    size_t total = 0;
    for (int r = 0; r < 3; r++) {
        uint32_t st[T * CAP];
        size_t ss[T * CAP];
        total += tr_knn_pick_select(&p[r], cut, st, ss);
        tr_knn_pick_free(&p[r]);
    }
    size_t expect = 0;
    for (int t = 0; t < T; t++) {
        size_t have = 0;
        for (int i = 0; i < N; i++) have += task[i] == (uint32_t)t;
        expect += have < CAP ? have : CAP;
    }
    assert_int_equal(total, expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smallest_per_task),
        cmocka_unit_test(test_three_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
