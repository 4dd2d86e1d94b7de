/* The embedder end to end: unit vectors that put same-topic prompts close,
 * determinism (seed, thread counts), save/load giving bit-identical
 * embeddings, golden values pinning the tokenizer + features + projection
 * (they are file format), corrupt sections refused, the sparse view, and
 * the helper that normalises caller embeddings. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "embed/embedder.h"
#include "embed/spm.h"
#include "kernels/half.h"

#define NT 4
#define PER 40
static const char *topics[NT][8] = {
    {"integral", "derivative", "equation", "matrix", "polynomial", "théorème", "limit", "vector"},
    {"recipe", "bake", "flour", "oven", "butter", "crème brûlée", "sugar", "dough"},
    {"function", "compile", "pointer", "Python", "segfault", "thread", "loop", "array"},
    {"empire", "war", "dynasty", "treaty", "中文 历史", "revolution", "king", "medieval"},
};
static const char *frames[] = {
    "Explain the %s and the %s briefly.",
    "How does a %s relate to a %s? 😀",
    "Question: which %s best describes the %s?",
    "Write about %s, then %s, in detail.",
};

static char *texts[NT * PER];
static size_t lens[NT * PER];

static int setup(void **state)
{
    (void)state;
    tr_rng r;
    tr_rng_seed(&r, 1);
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < PER; i++) {
            char buf[256];
            snprintf(buf, sizeof buf, frames[tr_rng_below(&r, 4)], topics[t][tr_rng_below(&r, 8)],
                     topics[t][tr_rng_below(&r, 8)]);
            texts[t * PER + i] = strdup(buf);
            lens[t * PER + i] = strlen(buf);
        }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NT * PER; i++) free(texts[i]);
    return 0;
}

static tr_embedder *fit_proj(int threads, int dim, int projection)
{
    tr_embed_params p;
    tr_embed_params_default(&p);
    p.vocab_size = 300;
    p.dim = dim;
    p.threads = threads;
    p.projection = projection;
    tr_embedder *e = NULL;
    char err[512] = "";
    int rc = tr_embedder_fit((const char *const *)texts, lens, NT * PER, &p, &e, err, sizeof err);
    if (rc) print_error("fit: %s\n", err);
    assert_int_equal(rc, TR_OK);
    return e;
}

/* The default: an int8 projection (format 5). */
static tr_embedder *fit(int threads, int dim) { return fit_proj(threads, dim, TR_PROJ_INT8); }

static void embed1(const tr_embedder *e, const char *s, float *out)
{
    size_t sb = tr_embedder_scratch_bytes(e, strlen(s));
    void *scr = malloc(sb);
    assert_int_equal(tr_embedder_embed(e, s, strlen(s), out, scr, sb), TR_OK);
    free(scr);
}

static double dot(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

static void test_fit_and_embed(void **state)
{
    (void)state;
    tr_embedder *e = fit(2, 16);
    size_t d = tr_embedder_dim(e);
    assert_int_equal(d, 16);
    assert_true(tr_embedder_vocab_size(e) <= 300 && tr_embedder_vocab_size(e) > 50);
    assert_true(tr_embedder_feature_count(e) > 50);
    const float *S = tr_embedder_singular_values(e);
    for (size_t i = 1; i < d; i++) assert_true(S[i - 1] >= S[i] && S[i] > 0);

    /* same-topic prompts are closer than other-topic ones, on average */
    size_t n = NT * PER;
    float *all = malloc(n * d * sizeof *all), z[16];
    assert_int_equal(tr_embedder_embed_batch(e, (const char *const *)texts, lens, n, all, 2, NULL, 0), TR_OK);
    /* each prompt's 5 nearest neighbours mostly share its topic (chance: 25%) */
    size_t agree = 0;
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(dot(all + i * d, all + i * d, d), 1.0, 1e-5);
        double best[5] = {-2, -2, -2, -2, -2}; size_t who[5] = {0};
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double c = dot(all + i * d, all + j * d, d);
            for (int k = 0; k < 5; k++)
                if (c > best[k]) {
                    for (int m = 4; m > k; m--) { best[m] = best[m - 1]; who[m] = who[m - 1]; }
                    best[k] = c; who[k] = j;
                    break;
                }
        }
        for (int k = 0; k < 5; k++) agree += who[k] / PER == i / PER;
    }
    print_message("5-NN topic agreement %.3f\n", (double)agree / (5.0 * n));
    assert_true(agree > 0.8 * 5 * n);
    free(all);
    /* no known feature: all zeros */
    embed1(e, "", z);
    for (size_t i = 0; i < d; i++) assert_true(z[i] == 0.0f);

    /* scratch too small: refused */
    float o[16]; char small[8];
    assert_int_equal(tr_embedder_embed(e, "abc", 3, o, small, sizeof small), TR_EINVAL);

    /* the dimension is capped by the corpus */
    tr_embedder *big = fit(1, 4096);
    assert_true(tr_embedder_dim(big) <= NT * PER);
    assert_int_equal(tr_embedder_params(big)->dim, (int)tr_embedder_dim(big));
    tr_embedder_free(big);
    tr_embedder_free(e);
}

static void save(const tr_embedder *e, tr_buf *b)
{
    tr_buf_init(b);
    assert_int_equal(tr_embedder_save(e, b), TR_OK);
}

static void test_determinism(void **state)
{
    (void)state;
    tr_embedder *e1 = fit(1, 16), *e2 = fit(2, 16);
    tr_buf b1, b2;
    save(e1, &b1); save(e2, &b2);
    /* the same seed, 1 or 2 threads: the same bytes */
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);

    size_t n = NT * PER, d = tr_embedder_dim(e1);
    float *o1 = malloc(n * d * 4), *o2 = malloc(n * d * 4), one[16];
    assert_int_equal(tr_embedder_embed_batch(e1, (const char *const *)texts, lens, n, o1, 1, NULL, 0), TR_OK);
    assert_int_equal(tr_embedder_embed_batch(e1, (const char *const *)texts, lens, n, o2, 3, NULL, 0), TR_OK);
    assert_memory_equal(o1, o2, n * d * 4);
    embed1(e1, texts[77], one);
    assert_memory_equal(one, o1 + 77 * d, d * 4);
    free(o1); free(o2);
    tr_buf_free(&b1); tr_buf_free(&b2);
    tr_embedder_free(e1); tr_embedder_free(e2);
}

static const char *probes[] = {"Explain the théorème and the limit.", "中文 历史 and the king 😀", "segfault"};

/* The first 4 coordinates of text's embedding, to 1e-5. */
static void expect_golden(const tr_embedder *e, const char *text, const float golden[4])
{
    float x[8];
    embed1(e, text, x);
    for (int i = 0; i < 4; i++) assert_float_equal(x[i], golden[i], 1e-5);
}

/* Section b (format 5, half storage, word rule) rewritten as format ver
 * (4, 3 or 2): without the storage and rule fields, and for 3 and 2 the
 * half projection widened to float; the rest as it is. */
static void old_format(const tr_embedder *e, const tr_buf *b, unsigned ver, tr_buf *out)
{
    size_t nv = tr_embedder_feature_count(e) * tr_embedder_dim(e), wc = tr_embedder_word_cache_bytes(e);
    size_t pre = b->len - wc - 4 - 2 * nv - 4;   /* | u32 storage | f16 V | u32 rule | word cache */
    assert_int_equal(b->data[0], 5);
    assert_int_equal(b->data[pre], 2);                    /* half */
    assert_int_equal(b->data[b->len - wc - 4], 2);        /* TR_TOK_UTF8_WORDS */
    tr_buf_init(out);
    tr_buf_u32(out, ver);
    tr_buf_put(out, b->data + 4, pre - 4);
    for (size_t i = 0; i < nv; i++) {
        const unsigned char *q = b->data + pre + 4 + 2 * i;
        if (ver == 4) tr_buf_put(out, q, 2);
        else tr_buf_f32(out, tr_half_to_float((uint16_t)(q[0] | q[1] << 8)));
    }
    tr_buf_put(out, b->data + b->len - wc, wc);
    assert_int_equal(tr_buf_ok(out), TR_OK);
}

/* Saved and loaded: the same embeddings bit for bit, the same feature texts;
 * the first 4 coordinates of the probes' embeddings are golden values. */
static tr_embedder *round_trip(const tr_embedder *e, const tr_buf *b, const float golden[2][4])
{
    tr_embedder *g = NULL;
    char err[512];
    assert_int_equal(tr_embedder_load(b->data, b->len, &g, err, sizeof err), TR_OK);
    assert_int_equal(tr_embedder_dim(g), 8);
    assert_int_equal(tr_embedder_feature_count(g), tr_embedder_feature_count(e));
    assert_int_equal(tr_embedder_params(g)->projection, tr_embedder_params(e)->projection);
    for (int i = 0; i < 3; i++) {
        float x[8], y[8];
        embed1(e, probes[i], x);
        embed1(g, probes[i], y);
        assert_memory_equal(x, y, sizeof x);   /* bit-identical */
    }
    for (size_t f = 0; f < tr_embedder_feature_count(e); f++)
        assert_string_equal(tr_embedder_feature_text(e, f), tr_embedder_feature_text(g, f));
    assert_null(tr_embedder_feature_text(g, tr_embedder_feature_count(g)));
    if (getenv("TR_PRINT_GOLDEN")) {
        float x[8];
        for (int i = 0; i < 2; i++) {
            embed1(g, probes[i], x);
            printf("format %u golden%d %.7f %.7f %.7f %.7f\n", b->data[0], i, x[0], x[1], x[2], x[3]);
        }
    }
    expect_golden(g, probes[0], golden[0]);
    expect_golden(g, probes[1], golden[1]);
    return g;
}

static void test_save_load_golden(void **state)
{
    (void)state;
    /* Golden values: a change here changes what existing router files mean.
     * Update them only together with the embedder format version.  golden5:
     * int8 rows (q8.h, format 5's default); golden4: halves (half.h), in
     * format 5 with half storage as in format 4;
     * format 3's values were {0.3361664, 0.1986680, 0.7685896, -0.3893643}
     * and {0.2523097, 0.1367269, 0.3200323, 0.0251938} on the same data. */
    static const float golden5[2][4] = {{0.3378049f, 0.1996954f, 0.7676328f, -0.3880497f},
                                        {0.2538182f, 0.1380460f, 0.3186625f, 0.0256971f}};
    static const float golden4[2][4] = {{0.3362384f, 0.1987129f, 0.7685419f, -0.3893726f},
                                        {0.2522875f, 0.1367284f, 0.3199269f, 0.0251816f}};
    tr_embedder *e5 = fit(2, 8);
    tr_buf b5;
    save(e5, &b5);
    assert_int_equal(b5.data[0], 5);
    tr_embedder_free(round_trip(e5, &b5, golden5));

    tr_embedder *e5h = fit_proj(2, 8, TR_PROJ_HALF);
    tr_buf b5h;
    save(e5h, &b5h);
    assert_int_equal(b5h.data[0], 5);
    tr_embedder_free(round_trip(e5h, &b5h, golden4));   /* half storage: format 4's values */
    /* the same section as format 4 loads and embeds the same, bit for bit */
    tr_buf b;
    old_format(e5h, &b5h, 4, &b);
    tr_embedder *e = NULL;
    char err[512];
    assert_int_equal(tr_embedder_load(b.data, b.len, &e, err, sizeof err), TR_OK);
    assert_int_equal(tr_embedder_params(e)->projection, TR_PROJ_HALF);
    tr_embedder *g = round_trip(e5h, &b, golden4);
    tr_buf again4;
    save(g, &again4);   /* saved in its own version again, byte for byte */
    assert_int_equal(again4.len, b.len);
    assert_memory_equal(again4.data, b.data, b.len);
    tr_buf_free(&again4);
    tr_buf_free(&b5h);
    tr_embedder_free(e5h);
    /* int8 rows move an embedding by far less than the distances that
     * separate prompts: the two formats' embeddings of a probe agree to a
     * cosine of 0.999 and more */
    for (int i = 0; i < 3; i++) {
        float x[8], y[8];
        embed1(e5, probes[i], x);
        embed1(e, probes[i], y);
        assert_true(dot(x, y, 8) > 0.999);
    }

    /* Formats 3 and 2 store the projection as float and keep the float
     * path: the same section written with the half projection widened to
     * float loads, embeds as format 4 does up to float rounding (BLAS's
     * axpy against half.h's), and is saved again in its own version, byte
     * for byte (a warm start must change neither the rule nor the
     * embeddings). */
    for (unsigned ver = 3; ver >= 2; ver--) {
        tr_buf old;
        tr_buf_init(&old);
        /* from the format 4 bytes: the header, f32 V, the word cache */
        size_t nv = tr_embedder_feature_count(e) * tr_embedder_dim(e), wc = tr_embedder_word_cache_bytes(e);
        size_t pre = b.len - wc - 2 * nv;
        tr_buf_u32(&old, ver);
        tr_buf_put(&old, b.data + 4, pre - 4);
        for (size_t i = 0; i < nv; i++) tr_buf_f32(&old, tr_half_to_float((uint16_t)(b.data[pre + 2 * i] | b.data[pre + 2 * i + 1] << 8)));
        tr_buf_put(&old, b.data + b.len - wc, wc);
        tr_embedder *o = NULL;
        assert_int_equal(tr_embedder_load(old.data, old.len, &o, err, sizeof err), TR_OK);
        assert_int_equal(tr_embedder_params(o)->projection, TR_PROJ_FLOAT);
        for (int i = 0; i < 3; i++) {
            float x[8], y[8];
            embed1(g, probes[i], x);
            embed1(o, probes[i], y);
            for (int c = 0; c < 8; c++) assert_float_equal(x[c], y[c], 2e-6);
        }
        tr_buf again;
        save(o, &again);
        assert_int_equal(again.len, old.len);
        assert_memory_equal(again.data, old.data, old.len);
        tr_buf_free(&again);
        tr_buf_free(&old);
        tr_embedder_free(o);
    }
    tr_embedder_free(g);

    tr_buf_free(&b);
    tr_embedder_free(e);
    tr_buf_free(&b5);
    tr_embedder_free(e5);
}

static void test_corrupt_sections(void **state)
{
    (void)state;
    tr_embedder *e = fit(2, 8);
    tr_buf b;
    save(e, &b);
    tr_embedder *g = NULL;
    char err[512];
    /* truncated anywhere: an error, never a crash or a leak */
    size_t step = tu_slow_mode() ? b.len / 40 + 1 : b.len / 400 + 1;
    for (size_t cut = 0; cut < b.len; cut += step) {
        int rc = tr_embedder_load(b.data, cut, &g, err, sizeof err);
        assert_int_not_equal(rc, TR_OK);
        assert_null(g);
    }
    unsigned char *bad = malloc(b.len + 1);
    /* newer format version */
    memcpy(bad, b.data, b.len);
    bad[0] = 6;
    assert_int_equal(tr_embedder_load(bad, b.len, &g, err, sizeof err), TR_EVERSION);
    assert_non_null(strstr(err, "format version 6"));
    /* another tokenizer version string */
    memcpy(bad, b.data, b.len);
    bad[4 + 4 + 14] ^= 1;   /* inside "sentencepiece 0.1.97 ..." */
    assert_int_equal(tr_embedder_load(bad, b.len, &g, err, sizeof err), TR_EVERSION);
    assert_non_null(strstr(err, "tokenizer"));
    /* trailing byte */
    memcpy(bad, b.data, b.len);
    bad[b.len] = 0;
    assert_int_equal(tr_embedder_load(bad, b.len + 1, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "unexpected bytes"));
    /* a NaN or a negative number as the last row's scale (the scales come
     * just before the int8 rows, which come before the word cache) */
    size_t nv = tr_embedder_feature_count(e) * tr_embedder_dim(e);
    assert_true(tr_embedder_word_count(e) > 0);
    for (int neg = 0; neg < 2; neg++) {
        memcpy(bad, b.data, b.len);
        float v = neg ? -1.0f : NAN;
        memcpy(bad + b.len - tr_embedder_word_cache_bytes(e) - 4 - nv - 4, &v, 4);
        assert_int_equal(tr_embedder_load(bad, b.len, &g, err, sizeof err), TR_EFORMAT);
        assert_non_null(strstr(err, "scale"));
    }
    /* a NaN in a half projection (its last half, just before the word cache) */
    tr_embedder *h = fit_proj(1, 8, TR_PROJ_HALF);
    tr_buf hb;
    save(h, &hb);
    unsigned char *hbad = malloc(hb.len);
    memcpy(hbad, hb.data, hb.len);
    memset(hbad + hb.len - tr_embedder_word_cache_bytes(h) - 4 - 2, 0xff, 2);
    assert_int_equal(tr_embedder_load(hbad, hb.len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "projection"));
    /* an unknown storage code, and the digit-run rule on a vocabulary
     * without digits (this one's) */
    size_t wc = tr_embedder_word_cache_bytes(h), pre = hb.len - wc - 4 - 2 * tr_embedder_feature_count(h) * tr_embedder_dim(h) - 4;
    memcpy(hbad, hb.data, hb.len);
    hbad[pre] = 3;
    assert_int_equal(tr_embedder_load(hbad, hb.len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "projection storage 3"));
    memcpy(hbad, hb.data, hb.len);
    hbad[hb.len - wc - 4] = 3;
    assert_int_equal(tr_embedder_load(hbad, hb.len, &g, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "tokenising rule 3"));
    for (unsigned char rule = 4; rule <= 5; rule++) {   /* script runs need the digits too; 5 is no rule */
        hbad[hb.len - wc - 4] = rule;
        assert_int_equal(tr_embedder_load(hbad, hb.len, &g, err, sizeof err), TR_EFORMAT);
        assert_non_null(strstr(err, rule == 4 ? "tokenising rule 4" : "tokenising rule 5"));
    }
    free(hbad);
    tr_buf_free(&hb);
    tr_embedder_free(h);
    /* random byte flips: any status, no crash (ASan/valgrind check memory) */
    tr_rng r;
    tr_rng_seed(&r, 4);
    for (int k = 0; k < (tu_slow_mode() ? 10 : 100); k++) {
        memcpy(bad, b.data, b.len);
        size_t at = tr_rng_below(&r, b.len);
        bad[at] ^= (unsigned char)(1 + tr_rng_below(&r, 255));
        if (tr_embedder_load(bad, b.len, &g, err, sizeof err) == TR_OK) tr_embedder_free(g);
        g = NULL;
    }
    free(bad);
    tr_buf_free(&b);
    tr_embedder_free(e);
}

static void test_sparse(void **state)
{
    (void)state;
    tr_embedder *e = fit(2, 8);
    const char *s = "Explain the integral and the derivative of the matrix.";
    size_t sb = tr_embedder_scratch_bytes(e, strlen(s));
    void *scr = malloc(sb);
    int32_t idx[256]; float val[256]; size_t nnz;
    assert_int_equal(tr_embedder_sparse(e, s, strlen(s), idx, val, 256, &nnz, scr, sb), TR_OK);
    assert_true(nnz > 5);
    double ss = 0;
    for (size_t i = 0; i < nnz; i++) {
        ss += (double)val[i] * val[i];
        if (i) assert_true(idx[i - 1] < idx[i]);
        assert_non_null(tr_embedder_feature_text(e, (size_t)idx[i]));
    }
    assert_float_equal(ss, 1.0, 1e-5);
    /* cap 3: the three largest weights, ids ascending */
    int32_t i3[3]; float v3[3]; size_t n3;
    assert_int_equal(tr_embedder_sparse(e, s, strlen(s), i3, v3, 3, &n3, scr, sb), TR_OK);
    assert_int_equal(n3, 3);
    float m3 = fminf(v3[0], fminf(v3[1], v3[2]));
    size_t larger = 0;
    for (size_t i = 0; i < nnz; i++) larger += val[i] > m3;
    assert_true(larger <= 2);
    assert_true(i3[0] < i3[1] && i3[1] < i3[2]);
    free(scr);
    tr_embedder_free(e);
}

static void test_given_model(void **state)
{
    (void)state;
    tr_spm_train_params sp = {.vocab_size = 120, .seed = 3, .threads = 1, .extra_flags = NULL};
    tr_spm *m = NULL;
    assert_int_equal(tr_spm_train((const char *const *)texts, lens, NT * PER, &sp, &m, NULL, NULL, 0), TR_OK);
    const void *bytes; size_t blen;
    tr_spm_serialize(m, &bytes, &blen);
    tr_embed_params p;
    tr_embed_params_default(&p);
    p.dim = 8;
    tr_embedder *e = NULL;
    char err[256];
    assert_int_equal(tr_embedder_fit_spm((const char *const *)texts, lens, NT * PER, bytes, blen, &p, &e,
                                         err, sizeof err), TR_OK);
    assert_int_equal(tr_embedder_vocab_size(e), tr_spm_vocab_size(m));
    tr_embedder_free(e);
    /* bad model bytes: an error naming SentencePiece */
    assert_int_equal(tr_embedder_fit_spm((const char *const *)texts, lens, NT * PER, "xx", 2, &p, &e,
                                         err, sizeof err), TR_EFORMAT);
    assert_null(e);
    assert_non_null(strstr(err, "sentencepiece"));
    tr_spm_free(m);
}

static void test_params_and_normalize(void **state)
{
    (void)state;
    tr_embed_params p;
    tr_embed_params_default(&p);
    assert_int_equal(p.dim, 256);
    assert_int_equal(p.vocab_size, 4000);
    assert_int_equal(p.max_features, 50000);
    assert_int_equal(p.min_df, 2);
    tr_embedder *e = NULL;
    char err[256];
    p.dim = 0;
    assert_int_equal(tr_embedder_fit((const char *const *)texts, lens, 10, &p, &e, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "dim 0"));
    /* float rows are what formats 1-3 load as; no fit writes them */
    tr_embed_params_default(&p);
    assert_int_equal(p.projection, TR_PROJ_INT8);
    for (int bad_proj = 0; bad_proj < 2; bad_proj++) {
        p.projection = bad_proj ? 7 : TR_PROJ_FLOAT;
        assert_int_equal(tr_embedder_fit((const char *const *)texts, lens, 10, &p, &e, err, sizeof err), TR_EINVAL);
        assert_null(e);
        assert_non_null(strstr(err, "projection storage"));
    }
    tr_embed_params_default(&p);
    assert_int_equal(tr_embedder_fit((const char *const *)texts, lens, 1, &p, &e, err, sizeof err), TR_ETOOFEW);
    assert_null(e);

    float x[6] = {3, 4, 0, 1, 0, 0};
    size_t bad = 99;
    assert_int_equal(tr_embedding_normalize(x, 2, 3, &bad, err, sizeof err), TR_OK);
    assert_float_equal(x[0], 0.6, 1e-7);
    assert_float_equal(x[1], 0.8, 1e-7);
    assert_float_equal(x[3], 1.0, 1e-7);
    float y[4] = {1, 1, 0, 0};
    assert_int_equal(tr_embedding_normalize(y, 2, 2, &bad, err, sizeof err), TR_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "embedding 1: a zero vector cannot be unit-normalised");
    float w[2] = {NAN, 1};
    assert_int_equal(tr_embedding_normalize(w, 1, 2, &bad, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "embedding 0: component 0 is NaN");
    float v[2] = {1, INFINITY};
    assert_int_equal(tr_embedding_normalize(v, 1, 2, NULL, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "embedding 0: component 1 is infinite");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_and_embed),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_save_load_golden),
        cmocka_unit_test(test_corrupt_sections),
        cmocka_unit_test(test_sparse),
        cmocka_unit_test(test_given_model),
        cmocka_unit_test(test_params_and_normalize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
