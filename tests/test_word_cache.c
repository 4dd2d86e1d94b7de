/* Word-by-word tokenising: the memo gives exactly what SentencePiece gives
 * for each word alone, matches whole-prompt encoding on real text (but for
 * ties), sends non-ASCII prompts whole under the ASCII rule and word by word
 * under the UTF-8 rule (invalid UTF-8 always whole), splits words at
 * digits under the digit-run rule, round-trips through
 * bytes, and refuses corrupt bytes. */
#include "testutil.h"

#include "base/util.h"
#include "data/dataset.h"
#include "embed/spm.h"
#include "embed/word_cache.h"

static tr_dataset *ds;
static tr_spm *sp;
static const char **texts;
static size_t *lens, n;

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (tr_dataset_load("data/demo.jsonl", NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    n = tu_slow_mode() ? 300 : 1500;
    texts = malloc(n * sizeof *texts);
    lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) { texts[i] = ds->rec[i].prompt; lens[i] = ds->rec[i].prompt_len; }
    tr_spm_train_params p = {500, 42, 2, NULL};
    if (tr_spm_train(texts, lens, n, &p, &sp, NULL, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tr_spm_free(sp);
    free(texts);
    free(lens);
    tr_dataset_free(ds);
    return 0;
}

/* The memo changes nothing: with and without it, every prompt (including
 * ones whose words were never seen) gets the same ids. */
static void test_memo_is_exact(void **state)
{
    (void)state;
    char err[512];
    tr_word_cache *c = NULL;
    assert_int_equal(tr_word_cache_build(sp, TR_TOK_UTF8_WORDS, texts, lens, n / 2, 100000, &c, err, sizeof err), TR_OK);
    assert_true(tr_word_cache_count(c) > 100);
    static int32_t a[1 << 16], b[1 << 16];
    for (size_t i = 0; i < ds->n; i += 3) {
        const tr_record *r = &ds->rec[i];
        size_t na, nb;
        assert_int_equal(tr_tokenize(sp, c, TR_TOK_UTF8_WORDS, r->prompt, r->prompt_len, a, 1 << 16, &na, err, sizeof err), TR_OK);
        assert_int_equal(tr_tokenize(sp, NULL, TR_TOK_UTF8_WORDS, r->prompt, r->prompt_len, b, 1 << 16, &nb, err, sizeof err), TR_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na * sizeof *a);
    }
    tr_word_cache_free(c);
}

/* Word by word equals whole-prompt encoding except where SentencePiece
 * breaks a tie between equal-scoring segmentations by position. */
/* Each word's pieces, by SentencePiece one word at a time: the reference
 * for tr_tokenize's word rule. */
static size_t reference_pieces(const char *t, int32_t *out, size_t cap)
{
    char err[256];
    size_t total = 0, k = 0, len = strlen(t);
    while (k < len) {
        while (k < len && t[k] == ' ') k++;
        size_t st = k;
        while (k < len && t[k] != ' ') k++;
        if (k == st) break;
        size_t nw = 0;
        assert_int_equal(tr_spm_encode(sp, t + st, k - st, out + total, cap - total, &nw, err, sizeof err), TR_OK);
        total += nw;
    }
    return total;
}

/* Words missing from the memo that come back in the same prompt are
 * encoded once and copied after: the same pieces as encoding each one
 * again, past the per-call table's capacity (200 distinct unseen words)
 * and when the output is cut anywhere, in the middle of a copy too. */
static void test_repeated_unseen_words(void **state)
{
    (void)state;
    char err[512];
    static char t[16384];
    size_t at = 0;
    tr_rng r;
    tr_rng_seed(&r, 11);
    for (int i = 0; i < 600; i++) {
        /* made-up words from a pool of 200, so most come back */
        unsigned w = (unsigned)tr_rng_below(&r, 200);
        at += (size_t)snprintf(t + at, sizeof t - at, "%sqz%uxv%c", i ? " " : "", w * 7919u, 'a' + (char)(w % 26));
    }
    static int32_t ref[1 << 15], got[1 << 15];
    size_t nref = reference_pieces(t, ref, sizeof ref / sizeof *ref), ng = 0;
    assert_true(nref > 1200);
    assert_int_equal(tr_tokenize(sp, NULL, TR_TOK_UTF8_WORDS, t, at, got, sizeof got / sizeof *got, &ng, err, sizeof err),
                     TR_OK);
    assert_int_equal(ng, nref);
    assert_memory_equal(got, ref, nref * sizeof *ref);
    for (size_t cap = 0; cap < 200; cap += 7) {
        memset(got, 0xff, sizeof got);
        assert_int_equal(tr_tokenize(sp, NULL, TR_TOK_UTF8_WORDS, t, at, got, cap, &ng, err, sizeof err), TR_OK);
        assert_int_equal(ng, nref);   /* the count is the full one; only cap pieces written */
        assert_memory_equal(got, ref, cap * sizeof *ref);
        assert_int_equal(got[cap], -1);
    }
}

typedef struct keyed { uint64_t key; uint32_t u; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->u > y->u) - (x->u < y->u);
}

/* Two words whose hashes share the memo's tag (the high half) and their
 * slot in a 16-slot table (the low 4 bits): a lookup of the second first
 * meets the first's record, must see that its bytes differ and probe on.
 * Found by brute force among "w0" .. "w2097151" (a few dozen such pairs). */
static void test_tag_collision(void **state)
{
    (void)state;
    char err[512];
    size_t N = (size_t)1 << 21;
    keyed *k = malloc(N * sizeof *k);
    assert_non_null(k);
    char buf[32];
    for (size_t u = 0; u < N; u++) {
        int l = snprintf(buf, sizeof buf, "w%zu", u);
        uint64_t h = tr_fnv1a64(buf, (size_t)l);
        k[u] = (keyed){(h >> 32) << 4 | (h & 15), (uint32_t)u};
    }
    qsort(k, N, sizeof *k, cmp_keyed);
    size_t found = N;
    for (size_t i = 0; i + 1 < N && found == N; i++)
        if (k[i].key == k[i + 1].key) found = i;
    assert_true(found < N);
    char a[32], b[32];
    snprintf(a, sizeof a, "w%u", k[found].u);
    snprintf(b, sizeof b, "w%u", k[found + 1].u);
    free(k);
    const char *t2[2] = {a, b};
    size_t l2[2] = {strlen(a), strlen(b)};
    for (int order = 0; order < 2; order++) {
        const char *tt[2] = {t2[order], t2[!order]};
        size_t ll[2] = {l2[order], l2[!order]};
        tr_word_cache *c = NULL;
        assert_int_equal(tr_word_cache_build(sp, TR_TOK_UTF8_WORDS, tt, ll, 2, 100, &c, err, sizeof err), TR_OK);
        assert_int_equal(tr_word_cache_count(c), 2);
        char text[256];   /* five words of up to 31 bytes and their spaces */
        snprintf(text, sizeof text, "%s %s %s %s x%s", b, a, b, a, a);   /* the last one is in neither */
        int32_t x[256], y[256];
        size_t nx = 0, ny = 0;
        assert_int_equal(tr_tokenize(sp, c, TR_TOK_UTF8_WORDS, text, strlen(text), x, 256, &nx, err, sizeof err), TR_OK);
        assert_int_equal(reference_pieces(text, y, 256), nx);
        (void)ny;
        assert_memory_equal(x, y, nx * sizeof *x);
        tr_word_cache_free(c);
    }
}

static void test_agrees_with_whole_prompts(void **state)
{
    (void)state;
    char err[512];
    static int32_t a[1 << 16], b[1 << 16];
    size_t same = 0, total = 0;
    for (size_t i = 0; i < ds->n; i += 2) {
        const tr_record *r = &ds->rec[i];
        if (!tr_text_is_plain_ascii(r->prompt, r->prompt_len)) continue;
        size_t na, nb;
        assert_int_equal(tr_tokenize(sp, NULL, 1, r->prompt, r->prompt_len, a, 1 << 16, &na, err, sizeof err), TR_OK);
        assert_int_equal(tr_spm_encode(sp, r->prompt, r->prompt_len, b, 1 << 16, &nb, err, sizeof err), TR_OK);
        total++;
        same += na == nb && !memcmp(a, b, na * sizeof *a);
    }
    assert_true(total > 100);
    assert_true(same >= total * 99 / 100);
}

static void test_rule(void **state)
{
    (void)state;
    char err[512];
    int32_t a[256], b[256];
    size_t na, nb;
    /* non-ASCII: whole prompt, as SentencePiece */
    const char *u = "Traduis: café crème, s'il te plaît";
    assert_false(tr_text_is_plain_ascii(u, strlen(u)));
    assert_int_equal(tr_tokenize(sp, NULL, 1, u, strlen(u), a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(tr_spm_encode(sp, u, strlen(u), b, 256, &nb, err, sizeof err), TR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    /* a control byte also goes whole */
    assert_false(tr_text_is_plain_ascii("a\x07" "b", 3));
    assert_true(tr_text_is_plain_ascii("a b\tc\r\nd", 8));
    /* format 1: always whole */
    const char *t = "Write a function  that\treverses\na list";
    assert_int_equal(tr_tokenize(sp, NULL, 0, t, strlen(t), a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(tr_spm_encode(sp, t, strlen(t), b, 256, &nb, err, sizeof err), TR_OK);
    assert_int_equal(na, nb);
    /* cap: the count is the full count, ids stop at cap */
    size_t full;
    assert_int_equal(tr_tokenize(sp, NULL, 1, t, strlen(t), a, 256, &full, err, sizeof err), TR_OK);
    assert_true(full > 3);
    int32_t small[3];
    assert_int_equal(tr_tokenize(sp, NULL, 1, t, strlen(t), small, 3, &na, err, sizeof err), TR_OK);
    assert_int_equal(na, full);
    assert_memory_equal(small, a, 3 * sizeof *a);
    /* empty and blank prompts have no pieces */
    assert_int_equal(tr_tokenize(sp, NULL, 1, " \n\t", 3, a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(na, 0);
}

/* The UTF-8 rule (format 3): a valid UTF-8 prompt is the concatenation of
 * its words encoded alone, memo or not; invalid UTF-8 goes whole. */
static void test_utf8_rule(void **state)
{
    (void)state;
    char err[512];
    const char *u = "Traduis: caf\xc3\xa9 cr\xc3\xa8me,  s'il\tte pla\xc3\xaet \xce\xb1=\xce\xb2";
    const char *words[] = {"Traduis:", "caf\xc3\xa9", "cr\xc3\xa8me,", "s'il", "te", "pla\xc3\xaet", "\xce\xb1=\xce\xb2"};
    assert_true(tr_text_takes_words(TR_TOK_UTF8_WORDS, u, strlen(u)));
    assert_false(tr_text_takes_words(TR_TOK_ASCII_WORDS, u, strlen(u)));
    assert_false(tr_text_takes_words(TR_TOK_WHOLE, "abc", 3));
    int32_t a[256], b[256], w[64];
    size_t na, nb = 0, nw;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        assert_int_equal(tr_spm_encode(sp, words[i], strlen(words[i]), w, 64, &nw, err, sizeof err), TR_OK);
        memcpy(b + nb, w, nw * sizeof *w);
        nb += nw;
    }
    assert_int_equal(tr_tokenize(sp, NULL, TR_TOK_UTF8_WORDS, u, strlen(u), a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    /* the memo built under the UTF-8 rule holds non-ASCII words and gives the same ids */
    const char *t1[] = {u, u};
    size_t l1[] = {strlen(u), strlen(u)};
    tr_word_cache *c = NULL;
    assert_int_equal(tr_word_cache_build(sp, TR_TOK_UTF8_WORDS, t1, l1, 2, 100, &c, err, sizeof err), TR_OK);
    assert_int_equal(tr_word_cache_count(c), sizeof words / sizeof *words);
    assert_int_equal(tr_tokenize(sp, c, TR_TOK_UTF8_WORDS, u, strlen(u), a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    tr_word_cache_free(c);
    /* under the ASCII rule the same texts memoise nothing */
    assert_int_equal(tr_word_cache_build(sp, TR_TOK_ASCII_WORDS, t1, l1, 2, 100, &c, err, sizeof err), TR_OK);
    assert_int_equal(tr_word_cache_count(c), 0);
    tr_word_cache_free(c);
    /* invalid UTF-8 (a lone continuation byte): whole, as SentencePiece */
    const char *bad = "ab \x80 cd";
    assert_false(tr_text_takes_words(TR_TOK_UTF8_WORDS, bad, strlen(bad)));
    assert_int_equal(tr_tokenize(sp, NULL, TR_TOK_UTF8_WORDS, bad, strlen(bad), a, 256, &na, err, sizeof err), TR_OK);
    assert_int_equal(tr_spm_encode(sp, bad, strlen(bad), b, 256, &nb, err, sizeof err), TR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
}

/* A made-up word with digits: a mix of digits, ASCII punctuation and
 * letters, and now and then a non-ASCII character. */
static size_t digit_word(tr_rng *r, char *out)
{
    static const char *parts[] = {"$", ",", ".", "%", "(", ")", "x", "km", "H", "O", "-", "/", "^", "e",
                                  "\xc2\xb2", "\xce\xb1", "\xc3\xa9", "'s", "th", "\xc2\xbd"};
    size_t at = 0, k = 1 + tr_rng_below(r, 8);
    int digit = 0;
    for (size_t i = 0; i < k || !digit; i++) {
        if (tr_rng_below(r, 2)) { out[at++] = (char)('0' + tr_rng_below(r, 10)); digit = 1; }
        else { const char *p = parts[tr_rng_below(r, sizeof parts / sizeof *parts)]; memcpy(out + at, p, strlen(p)); at += strlen(p); }
    }
    out[at] = 0;
    return at;
}

/* Under rule, the words wt[0..nw) encode as SentencePiece encodes each
 * whole word (but for ties); a memo built from half of them changes
 * nothing, holds fewer units than a memo of words, and survives a save and
 * load; and a prompt's output cut at any cap is a prefix of the full one. */
static void check_units(const tr_spm *s, int rule, const char *const *wt, const size_t *wl, size_t nw)
{
    char err[512];
    size_t same = 0;
    int32_t a[256], b[256];
    for (size_t i = 0; i < nw; i++) {
        size_t na, nb;
        assert_int_equal(tr_tokenize(s, NULL, rule, wt[i], wl[i], a, 256, &na, err, sizeof err), TR_OK);
        assert_int_equal(tr_spm_encode(s, wt[i], wl[i], b, 256, &nb, err, sizeof err), TR_OK);
        same += na == nb && !memcmp(a, b, na * sizeof *a);
    }
    print_message("rule %d: %zu of %zu words as whole-word SentencePiece\n", rule, same, nw);
    assert_true(same >= nw * 99 / 100);

    tr_word_cache *c = NULL, *cw = NULL, *d = NULL;
    assert_int_equal(tr_word_cache_build(s, rule, wt, wl, nw / 2, 100000, &c, err, sizeof err), TR_OK);
    assert_int_equal(tr_word_cache_build(s, TR_TOK_UTF8_WORDS, wt, wl, nw / 2, 100000, &cw, err, sizeof err), TR_OK);
    print_message("memo entries: %zu units, %zu words\n", tr_word_cache_count(c), tr_word_cache_count(cw));
    assert_true(tr_word_cache_count(c) < tr_word_cache_count(cw));
    tr_word_cache_free(cw);
    tr_buf buf;
    tr_buf_init(&buf);
    assert_int_equal(tr_word_cache_save(c, &buf), TR_OK);
    assert_int_equal(buf.len, tr_word_cache_bytes(c));
    tr_cursor cur;
    tr_cursor_init(&cur, buf.data, buf.len);
    assert_int_equal(tr_word_cache_load(&cur, tr_spm_vocab_size(s), rule, &d, err, sizeof err), TR_OK);
    assert_int_equal(cur.left, 0);
    tr_buf_free(&buf);

    static char prompt[1 << 16];
    size_t at = 0;
    for (size_t i = 0; i < nw && at + 100 < sizeof prompt; i += 3) {
        memcpy(prompt + at, wt[i], wl[i]);
        at += wl[i];
        prompt[at++] = i % 7 ? ' ' : '\n';
    }
    static int32_t x[1 << 15], y[1 << 15];
    size_t nx, ny;
    assert_int_equal(tr_tokenize(s, c, rule, prompt, at, x, 1 << 15, &nx, err, sizeof err), TR_OK);
    for (int m = 0; m < 2; m++) {
        assert_int_equal(tr_tokenize(s, m ? d : NULL, rule, prompt, at, y, 1 << 15, &ny, err, sizeof err), TR_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx * sizeof *x);
    }
    /* cut anywhere, with and without the memo: the full count, a prefix */
    for (size_t cap = 0; cap < 400; cap += 13)
        for (int m = 0; m < 2; m++) {
            memset(y, 0xff, (cap + 1) * sizeof *y);
            assert_int_equal(tr_tokenize(s, m ? c : NULL, rule, prompt, at, y, cap, &ny, err, sizeof err), TR_OK);
            assert_int_equal(ny, nx);
            assert_memory_equal(y, x, cap * sizeof *x);
            assert_int_equal(y[cap], -1);
        }
    tr_word_cache_free(c);
    tr_word_cache_free(d);
}

/* Made-up words from gen, then some of the dataset's texts, and a
 * vocabulary trained on them with extra (NULL: the defaults). */
typedef size_t (*word_gen)(tr_rng *r, char *out);
enum { NW = 3000 };
static char g_words[NW][96];
static const char *g_wt[NW + 1500];
static size_t g_wl[NW + 1500];

static tr_spm *train_on_words(word_gen gen, const char *extra)
{
    char err[512];
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (size_t i = 0; i < NW; i++) { g_wt[i] = g_words[i]; g_wl[i] = gen(&r, g_words[i]); }
    for (size_t i = 0; i < 1500 && i < n; i++) { g_wt[NW + i] = texts[i]; g_wl[NW + i] = lens[i]; }
    size_t nt = NW + (n < 1500 ? n : 1500);
    tr_spm *s = NULL;
    tr_spm_train_params p = {800, 42, 2, extra};
    assert_int_equal(tr_spm_train(g_wt, g_wl, nt, &p, &s, NULL, err, sizeof err), TR_OK);
    return s;
}

/* A run rule: a vocabulary trained with flag (which lets pieces cross
 * the rule's cuts) falls back to the rule fallback and does not fit; one
 * trained with the defaults is the finest rule, fits rule and passes
 * check_units.  Returns that vocabulary (the caller frees it). */
static tr_spm *check_rule(word_gen gen, const char *flag, int fallback, int rule)
{
    tr_spm *crossing = train_on_words(gen, flag);
    assert_int_equal(tr_word_rule_for(crossing), fallback);
    assert_false(tr_word_rule_fits(crossing, rule));
    tr_spm_free(crossing);
    tr_spm *s = train_on_words(gen, NULL);
    assert_int_equal(tr_word_rule_for(s), TR_TOK_SCRIPT_RUNS);
    assert_true(tr_word_rule_fits(s, rule));
    assert_true(tr_word_rule_fits(s, TR_TOK_DIGIT_RUNS));   /* the finer rule allows the coarser */
    check_units(s, rule, g_wt, g_wl, NW);
    return s;
}

/* The digit-run rule (format 5): multi-digit pieces (no split_digits)
 * leave only the word rule. */
static void test_digit_runs(void **state)
{
    (void)state;
    tr_spm_free(check_rule(digit_word, "--split_digits=false", TR_TOK_UTF8_WORDS, TR_TOK_DIGIT_RUNS));
}

/* A made-up word that mixes ASCII letters and punctuation, with a digit or
 * a non-ASCII character now and then. */
static size_t script_word(tr_rng *r, char *out)
{
    static const char *parts[] = {"(", ")", ",", ".", ":", ";", "\"", "'", "-", "_", "/", "[", "]", "?",
                                  "neuron", "the", "a", "ing", "Q", "rot", "x", "is", "5", "\xce\xb1", "\xc3\xa9"};
    size_t at = 0, k = 2 + tr_rng_below(r, 6);
    for (size_t i = 0; i < k; i++) {
        const char *p = parts[tr_rng_below(r, sizeof parts / sizeof *parts)];
        memcpy(out + at, p, strlen(p));
        at += strlen(p);
    }
    out[at] = 0;
    return at;
}

/* The script-run rule: pieces that mix letters and punctuation (no
 * split_by_unicode_script) leave digit runs; and the rule's cuts are made,
 * so its memo holds fewer units than digit runs leave. */
static void test_script_runs(void **state)
{
    (void)state;
    tr_spm *s = check_rule(script_word, "--split_by_unicode_script=false", TR_TOK_DIGIT_RUNS, TR_TOK_SCRIPT_RUNS);
    char err[512];
    tr_word_cache *c3 = NULL, *c4 = NULL;
    assert_int_equal(tr_word_cache_build(s, TR_TOK_DIGIT_RUNS, g_wt, g_wl, NW, 100000, &c3, err, sizeof err), TR_OK);
    assert_int_equal(tr_word_cache_build(s, TR_TOK_SCRIPT_RUNS, g_wt, g_wl, NW, 100000, &c4, err, sizeof err), TR_OK);
    print_message("memo entries: %zu digit-run units, %zu script-run units\n", tr_word_cache_count(c3),
                  tr_word_cache_count(c4));
    assert_true(5 * tr_word_cache_count(c4) < 4 * tr_word_cache_count(c3));
    tr_word_cache_free(c3);
    tr_word_cache_free(c4);
    tr_spm_free(s);
}

static void test_save_load(void **state)
{
    (void)state;
    char err[512];
    tr_word_cache *c = NULL, *d = NULL;
    assert_int_equal(tr_word_cache_build(sp, TR_TOK_UTF8_WORDS, texts, lens, n, 5000, &c, err, sizeof err), TR_OK);
    assert_true(tr_word_cache_count(c) <= 5000);
    tr_buf b;
    tr_buf_init(&b);
    assert_int_equal(tr_word_cache_save(c, &b), TR_OK);
    assert_int_equal(b.len, tr_word_cache_bytes(c));
    tr_cursor cur;
    tr_cursor_init(&cur, b.data, b.len);
    assert_int_equal(tr_word_cache_load(&cur, tr_spm_vocab_size(sp), TR_TOK_UTF8_WORDS, &d, err, sizeof err), TR_OK);
    assert_int_equal(cur.left, 0);
    assert_int_equal(tr_word_cache_count(d), tr_word_cache_count(c));
    static int32_t x[1 << 16], y[1 << 16];
    for (size_t i = 0; i < 200; i++) {
        size_t nx, ny;
        tr_tokenize(sp, c, 1, texts[i], lens[i], x, 1 << 16, &nx, err, sizeof err);
        tr_tokenize(sp, d, 1, texts[i], lens[i], y, 1 << 16, &ny, err, sizeof err);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx * sizeof *x);
    }
    tr_word_cache_free(d);
    /* truncated anywhere: an error, never a crash */
    for (size_t cut = 0; cut < b.len; cut += b.len / 97 + 1) {
        tr_cursor_init(&cur, b.data, cut);
        d = NULL;
        assert_int_not_equal(tr_word_cache_load(&cur, tr_spm_vocab_size(sp), TR_TOK_UTF8_WORDS, &d, err, sizeof err), TR_OK);
        assert_null(d);
    }
    /* an id outside the vocabulary is refused */
    tr_cursor_init(&cur, b.data, b.len);
    assert_int_equal(tr_word_cache_load(&cur, 3, TR_TOK_UTF8_WORDS, &d, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "word cache"));
    tr_buf_free(&b);
    tr_word_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_is_exact),
        cmocka_unit_test(test_repeated_unseen_words),
        cmocka_unit_test(test_tag_collision),
        cmocka_unit_test(test_agrees_with_whole_prompts),
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_utf8_rule),
        cmocka_unit_test(test_digit_runs),
        cmocka_unit_test(test_script_runs),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
