/* The task table from sums over three blocks equals the one
 * tr_tasks_build makes from every row; a task out of range is refused. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "cluster/tasks.h"
#include "dist/task_sums.h"

enum { N = 400, T = 4, D = 8, M = 3 };

static void test_blocks_equal_build(void **state)
{
    (void)state;
    static float X[N * D], S[N * M], C[N * M];
    int32_t y[N];
    tr_rng r;
    tr_rng_seed(&r, 2);
    for (int i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 7 == 0 ? 3 : i % 3);
        for (int j = 0; j < D; j++) X[i * D + j] = (float)tr_rng_normal(&r) + (j == y[i] ? 2.0f : 0.0f);
        for (int m = 0; m < M; m++) {
            S[i * M + m] = (i + m) % 5 == 0 ? NAN : (float)tr_rng_uniform(&r);
            C[i * M + m] = (i + m) % 11 == 0 ? NAN : 0.001f * (float)(m + 1);
        }
    }
    char err[256];
    tr_tasks want, got;
    assert_int_equal(tr_tasks_build(y, N, T, X, D, S, C, M, &want, err, sizeof err), TR_OK);
    assert_int_equal(tr_tasks_build(y, 0, T, X, D, S, C, M, &got, err, sizeof err), TR_OK);
    tr_task_sums a, b;
    assert_int_equal(tr_task_sums_init(&a, T, D, M), TR_OK);
    assert_int_equal(tr_task_sums_init(&b, T, D, M), TR_OK);
    assert_int_equal(tr_task_sums_add(&a, X, S, C, y, 150), TR_OK);
    assert_int_equal(tr_task_sums_add(&b, X + 150 * D, S + 150 * M, C + 150 * M, y + 150, N - 150), TR_OK);
    for (size_t i = 0; i < a.n_sum; i++) a.sum[i] += b.sum[i];
    assert_int_equal(tr_task_sums_apply(&a, &got), TR_OK);
    assert_memory_equal(got.sizes, want.sizes, T * sizeof *got.sizes);
    assert_memory_equal(got.n_labels, want.n_labels, T * M * sizeof *got.n_labels);
    for (int k = 0; k < T * D; k++) assert_true(fabsf(got.centroids[k] - want.centroids[k]) < 1e-5f);
    for (int k = 0; k < T * M; k++) {
        assert_true(fabsf(got.quality[k] - want.quality[k]) < 1e-6f);
        assert_true(fabsf(got.cost[k] - want.cost[k]) < 1e-9f);
    }
    int32_t bad = T;
    assert_int_equal(tr_task_sums_add(&a, X, S, C, &bad, 1), TR_EINVAL);
    a.M++;
    assert_int_equal(tr_task_sums_apply(&a, &got), TR_EINVAL);
    tr_task_sums_free(&a);
    tr_task_sums_free(&b);
    tr_tasks_clear(&want);
    tr_tasks_clear(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_equal_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
