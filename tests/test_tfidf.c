/* Piece n-gram TF-IDF: exact weights on a hand-computed example, the
 * deterministic feature order, min_df / max_features, the CSR matrix, the
 * allocation-free sort, and the serialised table refusing corrupt bytes. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "embed/tfidf.h"

/* docs: [5 6 5] [5 7] [6 7 7] [5] */
static const int32_t ids[] = {5, 6, 5, 5, 7, 6, 7, 7, 5};
static const size_t off[] = {0, 3, 5, 8, 9};

static tr_features *fit(int min_df, size_t maxf, int bigrams)
{
    tr_features *f = NULL;
    char err[256] = "";
    int rc = tr_features_fit(ids, off, 4, min_df, maxf, bigrams, &f, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, TR_OK);
    return f;
}

static void test_unigram_weights(void **state)
{
    (void)state;
    tr_features *f = fit(1, 100, 0);
    /* df 5:3, 6:2, 7:2 -> order 5, 6, 7 (df desc, then key) */
    assert_int_equal(f->n_feat, 3);
    assert_true(f->keys[0] == tr_feat_key(5, -1) && f->keys[1] == tr_feat_key(6, -1) &&
                f->keys[2] == tr_feat_key(7, -1));
    /* smooth idf: ln((1+4)/(1+df)) + 1 */
    assert_float_equal(f->idf[0], 1.2231435513142097, 1e-6);
    assert_float_equal(f->idf[1], 1.5108256237659907, 1e-6);
    int32_t idx[8]; float val[8]; size_t nnz;
    tr_features_vectorize(f, ids, 3, idx, val, &nnz);   /* [5 6 5] */
    assert_int_equal(nnz, 2);
    assert_int_equal(idx[0], 0); assert_int_equal(idx[1], 1);
    /* (1 + ln 2) * idf5 and idf6, L2-normalised */
    assert_float_equal(val[0], 0.8078683906158031, 1e-6);
    assert_float_equal(val[1], 0.5893629301574982, 1e-6);
    tr_features_vectorize(f, ids + 5, 3, idx, val, &nnz); /* [6 7 7] */
    assert_int_equal(nnz, 2);
    assert_int_equal(idx[0], 1); assert_int_equal(idx[1], 2);
    assert_float_equal(val[0], 0.5085423203783268, 1e-6);
    assert_float_equal(val[1], 0.8610369959439764, 1e-6);
    /* unknown pieces only: no feature, nnz 0 */
    int32_t unk[] = {99, 100};
    tr_features_vectorize(f, unk, 2, idx, val, &nnz);
    assert_int_equal(nnz, 0);
    assert_int_equal(tr_features_lookup(f, tr_feat_key(99, -1)), -1);
    tr_features_free(f);
}

static void test_bigrams_order_and_limits(void **state)
{
    (void)state;
    tr_features *f = fit(1, 100, 1);
    uint64_t want[] = {tr_feat_key(5, -1), tr_feat_key(6, -1), tr_feat_key(7, -1),
                       tr_feat_key(5, 6), tr_feat_key(5, 7), tr_feat_key(6, 5),
                       tr_feat_key(6, 7), tr_feat_key(7, 7)};
    assert_int_equal(f->n_feat, 8);
    for (int i = 0; i < 8; i++) assert_true(f->keys[i] == want[i]);
    assert_int_equal(tr_feat_key_first(want[3]), 5);
    assert_int_equal(tr_feat_key_second(want[3]), 6);
    assert_int_equal(tr_feat_key_second(want[0]), -1);
    int32_t idx[8]; float val[8]; size_t nnz;
    tr_features_vectorize(f, ids, 3, idx, val, &nnz);     /* [5 6 5]: u5 x2, u6, b56, b65 */
    assert_int_equal(nnz, 4);
    int32_t wi[] = {0, 1, 3, 5};
    double wv[] = {0.555159489756873, 0.4050046113803873, 0.5136969951700661, 0.5136969951700661};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(idx[i], wi[i]);
        assert_float_equal(val[i], wv[i], 1e-6);
    }
    tr_features_free(f);

    /* min_df 2 drops every bigram; max_features 2 keeps the two most frequent */
    f = fit(2, 100, 1);
    assert_int_equal(f->n_feat, 3);
    tr_features_free(f);
    f = fit(1, 2, 1);
    assert_int_equal(f->n_feat, 2);
    assert_true(f->keys[1] == tr_feat_key(6, -1));
    tr_features_free(f);

    tr_features *g = NULL; char err[256];
    assert_int_equal(tr_features_fit(ids, off, 4, 5, 100, 1, &g, err, sizeof err), TR_ETOOFEW);
    assert_null(g);
    assert_non_null(strstr(err, "in 5 or more of the 4 prompts"));
}

static void test_csr(void **state)
{
    (void)state;
    tr_features *f = fit(1, 100, 0);
    tr_csr m;
    assert_int_equal(tr_features_transform(f, ids, off, 4, &m, NULL, 0), TR_OK);
    assert_int_equal(m.n_rows, 4);
    assert_int_equal(m.n_cols, 3);
    assert_int_equal(m.nnz, 2 + 2 + 2 + 1);
    size_t want_ptr[] = {0, 2, 4, 6, 7};
    for (int i = 0; i < 5; i++) assert_int_equal(m.indptr[i], want_ptr[i]);
    assert_int_equal(m.idx[6], 0);
    assert_float_equal(m.val[6], 1.0, 1e-7);        /* [5] alone: unit weight */
    for (size_t i = 0; i < 4; i++) {                /* every row unit norm */
        double s = 0;
        for (size_t z = m.indptr[i]; z < m.indptr[i + 1]; z++) s += (double)m.val[z] * m.val[z];
        assert_float_equal(s, 1.0, 1e-6);
    }
    tr_csr_free(&m);
    tr_features_free(f);
}

static void test_sort(void **state)
{
    (void)state;
    tr_rng r;
    tr_rng_seed(&r, 3);
    for (size_t n = 0; n < 300; n += 7) {
        int32_t a[300];
        for (size_t i = 0; i < n; i++) a[i] = (int32_t)tr_rng_below(&r, 50) - 25;
        tr_sort_i32(a, n);
        for (size_t i = 1; i < n; i++) assert_true(a[i - 1] <= a[i]);
    }
}

/* A long document over more than 256 features takes the radix-sort path
 * (two passes): indices strictly ascending, each weight (1 + ln tf) idf
 * before normalisation, exactly as the short-document path computes it. */
static void test_vectorize_long_document(void **state)
{
    (void)state;
    enum { V = 700, NDOC = 60, LEN = 400 };
    static int32_t corpus[NDOC * LEN];
    static size_t coff[NDOC + 1];
    tr_rng r;
    tr_rng_seed(&r, 11);
    for (size_t i = 0; i < NDOC * LEN; i++) corpus[i] = (int32_t)tr_rng_below(&r, V);
    for (size_t d = 0; d <= NDOC; d++) coff[d] = d * LEN;
    tr_features *f = NULL;
    char err[256] = "";
    assert_int_equal(tr_features_fit(corpus, coff, NDOC, 1, 100000, 0, &f, err, sizeof err), TR_OK);
    assert_true(f->n_feat > 256);
    static int32_t idx[2 * LEN + 1];
    static float val[2 * LEN + 1];
    size_t nnz = 0;
    tr_features_vectorize(f, corpus, LEN, idx, val, &nnz);
    int tf[V] = {0};
    size_t distinct = 0;
    for (size_t i = 0; i < LEN; i++) distinct += tf[corpus[i]]++ == 0;
    assert_int_equal(nnz, distinct);
    double ss = 0;
    for (size_t z = 0; z < nnz; z++) {
        if (z) assert_true(idx[z - 1] < idx[z]);
        int32_t piece = tr_feat_key_first(f->keys[idx[z]]);
        double w = (1.0 + log((double)tf[piece])) * f->idf[idx[z]];
        ss += w * w;
    }
    for (size_t z = 0; z < nnz; z++) {
        int32_t piece = tr_feat_key_first(f->keys[idx[z]]);
        double w = (1.0 + log((double)tf[piece])) * f->idf[idx[z]] / sqrt(ss);
        assert_float_equal(val[z], w, 1e-6);
    }
    tr_features_free(f);
}

/* The term weight's table of logarithms is log() itself, bit for bit. */
static void test_tf_weight(void **state)
{
    (void)state;
    assert_true(tr_features_tf_weight(1) == 1.0);
    for (size_t tf = 2; tf <= 100; tf++) assert_true(tr_features_tf_weight(tf) == 1.0 + log((double)tf));
}

static void test_save_load_corrupt(void **state)
{
    (void)state;
    tr_features *f = fit(1, 100, 1);
    tr_buf b;
    tr_buf_init(&b);
    tr_features_save(f, &b);
    assert_int_equal(tr_buf_ok(&b), TR_OK);
    tr_cursor c;
    tr_features *g = NULL;
    char err[256];
    tr_cursor_init(&c, b.data, b.len);
    assert_int_equal(tr_features_load(&c, 10, &g, err, sizeof err), TR_OK);
    assert_int_equal(c.left, 0);
    assert_int_equal(g->n_feat, f->n_feat);
    assert_memory_equal(g->keys, f->keys, f->n_feat * 8);
    assert_memory_equal(g->idf, f->idf, f->n_feat * 4);
    assert_int_equal(tr_features_lookup(g, tr_feat_key(6, 7)), 6);
    tr_features_free(g);

    /* pieces outside the model's vocabulary */
    tr_cursor_init(&c, b.data, b.len);
    assert_int_equal(tr_features_load(&c, 6, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "outside a vocabulary of 6"));
    /* every truncation: an error, never a crash */
    for (size_t cut = 0; cut < b.len; cut++) {
        tr_cursor_init(&c, b.data, cut);
        assert_int_not_equal(tr_features_load(&c, 10, &g, err, sizeof err), TR_OK);
        assert_null(g);
    }
    /* a huge count */
    unsigned char *bad = malloc(b.len);
    memcpy(bad, b.data, b.len);
    memset(bad + 12, 0x7f, 4);
    tr_cursor_init(&c, bad, b.len);
    assert_int_equal(tr_features_load(&c, 10, &g, err, sizeof err), TR_EFORMAT);
    /* a repeated key */
    memcpy(bad, b.data, b.len);
    memcpy(bad + 20 + 8, bad + 20, 8);
    tr_cursor_init(&c, bad, b.len);
    assert_int_equal(tr_features_load(&c, 10, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "repeated"));
    /* a NaN weight */
    memcpy(bad, b.data, b.len);
    memset(bad + b.len - 4, 0xff, 4);
    tr_cursor_init(&c, bad, b.len);
    assert_int_equal(tr_features_load(&c, 10, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "IDF"));
    free(bad);
    tr_buf_free(&b);
    tr_features_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unigram_weights),
        cmocka_unit_test(test_bigrams_order_and_limits),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_vectorize_long_document),
        cmocka_unit_test(test_tf_weight),
        cmocka_unit_test(test_save_load_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
