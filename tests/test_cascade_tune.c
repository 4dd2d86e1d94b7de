/* The cascade's chain (route/cascade.c), its simulation on labelled data
 * and the threshold tuning (eval/cascade_tune.c), on small hand-made
 * tables whose answers can be worked out by hand. */
#include "testutil.h"
#include <math.h>
#include "eval/cascade_tune.h"
#include "heads/select.h"
#include "route/cascade.h"
#include "server/cascade_cfg.c"

static void test_chain(void **state)
{
    (void)state;
    /* model: 0 cheap/weak, 1 mid, 2 dear/best, 3 dear/weak (never chosen) */
    float q[4] = {0.5f, 0.7f, 0.8f, 0.6f}, c[4] = {1, 2, 10, 20};
    int ch[8];
    size_t k = tr_cascade_chain(q, c, NULL, 4, 0.35, -1, ch, 8);
    assert_int_equal(k, 3);
    assert_int_equal(ch[0], 0);
    assert_int_equal(ch[1], 1);
    assert_int_equal(ch[2], 2);
    k = tr_cascade_chain(q, c, NULL, 4, 0.15, -1, ch, 8);   /* 0 is too far from the best */
    assert_int_equal(k, 2);
    assert_int_equal(ch[0], 1);
    k = tr_cascade_chain(q, c, NULL, 4, 0, -1, ch, 8);
    assert_int_equal(k, 1);
    assert_int_equal(ch[0], 2);
    unsigned char allowed[4] = {1, 0, 0, 1};
    k = tr_cascade_chain(q, c, allowed, 4, 1, -1, ch, 8);
    assert_int_equal(k, 2);
    assert_int_equal(ch[0], 0);
    assert_int_equal(ch[1], 3);
    /* from the router's choice: model 1, then the cheapest better one */
    k = tr_cascade_chain(q, c, NULL, 4, 0.35, 1, ch, 8);
    assert_int_equal(k, 2);
    assert_int_equal(ch[0], 1);
    assert_int_equal(ch[1], 2);
    /* a choice the request does not allow: back to the tolerance */
    k = tr_cascade_chain(q, c, allowed, 4, 1, 2, ch, 8);
    assert_int_equal(k, 2);
    assert_int_equal(ch[0], 0);
    float qn[2] = {NAN, NAN}, cn[2] = {1, 1};
    assert_int_equal(tr_cascade_chain(qn, cn, NULL, 2, 1, -1, ch, 8), 0);
    assert_int_equal(tr_cascade_chain(q, c, NULL, 4, 1, -1, ch, 1), 1);
}

/* Two models: cheap (cost 1) right on even prompts, dear (cost 10) always
 * right.  A verifier that knows (confidence 0.9 when right, 0.2 when not)
 * lets the cascade reach quality 1 at about half the dear model's cost. */
#define N 10
static float qhat[N * 2], chat[N * 2], q[N * 2], c[N * 2], v[N * 2];

static tr_cascade_data table(double share)
{
    for (int i = 0; i < N; i++) {
        qhat[2 * i] = 0.6f;
        qhat[2 * i + 1] = 0.9f;
        chat[2 * i] = 1;
        chat[2 * i + 1] = 10;
        q[2 * i] = i % 2 == 0 ? 1.0f : 0.0f;
        q[2 * i + 1] = 1;
        c[2 * i] = 1;
        c[2 * i + 1] = 10;
        v[2 * i] = i % 2 == 0 ? 0.9f : 0.2f;
        v[2 * i + 1] = 0.9f;
    }
    return (tr_cascade_data){N, 2, qhat, chat, q, c, v, share, 0};
}

static void test_simulate(void **state)
{
    (void)state;
    tr_cascade_data d = table(0.5);
    tr_cascade_outcome o;
    tr_cascade_params p = {0.5, 0.5, 3, 0};
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_int_equal(o.n, N);
    assert_true(fabs(o.quality - 1.0) < 1e-9);
    /* even: 1 + 0.5; odd: 1 + 0.5 + 10 */
    assert_true(fabs(o.cost - (1.5 + 11.5) / 2) < 1e-9);
    assert_true(fabs(o.escalated - 0.5) < 1e-9);
    p.threshold = 0.1;  /* every confidence passes: the cheap model alone, verified */
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 0.5) < 1e-9 && fabs(o.cost - 1.5) < 1e-9);
    p.threshold = 0;    /* accepts anything: no verification is paid */
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 0.5) < 1e-9 && fabs(o.cost - 1.0) < 1e-9);
    p.max_steps = 1;    /* one model: never verified */
    p.threshold = 1;
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 0.5) < 1e-9 && fabs(o.cost - 1.0) < 1e-9);
    v[2] = NAN;         /* prompt 1: the verifier fails, the cheap (wrong) answer stands */
    p = (tr_cascade_params){0.5, 0.5, 3, 0};
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 0.9) < 1e-9);
    assert_true(fabs(o.cost - (5 * 1.5 + 1 + 4 * 11.5) / 10) < 1e-9);
    unsigned char rows[N] = {1, 0};
    tr_cascade_simulate(&d, &p, rows, &o);
    assert_int_equal(o.n, 1);
}

static void test_tune(void **state)
{
    (void)state;
    tr_cascade_data d = table(0.1);
    size_t G = tr_cascade_grid_size();
    tr_point *sweep = calloc(G, sizeof *sweep);
    tr_cascade_params best;
    /* lambda 0.01: quality is worth the cost, the threshold must separate 0.2 from 0.9 */
    assert_int_equal(tr_cascade_tune(&d, NULL, 0.01, 3, &best, sweep), TR_OK);
    assert_true(best.tolerance >= 0.3);
    assert_true(best.threshold > 0.2 && best.threshold <= 0.9);
    tr_cascade_outcome o;
    best.max_steps = 3;
    tr_cascade_simulate(&d, &best, NULL, &o);
    assert_true(fabs(o.quality - 1.0) < 1e-9);
    assert_true(o.cost < 7);
    /* lambda 1: a quality point is worth less than the dear model's cost: stay cheap */
    assert_int_equal(tr_cascade_tune(&d, NULL, 1.0, 3, &best, sweep), TR_OK);
    best.max_steps = 3;
    tr_cascade_simulate(&d, &best, NULL, &o);
    assert_true(o.cost < 1.2);
    for (size_t g = 0; g < G; g++) assert_true(isfinite(sweep[g].cost) && isfinite(sweep[g].quality));
    assert_int_equal(tr_cascade_tune(&d, NULL, NAN, 3, &best, NULL), TR_EINVAL);
    assert_int_equal(tr_cascade_tune(&d, NULL, 1, 0, &best, NULL), TR_EINVAL);
    unsigned char none[N] = {0};
    assert_int_equal(tr_cascade_tune(&d, none, 1, 3, &best, NULL), TR_EINVAL);
    free(sweep);
}

/* Starting at the router's choice with threshold 0 is plain routing
 * (argmax qhat - lambda chat); above 0 it verifies that choice. */
static void test_from_router(void **state)
{
    (void)state;
    tr_cascade_data d = table(0.5);
    tr_cascade_params p = {0, 0, 3, 1};
    tr_cascade_outcome o;
    d.lambda = 0.01;   /* the router picks the dear model: 0.9 - 0.1 > 0.6 - 0.01 */
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 1.0) < 1e-9 && fabs(o.cost - 10) < 1e-9 && o.escalated == 0);
    d.lambda = 1;      /* the cheap one: 0.6 - 1 > 0.9 - 10 */
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 0.5) < 1e-9 && fabs(o.cost - 1) < 1e-9);
    assert_int_equal(tr_select_lambda(qhat, chat, 2, NULL, 1), 0);
    assert_int_equal(tr_select_lambda(qhat, chat, 2, NULL, 0.01), 1);
    p.threshold = 0.5; /* verified: the odd prompts escalate to the dear model */
    tr_cascade_simulate(&d, &p, NULL, &o);
    assert_true(fabs(o.quality - 1.0) < 1e-9 && fabs(o.escalated - 0.5) < 1e-9);
}

/* On the rows it tunes on, the tuned cascade is never worse than plain
 * routing for quality - lambda x cost: plain routing is in its grid. */
static void test_tune_never_below_plain(void **state)
{
    (void)state;
    enum { R = 300, M = 4 };
    static float qh[R * M], ch[R * M], qq[R * M], cc[R * M], vv[R * M];
    tr_rng r;
    tr_rng_seed(&r, 3);
    for (int i = 0; i < R * M; i++) {
        int m = i % M;
        ch[i] = (float)(0.5 + m * 2 + tr_rng_uniform(&r));
        qh[i] = (float)(0.4 + 0.1 * m + 0.2 * tr_rng_uniform(&r));
        qq[i] = tr_rng_uniform(&r) < qh[i] + 0.2 * (tr_rng_uniform(&r) - 0.5) ? 1.0f : 0.0f;
        cc[i] = ch[i];
        vv[i] = (float)(qq[i] > 0 ? 0.3 + 0.7 * tr_rng_uniform(&r) : 0.7 * tr_rng_uniform(&r));
    }
    /* Half the rows plain routing answers with the middle model though the
     * best is 0.05 above it, half with the best though the middle is only
     * 0.03 below: no one tolerance does both, and with predictions exact
     * plain routing is the best any rule can do. */
    enum { H = 10 };
    static float hq[H * 3], hc[H * 3], hv[H * 3];
    for (int i = 0; i < H; i++) {
        const float a[3] = {0.5f, 0.8f, 0.85f}, ac[3] = {1, 2, 30}, b[3] = {0.5f, 0.87f, 0.9f}, bc[3] = {1, 2, 3};
        for (int m = 0; m < 3; m++) {
            hq[i * 3 + m] = i % 2 ? b[m] : a[m];
            hc[i * 3 + m] = i % 2 ? bc[m] : ac[m];
            hv[i * 3 + m] = 1;
        }
    }
    tr_cascade_data h = {H, 3, hq, hc, hq, hc, hv, 0.5, 0.005};
    tr_cascade_params hb, hp = {0, 0, 3, 1};
    assert_int_equal(tr_cascade_tune(&h, NULL, 0.005, 3, &hb, NULL), TR_OK);
    assert_true(hb.from_router && hb.threshold == 0);
    tr_cascade_outcome o1, o2;
    hb.max_steps = 3;
    tr_cascade_simulate(&h, &hb, NULL, &o1);
    tr_cascade_simulate(&h, &hp, NULL, &o2);
    assert_true(o1.quality == o2.quality && o1.cost == o2.cost);
    static const double L[] = {0, 0.01, 0.05, 0.2, 1};
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) {
        tr_cascade_data d = {R, M, qh, ch, qq, cc, vv, 0.5, L[l]};
        tr_cascade_params best, plain = {0, 0, 3, 1};
        assert_int_equal(tr_cascade_tune(&d, NULL, L[l], 3, &best, NULL), TR_OK);
        best.max_steps = 3;
        tr_cascade_outcome ob, op;
        tr_cascade_simulate(&d, &best, NULL, &ob);
        tr_cascade_simulate(&d, &plain, NULL, &op);
        assert_true(ob.quality - L[l] * ob.cost >= op.quality - L[l] * op.cost - 1e-9);
    }
}

static void test_dibc(void **state)
{
    (void)state;
    assert_true(fabs(tr_cascade_dibc(0.75, 5.5, 0.5, 1, 1, 10)) < 1e-9);   /* on the line */
    assert_true(tr_cascade_dibc(1.0, 5.5, 0.5, 1, 1, 10) > 50);
    assert_true(isnan(tr_cascade_dibc(1, 1, 0.5, 1, 1, 10)));
}

/* The file tune-cascade writes, as serve --cascade reads it. */
static void test_cfg_file(void **state)
{
    (void)state;
    const char *p = tu_tmp("cascade.json");
    FILE *f = fopen(p, "w");
    fputs("{\"tolerance\": 0.1, \"threshold\": 0.65, \"max_steps\": 2, \"k\": 8, \"verifier\": \"judge\", "
          "\"tuned\": {\"lambda\": 5}}", f);
    fclose(f);
    tr_cascade_cfg c;
    char msg[256];
    assert_int_equal(tr_cascade_cfg_load(p, &c, msg, sizeof msg), 0);
    assert_true(c.tolerance == 0.1 && c.threshold == 0.65 && c.max_steps == 2 && c.k == 8);
    assert_string_equal(c.verifier, "judge");
    f = fopen(p, "w");
    fputs("{\"threshold\": 1.5}", f);
    fclose(f);
    assert_int_equal(tr_cascade_cfg_load(p, &c, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "'threshold'"));
    f = fopen(p, "w");
    fputs("{\"verifier\": 3}", f);
    fclose(f);
    assert_int_equal(tr_cascade_cfg_load(p, &c, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "'verifier'"));
    f = fopen(p, "w");
    fputs("{\"start\": \"router\", \"threshold\": 0.4}", f);
    fclose(f);
    tr_cascade_cfg_default(&c);
    assert_int_equal(tr_cascade_cfg_load(p, &c, msg, sizeof msg), 0);
    assert_true(c.from_router == 1 && c.threshold == 0.4);
    f = fopen(p, "w");
    fputs("{\"start\": \"cheapest\"}", f);
    fclose(f);
    assert_int_equal(tr_cascade_cfg_load(p, &c, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "'start'"));
    assert_int_equal(tr_cascade_cfg_load("/nonexistent/cascade.json", &c, msg, sizeof msg), -1);
    tr_cascade_cfg_default(&c);
    assert_true(c.max_steps == 3 && c.k == 4 && !c.verifier[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_simulate),
        cmocka_unit_test(test_tune),
        cmocka_unit_test(test_from_router),
        cmocka_unit_test(test_tune_never_below_plain),
        cmocka_unit_test(test_dibc),
        cmocka_unit_test(test_cfg_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
