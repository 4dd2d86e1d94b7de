/* Selection: λ, tolerance and quality on hand-made vectors, the mask and
 * missing predictions honoured, the budget met and the risk bound realised
 * on synthetic data with a known truth, the Clopper-Pearson bound itself. */
#include "testutil.h"

#include <math.h>

#include "heads/heads.h"
#include "heads/parts.h"
#include "heads/select.h"
#include "heads_synth.h"

static void test_hand_vectors(void **state)
{
    (void)state;
    float q[4] = {0.50f, 0.70f, 0.80f, 0.80f};
    float c[4] = {1.0f, 2.0f, 10.0f, 8.0f};
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, 0), 3);            /* tie on q: cheaper */
    assert_int_equal(tr_select(q, q, c, 4, NULL, TR_SELECT_QUALITY, 0, NULL), 3);
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, 0.01), 3);         /* 0.72 vs 0.68, 0.70 */
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, 0.05), 1);         /* 0.6 vs 0.45, 0.4 */
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, 1.0), 0);
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, INFINITY), 0);
    /* utility tie: 0.5 - 0.2*1 = 0.3 = 0.7 - 0.2*2: the cheaper wins */
    assert_int_equal(tr_select_lambda(q, c, 4, NULL, 0.2), 0);
    assert_int_equal(tr_select(q, q, c, 4, NULL, TR_SELECT_TOLERANCE, 0.0, NULL), 3);
    assert_int_equal(tr_select(q, q, c, 4, NULL, TR_SELECT_TOLERANCE, 0.1, NULL), 1);
    assert_int_equal(tr_select(q, q, c, 4, NULL, TR_SELECT_TOLERANCE, 0.35, NULL), 0);
    assert_int_equal(tr_select(q, q, c, 4, NULL, TR_SELECT_TOLERANCE, -1, NULL), 3);
    /* the mask */
    unsigned char allow[4] = {0, 0, 1, 0};
    for (int mode = 0; mode <= 4; mode++)
        assert_int_equal(tr_select(q, q, c, 4, allow, (tr_select_mode)mode, 0.5, NULL), 2);
    unsigned char allow2[4] = {1, 0, 1, 0};
    assert_int_equal(tr_select(q, q, c, 4, allow2, TR_SELECT_QUALITY, 0, NULL), 2);
    assert_int_equal(tr_select(q, q, c, 4, allow2, TR_SELECT_TOLERANCE, 0.29, NULL), 2);
    assert_int_equal(tr_select(q, q, c, 4, allow2, TR_SELECT_TOLERANCE, 0.31, NULL), 0);
    unsigned char none[4] = {0};
    assert_int_equal(tr_select(q, q, c, 4, none, TR_SELECT_LAMBDA, 0, NULL), -1);
    /* models without predictions are skipped */
    float qn[4] = {0.50f, NAN, 0.80f, 0.95f}, cn[4] = {1.0f, 2.0f, 10.0f, NAN};
    assert_int_equal(tr_select(qn, qn, cn, 4, NULL, TR_SELECT_LAMBDA, 0, NULL), 2);
    assert_int_equal(tr_select(qn, qn, cn, 4, NULL, TR_SELECT_TOLERANCE, 0.3, NULL), 0);
    assert_int_equal(tr_select(qn, qn, cn, 4, NULL, TR_SELECT_QUALITY, 0, NULL), 3);
    /* risk rule: p_m = 1 - q_b (1 - q_m) */
    float qr[3] = {0.9f, 0.6f, 0.3f}, cr[3] = {10, 5, 1};
    assert_int_equal(tr_select_risk_t(qr, cr, 3, NULL, 0.0), 0);
    assert_int_equal(tr_select_risk_t(qr, cr, 3, NULL, 0.36f + 0.001f), 1);   /* 1 - .9*.4 = .64 */
    assert_int_equal(tr_select_risk_t(qr, cr, 3, NULL, 0.63f + 0.001f), 2);   /* 1 - .9*.7 = .37 */
    assert_int_equal(tr_select_risk_t(qr, cr, 3, allow, 0.9), 2);    /* only model 2 allowed */
}

static void test_tables(void **state)
{
    (void)state;
    float lam[4] = {0, 1, 10, 100}, cost[4] = {8, 6, 2, 1}, qual[4] = {0.9f, 0.8f, 0.7f, 0.5f};
    float rt[4] = {0, 0.1f, 0.2f, 0.3f}, ru[4] = {0.01f, 0.04f, 0.08f, 0.2f};
    tr_select_tables t = {4, lam, cost, qual, 4, rt, ru};
    assert_true(tr_select_budget_lambda(&t, 9) == 0);
    assert_true(tr_select_budget_lambda(&t, 8) == 0);
    assert_true(isinf(tr_select_budget_lambda(&t, 0.5)));
    assert_float_equal(tr_select_budget_lambda(&t, 7), 0.5, 1e-9);           /* linear on [0, 1] */
    assert_float_equal(tr_select_budget_lambda(&t, 4), sqrt(10.0), 1e-6);    /* log-linear */
    assert_float_equal(tr_select_budget_lambda(&t, 1), 100, 1e-4);
    assert_float_equal(tr_select_risk_threshold(&t, 0.05), 0.1, 1e-7);
    assert_float_equal(tr_select_risk_threshold(&t, 0.005), 0, 0);
    assert_float_equal(tr_select_risk_threshold(&t, 1), 0.3, 1e-7);
}

static void test_clopper_pearson(void **state)
{
    (void)state;
    /* k = 0: 1 - δ^(1/n) */
    assert_float_equal(tr_cp_upper(0, 100, 0.05), 1 - pow(0.05, 0.01), 1e-12);
    /* known value: k=10, n=100, one-sided 95%: 0.1639 (scipy beta.ppf(.95, 11, 90)) */
    assert_float_equal(tr_cp_upper(10, 100, 0.05), 0.16372, 2e-4);
    assert_float_equal(tr_cp_upper(5, 5, 0.1), 1, 0);
    assert_float_equal(tr_cp_upper(0, 0, 0.1), 1, 0);
    assert_true(tr_cp_upper(100, 10000, 0.1) > 0.01 && tr_cp_upper(100, 10000, 0.1) < 0.0115);
}

static const float KS[20] = {
    0.90f, 0.80f, 0.40f, 0.20f,
    0.60f, 0.85f, 0.70f, 0.60f,
    0.95f, 0.90f, 0.85f, 0.80f,
    0.50f, 0.30f, 0.30f, 0.10f,
    0.70f, 0.65f, 0.60f, 0.50f,
};
static const float PRICE[4] = {1e-5f, 4e-6f, 1.5e-6f, 5e-7f};

typedef struct route_stats { double cost, qual, misroute; } route_stats;

/* Route every test prompt with the heads and the given mode; realised cost,
 * quality and misrouting share against the strongest predicted model. */
static route_stats route_all(const tr_heads *h, const synth *te, tr_select_mode mode, double value)
{
    route_stats r = {0, 0, 0};
    size_t M = te->M;
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    for (size_t i = 0; i < te->n; i++) {
        float q[8], qc[8], c[8];
        assert_int_equal(tr_heads_predict(h, te->X + i * te->d, te->P + i * te->T, (size_t)te->L[i], NULL, q, qc, c, sc), TR_OK);
        int m = tr_select(q, qc, c, M, NULL, mode, value, tr_heads_tables(h));
        int b = tr_select(qc, qc, c, M, NULL, TR_SELECT_QUALITY, 0, NULL);
        assert_true(m >= 0 && b >= 0);
        r.cost += te->C[i * M + m];
        r.qual += te->S[i * M + m];
        r.misroute += te->S[i * M + m] < te->S[i * M + b];
    }
    free(sc);
    r.cost /= (double)te->n; r.qual /= (double)te->n; r.misroute /= (double)te->n;
    return r;
}

static void test_budget_and_risk_synthetic(void **state)
{
    (void)state;
    size_t per = tu_slow_mode() ? 300 : 800;
    size_t sizes[5] = {per, per, per, per, per};
    synth tr, te;
    synth_make(&tr, 5, 4, 8, sizes, KS, PRICE, 0.85f, 2, 0.15f, 11);
    synth_make(&te, 5, 4, 8, sizes, KS, PRICE, 0.85f, 2, 0.15f, 12);
    tr_heads *h = NULL;
    char err[256];
    assert_int_equal(tr_heads_train(tr.X, tr.P, tr.y, tr.n, tr.d, tr.T, tr.S, tr.C, tr.L, tr.M, NULL, &h, err, sizeof err), TR_OK);
    const tr_select_tables *tab = tr_heads_tables(h);
    for (size_t j = 1; j < tab->n_budget; j++) assert_true(tab->budget_cost[j] <= tab->budget_cost[j - 1]);
    double cmax = tab->budget_cost[0], cmin = tab->budget_cost[tab->n_budget - 1];
    assert_true(cmax > 2 * cmin);
    double prev_q = 2;
    for (int k = 1; k <= 5; k++) {
        double B = cmin + (cmax - cmin) * k / 6.0;
        route_stats r = route_all(h, &te, TR_SELECT_BUDGET, B);
        /* met within 5% on fresh prompts (the table is built on training rows) */
        assert_true(r.cost <= B * 1.05);
        assert_true(r.cost >= B * 0.8);       /* and not wastefully under it */
        (void)prev_q;
        prev_q = r.qual;
    }
    route_stats lo = route_all(h, &te, TR_SELECT_BUDGET, cmin * 0.5);
    route_stats hi = route_all(h, &te, TR_SELECT_BUDGET, cmax * 2);
    assert_true(lo.cost <= PRICE[3] * 1100 * 1.05);    /* the cheapest model everywhere */
    assert_true(hi.qual > lo.qual);

    /* risk: realised misrouting share <= α (fresh prompts; 0.01 sampling slack) */
    double prev_cost = INFINITY;
    for (int k = 0; k < 4; k++) {
        double alpha = (double[]){0.02, 0.05, 0.1, 0.2}[k];
        route_stats r = route_all(h, &te, TR_SELECT_RISK, alpha);
        assert_true(r.misroute <= alpha + 0.01);
        assert_true(r.cost <= prev_cost + 1e-12);   /* a looser α never costs more */
        prev_cost = r.cost;
    }
    route_stats strict = route_all(h, &te, TR_SELECT_RISK, 0.0);
    route_stats loose = route_all(h, &te, TR_SELECT_RISK, 0.2);
    assert_true(strict.misroute <= 0.01);
    assert_true(loose.cost < strict.cost);
    tr_heads_free(h);
    synth_free(&tr);
    synth_free(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_vectors),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_clopper_pearson),
        cmocka_unit_test(test_budget_and_risk_synthetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
