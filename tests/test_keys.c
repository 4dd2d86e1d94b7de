/* Per-record keys and cuts: the k smallest keys of parts equal those of
 * the whole; per-task cuts keep cap keys per task; the bisection finds the
 * exact k-th smallest of numbers spread over parts, negatives, ties and
 * infinities included. */
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

typedef struct parts { double *v[3]; size_t n[3]; } parts;

static uint64_t count_parts(void *ctx, uint64_t o)
{
    parts *p = ctx;
    uint64_t c = 0;
    for (int r = 0; r < 3; r++) c += tr_count_le_sorted(p->v[r], p->n[r], o);
    return c;
}

static void test_bisect_exact(void **state)
{
    (void)state;
    enum { N = 999 };
    double all[N];
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) all[i] = tr_rng_normal(&r) * (i % 10 ? 1 : 1e-30);
    all[3] = all[4] = 0.25;   /* ties */
    all[5] = -INFINITY;
    all[6] = INFINITY;
    all[7] = -0.0;
    parts p;
    size_t b[4] = {0, 400, 401, N};
    double copy[N];
    memcpy(copy, all, sizeof all);
    for (int k = 0; k < 3; k++) {
        p.v[k] = copy + b[k];
        p.n[k] = b[k + 1] - b[k];
        tr_sort_doubles(p.v[k], p.n[k]);
    }
    tr_sort_doubles(all, N);
    for (uint64_t k = 0; k < N; k += 7) {
        double v;
        assert_int_equal(tr_kth_bisect(k, count_parts, &p, &v), TR_OK);
        assert_true(tr_double_order(v) == tr_double_order(all[k]));
    }
    double v;
    assert_int_equal(tr_kth_bisect(N, count_parts, &p, &v), TR_EINVAL);
    /* the order map keeps order and round-trips */
    assert_true(tr_double_order(-1.0) < tr_double_order(-0.5));
    assert_true(tr_double_order(-0.0) < tr_double_order(0.0));
    assert_true(tr_double_order(1e-300) < tr_double_order(2.0));
    assert_true(tr_double_from_order(tr_double_order(-3.5)) == -3.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_depends_on_id_seed_salt),
        cmocka_unit_test(test_cut_of_parts),
        cmocka_unit_test(test_task_cuts),
        cmocka_unit_test(test_bisect_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
