/* Per-record keys and cuts: the k smallest keys of parts equal those of
 * the whole; per-task cuts keep cap keys per task. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "dist/keys.h"

static void test_key_depends_on_id_seed_salt(void **state)
{
    (void)state;
    uint64_t a = tr_dist_key("r1", 2, 42, TR_KEY_SAMPLE);
    assert_true(a == tr_dist_key("r1", 2, 42, TR_KEY_SAMPLE));
    assert_true(a != tr_dist_key("r2", 2, 42, TR_KEY_SAMPLE));
    assert_true(a != tr_dist_key("r1", 2, 43, TR_KEY_SAMPLE));
    assert_true(a != tr_dist_key("r1", 2, 42, TR_KEY_STORE));
}

static void test_cut_of_parts(void **state)
{
    (void)state;
    enum { N = 1000, K = 137 };
    uint64_t all[N], parts[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "id%d", i);
        all[i] = parts[i] = tr_dist_key(id, (size_t)n, 7, TR_KEY_SAMPLE);
    }
    uint64_t cut = tr_keys_cut(all, N, K);
    /* three parts each send their K smallest; the cut of those is the same */
    uint64_t sent[3 * K];
    size_t ns = 0, b[4] = {0, 300, 310, N};
    for (int r = 0; r < 3; r++) {
        size_t n = b[r + 1] - b[r];
        tr_keys_cut(parts + b[r], n, K);   /* sorts the part */
        for (size_t i = 0; i < n && i < K; i++) sent[ns++] = parts[b[r] + i];
    }
    assert_true(tr_keys_cut(sent, ns, K) == cut);
    /* one part alone sends exactly K keys: still the same cut */
    memcpy(sent, parts, K * sizeof *sent);
    tr_keys_cut(parts, N, N);
    memcpy(sent, parts, K * sizeof *sent);
    assert_true(tr_keys_cut(sent, K, K) == cut);
    size_t below = 0;
    for (int i = 0; i < N; i++) below += all[i] <= cut;
    assert_int_equal(below, K);
    assert_true(tr_keys_cut(all, N, N + 1) == UINT64_MAX);
    /* k = n: the largest, so that keys elsewhere stay out (one part sending
     * its k smallest of more) */
    assert_true(tr_keys_cut(all, N, N) == all[N - 1] && all[N - 1] != UINT64_MAX);
}

static void test_task_cuts(void **state)
{
    (void)state;
    enum { N = 500 };
    uint32_t task[N];
    uint64_t key[N];
    tr_rng r;
    tr_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) { task[i] = (uint32_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : 2 + (i % 50 == 2)); key[i] = tr_rng_next(&r); }
    uint32_t t2[N];
    uint64_t k2[N];
    memcpy(t2, task, sizeof task);
    memcpy(k2, key, sizeof key);
    uint64_t cut[4];
    assert_int_equal(tr_task_cuts(t2, k2, N, 4, 40, cut), TR_OK);
    size_t kept[4] = {0}, have[4] = {0};
    for (int i = 0; i < N; i++) { have[task[i]]++; kept[task[i]] += key[i] <= cut[task[i]]; }
    for (int t = 0; t < 4; t++) assert_int_equal(kept[t], have[t] < 40 ? have[t] : 40);
    assert_true(cut[3] == UINT64_MAX);   /* task 3 has fewer than 40 */
    task[0] = 9;
    assert_int_equal(tr_task_cuts(task, key, N, 4, 40, cut), TR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_depends_on_id_seed_salt),
        cmocka_unit_test(test_cut_of_parts),
        cmocka_unit_test(test_task_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
