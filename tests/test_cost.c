/* Cost model: task means shrunk like the prior, the length model recovers
 * price x bytes, zero and equal costs, models without any cost. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "heads/heads.h"
#include "heads/parts.h"

static void test_length_model(void **state)
{
    (void)state;
    /* model 0: 2e-6 USD/byte + 1e-4; model 1: always 0; model 2: no costs */
    enum { N = 300, M = 3, T = 2 };
    float C[N * M], L[N], ab[2 * M], res[T * M], cmin[M];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        L[i] = (float)(100 + 7 * i);
        y[i] = i % 2;
        C[i * M + 0] = 1e-4f + 2e-6f * L[i] + (y[i] ? 1e-4f : 0);   /* task 1 costs more */
        C[i * M + 1] = 0;
        C[i * M + 2] = NAN;
    }
    tr_cost_fit_len(C, L, M, y, T, NULL, N, 10.0, ab, res, cmin);
    assert_float_equal(ab[1], 2e-6, 1e-8);
    assert_float_equal(ab[0], 1.5e-4, 2e-6);
    assert_float_equal(res[1 * M + 0], 0.5e-4 * 150 / 160.0, 2e-6);   /* shrunk toward 0 */
    assert_float_equal(res[0 * M + 0], -0.5e-4 * 150 / 160.0, 2e-6);
    assert_float_equal(ab[2], 0, 0);
    assert_float_equal(ab[3], 0, 0);
    assert_float_equal(cmin[1], 0, 0);
    assert_true(isnan(ab[4]) && isnan(cmin[2]) && isnan(res[2]));
    /* constant lengths: slope 0, intercept the mean */
    for (int i = 0; i < N; i++) L[i] = 500;
    tr_cost_fit_len(C, L, M, y, T, NULL, N, 10.0, ab, res, cmin);
    assert_float_equal(ab[1], 0, 0);
}

static void test_heads_costs(void **state)
{
    (void)state;
    /* equal costs for every model, one free model, one without costs */
    enum { N = 400, M = 4, T = 2 };
    static float S[N * M], C[N * M], L[N];
    static int32_t y[N];
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        y[i] = i % T;
        L[i] = (float)(100 + tr_rng_below(&r, 900));
        for (int m = 0; m < M; m++) {
            S[i * M + m] = tr_rng_uniform(&r) < 0.2 + 0.2 * m ? 1.0f : 0.0f;
            C[i * M + m] = m == 0 ? 0.0f : m == 3 ? NAN : 3e-4f;
        }
    }
    char err[256];
    for (int cv = 0; cv < TR_CV_COUNT; cv++) {
        tr_heads_params p;
        tr_heads_params_default(&p);
        p.cvariant = cv;
        tr_heads *h = NULL;
        assert_int_equal(tr_heads_train(NULL, NULL, y, N, 0, T, S, C, L, M, &p, &h, err, sizeof err), TR_OK);
        float pt[T] = {0.3f, 0.7f}, q[M], c[M];
        assert_int_equal(tr_heads_predict(h, NULL, pt, 700, NULL, q, NULL, c, NULL), TR_OK);
        assert_float_equal(c[0], 0, 1e-12);
        assert_float_equal(c[1], 3e-4, 1e-9);
        assert_float_equal(c[2], 3e-4, 1e-9);
        assert_true(isnan(c[3]));
        assert_false(isnan(q[3]));
        /* equal costs: λ does not matter between 1 and 2; quality decides */
        assert_int_equal(tr_select_lambda(q, c, M, NULL, 1e3), 2);
        /* the model without a cost is never routed to by cost-aware modes ... */
        assert_int_not_equal(tr_select(q, q, c, M, NULL, TR_SELECT_LAMBDA, 0, NULL), 3);
        /* ... but the quality mode may pick it */
        assert_int_equal(tr_select(q, q, c, M, NULL, TR_SELECT_QUALITY, 0, NULL), 3);
        tr_heads_free(h);
    }
}

static void test_task_cost_shrinkage(void **state)
{
    (void)state;
    /* task 1 has 3 prompts at cost 1: its mean is shrunk toward the global */
    float C[13], mu[2], g[1];
    int32_t y[13];
    for (int i = 0; i < 10; i++) { C[i] = 0.1f; y[i] = 0; }
    for (int i = 10; i < 13; i++) { C[i] = 1.0f; y[i] = 1; }
    tr_prior_fit(C, 1, y, 2, NULL, 13, 10.0, mu, g, NULL);
    float gm = (1.0f + 3.0f) / 13.0f;
    assert_float_equal(mu[1], (3 + 10 * gm) / 13.0f, 1e-6);
    assert_true(mu[1] < 1.0f && mu[1] > gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_model),
        cmocka_unit_test(test_heads_costs),
        cmocka_unit_test(test_task_cost_shrinkage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
