/* The heads' sums: heads trained on a sample, given the sums of every row
 * added up over three blocks (as ranks would), get the parameters of the
 * heads fitted on every row (priors, costs, length model, surface
 * standardisation, the three ridge fits); the kNN store set from rows is
 * the one training builds; bad inputs are refused. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "heads/heads.h"
#include "heads/heads_impl.h"
#include "heads/heads_sums.h"
#include "heads_synth.h"

static const float K5x4[20] = {
    0.90f, 0.60f, 0.30f, 0.20f,
    0.50f, 0.85f, 0.40f, 0.10f,
    0.30f, 0.30f, 0.80f, 0.50f,
    0.70f, 0.20f, 0.20f, 0.75f,
    0.95f, 0.90f, 0.85f, 0.30f,
};
static const float PRICE4[4] = {1e-6f, 2e-6f, 5e-6f, 1e-5f};

typedef struct fixture {
    synth s;
    float *surf;       /* n x TR_HEADS_SURF */
    tr_heads_params p;
} fixture;

/* Synthetic rows with missing scores and costs and raw surface features of
 * several scales, one of them constant. */
static void make(fixture *f)
{
    size_t sizes[5] = {420, 300, 360, 240, 180};
    synth_make(&f->s, 5, 4, 16, sizes, K5x4, PRICE4, 0.8f, 1, 0.2f, 7);
    size_t n = f->s.n, M = f->s.M;
    tr_rng r;
    tr_rng_seed(&r, 11);
    f->surf = malloc(n * TR_HEADS_SURF * sizeof *f->surf);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < TR_HEADS_SURF; k++)
            f->surf[i * TR_HEADS_SURF + k] = (float)((double)(k + 1) * 100 * tr_rng_uniform(&r)) + 5000;
        f->surf[i * TR_HEADS_SURF + 0] += 1000.0f * (float)f->s.y[i];   /* the sample's mean is off */
        f->surf[i * TR_HEADS_SURF + 3] = 7;   /* constant: scale 0 */
        f->surf[i * TR_HEADS_SURF + 4] = f->s.L[i];
        if (i % 7 == 3) f->s.S[i * M + 2] = NAN;   /* model 2 lacks a seventh of its scores */
        if (i % 11 == 5) f->s.C[i * M + 1] = NAN;
    }
    tr_heads_params_default(&f->p);
    f->p.n_ridge_alphas = 1;   /* both fits use the same penalty */
    f->p.surf = f->surf;
    f->p.knn_cap = 0;
    f->p.threads = 1;
}

static void fixture_free(fixture *f)
{
    synth_free(&f->s);
    free(f->surf);
}

static void close_arr(const float *a, const float *b, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (!(isnan(a[i]) && isnan(b[i]))) fail_msg("%s[%zu]: %g vs %g", what, i, a[i], b[i]);
            continue;
        }
        if (fabs((double)a[i] - b[i]) > tol * (1 + fabs((double)b[i])))
            fail_msg("%s[%zu]: %.9g vs %.9g", what, i, a[i], b[i]);
    }
}

/* The "sample" the heads are trained on: a third of the first 1000 rows, a
 * ninth of the rest, so its tasks' shares and its means are off. */
static int in_sample(size_t i) { return i % (i < 1000 ? 3 : 9) == 0; }

static tr_heads *train_sample(const fixture *f)
{
    const synth *s = &f->s;
    size_t n = 0, d = s->d, T = s->T, M = s->M;
    for (size_t i = 0; i < s->n; i++) n += in_sample(i);
    float *X = malloc(n * d * sizeof *X), *P = malloc(n * T * sizeof *P), *S = malloc(n * M * sizeof *S);
    float *C = malloc(n * M * sizeof *C), *L = malloc(n * sizeof *L), *Z = malloc(n * TR_HEADS_SURF * sizeof *Z);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0, k = 0; i < s->n; i++) {
        if (!in_sample(i)) continue;
        memcpy(X + k * d, s->X + i * d, d * sizeof *X);
        memcpy(P + k * T, s->P + i * T, T * sizeof *P);
        memcpy(S + k * M, s->S + i * M, M * sizeof *S);
        memcpy(C + k * M, s->C + i * M, M * sizeof *C);
        memcpy(Z + k * TR_HEADS_SURF, f->surf + i * TR_HEADS_SURF, TR_HEADS_SURF * sizeof *Z);
        L[k] = s->L[i];
        y[k] = s->y[i];
        k++;
    }
    tr_heads_params p = f->p;
    p.surf = Z;
    tr_heads *h = NULL;
    char err[256];
    int rc = tr_heads_train(X, P, y, n, d, T, S, C, L, M, &p, &h, err, sizeof err);
    if (rc) fail_msg("%s", err);
    free(X); free(P); free(S); free(C); free(L); free(Z); free(y);
    return h;
}

/* The sums of rows [i0, i1) into a fresh accumulator shaped for h. */
static void sums_of(const fixture *f, const tr_heads *h, size_t i0, size_t i1, tr_heads_sums *out)
{
    const synth *s = &f->s;
    char err[256];
    assert_int_equal(tr_heads_sums_init(out, h, err, sizeof err), TR_OK);
    assert_int_equal(tr_heads_sums_add(out, s->X + i0 * s->d, f->surf + i0 * TR_HEADS_SURF, s->S + i0 * s->M,
                                       s->C + i0 * s->M, s->L + i0, s->y + i0, i1 - i0, err, sizeof err), TR_OK);
}

static void test_three_blocks_equal_the_full_fit(void **state)
{
    (void)state;
    fixture f;
    make(&f);
    const synth *s = &f.s;
    char err[256];
    tr_heads *full = NULL;
    assert_int_equal(tr_heads_train(s->X, s->P, s->y, s->n, s->d, s->T, s->S, s->C, s->L, s->M, &f.p, &full,
                                    err, sizeof err), TR_OK);
    tr_heads *h = train_sample(&f);
    assert_non_null(h->ridge);
    assert_non_null(h->ridge_surf);
    assert_non_null(h->sup_W);
    assert_non_null(h->cab);
    /* three blocks of unequal size, combined as MPI_Allreduce would */
    tr_heads_sums a, b, c;
    sums_of(&f, h, 0, 500, &a);
    sums_of(&f, h, 500, 510, &b);
    sums_of(&f, h, 510, s->n, &c);
    for (size_t i = 0; i < a.n_sum; i++) a.sum[i] += b.sum[i] + c.sum[i];
    for (size_t m = 0; m < a.M; m++) a.cmin[m] = fmin(a.cmin[m], fmin(b.cmin[m], c.cmin[m]));
    assert_int_equal(tr_heads_sums_apply(h, &a, err, sizeof err), TR_OK);
    size_t T = s->T, M = s->M, d = s->d;
    close_arr(h->prior, full->prior, T * M, 1e-6, "prior");
    close_arr(h->gmean, full->gmean, M, 1e-6, "gmean");
    close_arr(h->ctask, full->ctask, T * M, 1e-6, "ctask");
    close_arr(h->cgmean, full->cgmean, M, 1e-6, "cgmean");
    close_arr(h->cab, full->cab, 2 * M, 1e-5, "cab");
    close_arr(h->cres, full->cres, T * M, 1e-5, "cres");
    close_arr(h->cmin, full->cmin, M, 0, "cmin");
    close_arr(h->surf_mean, full->surf_mean, h->nsurf, 1e-6, "surf_mean");
    close_arr(h->surf_scale, full->surf_scale, h->nsurf, 1e-5, "surf_scale");
    assert_true(h->surf_scale[3] == 0);
    assert_true(h->ridge_alpha == full->ridge_alpha && h->sup_alpha == full->sup_alpha && h->rs_alpha == full->rs_alpha);
    close_arr(h->ridge, full->ridge, M * (d + 1), 1e-4, "ridge");
    close_arr(h->sup_W, full->sup_W, M * (d + 1), 1e-4, "sup_W");
    close_arr(h->ridge_surf, full->ridge_surf, M * (d + 1 + h->nsurf), 1e-3, "ridge_surf");
    /* the kNN store from every row is the one training built */
    assert_int_equal(tr_heads_set_knn_store(h, s->X, s->S, s->P, s->y, s->n, err, sizeof err), TR_OK);
    assert_int_equal(h->knn_n, full->knn_n);
    assert_memory_equal(h->knn_off, full->knn_off, (T + 1) * sizeof *h->knn_off);
    assert_memory_equal(h->knn_Xh, full->knn_Xh, (size_t)h->knn_n * d * sizeof *h->knn_Xh);
    close_arr(h->knn_Z, full->knn_Z, (size_t)h->knn_n * M, 1e-3, "knn_Z");
    /* and so do the raw predictions of the sum-based variants */
    float scr[4096], q1[4], q2[4];
    assert_true(tr_heads_scratch_floats(h) <= 4096 && tr_heads_scratch_floats(full) <= 4096);
    for (size_t i = 0; i < s->n; i += 97) {
        static const int qv[] = {TR_QV_PRIOR_SOFT, TR_QV_RIDGE, TR_QV_RIDGE_SURF, TR_QV_KNN_SUP};
        for (size_t v = 0; v < 4; v++) {
            assert_int_equal(tr_heads_predict_variant(h, qv[v], TR_CV_LEN, s->X + i * d, s->P + i * T,
                                                      (size_t)s->L[i], f.surf + i * TR_HEADS_SURF, q1, NULL, NULL, scr), TR_OK);
            assert_int_equal(tr_heads_predict_variant(full, qv[v], TR_CV_LEN, s->X + i * d, s->P + i * T,
                                                      (size_t)s->L[i], f.surf + i * TR_HEADS_SURF, q2, NULL, NULL, scr), TR_OK);
            close_arr(q1, q2, M, 1e-3, tr_qvariant_name(qv[v]));
        }
    }
    tr_heads_sums_free(&a); tr_heads_sums_free(&b); tr_heads_sums_free(&c);
    tr_heads_free(h);
    tr_heads_free(full);
    fixture_free(&f);
}

static void test_bad_input(void **state)
{
    (void)state;
    fixture f;
    make(&f);
    tr_heads *h = train_sample(&f);
    char err[256];
    tr_heads_sums a;
    assert_int_equal(tr_heads_sums_init(&a, h, err, sizeof err), TR_OK);
    int32_t y[2] = {0, 9};
    assert_int_equal(tr_heads_sums_add(&a, f.s.X, f.surf, f.s.S, f.s.C, f.s.L, y, 2, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "task 9"));
    assert_int_equal(tr_heads_sums_add(&a, NULL, f.surf, f.s.S, f.s.C, f.s.L, f.s.y, 2, err, sizeof err), TR_EINVAL);
    a.T++;
    assert_int_equal(tr_heads_sums_apply(h, &a, err, sizeof err), TR_EINVAL);
    a.T--;
    /* no rows at all: the priors fall back to NaN, nothing crashes */
    assert_int_equal(tr_heads_sums_apply(h, &a, err, sizeof err), TR_OK);
    assert_true(isnan(h->gmean[0]));
    tr_heads_sums_free(&a);
    tr_heads_sums_free(&a);   /* twice is harmless */
    tr_heads_free(h);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_blocks_equal_the_full_fit),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
