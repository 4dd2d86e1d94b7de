/* The SentencePiece wrapper: training from memory (reproducible, vocabulary
 * shrunk for small corpora), encoding incl. non-ASCII text, model bytes
 * round-trip, and errors (unknown flag, bad bytes) coming back as statuses. */
#include "testutil.h"

#include "embed/spm.h"

static const char *corpus[] = {
    "What is the capital of France? Paris is the capital.",
    "Compute the derivative of x^2 + 3x with respect to x.",
    "Translate into French: the cat sits on the mat.",
    "Le café est très bon, merci beaucoup. Élève, école, été.",
    "中文分词是一个有趣的问题。我们喜欢学习中文。",
    "Emoji test 😀🚀 rockets and smiles 😀.",
    "Which of the following is a prime number? A. 4 B. 6 C. 7 D. 9",
    "Write a Python function that reverses a linked list.",
    "Explain photosynthesis in plants and the role of chlorophyll.",
    "The law of supply and demand sets market prices in economics.",
};
#define NC (sizeof corpus / sizeof corpus[0])

/* Repeat the corpus so the trainer has enough sentences. */
static void make_texts(const char **t, size_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) { t[i] = corpus[i % NC]; l[i] = strlen(t[i]); }
}

static tr_spm *train(int vocab, int *got)
{
    const char *t[60]; size_t l[60];
    make_texts(t, l, 60);
    tr_spm_train_params p = {.vocab_size = vocab, .seed = 42, .threads = 1, .extra_flags = NULL};
    tr_spm *sp = NULL;
    char err[512] = "";
    int rc = tr_spm_train(t, l, 60, &p, &sp, got, err, sizeof err);
    if (rc != TR_OK) print_error("train: %s\n", err);
    assert_int_equal(rc, TR_OK);
    return sp;
}

static void test_train_shrinks_and_encodes(void **state)
{
    (void)state;
    int got = 0;
    tr_spm *sp = train(8000, &got);
    /* a 10-sentence corpus cannot hold 8000 pieces: the size shrank */
    assert_true(got > 20 && got < 8000);
    assert_int_equal(tr_spm_vocab_size(sp), got);
    assert_string_equal(tr_spm_piece(sp, 0), "<unk>");
    assert_null(tr_spm_piece(sp, got));
    assert_null(tr_spm_piece(sp, -1));

    /* every non-ASCII text encodes to known pieces whose text rebuilds it */
    for (size_t i = 3; i < 6; i++) {
        int32_t ids[256]; size_t n = 0; char err[256];
        assert_int_equal(tr_spm_encode(sp, corpus[i], strlen(corpus[i]), ids, 256, &n, err, sizeof err), TR_OK);
        assert_true(n > 0 && n < 256);
        char rebuilt[1024] = "";
        for (size_t k = 0; k < n; k++) {
            assert_true(ids[k] > 0 && ids[k] < got);   /* no <unk> */
            strcat(rebuilt, tr_spm_piece(sp, ids[k]));
        }
        /* pieces mark spaces with U+2581; the first piece starts with one */
        assert_memory_equal(rebuilt, "\xe2\x96\x81", 3);
        const char *fr = "caf\xc3\xa9", *zh = "\xe4\xb8\xad\xe6\x96\x87", *emo = "\xf0\x9f\x98\x80";
        assert_non_null(strstr(rebuilt, i == 3 ? fr : i == 4 ? zh : emo));
    }
    /* a cap smaller than the count: the first ids come, count is full */
    int32_t few[2]; size_t n = 0;
    assert_int_equal(tr_spm_encode(sp, corpus[0], strlen(corpus[0]), few, 2, &n, NULL, 0), TR_OK);
    assert_true(n > 2);
    /* empty text: no pieces */
    assert_int_equal(tr_spm_encode(sp, "", 0, few, 2, &n, NULL, 0), TR_OK);
    assert_int_equal(n, 0);
    tr_spm_free(sp);
}

static void test_reproducible_and_bytes_roundtrip(void **state)
{
    (void)state;
    tr_spm *a = train(200, NULL), *b = train(200, NULL);
    const void *da, *db; size_t la, lb;
    assert_int_equal(tr_spm_serialize(a, &da, &la), TR_OK);
    assert_int_equal(tr_spm_serialize(b, &db, &lb), TR_OK);
    assert_true(la == lb && la > 100);
    assert_memory_equal(da, db, la);  /* training twice: identical bytes */

    tr_spm *c = NULL; char err[256];
    assert_int_equal(tr_spm_load(da, la, &c, err, sizeof err), TR_OK);
    assert_int_equal(tr_spm_vocab_size(c), tr_spm_vocab_size(a));
    for (size_t i = 0; i < NC; i++) {
        int32_t x[256], y[256]; size_t nx, ny;
        assert_int_equal(tr_spm_encode(a, corpus[i], strlen(corpus[i]), x, 256, &nx, NULL, 0), TR_OK);
        assert_int_equal(tr_spm_encode(c, corpus[i], strlen(corpus[i]), y, 256, &ny, NULL, 0), TR_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx * sizeof x[0]);
    }
    tr_spm_free(a); tr_spm_free(b); tr_spm_free(c);
}

static void test_errors(void **state)
{
    (void)state;
    const char *t[60]; size_t l[60];
    make_texts(t, l, 60);
    tr_spm_train_params p = {.vocab_size = 100, .seed = 1, .threads = 1, .extra_flags = "--no_such_flag=3"};
    tr_spm *sp = (tr_spm *)1;
    char err[512] = "";
    assert_int_equal(tr_spm_train(t, l, 60, &p, &sp, NULL, err, sizeof err), TR_EDEP);
    assert_null(sp);
    assert_non_null(strstr(err, "no_such_flag"));

    p.extra_flags = NULL; p.vocab_size = 2;
    assert_int_equal(tr_spm_train(t, l, 60, &p, &sp, NULL, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "vocab_size 2"));

    /* garbage model bytes: an error, not a crash */
    assert_int_equal(tr_spm_load("\x0a\xff\xff\xff\x0f garbage", 14, &sp, err, sizeof err), TR_EFORMAT);
    assert_null(sp);
    assert_non_null(strstr(err, "sentencepiece"));
    assert_int_equal(tr_spm_load("", 0, &sp, err, sizeof err), TR_EINVAL);
    tr_spm_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_shrinks_and_encodes),
        cmocka_unit_test(test_reproducible_and_bytes_roundtrip),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
