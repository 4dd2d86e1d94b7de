/* tr_decision_rank and tr_route_lambda (src/route/rank.c) on hand-made
 * decisions: the chosen model first, then the policy's order (λ utility,
 * quality, tolerance groups), the allowed mask and models without a
 * prediction honoured, the cap respected, and the ranking's head equal to
 * what selection picks. */
#include "testutil.h"

#include <math.h>

#include "heads/select.h"

static tr_decision make(const float *q, const float *c, size_t M, int model)
{
    tr_decision d;
    memset(&d, 0, sizeof d);
    d.quality = q;
    d.cost = c;
    d.n_models = M;
    d.model = model;
    return d;
}

static void test_lambda_order(void **state)
{
    (void)state;
    /* utilities at λ = 10: 0.9-1 = -0.1, 0.8-0.1 = 0.7, 0.7-0.01 = 0.69, 0.5-0 = 0.5 */
    const float q[] = {0.9f, 0.8f, 0.7f, 0.5f}, c[] = {0.1f, 0.01f, 0.001f, 0.0f};
    tr_route_options o = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_LAMBDA, .value = 10, .allowed = NULL};
    int first = tr_select_lambda(q, c, 4, NULL, 10);
    tr_decision d = make(q, c, 4, first);
    int order[8];
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 8), 4);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 0);
    /* λ = 0: by quality */
    o.value = 0;
    d.model = -1;
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 8), 4);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[3], 3);
    /* λ = inf: the cheapest first */
    o.value = INFINITY;
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 8), 4);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[3], 0);
    assert_true(isinf(tr_route_lambda(NULL, &o)));
}

static void test_chosen_first_mask_cap(void **state)
{
    (void)state;
    const float q[] = {0.9f, 0.8f, NAN, 0.5f, 0.6f}, c[] = {0.1f, 0.01f, 0.001f, 0.0f, NAN};
    unsigned char allowed[] = {1, 1, 1, 1, 0};
    tr_route_options o = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_QUALITY, .value = 0, .allowed = allowed};
    /* online mode chose model 3: it stays first whatever the policy says */
    tr_decision d = make(q, c, 5, 3);
    int order[8];
    size_t n = tr_decision_rank(NULL, &d, &o, order, 8);
    assert_int_equal(n, 3);   /* 2 has no quality, 4 is not allowed */
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);
    /* the cap keeps the best of the rest */
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 2), 2);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 0);
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 0), 0);
    /* quality mode needs no cost: model 4 ranks when allowed */
    allowed[4] = 1;
    d.model = -1;
    n = tr_decision_rank(NULL, &d, &o, order, 8);
    assert_int_equal(n, 4);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 4);
    assert_int_equal(order[3], 3);
    /* λ mode needs one: model 4 drops out */
    o.mode = TR_SELECT_LAMBDA;
    o.value = 1;
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 8), 3);
}

static void test_tolerance_groups(void **state)
{
    (void)state;
    const float q[] = {0.90f, 0.88f, 0.86f, 0.70f, 0.60f}, c[] = {1.0f, 0.5f, 0.2f, 0.01f, 0.001f};
    tr_route_options o = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_TOLERANCE, .value = 0.05, .allowed = NULL};
    int first = tr_select_tolerance(q, c, 5, NULL, 0.05);
    tr_decision d = make(q, c, 5, -1);
    int order[5];
    assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 5), 5);
    assert_int_equal(order[0], first);
    assert_int_equal(order[0], 2);   /* within 0.05 of the best, the cheapest */
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 0);
    assert_int_equal(order[3], 3);   /* then by quality */
    assert_int_equal(order[4], 4);
    assert_true(isnan(tr_route_lambda(NULL, &o)));
}

static void test_head_matches_selection(void **state)
{
    (void)state;
    /* random predictions: the ranking's first model is selection's choice */
    unsigned long long x = 12345;
    for (int trial = 0; trial < 500; trial++) {
        float q[7], c[7];
        for (int m = 0; m < 7; m++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            q[m] = (float)((x >> 40) % 1000) / 1000.0f;
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            c[m] = (float)((x >> 40) % 1000) / 10000.0f;
        }
        double lam = (double)(trial % 50);
        tr_route_options o = {.struct_size = sizeof(tr_route_options), .mode = TR_SELECT_LAMBDA, .value = lam, .allowed = NULL};
        tr_decision d = make(q, c, 7, -1);
        int order[7];
        assert_int_equal(tr_decision_rank(NULL, &d, &o, order, 7), 7);
        assert_int_equal(order[0], tr_select_lambda(q, c, 7, NULL, lam));
        for (int k = 1; k < 7; k++) {
            double u0 = q[order[k - 1]] - lam * c[order[k - 1]], u1 = q[order[k]] - lam * c[order[k]];
            assert_true(u0 >= u1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_order),
        cmocka_unit_test(test_chosen_first_mask_cap),
        cmocka_unit_test(test_tolerance_groups),
        cmocka_unit_test(test_head_matches_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
