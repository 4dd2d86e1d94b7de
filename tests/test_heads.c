/* Expert heads: planted skills recovered, shrinkage of tiny tasks, missing
 * labels, one-prompt tasks, CV choosing the prompt-level correction when it
 * helps, surface features of known strings, the kNN-tau kernel by hand, CV
 * choosing kNN-tau and the surface variants when they help, save/load round
 * trip (and the version-1 HEAD section), truncated and corrupted sections,
 * allocation failures. */
#include "testutil.h"

#include <math.h>

#include "base/buf.h"
#include "base/util.h"
#include "heads/heads.h"
#include "heads/heads_impl.h"
#include "heads/parts.h"
#include "heads_synth.h"
#include "kernels/half.h"

static const float K5x4[20] = {
    0.90f, 0.60f, 0.30f, 0.20f,
    0.50f, 0.85f, 0.40f, 0.10f,
    0.30f, 0.30f, 0.80f, 0.50f,
    0.70f, 0.20f, 0.20f, 0.75f,
    0.95f, 0.90f, 0.85f, 0.30f,
};
static const float PRICE4[4] = {1e-6f, 2e-6f, 5e-6f, 1e-5f};

static void onehot(float *p, size_t T, size_t t)
{
    for (size_t u = 0; u < T; u++) p[u] = u == t ? 1.0f : 0.0f;
}

static void test_recover_skills(void **state)
{
    (void)state;
    size_t sizes[5] = {1000, 1000, 1000, 1000, 1000};
    synth s;
    synth_make(&s, 5, 4, 16, sizes, K5x4, PRICE4, 0.9f, -1, 0, 1);
    tr_heads_params p;
    tr_heads_params_default(&p);
    tr_heads *h = NULL;
    char err[256];
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    float pt[5], q[4], qc[4], c[4], x[16] = {0};
    float *scratch = malloc(tr_heads_scratch_floats(h) * sizeof *scratch);
    for (size_t t = 0; t < 5; t++) {
        onehot(pt, 5, t);
        for (int qv = TR_QV_PRIOR_HARD; qv <= TR_QV_PRIOR_SOFT; qv++) {
            assert_int_equal(tr_heads_predict_variant(h, qv, TR_CV_TASK, x, pt, 1000, NULL, q, qc, c, scratch), TR_OK);
            for (size_t m = 0; m < 4; m++) {
                assert_true(fabsf(q[m] - K5x4[t * 4 + m]) < 0.05f);
                /* the task-mean cost of a uniform length in [200, 2000) */
                assert_true(fabsf(c[m] - PRICE4[m] * 1100) < 0.1f * PRICE4[m] * 1100);
            }
        }
    }
    /* the chosen variant predicts too, and its tables exist */
    onehot(pt, 5, 2);
    assert_int_equal(tr_heads_predict(h, s.X, pt, 500, NULL, q, qc, c, scratch), TR_OK);
    assert_true(q[2] > q[0] && q[2] > q[1]);
    const tr_select_tables *tab = tr_heads_tables(h);
    assert_true(tab->n_budget == 100 && tab->n_risk > 0);
    size_t nrow;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrow);
    /* hard, soft, ridge, kNN, ensemble, kNN-tau, kNN-sup, kNN-sup-ridge x
     * task, length (no surface features given: no surface variants) */
    assert_int_equal(nrow, 8 * 2);
    assert_false(tr_heads_has_qvariant(h, TR_QV_RIDGE_SURF) || tr_heads_has_qvariant(h, TR_QV_ENS_KT_RS));
    for (size_t i = 0; i < nrow; i++) assert_int_equal(rows[i].eligible, rows[i].qv != TR_QV_PRIOR_HARD && rows[i].cv == TR_CV_LEN);
    for (size_t i = 0; i < nrow; i++) assert_true(rows[i].aiq_lin > 0.3 && rows[i].aiq_lin < 1);
    /* the length cost model wins on costs that are price x bytes */
    assert_int_equal(tr_heads_cvariant(h), TR_CV_LEN);
    free(scratch);
    tr_heads_free(h);
    synth_free(&s);
}

static void test_shrinkage_tiny_task(void **state)
{
    (void)state;
    /* task 0: 500 prompts at 0.2 skill for model 0; task 1: 2 prompts both right */
    float V[502], mu[2], g[1], cnt[2];
    int32_t y[502];
    for (int i = 0; i < 500; i++) { V[i] = i % 5 == 0 ? 1.0f : 0.0f; y[i] = 0; }
    V[500] = V[501] = 1; y[500] = y[501] = 1;
    tr_prior_fit(V, 1, y, 2, NULL, 502, 10.0, mu, g, cnt);
    float gm = 102.0f / 502.0f;
    assert_float_equal(g[0], gm, 1e-6);
    assert_float_equal(mu[1], (2 + 10 * gm) / 12.0f, 1e-6);
    assert_float_equal(cnt[1], 2, 0);
    assert_true(fabsf(mu[1] - gm) < fabsf(mu[1] - 1.0f));    /* nearer the global mean */
    assert_float_equal(mu[0], (100 + 10 * gm) / 510.0f, 1e-6);
    /* k0 = 0: raw task means; an empty task falls back to the global mean */
    int32_t y3[502];
    memcpy(y3, y, sizeof y);
    float mu3[3];
    tr_prior_fit(V, 1, y3, 3, NULL, 502, 0.0, mu3, g, NULL);
    assert_float_equal(mu3[1], 1.0f, 1e-6);
    assert_float_equal(mu3[2], gm, 1e-6);
}

static void test_missing_labels_and_tiny_tasks(void **state)
{
    (void)state;
    size_t sizes[5] = {300, 300, 300, 300, 1};   /* task 4 has one prompt */
    synth s;
    synth_make(&s, 5, 4, 8, sizes, K5x4, PRICE4, 0.8f, -1, 0, 2);
    for (size_t i = 0; i < s.n; i++) {
        s.S[i * 4 + 2] = NAN;                   /* model 2: no score at all */
        s.C[i * 4 + 2] = NAN;
        if (i % 2) s.S[i * 4 + 3] = NAN;        /* model 3: half its scores */
        if (i % 3 == 0) s.C[i * 4 + 1] = NAN;   /* model 1: a third of costs */
    }
    tr_heads *h = NULL;
    char err[256];
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, NULL, &h, err, sizeof err), TR_OK);
    float pt[5], q[4], qc[4], c[4];
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    for (size_t t = 0; t < 5; t++) {
        onehot(pt, 5, t);
        assert_int_equal(tr_heads_predict_variant(h, TR_QV_PRIOR_SOFT, TR_CV_TASK, s.X, pt, 800, NULL, q, qc, c, sc), TR_OK);
        assert_true(isnan(q[2]) && isnan(qc[2]) && isnan(c[2]));
        assert_false(isnan(q[0]) || isnan(q[1]) || isnan(q[3]) || isnan(c[1]));
        if (t < 4) assert_true(fabsf(q[3] - K5x4[t * 4 + 3]) < 0.1f);
        /* selection never picks the model without predictions */
        assert_int_not_equal(tr_select(q, qc, c, 4, NULL, TR_SELECT_QUALITY, 0, tr_heads_tables(h)), 2);
        assert_int_not_equal(tr_select(q, qc, c, 4, NULL, TR_SELECT_RISK, 0.1, tr_heads_tables(h)), 2);
    }
    /* the one-prompt task: shrunk nearly to the global means */
    onehot(pt, 5, 4);
    tr_heads_predict_variant(h, TR_QV_PRIOR_HARD, TR_CV_TASK, s.X, pt, 800, NULL, q, qc, c, sc);
    for (int m = 0; m < 2; m++) {
        float gm = 0;
        for (int t = 0; t < 4; t++) gm += K5x4[t * 4 + m] / 4;
        assert_true(fabsf(q[m] - gm) < 0.12f);
    }
    free(sc);
    tr_heads_free(h);
    synth_free(&s);
}

static void test_cv_picks_ridge(void **state)
{
    (void)state;
    size_t sizes[3] = {900, 900, 900};
    const float K[12] = {0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f};
    synth s;
    /* model 2 (mid price) is 0.35 + 0.45 when x[0] > 0 and ~0 otherwise: only
     * the embedding tells, and the best single model (3) is the dearest */
    synth_make(&s, 3, 4, 8, sizes, K, PRICE4, 0.9f, 2, 0.45f, 3);
    tr_heads *h = NULL;
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.ridge_alphas[0] = 1;
    p.n_ridge_alphas = 1;
    p.criterion = TR_CRIT_AIQ_LIN;
    p.qv_mask = (1u << TR_QV_PRIOR_HARD) | (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_RIDGE);
    p.cv_mask = 3;   /* both cost variants compete */
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h), TR_QV_RIDGE);
    size_t nrow;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrow);
    double ridge = -1, soft = -1;
    for (size_t i = 0; i < nrow; i++) {
        if (rows[i].cv != TR_CV_LEN) continue;
        if (rows[i].qv == TR_QV_RIDGE) ridge = rows[i].aiq_lin;
        if (rows[i].qv == TR_QV_PRIOR_SOFT) soft = rows[i].aiq_lin;
    }
    assert_true(ridge > soft + 0.01);
    /* the rank-sum criterion (gap, saving, AIQ_log) agrees */
    tr_heads *h3 = NULL;
    p.criterion = TR_CRIT_RANKSUM;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h3, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h3), TR_QV_RIDGE);
    rows = tr_heads_cv_table(h3, &nrow);
    double top = -1e9;
    for (size_t i = 0; i < nrow; i++) { assert_true(rows[i].crit <= 0 && rows[i].crit >= -3.0 * (double)(nrow - 1)); if (rows[i].crit > top) top = rows[i].crit; }
    tr_heads_free(h3);
    p.criterion = 99;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h3, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "criterion 99"));
    p.criterion = TR_CRIT_AIQ_LIN;
    /* calibration on out-of-fold predictions does not hurt them (10 bins) */
    double er, ec;
    tr_heads_ece(h, &er, &ec);
    assert_true(ec <= er + 1e-6 && ec < 0.03);
    assert_int_equal(tr_heads_calibration_kind(h, 0), 2);   /* isotonic: >= 200 labels */
    /* forcing a variant is honoured */
    tr_heads *h2 = NULL;
    p.qvariant = TR_QV_PRIOR_HARD;
    p.cvariant = TR_CV_TASK;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h2, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h2), TR_QV_PRIOR_HARD);
    assert_int_equal(tr_heads_cvariant(h2), TR_CV_TASK);
    tr_heads_free(h2);
    /* calibration does not make things worse out of fold */
    tr_heads_free(h);
    synth_free(&s);
}

static void test_knn_hand(void **state)
{
    (void)state;
    /* 4 stored rows (2 per task), x in 2-d; query x = (1, 0) */
    const float Xs[8] = {1, 0, 0.8f, 0.6f, 0, 1, -1, 0};
    const float S[8] = {1, 0, 0, NAN, 1, 1, 0, 0};   /* M = 2 */
    const float x[2] = {1, 0}, prior[2] = {0.5f, 0.25f};
    float Ss[16], back[2];
    tr_knn_pack(S, 4, 2, Ss);
    assert_float_equal(Ss[4 + 1], 0.0f, 0);   /* row 1, model 1: no label -> score 0, mask 0 */
    assert_float_equal(Ss[4 + 3], 0.0f, 0);
    assert_float_equal(Ss[4 + 2], 1.0f, 0);
    tr_knn_unpack_row(Ss + 4, 2, back);
    assert_float_equal(back[0], 0.0f, 0);
    assert_true(isnan(back[1]));
    uint32_t lo[2] = {0, 2}, hi[2] = {2, 4};
    float sims[4], out[2], work[2 * 2 + 4];
    tr_knn_sims(Xs, 2, lo, hi, 2, x, sims);
    assert_float_equal(sims[1], 0.8f, 1e-6);
    assert_float_equal(sims[3], -1.0f, 1e-6);
    /* k = 2, p = 1: rows 0 (w 1) and 1 (w .8); model 1 lacks row 1's label */
    tr_knn_combine(Ss, 2, lo, hi, 2, sims, 2, 1.0f, 0.0f, 1.0f, prior, out, work);
    assert_float_equal(out[0], (1 * 1 + 0.8f * 0 + 0.5f) / (1 + 0.8f + 1), 1e-6);
    assert_float_equal(out[1], (1 * 0 + 0.25f) / (1 + 1), 1e-6);
    /* k larger than the store: every row, negative similarity weighs 0 */
    tr_knn_combine(Ss, 2, lo, hi, 2, sims, 10, 3.0f, 0.0f, 0.0f, prior, out, work);
    assert_float_equal(out[0], (1 + 0.512f * 0) / (1 + 0.512f + 0), 1e-6);
    /* one segment only (task-local search) */
    tr_knn_combine(Ss, 2, lo + 1, hi + 1, 1, sims + 2, 1, 1.0f, 0.0f, 1.0f, prior, out, work);
    assert_float_equal(out[0], 0.5f, 1e-6);   /* row 2 has sim 0: weight 0 -> the prior */
}

/* The kNN tests' data: 3 tasks of the given sizes, 4 models whose skills
 * are the same on every task, so only the prompt-level effect (model 2)
 * tells prompts apart; and kNN heads of 50 neighbours. */
static void knn_setup(synth *s, const size_t sizes[3], tr_heads_params *p)
{
    static const float K[12] = {0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f};
    synth_make(s, 3, 4, 8, sizes, K, PRICE4, 0.9f, 2, 0.45f, 7);
    tr_heads_params_default(p);
    p->knn_k = 50;
}

static void test_knn_scope(void **state)
{
    (void)state;
    size_t sizes[3] = {300, 300, 300};
    synth s;
    tr_heads_params p;
    knn_setup(&s, sizes, &p);
    char err[256];
    p.knn_tasks = 0;   /* exact search over every stored prompt */
    p.qvariant = TR_QV_KNN;
    tr_heads *all = NULL, *local = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &all, err, sizeof err), TR_OK);
    p.knn_tasks = 3;   /* every task, no mass to stop at: the same neighbours as the exact search */
    p.knn_mass = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &local, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(all), TR_QV_KNN);
    float *sc = malloc(tr_heads_scratch_floats(all) * sizeof *sc);
    double err_knn = 0, err_soft = 0;
    for (size_t i = 0; i < s.n; i += 3) {
        float q1[4], q2[4], c[4];
        assert_int_equal(tr_heads_predict(all, s.X + i * 8, s.P + i * 3, 100, NULL, q1, NULL, c, sc), TR_OK);
        assert_int_equal(tr_heads_predict(local, s.X + i * 8, s.P + i * 3, 100, NULL, q2, NULL, c, sc), TR_OK);
        for (int m = 0; m < 4; m++) assert_float_equal(q1[m], q2[m], 1e-6);
        err_knn += fabs(q1[2] - s.ptrue[i * 4 + 2]);
        tr_heads_predict_variant(all, TR_QV_PRIOR_SOFT, TR_CV_TASK, s.X + i * 8, s.P + i * 3, 100, NULL, q1, NULL, c, sc);
        err_soft += fabs(q1[2] - s.ptrue[i * 4 + 2]);
    }
    /* the neighbours see the prompt-level effect the task prior cannot */
    assert_true(err_knn < 0.7 * err_soft);
    free(sc);
    tr_heads_free(all);
    tr_heads_free(local);
    synth_free(&s);
}

/* The CV's kNN rows run on worker threads, one SGEMM per task a row
 * searches: the CV table and the trained heads must not depend on how many
 * workers there are (1200 rows: 3 blocks of the per-task path). */
static void test_knn_cv_threads(void **state)
{
    (void)state;
    size_t sizes[3] = {500, 400, 300};
    synth s;
    tr_heads_params p;
    knn_setup(&s, sizes, &p);
    char err[256];
    p.knn_tasks = 2;   /* fewer than T: each row searches its 2 tasks */
    static const int threads[3] = {1, 2, 3};
    tr_heads *h[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        p.threads = threads[k];
        assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h[k], err, sizeof err),
                         TR_OK);
    }
    size_t n0 = 0, nk = 0;
    const tr_heads_cvrow *r0 = tr_heads_cv_table(h[0], &n0);
    assert_true(n0 > 0);
    float *sc = malloc(tr_heads_scratch_floats(h[0]) * sizeof *sc);
    for (int k = 1; k < 3; k++) {
        const tr_heads_cvrow *rk = tr_heads_cv_table(h[k], &nk);
        assert_int_equal(nk, n0);
        for (size_t r = 0; r < n0; r++) {
            assert_int_equal(rk[r].qv, r0[r].qv);
            assert_true(rk[r].aiq_lin == r0[r].aiq_lin && rk[r].aiq_log == r0[r].aiq_log && rk[r].ece == r0[r].ece);
        }
        assert_int_equal(tr_heads_qvariant(h[k]), tr_heads_qvariant(h[0]));
        for (size_t i = 0; i < s.n; i += 7) {
            float q0[4], qk[4], c[4];
            assert_int_equal(tr_heads_predict(h[0], s.X + i * 8, s.P + i * 3, 100, NULL, q0, NULL, c, sc), TR_OK);
            assert_int_equal(tr_heads_predict(h[k], s.X + i * 8, s.P + i * 3, 100, NULL, qk, NULL, c, sc), TR_OK);
            assert_memory_equal(q0, qk, sizeof q0);
        }
    }
    free(sc);
    for (int k = 0; k < 3; k++) tr_heads_free(h[k]);
    synth_free(&s);
}

/* knn_cap: a task with more prompts than the cap stores a fixed sample of
 * exactly cap of them (the others keep all theirs), the same sample on
 * every run, and the kNN estimate still sees the prompt-level effect. */
static void test_knn_cap(void **state)
{
    (void)state;
    size_t sizes[3] = {900, 150, 300};
    synth s;
    tr_heads_params p;
    knn_setup(&s, sizes, &p);
    char err[256];
    p.qvariant = TR_QV_KNN;
    p.knn_cap = 200;
    tr_heads *a = NULL, *b = NULL, *all = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &a, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &b, err, sizeof err), TR_OK);
    p.knn_cap = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &all, err, sizeof err), TR_OK);
    /* tasks over the cap hold exactly the cap; the others all their rows */
    size_t n_task[3] = {0, 0, 0};
    for (size_t i = 0; i < s.n; i++) n_task[s.y[i]]++;
    assert_int_equal(a->knn_n, 200 + (n_task[1] < 200 ? n_task[1] : 200) + (n_task[2] < 200 ? n_task[2] : 200));
    for (size_t t = 0; t < 3; t++) {
        size_t want = n_task[t] < 200 ? n_task[t] : 200;
        assert_int_equal(a->knn_off[t + 1] - a->knn_off[t], want);
        assert_int_equal(all->knn_off[t + 1] - all->knn_off[t], n_task[t]);
    }
    assert_int_equal(all->knn_n, s.n);
    /* the same sample on every run */
    assert_memory_equal(a->knn_Xh, b->knn_Xh, (size_t)a->knn_n * s.d * sizeof *a->knn_Xh);
    /* and still a useful estimate on the capped task */
    float *sc = malloc(tr_heads_scratch_floats(all) * sizeof *sc);
    double err_knn = 0, err_soft = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.y[i] != 0) continue;
        float q[4], c[4];
        assert_int_equal(tr_heads_predict(a, s.X + i * 8, s.P + i * 3, 100, NULL, q, NULL, c, sc), TR_OK);
        err_knn += fabs(q[2] - s.ptrue[i * 4 + 2]);
        tr_heads_predict_variant(a, TR_QV_PRIOR_SOFT, TR_CV_TASK, s.X + i * 8, s.P + i * 3, 100, NULL, q, NULL, c, sc);
        err_soft += fabs(q[2] - s.ptrue[i * 4 + 2]);
    }
    assert_true(err_knn < 0.8 * err_soft);
    p.knn_cap = -1;
    tr_heads *bad = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &bad, err, sizeof err), TR_ERANGE);
    assert_null(bad);
    free(sc);
    tr_heads_free(a);
    tr_heads_free(b);
    tr_heads_free(all);
    synth_free(&s);
}

static void check_surf(const char *text, size_t len, const float want[TR_HEADS_SURF])
{
    float z[TR_HEADS_SURF];
    tr_surface_features(text, len, z);
    for (int k = 0; k < TR_HEADS_SURF; k++) {
        if (fabsf(z[k] - want[k]) > 1e-6f) fprintf(stderr, "surface of \"%s\": feature %d = %g, want %g\n", text, k, z[k], want[k]);
        assert_float_equal(z[k], want[k], 1e-6);
    }
}

static void test_surface_features(void **state)
{
    (void)state;
    /* stripped to "What is 2+2?": 12 chars; tokens What is 2 + 2 ? (6);
     * letters Whatis (1 upper of 6); digits 2 of 12; + and ? are 2 of 12 */
    const float q[10] = {logf(7), 1, 1, 1 / 6.0f, 2 / 12.0f, 0, 1, 2 / 12.0f, 0, 0};
    check_surf("  What is 2+2?\n", 15, q);
    /* the length is honoured: "What is 2+" without the rest */
    const float cut[10] = {logf(5), 0, 1, 1 / 6.0f, 1 / 10.0f, 0, 0, 1 / 10.0f, 0, 0};
    check_surf("  What is 2+2?\n", 12, cut);
    /* 26 chars, tokens Solve $ x ^ 2 $ for x . Answer : (11), 1 newline,
     * upper S A of 16 letters, one digit, $^$.: = 5 others, '$' present */
    const float math[10] = {logf(12), 0, 1, 2 / 16.0f, 1 / 26.0f, logf(2), 0, 5 / 26.0f, 0, 1};
    check_surf("Solve $x^2$ for x.\nAnswer:", 26, math);
    /* UTF-8: Ü ï Ä are letters (Ü, Ä upper with B: 3 of 11), the em dash
     * and '.' are the 2 others of 16 code points; tokens Ünïcode ÄB — ok . */
    const char *u = "\xc3\x9cn\xc3\xaf" "code \xc3\x84" "B \xe2\x80\x94 ok.";
    const float uni[10] = {logf(6), 0, 1, 3 / 11.0f, 0, 0, 0, 2 / 16.0f, 1, 0};
    check_surf(u, strlen(u), uni);
    /* '_' joins a word but is not alphanumeric; '²' is a digit */
    const float snake[10] = {logf(2), 0, 0, 0, 0, 0, 0, 1 / 3.0f, 0, 0};
    check_surf("a_b", 3, snake);
    const float sup[10] = {logf(4), 0, 0, 0, 2 / 6.0f, 0, 0, 1 / 6.0f, 0, 0};
    check_surf("x\xc2\xb2 = 4", 7, sup);
    /* a backslash counts like '$'; blank lines count as newlines */
    const float path[10] = {logf(8), 0, 1, 1 / 12.0f, 1 / 19.0f, logf(4), 0, 3 / 19.0f, 1, 1};
    check_surf("C:\\path\nline2\n\nend.", 19, path);
    /* nothing left after stripping, no prompt at all, invalid UTF-8 (one
     * non-alphanumeric character per bad byte) */
    const float zero[10] = {0};
    check_surf(" \t\n\xc2\xa0 ", 6, zero);
    check_surf(NULL, 0, zero);
    const float bad[10] = {logf(4), 0, 0, 0, 0, 0, 0, 1, 0, 0};
    check_surf("\xff\xc3(", 3, bad);
}

static void test_knn_tau_hand(void **state)
{
    (void)state;
    /* the store of test_knn_hand: similarities 1, 0.8, 0, -1 to x = (1, 0) */
    const float Xs[8] = {1, 0, 0.8f, 0.6f, 0, 1, -1, 0};
    const float S[8] = {1, 0, 0, NAN, 1, 1, 0, 0};
    const float x[2] = {1, 0}, prior[2] = {0.5f, 0.25f};
    float Ss[16];
    tr_knn_pack(S, 4, 2, Ss);
    uint32_t lo[2] = {0, 2}, hi[2] = {2, 4};
    float sims[4], out[2], work[2 * 2 + 4];
    tr_knn_sims(Xs, 2, lo, hi, 2, x, sims);
    /* k = 2, tau = 0.1: weights 1 and e^-2; model 1 lacks row 1's label */
    tr_knn_combine(Ss, 2, lo, hi, 2, sims, 2, 3.0f, 0.1f, 1.0f, prior, out, work);
    float e2 = expf(-2.0f);
    assert_float_equal(out[0], (1 + e2 * 0 + 0.5f) / (1 + e2 + 1), 1e-6);
    assert_float_equal(out[1], (0 + 0.25f) / (1 + 1), 1e-6);
    /* every row, tau = 0.5: weights 1, e^-0.4, e^-2, e^-4 -- unlike cos^p,
     * orthogonal and opposite prompts keep a (small) weight */
    tr_knn_combine(Ss, 2, lo, hi, 2, sims, 10, 3.0f, 0.5f, 0.0f, prior, out, work);
    float w1 = expf(-0.4f), w2 = expf(-2.0f), w3 = expf(-4.0f);
    assert_float_equal(out[0], (1 + w2) / (1 + w1 + w2 + w3), 1e-6);
    assert_float_equal(out[1], w2 / (1 + w2 + w3), 1e-6);
    /* tau = 0 keeps the cos^p kernel (p = 3: the opposite row weighs 0) */
    tr_knn_combine(Ss, 2, lo, hi, 2, sims, 10, 3.0f, 0.0f, 0.0f, prior, out, work);
    assert_float_equal(out[0], 1 / (1 + 0.512f), 1e-6);
}

/* Restricting the heads by name: the mask, and what no chosen head reads
 * turned off (so neither trained nor saved); names checked. */
static void test_params_restrict(void **state)
{
    (void)state;
    char err[256];
    const float z = 0;
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.surf = &z;
    assert_true(tr_heads_params_want_surface(&p));
    assert_int_equal(tr_heads_params_restrict(&p, "prior-soft,prior+ridge", err, sizeof err), TR_OK);
    assert_int_equal(p.qv_mask, (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_RIDGE));
    assert_int_equal(p.knn_k, 0);
    assert_int_equal(p.knn_tau_k, 0);
    assert_null(p.surf);
    assert_false(tr_heads_params_want_surface(&p));
    assert_int_equal(tr_heads_params_check(&p, err, sizeof err), TR_OK);
    tr_heads_params_default(&p);
    p.surf = &z;
    assert_int_equal(tr_heads_params_restrict(&p, "ensemble,knn-tau/ridge-surface", err, sizeof err), TR_OK);
    assert_true(p.knn_k > 0 && p.knn_tau_k > 0 && p.surf == &z);
    assert_true(tr_heads_params_want_surface(&p));
    assert_int_equal(tr_heads_params_restrict(&p, "knn,", err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "an empty name in the list 'knn,'"));
    assert_int_equal(tr_heads_params_restrict(&p, "ridge", err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "unknown head variant 'ridge' (known: prior-hard, prior-soft, prior+ridge"));
    tr_heads_params_default(&p);
    p.knn_tasks = 65;
    assert_int_equal(tr_heads_params_check(&p, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "knn_tasks 65 (<= 64)"));
}

/* The top-k choice against a sort: random similarities with many ties
 * (including -0 and +0), every k; ties at the threshold go to earlier rows. */
static void test_knn_topk_reference(void **state)
{
    (void)state;
    enum { N = 300, M = 3 };
    static float S[N * M], Ss[N * 2 * M], sims[N], work[2 * M + N];
    static int order[N];
    const float prior[M] = {0.5f, 0.2f, 0.7f};
    tr_rng r;
    tr_rng_seed(&r, 21);
    for (int i = 0; i < N * M; i++) S[i] = tr_rng_uniform(&r) < 0.1 ? NAN : (float)tr_rng_below(&r, 2);
    tr_knn_pack(S, N, M, Ss);
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 1 + tr_rng_below(&r, N);
        for (size_t i = 0; i < n; i++) {
            /* coarse values so that ties are common; some exact zeros of both signs */
            sims[i] = (float)((int)tr_rng_below(&r, 21) - 10) / 10.0f;
            if (sims[i] == 0 && tr_rng_below(&r, 2)) sims[i] = -0.0f;
        }
        for (size_t i = 0; i < n; i++) order[i] = (int)i;
        for (size_t i = 1; i < n; i++)   /* insertion sort: sim descending, row ascending */
            for (size_t j = i; j > 0 && (sims[order[j]] > sims[order[j - 1]] ||
                                         (sims[order[j]] == sims[order[j - 1]] && order[j] < order[j - 1])); j--) {
                int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
            }
        uint32_t lo = 0, hi = (uint32_t)n;
        for (size_t k = 1; k <= n + 1; k += 1 + tr_rng_below(&r, 7)) {
            float out[M];
            tr_knn_combine(Ss, M, &lo, &hi, 1, sims, k, 1.0f, 0.0f, 2.0f, prior, out, work);
            for (size_t m = 0; m < M; m++) {
                double num = 0, den = 0;
                for (size_t t = 0; t < k && t < n; t++) {
                    int i = order[t];
                    double w = sims[i] > 0 ? sims[i] : 0;
                    if (!isnan(S[i * M + m])) { num += w * S[i * M + m]; den += w; }
                }
                assert_float_equal(out[m], (num + 2.0 * prior[m]) / (den + 2.0), 1e-5);
            }
        }
    }
}

/* Surface features for synthetic rows (n x TR_HEADS_SURF, free()): column 1
 * is a fair coin per row, column 9 is constant, the rest noise; model pm
 * answers right with 0.85 when the coin shows 1 and 0.05 otherwise, so only
 * the surface tells when it is worth its price. */
static float *surf_plant(synth *s, int pm, uint64_t seed)
{
    float *Z = malloc(s->n * TR_HEADS_SURF * sizeof *Z);
    tr_rng r;
    tr_rng_seed(&r, seed);
    for (size_t i = 0; i < s->n; i++) {
        float *z = Z + i * TR_HEADS_SURF;
        for (int k = 0; k < TR_HEADS_SURF; k++) z[k] = (float)tr_rng_uniform(&r);
        z[1] = tr_rng_uniform(&r) < 0.5 ? 1.0f : 0.0f;
        z[9] = 0.25f;
        float p = z[1] > 0 ? 0.85f : 0.05f;
        s->ptrue[i * s->M + (size_t)pm] = p;
        s->S[i * s->M + (size_t)pm] = tr_rng_uniform(&r) < p ? 1.0f : 0.0f;
    }
    return Z;
}

static const float KFLAT[12] = {0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f, 0.3f, 0.45f, 0.35f, 0.6f};

static void test_cv_picks_surface(void **state)
{
    (void)state;
    size_t nt = tu_slow_mode() ? 450 : 700;
    size_t sizes[3] = {nt, nt, nt};
    synth s;
    synth_make(&s, 3, 4, 8, sizes, KFLAT, PRICE4, 0.9f, -1, 0, 11);
    float *Z = surf_plant(&s, 2, 12);
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.surf = Z;
    tr_heads *h = NULL;
    /* every variant competes (rank sum): one that reads the surface wins */
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    int qv = tr_heads_qvariant(h);
    assert_true(qv == TR_QV_RIDGE_SURF || qv == TR_QV_ENS_KT_RS);
    assert_true(tr_heads_uses_surface(h));
    size_t nrow;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrow);
    assert_int_equal(nrow, TR_QV_COUNT * 2);
    double aiq[TR_QV_COUNT] = {0};
    for (size_t i = 0; i < nrow; i++)
        if (rows[i].cv == TR_CV_LEN) aiq[rows[i].qv] = rows[i].aiq_lin;
    assert_true(aiq[TR_QV_RIDGE_SURF] > aiq[TR_QV_RIDGE] + 0.01);
    assert_true(aiq[TR_QV_ENS_KT_RS] > aiq[TR_QV_KNN_TAU] + 0.005);
    assert_float_equal(tr_heads_surf_alpha(h), 100, 0);

    /* the ridge-surface head reads the coin; without a prompt (surf NULL)
     * it predicts at the training mean of the features */
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    float q[4], c[4], qm[4], mean[TR_HEADS_SURF] = {0}, z1[TR_HEADS_SURF], z0[TR_HEADS_SURF];
    for (size_t i = 0; i < s.n; i++)
        for (int k = 0; k < TR_HEADS_SURF; k++) mean[k] += Z[i * TR_HEADS_SURF + k] / (float)s.n;
    memcpy(z1, mean, sizeof z1); z1[1] = 1;
    memcpy(z0, mean, sizeof z0); z0[1] = 0;
    const float *x = s.X, *pt = s.P;
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, z1, q, NULL, c, sc), TR_OK);
    assert_true(q[2] > 0.7f);
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, z0, q, NULL, c, sc), TR_OK);
    assert_true(q[2] < 0.2f);
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, NULL, q, NULL, c, sc), TR_OK);
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, mean, qm, NULL, c, sc), TR_OK);
    for (int m = 0; m < 4; m++) assert_float_equal(q[m], qm[m], 1e-5);
    /* a feature constant in training (column 9) has no say at routing */
    z1[9] = 50;
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, z1, q, NULL, c, sc), TR_OK);
    z1[9] = mean[9];
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE_SURF, TR_CV_LEN, x, pt, 500, z1, qm, NULL, c, sc), TR_OK);
    assert_memory_equal(q, qm, sizeof q);
    free(sc);
    tr_heads_free(h);

    /* ridge vs ridge-surface alone, on AIQ */
    p.qv_mask = (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_RIDGE) | (1u << TR_QV_RIDGE_SURF);
    p.criterion = TR_CRIT_AIQ_LIN;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h), TR_QV_RIDGE_SURF);
    tr_heads_free(h);

    /* the surface variants need the features; bad features are named */
    tr_heads_params_default(&p);
    p.qvariant = TR_QV_ENS_KT_RS;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "surface features"));
    assert_null(h);
    p.surf = Z;
    Z[5 * TR_HEADS_SURF + 3] = NAN;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "row 5: surface feature 3"));
    Z[5 * TR_HEADS_SURF + 3] = 0;
    p.knn_tau = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "knn_tau"));
    free(Z);
    synth_free(&s);
}

static void test_cv_picks_knn_tau(void **state)
{
    (void)state;
    size_t nt = tu_slow_mode() ? 400 : 600;
    size_t sizes[3] = {nt, nt, nt};
    synth s;
    /* model 2 is 0.35 +- 0.45 by the sign of x[0]: neighbours see it, the
     * task prior cannot */
    synth_make(&s, 3, 4, 8, sizes, KFLAT, PRICE4, 0.9f, 2, 0.45f, 13);
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.qv_mask = (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_KNN_TAU);
    p.knn_tau_k = 100;   /* a third of a task's fold-training prompts */
    tr_heads *h = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h), TR_QV_KNN_TAU);
    assert_false(tr_heads_uses_surface(h));
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    double e_kt = 0, e_soft = 0;
    for (size_t i = 0; i < s.n; i += 5) {
        float q[4], c[4];
        assert_int_equal(tr_heads_predict(h, s.X + i * 8, s.P + i * 3, 100, NULL, q, NULL, c, sc), TR_OK);
        e_kt += fabs(q[2] - s.ptrue[i * 4 + 2]);
        tr_heads_predict_variant(h, TR_QV_PRIOR_SOFT, TR_CV_TASK, s.X + i * 8, s.P + i * 3, 100, NULL, q, NULL, c, sc);
        e_soft += fabs(q[2] - s.ptrue[i * 4 + 2]);
    }
    assert_true(e_kt < 0.75 * e_soft);   /* 0.64 here */
    free(sc);
    tr_heads_free(h);
    synth_free(&s);
}

/* The supervised similarity by hand: the cosine of [x, beta z] against a
 * direct computation, for two stored rows in two segments. */
static void test_knn_sup_hand(void **state)
{
    (void)state;
    tr_heads h;
    memset(&h, 0, sizeof h);
    h.M = 2;
    h.sup_w = 0.5f;   /* b2 = 0.25 */
    float Z[6] = {1, -1, 0.5f, 2, -2, 0}, zn[3];
    for (int j = 0; j < 3; j++) zn[j] = 1.0f / sqrtf(1 + 0.25f * (Z[2 * j] * Z[2 * j] + Z[2 * j + 1] * Z[2 * j + 1]));
    h.knn_Z = Z;
    h.knn_zn = zn;
    uint32_t lo[2] = {0, 2}, hi[2] = {1, 3};   /* rows 0 and 2 */
    const float zq[2] = {2, 1};
    float sims[2] = {0.6f, -0.2f}, zs[2];
    tr_heads_sup_sims(&h, lo, hi, 2, zq, sims, zs);
    /* [x, 0.5 z] cosines, with x.x_j given */
    const float xx[2] = {0.6f, -0.2f};
    const int rows[2] = {0, 2};
    for (int c = 0; c < 2; c++) {
        const float *z = Z + 2 * rows[c];
        double num = xx[c] + 0.25 * (zq[0] * z[0] + zq[1] * z[1]);
        double den = sqrt(1 + 0.25 * (zq[0] * zq[0] + zq[1] * zq[1])) * sqrt(1 + 0.25 * (z[0] * z[0] + z[1] * z[1]));
        assert_float_equal(sims[c], num / den, 1e-6);
    }
    /* sup_w = 0: the embedding cosines unchanged */
    h.sup_w = 0;
    for (int j = 0; j < 3; j++) zn[j] = 1;
    sims[0] = 0.6f; sims[1] = -0.2f;
    tr_heads_sup_sims(&h, lo, hi, 2, zq, sims, zs);
    assert_float_equal(sims[0], 0.6f, 0);
    assert_float_equal(sims[1], -0.2f, 0);
}

/* A prompt-level effect on one model (the sign of x[0]) hidden in a wide
 * embedding: kNN-tau's neighbours are near in all 32 directions and mostly
 * ignore x[0]; the ridge head finds that direction, so neighbours in the
 * supervised space share the effect and kNN-sup wins the CV. */
static void test_cv_picks_knn_sup(void **state)
{
    (void)state;
    size_t nt = tu_slow_mode() ? 400 : 600;
    size_t sizes[3] = {nt, nt, nt};
    synth s;
    synth_make(&s, 3, 4, 32, sizes, KFLAT, PRICE4, 0.9f, 2, 0.45f, 17);
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.qv_mask = (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_KNN_TAU) | (1u << TR_QV_KNN_SUP);
    p.knn_tau_k = 100;
    p.sup_w = 4;
    tr_heads *h = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(h), TR_QV_KNN_SUP);
    size_t nrow;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrow);
    double aiq[TR_QV_COUNT] = {0};
    for (size_t i = 0; i < nrow; i++)
        if (rows[i].cv == TR_CV_LEN) aiq[rows[i].qv] = rows[i].aiq_lin;
    assert_true(aiq[TR_QV_KNN_SUP] > aiq[TR_QV_KNN_TAU] + 0.005);
    /* the routed predictions track the planted effect better than kNN-tau's */
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    double e_ks = 0, e_kt = 0;
    for (size_t i = 0; i < s.n; i += 5) {
        float q[4], c[4];
        assert_int_equal(tr_heads_predict(h, s.X + i * 32, s.P + i * 3, 100, NULL, q, NULL, c, sc), TR_OK);
        e_ks += fabs(q[2] - s.ptrue[i * 4 + 2]);
        assert_int_equal(tr_heads_predict_variant(h, TR_QV_KNN_TAU, TR_CV_LEN, s.X + i * 32, s.P + i * 3, 100, NULL, q,
                                                  NULL, c, sc), TR_OK);
        e_kt += fabs(q[2] - s.ptrue[i * 4 + 2]);
    }
    assert_true(e_ks < 0.8 * e_kt);
    free(sc);
    tr_heads_free(h);
    /* sup_w = 0 trains no kNN-sup; a negative weight is refused */
    p.sup_w = 0;
    p.qv_mask = (1u << TR_QV_PRIOR_SOFT) | (1u << TR_QV_KNN_TAU);
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_false(tr_heads_has_qvariant(h, TR_QV_KNN_SUP));
    tr_heads_free(h);
    p.sup_w = -1;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "sup_w"));
    synth_free(&s);
}

static void save_all(const tr_heads *h, tr_buf b[4])
{
    for (int i = 0; i < 4; i++) tr_buf_init(&b[i]);
    tr_heads_save(h, &b[0], &b[1], &b[2], &b[3]);
    for (int i = 0; i < 4; i++) assert_int_equal(tr_buf_ok(&b[i]), TR_OK);
}

/* Saving h gives exactly the four sections in b. */
static void assert_saves_as(const tr_heads *h, const tr_buf b[4])
{
    tr_buf b2[4];
    save_all(h, b2);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(b[i].len, b2[i].len);
        assert_memory_equal(b[i].data, b2[i].data, b[i].len);
        tr_buf_free(&b2[i]);
    }
}

static void test_save_load(void **state)
{
    (void)state;
    size_t sizes[5] = {200, 200, 200, 200, 200};
    synth s;
    synth_make(&s, 5, 4, 8, sizes, K5x4, PRICE4, 0.7f, 1, 0.2f, 4);
    tr_heads *h = NULL, *g = NULL;
    char err[256];
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, NULL, &h, err, sizeof err), TR_OK);
    tr_buf b[4];
    save_all(h, b);
    assert_int_equal(tr_heads_load(b[0].data, b[0].len, b[1].data, b[1].len, b[2].data, b[2].len,
                                   b[3].data, b[3].len, &g, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(g), tr_heads_qvariant(h));
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    for (size_t i = 0; i < s.n; i += 7)
        for (int qv = 0; qv < TR_QV_COUNT; qv++)
            for (int cv = 0; cv < TR_CV_COUNT; cv++) {
                float q1[4], c1[4], k1[4], q2[4], c2[4], k2[4];
                int r1 = tr_heads_predict_variant(h, qv, cv, s.X + i * 8, s.P + i * 5, (size_t)s.L[i], NULL, q1, k1, c1, sc);
                int r2 = tr_heads_predict_variant(g, qv, cv, s.X + i * 8, s.P + i * 5, (size_t)s.L[i], NULL, q2, k2, c2, sc);
                assert_int_equal(r1, r2);
                if (qv == TR_QV_RIDGE_SURF || qv == TR_QV_ENS_KT_RS) {   /* not trained without surface features */
                    assert_int_equal(r1, TR_EINVAL);
                    continue;
                }
                assert_int_equal(r1, TR_OK);
                assert_memory_equal(q1, q2, sizeof q1);
                assert_memory_equal(k1, k2, sizeof k1);
                assert_memory_equal(c1, c2, sizeof c1);
            }
    free(sc);
    const tr_select_tables *t1 = tr_heads_tables(h), *t2 = tr_heads_tables(g);
    assert_int_equal(t1->n_budget, t2->n_budget);
    assert_memory_equal(t1->budget_cost, t2->budget_cost, t1->n_budget * sizeof(float));
    assert_memory_equal(t1->risk_ucb, t2->risk_ucb, t1->n_risk * sizeof(float));
    size_t n1, n2;
    tr_heads_cv_table(h, &n1);
    tr_heads_cv_table(g, &n2);
    assert_int_equal(n1, n2);
    /* saving the loaded heads gives the same bytes */
    assert_saves_as(g, b);
    tr_heads_free(g);

    /* every truncation of every section fails cleanly, naming the section */
    static const char *names[4] = {"HEAD", "CALB", "COST", "SELC"};
    for (int sec = 0; sec < 4; sec++) {
        size_t step = b[sec].len > 400 ? b[sec].len / 97 : 1;
        for (size_t cut = 0; cut < b[sec].len; cut += step) {
            size_t len[4] = {b[0].len, b[1].len, b[2].len, b[3].len};
            len[sec] = cut;
            g = NULL;
            int rc = tr_heads_load(b[0].data, len[0], b[1].data, len[1], b[2].data, len[2], b[3].data, len[3], &g, err, sizeof err);
            assert_true(rc == TR_ETRUNC || rc == TR_EFORMAT);
            assert_null(g);
            assert_non_null(strstr(err, names[sec]));
        }
    }
    /* a newer format version */
    b[0].data[0] = 9;
    assert_int_equal(tr_heads_load(b[0].data, b[0].len, b[1].data, b[1].len, b[2].data, b[2].len, b[3].data, b[3].len, &g, err, sizeof err), TR_EVERSION);
    assert_non_null(strstr(err, "newer"));
    b[0].data[0] = 1;
    /* a huge model count is rejected before allocating */
    b[0].data[4] = 0xFF; b[0].data[5] = 0xFF; b[0].data[6] = 0xFF;
    assert_int_equal(tr_heads_load(b[0].data, b[0].len, b[1].data, b[1].len, b[2].data, b[2].len, b[3].data, b[3].len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "HEAD"));
    for (int i = 0; i < 4; i++) tr_buf_free(&b[i]);
    tr_heads_free(h);
    synth_free(&s);
}

static int load4(tr_buf b[4], size_t head_len, tr_heads **g, char *err, size_t errlen)
{
    return tr_heads_load(b[0].data, head_len, b[1].data, b[1].len, b[2].data, b[2].len, b[3].data, b[3].len, g, err,
                         errlen);
}

static uint32_t get_u32le(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Where a HEAD section's kNN X starts; *kn rows of *d. */
static size_t knn_x_at(const unsigned char *p, size_t *kn, size_t *d)
{
    uint32_t M = get_u32le(p + 4), T = get_u32le(p + 8), qmask = get_u32le(p + 28);
    *d = get_u32le(p + 12);
    assert_true(qmask & (1u << TR_QV_KNN));
    size_t at = 48 + 4 * ((size_t)T * M + M) + ((qmask & (1u << TR_QV_RIDGE)) ? 4 * (size_t)M * (*d + 1) : 0);
    *kn = get_u32le(p + at);
    /* after the kNN header (knn_mass from version 4) and task offsets */
    return at + 20 + (get_u32le(p) >= 4 ? 4 : 0) + 4 * ((size_t)T + 1);
}

/* Where a version-4 HEAD keeps knn_mass. */
static size_t knn_mass_at(const unsigned char *p)
{
    uint32_t T = get_u32le(p + 8);
    size_t kn, d;
    return knn_x_at(p, &kn, &d) - 4 * ((size_t)T + 1) - 4;
}

/* A HEAD section of version 4 rewritten as version ver: 3 drops knn_mass;
 * 2 also widens the kNN store X from half to f32; the rest as it is. */
static void head_old_version(const tr_buf *b, tr_buf *out, uint32_t ver)
{
    const unsigned char *p = b->data;
    size_t kn, d, at = knn_x_at(p, &kn, &d), mass = knn_mass_at(p);
    assert_int_equal(get_u32le(p), 4);
    tr_buf_init(out);
    tr_buf_u32(out, ver);
    tr_buf_put(out, p + 4, mass - 4);
    tr_buf_put(out, p + mass + 4, at - mass - 4);
    if (ver >= 3) {
        tr_buf_put(out, p + at, b->len - at);
    } else {
        for (size_t i = 0; i < kn * d; i++)
            tr_buf_f32(out, tr_half_to_float((uint16_t)(p[at + 2 * i] | p[at + 2 * i + 1] << 8)));
        at += 2 * kn * d;
        tr_buf_put(out, p + at, b->len - at);
    }
    assert_int_equal(tr_buf_ok(out), TR_OK);
}

/* h and g predict alike: exactly, or (float against half similarity
 * kernels, summed in another order) to tol. */
static void assert_predicts_alike(const tr_heads *h, const tr_heads *g, const synth *s, int qv_max, float tol)
{
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    assert_int_equal(tr_heads_scratch_floats(h), tr_heads_scratch_floats(g));
    for (size_t i = 0; i < s->n; i += 13)
        for (int qv = 0; qv <= qv_max; qv++) {
            float q1[4], c1[4], q2[4], c2[4];
            assert_int_equal(tr_heads_predict_variant(h, qv, TR_CV_LEN, s->X + i * 8, s->P + i * 3, 700, NULL, q1, NULL, c1, sc), TR_OK);
            assert_int_equal(tr_heads_predict_variant(g, qv, TR_CV_LEN, s->X + i * 8, s->P + i * 3, 700, NULL, q2, NULL, c2, sc), TR_OK);
            for (int m = 0; m < 4; m++) assert_float_equal(q1[m], q2[m], tol);
            assert_memory_equal(c1, c2, sizeof c1);
        }
    free(sc);
}

static void test_save_load_surface(void **state)
{
    (void)state;
    size_t sizes[3] = {150, 150, 150};
    synth s;
    synth_make(&s, 3, 4, 8, sizes, KFLAT, PRICE4, 0.8f, -1, 0, 21);
    float *Z = surf_plant(&s, 2, 22);
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.surf = Z;
    p.knn_tau_k = 40;
    tr_heads *h = NULL, *g = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    for (int qv = 0; qv < TR_QV_COUNT; qv++) assert_true(tr_heads_has_qvariant(h, qv));
    tr_buf b[4];
    save_all(h, b);
    assert_int_equal(get_u32le(b[0].data), 4);   /* HEAD version 4 */
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_qvariant(g), tr_heads_qvariant(h));
    assert_float_equal(tr_heads_surf_alpha(g), tr_heads_surf_alpha(h), 0);
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    assert_int_equal(tr_heads_scratch_floats(h), tr_heads_scratch_floats(g));
    for (size_t i = 0; i < s.n; i += 11)
        for (int qv = 0; qv < TR_QV_COUNT; qv++)
            for (int with = 0; with < 2; with++) {
                const float *z = with ? Z + i * TR_HEADS_SURF : NULL;
                float q1[4], c1[4], k1[4], q2[4], c2[4], k2[4];
                assert_int_equal(tr_heads_predict_variant(h, qv, TR_CV_LEN, s.X + i * 8, s.P + i * 3, 700, z, q1, k1, c1, sc), TR_OK);
                assert_int_equal(tr_heads_predict_variant(g, qv, TR_CV_LEN, s.X + i * 8, s.P + i * 3, 700, z, q2, k2, c2, sc), TR_OK);
                assert_memory_equal(q1, q2, sizeof q1);
                assert_memory_equal(k1, k2, sizeof k1);
                assert_memory_equal(c1, c2, sizeof c1);
            }
    assert_saves_as(g, b);
    tr_heads_free(g);
    /* every truncation of HEAD fails cleanly */
    for (size_t cut = 0; cut < b[0].len; cut += b[0].len / 61 + 1) {
        g = NULL;
        int rc = load4(b, cut, &g, err, sizeof err);
        assert_true(rc == TR_ETRUNC || rc == TR_EFORMAT);
        assert_null(g);
        assert_non_null(strstr(err, "HEAD"));
    }
    /* an unknown surface-feature count: the field sits before kNN-tau
     * (8 bytes), the ridge-surface head (4 + M (d + 11) 4 bytes), kNN-sup
     * (8 + 4 (M (d + 1) + 2 M + n M) bytes) and the CV rows (4 + 84 n_cv) */
    size_t ncv;
    tr_heads_cv_table(h, &ncv);
    size_t sup_bytes = 8 + 4 * (4 * 9 + 2 * 4 + s.n * 4);
    size_t at = b[0].len - (4 + 84 * ncv) - sup_bytes - (4 + 4 * 19 * 4) - 8 - 2 * TR_HEADS_SURF * 4 - 4;
    assert_int_equal(get_u32le(b[0].data + at), TR_HEADS_SURF);
    b[0].data[at] = 7;
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "7 surface features"));
    for (int i = 0; i < 4; i++) tr_buf_free(&b[i]);
    tr_heads_free(h);

    /* a version-2 HEAD is a version-4 one without knn_mass (it searched
     * knn_tasks tasks always: mass 0), without kNN-sup and with its kNN
     * store widened to f32 ... */
    p.knn_mass = 0;
    p.sup_w = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_false(tr_heads_has_qvariant(h, TR_QV_KNN_SUP));
    assert_true(tr_heads_has_qvariant(h, TR_QV_ENS_KT_RS));
    save_all(h, b);
    {
        tr_buf v2;
        head_old_version(&b[0], &v2, 2);
        tr_buf_free(&b[0]);
        b[0] = v2;
    }
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_OK);
    for (size_t i = 0; i < s.n; i += 17)
        for (int qv = 0; qv < TR_QV_KNN_SUP; qv++) {
            float q1[4], c1[4], q2[4], c2[4];
            const float *z = Z + i * TR_HEADS_SURF;
            assert_int_equal(tr_heads_predict_variant(h, qv, TR_CV_LEN, s.X + i * 8, s.P + i * 3, 700, z, q1, NULL, c1, sc), TR_OK);
            assert_int_equal(tr_heads_predict_variant(g, qv, TR_CV_LEN, s.X + i * 8, s.P + i * 3, 700, z, q2, NULL, c2, sc), TR_OK);
            for (int m = 0; m < 4; m++) assert_float_equal(q1[m], q2[m], 1e-5f);
            assert_memory_equal(c1, c2, sizeof c1);
        }
    assert_saves_as(g, b);
    tr_heads_free(g);
    /* ... and cannot claim kNN-sup (bit 8 of qmask: byte 29) */
    b[0].data[29] |= 1;
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "variant masks"));
    assert_null(g);
    for (int i = 0; i < 4; i++) tr_buf_free(&b[i]);
    tr_heads_free(h);
    p.sup_w = 0.25;

    /* a version-2 HEAD with only the older variants (kNN store as f32)
     * loads, keeps its float store, predicts as the half store with the
     * same values does, and is saved as version 2 again, byte for byte */
    p.surf = NULL;
    p.knn_tau_k = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_false(tr_heads_has_qvariant(h, TR_QV_KNN_TAU));
    save_all(h, b);
    tr_buf v2;
    head_old_version(&b[0], &v2, 2);
    tr_buf_free(&b[0]);
    b[0] = v2;
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_OK);
    assert_predicts_alike(h, g, &s, TR_QV_ENSEMBLE, 1e-5f);
    assert_saves_as(g, b);
    tr_heads_free(g);
    /* a non-finite half in a version-3 store is refused */
    {
        tr_buf b3[4];
        save_all(h, b3);
        size_t kn, d, at = knn_x_at(b3[0].data, &kn, &d) + 2 * (kn * d - 1);   /* the last value */
        b3[0].data[at] = 0x00; b3[0].data[at + 1] = 0x7c;   /* +infinity */
        assert_int_equal(load4(b3, b3[0].len, &g, err, sizeof err), TR_EFORMAT);
        assert_non_null(strstr(err, "not finite"));
        assert_null(g);
        for (int i = 0; i < 4; i++) tr_buf_free(&b3[i]);
    }

    /* a version-1 HEAD (written before kNN-tau and the surface heads) still
     * loads: take that v2 section and drop its one new field (nsurf = 0,
     * just before the CV rows) */
    tr_heads_cv_table(h, &ncv);
    at = b[0].len - (4 + 84 * ncv) - 4;
    assert_int_equal(get_u32le(b[0].data + at), 0);
    memmove(b[0].data + at, b[0].data + at + 4, b[0].len - at - 4);
    b[0].data[0] = 1;
    assert_int_equal(load4(b, b[0].len - 4, &g, err, sizeof err), TR_OK);
    assert_predicts_alike(h, g, &s, TR_QV_ENSEMBLE, 1e-5f);
    tr_heads_free(g);
    /* ... but a version-1 section cannot claim the later variants */
    b[0].data[28] |= 1u << TR_QV_KNN_TAU;   /* qmask: after ver, M, T, d, top_k, qv, cv */
    assert_int_equal(load4(b, b[0].len - 4, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "variant masks"));
    assert_null(g);
    for (int i = 0; i < 4; i++) tr_buf_free(&b[i]);
    tr_heads_free(h);
    free(sc);
    free(Z);
    synth_free(&s);
}

/* knn_mass: a prompt whose most probable task holds at least the mass
 * searches that task alone (as knn_tasks = 1 does), any other prompt its
 * knn_tasks tasks (as mass 0 does), in routing and in the CV alike.  The
 * setting survives saving and loading; a version-3 section, written before
 * it, searches as mass 0 did and is saved as version 3 again; out of
 * range, it is refused.  k = 300 neighbours, more than a task's 200
 * prompts: a search of two tasks finds other ones than a search of one. */
static double knn_cv_aiq(const tr_heads *h)
{
    size_t n;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i].qv == TR_QV_KNN && rows[i].cv == TR_CV_TASK) return rows[i].aiq_lin;
    fail();
    return 0;
}

static void test_knn_mass(void **state)
{
    (void)state;
    float pv[4] = {0.1f, NAN, 0.85f, 0.05f};
    int32_t idx[4];
    assert_int_equal(tr_gate_search(pv, 4, 3, 0.9f, idx), 2);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 0);
    assert_int_equal(tr_gate_search(pv, 4, 3, 0.85f, idx), 1);
    assert_int_equal(tr_gate_search(pv, 4, 3, 0.0f, idx), 3);
    assert_int_equal(tr_gate_search(pv, 4, 3, 1.0f, idx), 3);

    size_t sizes[3] = {200, 200, 200};
    synth s;
    tr_heads_params p;
    knn_setup(&s, sizes, &p);
    p.knn_k = 300;
    p.qv_mask = 1u << TR_QV_PRIOR_SOFT | 1u << TR_QV_KNN;
    /* every other prompt sure of its task, the rest unsure */
    for (size_t i = 0; i < s.n; i++) {
        float top = i % 2 ? 0.95f : 0.6f;
        for (size_t u = 0; u < 3; u++) s.P[i * 3 + u] = u == (size_t)s.y[i] ? top : (1 - top) / 2;
    }
    char err[256];
    /* adaptive, one task, two tasks; every task with the mass, and the
     * whole store (knn_tasks >= T stops at the mass too) */
    static const double mass[5] = {0.9, 0, 0, 0.9, 0};
    static const int tasks[5] = {2, 1, 2, 3, 0};
    tr_heads *h[5] = {NULL, NULL, NULL, NULL, NULL}, *g = NULL, *g3 = NULL;
    for (int k = 0; k < 5; k++) {
        p.knn_mass = mass[k];
        p.knn_tasks = tasks[k];
        assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h[k], err, sizeof err), TR_OK);
    }
    tr_buf b[4], b3[4];
    save_all(h[0], b);
    assert_int_equal(get_u32le(b[0].data), 4);
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_OK);
    save_all(h[0], b3);
    tr_buf_free(&b3[0]);
    head_old_version(&b[0], &b3[0], 3);
    assert_int_equal(load4(b3, b3[0].len, &g3, err, sizeof err), TR_OK);
    float *sc = malloc(tr_heads_scratch_floats(h[0]) * sizeof *sc);
    size_t n_one = 0, n_two = 0, differ = 0;
    for (size_t i = 0; i < s.n; i += 5) {
        float q[7][4];
        const float *pt = s.P + i * 3;
        int sure = pt[s.y[i]] >= 0.9f;
        const tr_heads *all[7] = {h[0], h[1], h[2], g, g3, h[3], h[4]};
        for (int k = 0; k < 7; k++)
            assert_int_equal(tr_heads_predict_variant(all[k], TR_QV_KNN, TR_CV_TASK, s.X + i * 8, pt, 100, NULL, q[k],
                                                      NULL, NULL, sc), TR_OK);
        assert_memory_equal(q[0], sure ? q[1] : q[2], sizeof q[0]);
        assert_memory_equal(q[3], q[0], sizeof q[0]);   /* loaded: the same search */
        assert_memory_equal(q[4], q[2], sizeof q[0]);   /* version 3: both tasks */
        if (sure)   /* all tasks allowed, the top one holds the mass */
            assert_memory_equal(q[5], q[1], sizeof q[0]);
        else        /* 0.6 + 0.2 < 0.9: all three tasks, the whole store's rows in another order */
            for (int m = 0; m < 4; m++) assert_float_equal(q[5][m], q[6][m], 1e-6);
        n_one += sure;
        n_two += !sure;
        differ += sure && memcmp(q[1], q[2], sizeof q[1]) != 0;
    }
    assert_true(n_one > 10 && n_two > 10);
    /* a second task changes the estimate of (nearly) every sure prompt, so
     * that the first check above can fail */
    assert_true(differ >= n_one - 2);
    /* the CV searched as routing does: its kNN figures are neither those of
     * one task nor of two */
    assert_true(knn_cv_aiq(h[0]) != knn_cv_aiq(h[1]));
    assert_true(knn_cv_aiq(h[0]) != knn_cv_aiq(h[2]));
    assert_saves_as(g3, b3);
    tr_heads_free(g);
    tr_heads_free(g3);
    /* out of range in the file, and as a parameter */
    float bad = 1.5f;
    memcpy(b[0].data + knn_mass_at(b[0].data), &bad, 4);   /* little-endian host, as the format */
    g = NULL;
    assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "mass 1.5"));
    assert_null(g);
    p.knn_mass = 1.5;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &g, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "knn_mass 1.5"));
    for (int i = 0; i < 4; i++) { tr_buf_free(&b[i]); tr_buf_free(&b3[i]); }
    for (int k = 0; k < 5; k++) tr_heads_free(h[k]);
    free(sc);
    synth_free(&s);
}

static void test_bad_input(void **state)
{
    (void)state;
    size_t sizes[2] = {20, 20};
    synth s;
    synth_make(&s, 2, 4, 4, sizes, K5x4, PRICE4, 0.9f, -1, 0, 5);
    tr_heads *h = NULL;
    char err[256];
    s.S[13] = 1.5f;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, NULL, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "row 3 model 1: score 1.5"));
    s.S[13] = 1;
    s.y[7] = 2;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, NULL, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "row 7: task label 2"));
    s.y[7] = 0;
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.gate_top_k = 0;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "gate_top_k"));
    tr_heads_params_default(&p);
    p.cvariant = TR_CV_LEN;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, NULL, s.M, &p, &h, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "prompt lengths"));
    assert_null(h);
    /* only y, no P, no embeddings, no lengths: priors still train */
    assert_int_equal(tr_heads_train(NULL, NULL, s.y, s.n, 0, s.T, s.S, s.C, NULL, s.M, NULL, &h, err, sizeof err), TR_OK);
    assert_false(tr_heads_has_qvariant(h, TR_QV_RIDGE));
    assert_false(tr_heads_has_cvariant(h, TR_CV_LEN));
    float pt[2] = {0, 1}, q[4], c[4];
    assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE, TR_CV_TASK, NULL, pt, 0, NULL, q, NULL, c, NULL), TR_EINVAL);
    assert_int_equal(tr_heads_predict(h, NULL, pt, 0, NULL, q, NULL, c, NULL), TR_OK);
    tr_heads_free(h);
    synth_free(&s);
}

static void test_folds_from_ids(void **state)
{
    (void)state;
    const char *ids[3] = {"70", "abc", ""};
    int32_t f[3];
    tr_heads_folds_from_ids(ids, NULL, 3, 5, f);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f[i], (int32_t)((tr_fnv1a64(ids[i], strlen(ids[i])) / 5) % 5));
    /* the empty id hashes to the offset basis 14695981039346656037 */
    assert_int_equal(f[2], (int32_t)((14695981039346656037ULL / 5) % 5));
}

static void test_alloc_failures(void **state)
{
    (void)state;
    size_t sizes[3] = {30, 30, 30};
    synth s;
    synth_make(&s, 3, 4, 4, sizes, K5x4, PRICE4, 0.8f, -1, 0, 6);
    float *Z = surf_plant(&s, 2, 7);   /* every variant, the surface ones too */
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.surf = Z;
    char err[256];
    int saw_ok = 0;
    for (long k = 0; k < 400 && !saw_ok; k++) {
        tr_heads *h = NULL;
        tr_alloc_fail_after(k);
        int rc = tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err);
        tr_alloc_fail_after(-1);
        if (rc == TR_OK) { saw_ok = 1; tr_heads_free(h); continue; }
        assert_int_equal(rc, TR_ENOMEM);
        assert_null(h);
        assert_non_null(strstr(err, "out of memory"));
    }
    assert_true(saw_ok);
    free(Z);
    synth_free(&s);
}

/* kNN-sup-ridge is kNN-sup with another shrinkage target: with a huge
 * pseudo-count its estimate is the clipped prior+ridge prediction (kNN-sup's:
 * the soft prior), with none the two are the same neighbour mean.  It is
 * saved as HEAD version 4; a version-2 section cannot claim it, nor can a
 * section without kNN-sup. */
static void test_knn_sup_ridge(void **state)
{
    (void)state;
    size_t sizes[3] = {150, 150, 150};
    synth s;
    synth_make(&s, 3, 4, 16, sizes, KFLAT, PRICE4, 0.9f, 2, 0.45f, 23);
    char err[256];
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.knn_tau_k = 60;
    p.qvariant = TR_QV_KNN_SUP_RIDGE;
    for (int pass = 0; pass < 2; pass++) {
        p.knn_k0 = pass ? 0 : 1e9;
        tr_heads *h = NULL;
        assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
        assert_int_equal(tr_heads_qvariant(h), TR_QV_KNN_SUP_RIDGE);
        assert_true(tr_heads_has_qvariant(h, TR_QV_KNN_SUP));
        float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
        double moved = 0;
        for (size_t i = 0; i < s.n; i += 7) {
            float qr[4], qs[4], qa[4], qb[4];
            const float *x = s.X + i * 16, *pt = s.P + i * 3;
            assert_int_equal(tr_heads_predict(h, x, pt, 100, NULL, qr, NULL, NULL, sc), TR_OK);
            assert_int_equal(tr_heads_predict_variant(h, TR_QV_KNN_SUP, TR_CV_LEN, x, pt, 100, NULL, qs, NULL, NULL, sc), TR_OK);
            if (pass == 0) {
                /* the targets: prior+ridge (its penalty is kNN-sup's) and the soft prior */
                assert_int_equal(tr_heads_predict_variant(h, TR_QV_RIDGE, TR_CV_LEN, x, pt, 100, NULL, qa, NULL, NULL, sc), TR_OK);
                assert_int_equal(tr_heads_predict_variant(h, TR_QV_PRIOR_SOFT, TR_CV_LEN, x, pt, 100, NULL, qb, NULL, NULL, sc), TR_OK);
                for (int m = 0; m < 4; m++) {
                    assert_float_equal(qr[m], qa[m], 1e-4);
                    assert_float_equal(qs[m], qb[m], 1e-4);
                    moved += fabs(qa[m] - qb[m]);
                }
            } else {
                assert_memory_equal(qr, qs, sizeof qr);
            }
        }
        if (pass == 0) assert_true(moved > 0.05);   /* the two targets differ */
        /* HEAD version 4 round trip; a version-2 section cannot claim the
         * variant (bit 9 of qmask: byte 29, bit 1), nor a section without
         * kNN-sup */
        tr_buf b[4];
        save_all(h, b);
        assert_int_equal(get_u32le(b[0].data), 4);
        tr_heads *g = NULL;
        assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_OK);
        for (size_t i = 0; i < s.n; i += 11) {
            float q1[4], q2[4];
            assert_int_equal(tr_heads_predict(h, s.X + i * 16, s.P + i * 3, 100, NULL, q1, NULL, NULL, sc), TR_OK);
            assert_int_equal(tr_heads_predict(g, s.X + i * 16, s.P + i * 3, 100, NULL, q2, NULL, NULL, sc), TR_OK);
            assert_memory_equal(q1, q2, sizeof q1);
        }
        tr_heads_free(g);
        assert_int_equal(b[0].data[29] & 3, 3);
        b[0].data[0] = 2;
        g = NULL;
        assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_EFORMAT);
        assert_non_null(strstr(err, "variant masks"));
        assert_null(g);
        b[0].data[0] = 3;
        b[0].data[29] &= (unsigned char)~1u;
        assert_int_equal(load4(b, b[0].len, &g, err, sizeof err), TR_EFORMAT);
        assert_non_null(strstr(err, "kNN-sup-ridge without kNN-sup"));
        assert_null(g);
        for (int i = 0; i < 4; i++) tr_buf_free(&b[i]);
        free(sc);
        tr_heads_free(h);
    }
    /* sup_w = 0 trains neither, and --heads knn-sup-ridge keeps the store */
    p.qvariant = -1;
    p.sup_w = 0;
    tr_heads *h = NULL;
    assert_int_equal(tr_heads_train(s.X, s.P, s.y, s.n, s.d, s.T, s.S, s.C, s.L, s.M, &p, &h, err, sizeof err), TR_OK);
    assert_false(tr_heads_has_qvariant(h, TR_QV_KNN_SUP_RIDGE));
    tr_heads_free(h);
    tr_heads_params_default(&p);
    assert_int_equal(tr_heads_params_restrict(&p, "knn-sup-ridge", err, sizeof err), TR_OK);
    assert_true(p.sup_w > 0 && p.knn_tau_k > 0);
    assert_int_equal(p.qv_mask, 1u << TR_QV_KNN_SUP_RIDGE);
    synth_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recover_skills),
        cmocka_unit_test(test_shrinkage_tiny_task),
        cmocka_unit_test(test_missing_labels_and_tiny_tasks),
        cmocka_unit_test(test_cv_picks_ridge),
        cmocka_unit_test(test_knn_hand),
        cmocka_unit_test(test_knn_scope),
        cmocka_unit_test(test_knn_cap),
        cmocka_unit_test(test_knn_cv_threads),
        cmocka_unit_test(test_surface_features),
        cmocka_unit_test(test_knn_tau_hand),
        cmocka_unit_test(test_knn_topk_reference),
        cmocka_unit_test(test_params_restrict),
        cmocka_unit_test(test_cv_picks_surface),
        cmocka_unit_test(test_cv_picks_knn_tau),
        cmocka_unit_test(test_knn_sup_hand),
        cmocka_unit_test(test_cv_picks_knn_sup),
        cmocka_unit_test(test_knn_sup_ridge),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_save_load_surface),
        cmocka_unit_test(test_knn_mass),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_folds_from_ids),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
