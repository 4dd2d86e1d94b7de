/* Online learning (route/online.c): the Beta posterior update (pseudo-outcome
 * debiasing included), Thompson/UCB choices, exploration bounded by cost and
 * by share, persistence round-trip keyed by task id and model name, a cold
 * model learned from feedback, thread-safe updates. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>

#include "base/util.h"
#include "route/online.h"
#include "router/router.h"

/* A router shell with T tasks and M models: only what online.c reads. */
typedef struct shell {
    tr_router r;
    char *names[4];
    int32_t ids[3];
    float quality[3 * 4];
} shell;

static void shell_init(shell *s, size_t T, size_t M)
{
    memset(s, 0, sizeof *s);
    static const char *nm[4] = {"cheap", "mid", "dear", "newbie"};
    for (size_t m = 0; m < M; m++) s->names[m] = (char *)nm[m];
    for (size_t t = 0; t < T; t++) {
        s->ids[t] = (int32_t)(10 + 5 * t);   /* stable ids, not indices */
        for (size_t m = 0; m < M; m++) s->quality[t * M + m] = m == 3 ? NAN : 0.3f + 0.2f * (float)m;
    }
    s->r.n_models = M;
    s->r.models = s->names;
    s->r.tasks.n_tasks = T;
    s->r.tasks.n_models = M;
    s->r.tasks.ids = s->ids;
    s->r.tasks.quality = s->quality;
}

static void decision(tr_decision *d, int task, size_t M, const float *q, const float *c)
{
    memset(d, 0, sizeof *d);
    d->task = task;
    d->n_models = M;
    d->quality = q;
    d->cost = c;
}

static void test_posterior_update(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 2, 3);
    tr_online_params p;
    tr_online_params_default(&p);
    p.prior_strength = 10;
    tr_online *o = NULL;
    char err[256];
    assert_int_equal(tr_online_new(&s.r, &p, &o, err, sizeof err), TR_OK);
    double a, b, n;
    /* prior Beta(k q0, k (1 - q0)) with q0 = 0.5 for model 1 */
    assert_int_equal(tr_online_posterior(o, 0, 1, &a, &b, &n), TR_OK);
    assert_true(fabs(a - 5) < 1e-6 && fabs(b - 5) < 1e-6 && n == 0);
    /* no prediction: y = s */
    assert_int_equal(tr_online_update(o, 0, 1, NAN, 1.0), TR_OK);
    assert_int_equal(tr_online_update(o, 0, 1, NAN, 0.25), TR_OK);
    tr_online_posterior(o, 0, 1, &a, &b, &n);
    assert_true(fabs(a - 6.25) < 1e-6 && fabs(b - 5.75) < 1e-6 && n == 2);
    /* with a prediction: y = clamp(q0 + s - q_hat) = 0.5 + 0.9 - 0.7 = 0.7 */
    assert_int_equal(tr_online_update(o, 1, 1, 0.7, 0.9), TR_OK);
    tr_online_posterior(o, 1, 1, &a, &b, &n);
    assert_true(fabs(a - 5.7) < 1e-6 && fabs(b - 5.3) < 1e-6);
    /* the clamp */
    tr_online_update(o, 1, 0, 0.9, 0.0);   /* q0 0.3 + 0 - 0.9 < 0 -> y = 0 */
    tr_online_posterior(o, 1, 0, &a, &b, &n);
    assert_true(fabs(a - 3) < 1e-6 && fabs(b - 8) < 1e-6);
    /* bad arguments */
    assert_int_equal(tr_online_update(o, 2, 0, NAN, 0.5), TR_EINVAL);
    assert_int_equal(tr_online_update(o, 0, 0, NAN, 1.5), TR_EINVAL);
    assert_int_equal(tr_online_set_cost(o, "nosuch", 1), TR_ENOTFOUND);
    tr_online_free(o);
}

static void test_beta_sampler_moments(void **state)
{
    (void)state;
    tr_rng g;
    tr_rng_seed(&g, 3);
    static const double ab[][2] = {{2, 5}, {0.5, 0.5}, {30, 10}};
    for (size_t k = 0; k < 3; k++) {
        double a = ab[k][0], b = ab[k][1], s = 0, s2 = 0;
        int N = tu_slow_mode() ? 4000 : 40000;
        for (int i = 0; i < N; i++) {
            double x = tr_beta_sample(&g, a, b);
            assert_true(x >= 0 && x <= 1);
            s += x;
            s2 += x * x;
        }
        double mean = s / N, var = s2 / N - mean * mean;
        double em = a / (a + b), ev = a * b / ((a + b) * (a + b) * (a + b + 1));
        assert_true(fabs(mean - em) < 0.01);
        assert_true(fabs(var - ev) < 0.1 * ev + 1e-3);
    }
}

/* Exploration stays within the cost bound and the share cap. */
static void test_exploration_bounded(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 1, 3);
    tr_online_params p;
    tr_online_params_default(&p);
    p.explore_cost_eps = 0.5;
    p.max_explore_share = 0.1;
    p.prior_strength = 2;   /* a wide prior: Thompson wants to explore a lot */
    tr_online *o = NULL;
    char err[256];
    assert_int_equal(tr_online_new(&s.r, &p, &o, err, sizeof err), TR_OK);
    const float q[3] = {0.3f, 0.5f, 0.7f}, c[3] = {1.0f, 1.4f, 10.0f};
    tr_decision d;
    decision(&d, 0, 3, q, c);
    size_t N = 2000, explored = 0;
    for (size_t i = 0; i < N; i++) {
        tr_online_choice ch;
        /* λ = 0.3: exploit = argmax q - 0.3c = mid (0.08) over cheap (0.0) and dear (-2.3) */
        assert_int_equal(tr_online_choose(o, &d, 0.3, NULL, &ch), TR_OK);
        assert_int_equal(ch.exploit, 1);
        assert_true(ch.model != 2);                 /* 10 > 1.5 * 1.4: never explored */
        explored += ch.explored;
        assert_true((double)explored <= 0.1 * (double)(i + 1) + 1e-9);
    }
    uint64_t dec, ex;
    tr_online_counts(o, &dec, &ex);
    assert_true(dec == N && ex == explored);
    assert_true(explored > 0);                      /* it does explore */
    /* allowed mask respected */
    unsigned char allowed[3] = {1, 0, 0};
    tr_online_choice ch;
    assert_int_equal(tr_online_choose(o, &d, 0.3, allowed, &ch), TR_OK);
    assert_int_equal(ch.model, 0);
    tr_online_free(o);
}

/* A model the heads cannot predict (no labels) is learned from feedback. */
static void test_cold_model_learned(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 1, 4);
    tr_online_params p;
    tr_online_params_default(&p);
    p.max_explore_share = 0.3;
    tr_online *o = NULL;
    char err[256];
    assert_int_equal(tr_online_new(&s.r, &p, &o, err, sizeof err), TR_OK);
    const float q[4] = {0.3f, 0.5f, 0.7f, NAN}, c[4] = {1, 1, 1, NAN};
    tr_decision d;
    decision(&d, 0, 4, q, c);
    tr_online_choice ch;
    assert_int_equal(tr_online_choose(o, &d, 0.01, NULL, &ch), TR_OK);
    assert_true(ch.model != 3);                     /* no price: never chosen */
    assert_int_equal(tr_online_set_cost(o, "newbie", 1), TR_OK);
    /* the newbie's true quality is 0.95; the others are as predicted */
    tr_rng g;
    tr_rng_seed(&g, 9);
    size_t late_newbie = 0;
    for (int i = 0; i < 600; i++) {
        assert_int_equal(tr_online_choose(o, &d, 0.01, NULL, &ch), TR_OK);
        double truth = ch.model == 3 ? 0.95 : q[ch.model];
        double score = tr_rng_uniform(&g) < truth ? 1 : 0;
        assert_int_equal(tr_online_update(o, 0, ch.model, ch.model == 3 ? NAN : q[ch.model], score), TR_OK);
        if (i >= 500) late_newbie += ch.model == 3;
    }
    assert_int_equal(ch.exploit, 3);                /* the posterior mean now prefers it */
    assert_true(late_newbie >= 80);
    tr_online_free(o);
}

static void test_persistence_roundtrip(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 2, 3);
    tr_online *o = NULL, *o2 = NULL;
    char err[256];
    assert_int_equal(tr_online_new(&s.r, NULL, &o, err, sizeof err), TR_OK);
    tr_online_update(o, 1, 2, NAN, 0.8);
    tr_online_update(o, 1, 2, NAN, 0.3);
    tr_online_update(o, 0, 0, 0.4, 1.0);
    tr_online_set_cost(o, "mid", 0.25);
    const float q[3] = {0.3f, 0.5f, 0.7f}, c[3] = {1, 1, 1};
    tr_decision d;
    decision(&d, 0, 3, q, c);
    tr_online_choice ch;
    for (int i = 0; i < 7; i++) tr_online_choose(o, &d, 0.1, NULL, &ch);
    const char *path = tu_tmp("online.json");
    assert_int_equal(tr_online_save(o, path, err, sizeof err), TR_OK);
    assert_int_equal(tr_online_load(path, &s.r, NULL, &o2, err, sizeof err), TR_OK);
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < 3; m++) {
            double a1, b1, n1, a2, b2, n2;
            tr_online_posterior(o, t, m, &a1, &b1, &n1);
            tr_online_posterior(o2, t, m, &a2, &b2, &n2);
            assert_true(fabs(a1 - a2) < 1e-12 && fabs(b1 - b2) < 1e-12 && n1 == n2);
        }
    uint64_t d1, e1, d2, e2;
    tr_online_counts(o, &d1, &e1);
    tr_online_counts(o2, &d2, &e2);
    assert_true(d1 == 7 && d2 == 7 && e1 == e2);
    tr_online_free(o2);
    /* keyed by task id: a router whose tasks were reordered gets the same
     * posteriors under the same ids */
    shell s2 = s;
    s2.ids[0] = s.ids[1];
    s2.ids[1] = s.ids[0];
    s2.r.tasks.ids = s2.ids;
    s2.r.models = s2.names;
    s2.r.tasks.quality = s2.quality;
    assert_int_equal(tr_online_load(path, &s2.r, NULL, &o2, err, sizeof err), TR_OK);
    double a, b, n;
    tr_online_posterior(o2, 0, 2, &a, &b, &n);   /* task index 0 now has the id of old index 1 */
    assert_true(n == 2);
    tr_online_free(o2);
    /* errors: missing file, wrong format, bad entry */
    assert_int_equal(tr_online_load("/nonexistent/x.json", &s.r, NULL, &o2, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    const char *bad = tu_write("bad.json", "{\"format\":1,\"entries\":[{\"task_id\":10,\"model\":\"cheap\",\"a\":-1,\"b\":1,\"n\":0}]}");
    assert_int_equal(tr_online_load(bad, &s.r, NULL, &o2, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "entry 0"));
    const char *newer = tu_write("newer.json", "{\"format\":2}");
    assert_int_equal(tr_online_load(newer, &s.r, NULL, &o2, err, sizeof err), TR_EVERSION);
    assert_int_equal(tr_online_save(o, "/nonexistent/dir/x.json", err, sizeof err), TR_EIO);
    tr_online_free(o);
}

/* Rebase (hot reload) and load_report: what the new router still has is
 * carried by task id and model name, the rest counted and named. */
static void test_rebase_and_report(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 2, 3);   /* task ids 10, 15; models cheap, mid, dear */
    tr_online *o = NULL, *o2 = NULL;
    char err[256];
    tr_online_params p;
    tr_online_params_default(&p);
    p.max_explore_share = 0.05;
    assert_int_equal(tr_online_new(&s.r, &p, &o, err, sizeof err), TR_OK);
    tr_online_update(o, 0, 0, NAN, 1.0);   /* task 10, cheap */
    tr_online_update(o, 1, 2, NAN, 0.0);   /* task 15, dear */
    tr_online_update(o, 1, 1, NAN, 0.5);   /* task 15, mid */
    /* the new router: task 15 gone (replaced by 20), model "dear" gone */
    shell s2;
    shell_init(&s2, 2, 2);
    s2.ids[1] = 20;
    tr_online_carry c;
    assert_int_equal(tr_online_rebase(o, &s2.r, &o2, &c, err, sizeof err), TR_OK);
    assert_int_equal(c.kept, 1);
    assert_int_equal(c.dropped, 2);
    assert_non_null(strstr(c.first_dropped, "task 15"));
    double a, b, n;
    assert_int_equal(tr_online_posterior(o2, 0, 0, &a, &b, &n), TR_OK);
    assert_true(n == 1);
    assert_int_equal(tr_online_posterior(o2, 1, 1, &a, &b, &n), TR_OK);
    assert_true(n == 0);
    tr_online_params p2;
    tr_online_get_params(o2, &p2);
    assert_true(p2.max_explore_share == 0.05);   /* the old state's parameters */
    tr_online_free(o2);
    /* load_report says the same from a file */
    const char *path = tu_tmp("rebase.json");
    assert_int_equal(tr_online_save(o, path, err, sizeof err), TR_OK);
    assert_int_equal(tr_online_load_report(path, &s2.r, NULL, &o2, &c, err, sizeof err), TR_OK);
    assert_int_equal(c.kept, 1);
    assert_int_equal(c.dropped, 2);
    tr_online_free(o2);
    /* same router: nothing dropped */
    assert_int_equal(tr_online_rebase(o, &s.r, &o2, &c, err, sizeof err), TR_OK);
    assert_int_equal(c.kept, 3);
    assert_int_equal(c.dropped, 0);
    assert_string_equal(c.first_dropped, "");
    tr_online_free(o2);
    tr_online_free(o);
}

typedef struct worker { tr_online *o; int id; } worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 5000; i++) tr_online_update(w->o, 0, w->id % 3, NAN, 1.0);
    return NULL;
}

static void test_thread_safe_updates(void **state)
{
    (void)state;
    shell s;
    shell_init(&s, 1, 3);
    tr_online *o = NULL;
    char err[256];
    assert_int_equal(tr_online_new(&s.r, NULL, &o, err, sizeof err), TR_OK);
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].o = o;
        w[i].id = 0;   /* all on the same cell: lost updates would show */
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    double a, b, n;
    tr_online_posterior(o, 0, 0, &a, &b, &n);
    assert_true(n == 20000);
    tr_online_params dp;
    tr_online_params_default(&dp);   /* the prior's pseudo-count: a = k0 q0 + successes */
    assert_true(fabs(a - (dp.prior_strength * 0.3 + 20000)) < 1e-6);
    tr_online_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posterior_update),
        cmocka_unit_test(test_beta_sampler_moments),
        cmocka_unit_test(test_exploration_bounded),
        cmocka_unit_test(test_cold_model_learned),
        cmocka_unit_test(test_persistence_roundtrip),
        cmocka_unit_test(test_rebase_and_report),
        cmocka_unit_test(test_thread_safe_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
