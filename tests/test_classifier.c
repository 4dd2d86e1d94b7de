/* Softmax classifier: accuracy on separable data, probabilities sum to 1,
 * batch = single predictions, determinism, save/load round trip, truncated
 * and corrupt sections, bad input, ECE and accuracy helpers. */
#include "testutil.h"

#include <math.h>

#include "base/buf.h"
#include "base/util.h"
#include "classify/classifier.h"

/* T well-separated classes in d dimensions, unit rows. */
static float *blobs(size_t n, size_t d, size_t T, double noise, uint64_t seed, int32_t *y)
{
    tr_rng r;
    tr_rng_seed(&r, seed);
    float *C = malloc(T * d * sizeof(float)), *X = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < T * d; i++) C[i] = (float)(tr_rng_normal(&r) / sqrt((double)d));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)tr_rng_below(&r, T);
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            X[i * d + j] = C[c * d + j] + (float)(noise * tr_rng_normal(&r));
            s += (double)X[i * d + j] * X[i * d + j];
        }
        for (size_t j = 0; j < d; j++) X[i * d + j] /= (float)sqrt(s);
        y[i] = (int32_t)c;
    }
    free(C);
    return X;
}

/* The blobs of n rows (labels into *y, both the caller's to free) and
 * default parameters with the penalty fixed at l2. */
static float *fixture(size_t n, size_t d, size_t T, double noise, uint64_t seed, double l2, int32_t **y,
                      tr_softmax_params *p)
{
    *y = malloc(n * sizeof(int32_t));
    tr_softmax_params_default(p);
    p->l2 = l2;
    return blobs(n, d, T, noise, seed, *y);
}

static void test_fit_predict(void **state)
{
    (void)state;
    size_t n = tu_slow_mode() ? 1000 : 4000, d = 32, T = 6;
    int32_t *y = malloc(n * sizeof(int32_t));
    float *X = blobs(n, d, T, 0.12, 1, y);
    tr_softmax *m = NULL, *m2 = NULL;
    char err[256];
    assert_int_equal(tr_softmax_fit(X, n * 3 / 4, d, y, T, NULL, &m, err, sizeof err), TR_OK);
    assert_int_equal(m->T, T);
    assert_int_equal(m->d, d);
    assert_true(m->l2 > 0);
    float *P = malloc(n * T * sizeof(float)), pr[6];
    tr_softmax_predict_batch(m, X, n, P);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        tr_softmax_predict(m, X + i * d, pr);
        for (size_t t = 0; t < T; t++) {
            s += pr[t];
            assert_true(fabsf(pr[t] - P[i * T + t]) < 1e-5f);
        }
        assert_true(fabs(s - 1) < 1e-5);
    }
    size_t ntest = n - n * 3 / 4;
    double acc = tr_accuracy(P + (n * 3 / 4) * T, ntest, T, y + n * 3 / 4);
    print_message("held-out accuracy %.4f (l2=%g)\n", acc, m->l2);
    assert_true(acc >= 0.95);
    /* deterministic */
    assert_int_equal(tr_softmax_fit(X, n * 3 / 4, d, y, T, NULL, &m2, err, sizeof err), TR_OK);
    assert_memory_equal(m->W, m2->W, T * d * sizeof(float));
    assert_memory_equal(m->b, m2->b, T * sizeof(float));
    /* calibration helpers on held-out predictions */
    float *conf = malloc(ntest * sizeof(float));
    unsigned char *ok = malloc(ntest);
    for (size_t i = 0; i < ntest; i++)
        ok[i] = tr_argmax(P + (n * 3 / 4 + i) * T, T, &conf[i]) == (size_t)y[n * 3 / 4 + i];
    double ece = tr_ece_binary(conf, ok, ntest, 10);
    print_message("ECE %.4f\n", ece);
    assert_true(ece >= 0 && ece < 0.1);
    free(conf); free(ok);
    tr_softmax_free(m);
    tr_softmax_free(m2);
    free(P); free(X); free(y);
}

/* The rows are split into chunks the workers share: the model must not
 * depend on how many workers there are (13,000 rows: 4 chunks, one short). */
static void test_threads_same_model(void **state)
{
    (void)state;
    size_t n = 13000, d = 8, T = 5;
    int32_t *y;
    tr_softmax_params p;
    float *X = fixture(n, d, T, 0.6, 3, 1e-4, &y, &p);
    p.max_iter = 30;
    tr_softmax *m[3] = {NULL, NULL, NULL};
    char err[256];
    static const int threads[3] = {1, 2, 3};
    for (int k = 0; k < 3; k++) {
        p.threads = threads[k];
        assert_int_equal(tr_softmax_fit(X, n, d, y, T, &p, &m[k], err, sizeof err), TR_OK);
    }
    for (int k = 1; k < 3; k++) {
        assert_memory_equal(m[0]->W, m[k]->W, T * d * sizeof(float));
        assert_memory_equal(m[0]->b, m[k]->b, T * sizeof(float));
    }
    for (int k = 0; k < 3; k++) tr_softmax_free(m[k]);
    free(X); free(y);
}

/* The largest difference between two models' probabilities on n rows. */
static double max_prob_gap(const tr_softmax *a, const tr_softmax *b, const float *X, size_t n)
{
    float pa[8], pb[8];
    double gap = 0;
    for (size_t i = 0; i < n; i++) {
        tr_softmax_predict(a, X + i * a->d, pa);
        tr_softmax_predict(b, X + i * b->d, pb);
        for (size_t t = 0; t < a->T; t++) gap = fmax(gap, fabs((double)pa[t] - pb[t]));
    }
    return gap;
}

/* A fit started from a model of the same data ends where a cold fit does;
 * a start of the wrong shape is refused. */
static void test_warm_start(void **state)
{
    (void)state;
    size_t n = 3000, d = 16, T = 4;
    int32_t *y;
    tr_softmax_params p;
    float *X = fixture(n, d, T, 0.5, 4, 1e-3, &y, &p);
    tr_softmax *cold = NULL, *warm = NULL, *half = NULL, *short_warm = NULL, *other = NULL;
    char err[256];
    assert_int_equal(tr_softmax_fit(X, n, d, y, T, &p, &cold, err, sizeof err), TR_OK);
    /* from a model of the first half of the rows, fit on all of them */
    assert_int_equal(tr_softmax_fit(X, n / 2, d, y, T, &p, &half, err, sizeof err), TR_OK);
    p.init = half;
    assert_int_equal(tr_softmax_fit(X, n, d, y, T, &p, &warm, err, sizeof err), TR_OK);
    double dwarm = max_prob_gap(cold, warm, X, n), dhalf = max_prob_gap(cold, half, X, n);
    print_message("warm vs cold: max |dp| %.2e (the start: %.2e)\n", dwarm, dhalf);
    assert_true(dhalf > 1e-3);   /* the start is not already the answer */
    assert_true(dwarm < 1e-3);
    /* the start is used: two iterations from the answer stay at it */
    p.init = cold;
    p.max_iter = 2;
    assert_int_equal(tr_softmax_fit(X, n, d, y, T, &p, &short_warm, err, sizeof err), TR_OK);
    assert_true(max_prob_gap(cold, short_warm, X, n) < 1e-3);
    assert_int_equal(tr_softmax_fit(X, n, d - 1, y, T, &p, &other, err, sizeof err), TR_EINVAL);
    assert_null(other);
    assert_non_null(strstr(err, "starting model"));
    tr_softmax_free(cold); tr_softmax_free(warm); tr_softmax_free(half); tr_softmax_free(short_warm);
    free(X); free(y);
}

static void test_save_load(void **state)
{
    (void)state;
    size_t n = 600, d = 16, T = 4;
    int32_t *y;
    tr_softmax_params p;
    float *X = fixture(n, d, T, 0.2, 2, 1e-3, &y, &p);
    tr_softmax *m = NULL, *m2 = NULL;
    char err[256];
    assert_int_equal(tr_softmax_fit(X, n, d, y, T, &p, &m, err, sizeof err), TR_OK);
    assert_true(m->l2 == 1e-3);
    tr_buf b;
    tr_buf_init(&b);
    tr_softmax_save(m, &b);
    assert_int_equal(tr_buf_ok(&b), TR_OK);
    tr_cursor c;
    tr_cursor_init(&c, b.data, b.len);
    assert_int_equal(tr_softmax_load(&c, &m2, err, sizeof err), TR_OK);
    assert_int_equal(c.left, 0);
    float p1[4], p2[4];
    for (size_t i = 0; i < n; i++) {
        tr_softmax_predict(m, X + i * d, p1);
        tr_softmax_predict(m2, X + i * d, p2);
        assert_memory_equal(p1, p2, sizeof p1);
    }
    tr_softmax_free(m2);
    /* every truncation is an error, never a crash */
    for (size_t len = 0; len < b.len; len += (len < 32 ? 1 : 97)) {
        tr_cursor_init(&c, b.data, len);
        int rc = tr_softmax_load(&c, &m2, err, sizeof err);
        assert_int_equal(rc, TR_ETRUNC);
        assert_null(m2);
        assert_non_null(strstr(err, "classifier: truncated"));
    }
    tr_cursor_init(&c, b.data, b.len - 1);
    assert_int_equal(tr_softmax_load(&c, &m2, err, sizeof err), TR_ETRUNC);
    assert_string_equal(err, "classifier: truncated: weights for T=4 d=16 need 272 bytes, 271 left");
    /* a newer version and absurd sizes are refused */
    b.data[0] = 9;
    tr_cursor_init(&c, b.data, b.len);
    assert_int_equal(tr_softmax_load(&c, &m2, err, sizeof err), TR_EVERSION);
    assert_string_equal(err, "classifier: format version 9, this build reads 1");
    b.data[0] = 1;
    b.data[4] = 0; /* T = 0 */
    tr_cursor_init(&c, b.data, b.len);
    assert_int_equal(tr_softmax_load(&c, &m2, err, sizeof err), TR_EFORMAT);
    assert_string_equal(err, "classifier: bad sizes T=0 d=16");
    tr_buf_free(&b);
    tr_softmax_free(m);
    free(X); free(y);
}

static void test_bad_input(void **state)
{
    (void)state;
    float X[3 * 2] = {1, 0, 0, 1, 1, 0};
    int32_t y[3] = {0, 1, 2};
    tr_softmax *m = NULL;
    char err[256];
    assert_int_equal(tr_softmax_fit(X, 3, 2, y, 2, NULL, &m, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "softmax: label 2 of row 2 not in [0, 2)");
    assert_int_equal(tr_softmax_fit(X, 0, 2, y, 2, NULL, &m, err, sizeof err), TR_ETOOFEW);
    assert_string_equal(err, "softmax: no training rows (n=0)");
    y[2] = 0;
    X[3] = NAN;
    assert_int_equal(tr_softmax_fit(X, 3, 2, y, 2, NULL, &m, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "softmax: row 1 has a non-finite value at column 1");
    assert_null(m);
    X[3] = 1;
    tr_alloc_fail_after(1);
    int rc = tr_softmax_fit(X, 3, 2, y, 2, NULL, &m, err, sizeof err);
    tr_alloc_fail_after(-1);
    assert_int_equal(rc, TR_ENOMEM);
    assert_null(m);
    /* one class: probability 1 */
    int32_t y0[3] = {0, 0, 0};
    assert_int_equal(tr_softmax_fit(X, 3, 2, y0, 1, NULL, &m, err, sizeof err), TR_OK);
    float pr[1];
    tr_softmax_predict(m, X, pr);
    assert_true(fabsf(pr[0] - 1) < 1e-6f);
    tr_softmax_free(m);
    tr_softmax_free(NULL);
}

static void test_ece(void **state)
{
    (void)state;
    float conf[4] = {0.95f, 0.95f, 0.55f, 0.55f};
    unsigned char ok[4] = {1, 1, 1, 0};
    /* bin 9: conf .95 acc 1 -> .05*2/4; bin 5: conf .55 acc .5 -> .05*2/4 */
    assert_true(fabs(tr_ece_binary(conf, ok, 4, 10) - 0.05) < 1e-6);
    unsigned char all[4] = {1, 1, 1, 1};
    float one[4] = {1, 1, 1, 1};
    assert_true(tr_ece_binary(one, all, 4, 10) < 1e-12);
    assert_true(tr_ece_binary(conf, ok, 0, 10) == 0);
    float P[2 * 3] = {0.2f, 0.5f, 0.3f, 0.6f, 0.2f, 0.2f};
    int32_t y[2] = {1, 2};
    assert_true(fabs(tr_accuracy(P, 2, 3, y) - 0.5) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_predict),
        cmocka_unit_test(test_threads_same_model),
        cmocka_unit_test(test_warm_start),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_ece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
