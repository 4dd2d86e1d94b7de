/* Task names (cluster/task_names.h): the word splitter (whole words, lower
 * case, no stopwords, no numbers or fragments), c-TF-IDF keywords on a small
 * known case, unique names when two tasks share their best words, and on the
 * demo data: every name made of whole words of its task's prompts, no
 * stopwords, all unique, each word far more common in the task's own
 * synthetic topic than in the others, and the generator's topic words in the
 * names of the tasks that are one topic. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "cluster/task_names.h"
#include "data/dataset.h"
#include "router/router.h"

typedef struct words { char w[32][32]; int n; } words;

static void collect(void *ctx, const char *w, size_t n)
{
    words *x = ctx;
    if (x->n < 32 && n < 32) { memcpy(x->w[x->n], w, n); x->w[x->n][n] = 0; x->n++; }
}

static void test_words(void **state)
{
    (void)state;
    words x = {0};
    const char *t = "Why doesn't my Python's CSV parser read 3 files? It's 2024: the x86 H2O GPT-4 caf\xc3\xa9 ok.";
    tr_name_words(t, strlen(t), collect, &x);
    /* "why", "doesn't", "it's", "the" are stopwords; "my", "ok" too short; "3", "2024" numbers; "x86" one
     * letter; a possessive 's goes */
    const char *want[] = {"python", "csv", "parser", "read", "files", "h2o", "gpt", "caf\xc3\xa9"};
    assert_int_equal(x.n, 8);
    for (int i = 0; i < 8; i++) assert_string_equal(x.w[i], want[i]);
    /* the stopword list is sorted (bsearch) and holds the usual ones */
    assert_true(tr_is_stopword("the") && tr_is_stopword("doesn't") && tr_is_stopword("please"));
    assert_false(tr_is_stopword("python"));
}

static void test_keywords_and_unique_names(void **state)
{
    (void)state;
    /* tasks 0 and 1 share their vocabulary except one word each; task 2 is apart */
    const char *text =
        "{\"id\":\"a1\",\"prompt\":\"invoice refund payment alpha\"}\n"
        "{\"id\":\"a2\",\"prompt\":\"invoice refund payment alpha please\"}\n"
        "{\"id\":\"a3\",\"prompt\":\"invoice refund payment alpha today\"}\n"
        "{\"id\":\"b1\",\"prompt\":\"invoice refund payment beta\"}\n"
        "{\"id\":\"b2\",\"prompt\":\"invoice refund payment beta\"}\n"
        "{\"id\":\"b3\",\"prompt\":\"invoice refund payment beta\"}\n"
        "{\"id\":\"c1\",\"prompt\":\"translate this sentence into french\"}\n"
        "{\"id\":\"c2\",\"prompt\":\"translate the sentence into german\"}\n"
        "{\"id\":\"c3\",\"prompt\":\"translate a sentence into french\"}\n";
    tr_dataset *ds = NULL;
    char err[512];
    assert_int_equal(tr_dataset_load_mem(text, strlen(text), "t", NULL, &ds, err, sizeof err), TR_OK);
    size_t idx[9];
    int32_t memb[9] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (size_t i = 0; i < 9; i++) idx[i] = i;
    tr_task_keywords kw;
    assert_int_equal(tr_task_keywords_find(ds, idx, memb, 9, 3, 4, &kw, err, sizeof err), TR_OK);
    assert_string_equal(kw.words[0 * 4 + 0], "alpha");   /* in all of task 0, nowhere else */
    assert_string_equal(kw.words[1 * 4 + 0], "beta");
    assert_string_equal(kw.words[2 * 4 + 0], "sentence");   /* in all three, ties by spelling */
    assert_string_equal(kw.words[2 * 4 + 1], "translate");
    assert_string_equal(kw.words[2 * 4 + 2], "french");     /* in two of them */
    assert_null(kw.words[2 * 4 + 3]);                       /* "german" is in one prompt only */
    assert_true(kw.scores[0] > kw.scores[1]);
    tr_tasks t;
    float X[18] = {0};
    for (int i = 0; i < 9; i++) X[2 * i] = 1;
    assert_int_equal(tr_tasks_build(memb, 9, 3, X, 2, NULL, NULL, 0, &t, err, sizeof err), TR_OK);
    assert_int_equal(tr_task_names_from_keywords(&t, &kw), TR_OK);
    assert_string_equal(t.names[0], "alpha, invoice, payment");
    assert_string_equal(t.names[1], "beta, invoice, payment");
    assert_string_equal(t.names[2], "sentence, translate, french");
    assert_string_equal(t.slugs[2], "sentence-translate-french");
    /* two tasks with the same best words: the later one takes its next keyword, then its id */
    free(kw.words[1 * 4 + 0]);
    kw.words[1 * 4 + 0] = tr_strdup("alpha");
    assert_int_equal(tr_task_names_from_keywords(&t, &kw), TR_OK);
    assert_string_equal(t.names[1], "alpha, invoice, refund");
    free(kw.words[1 * 4 + 3]);
    kw.words[1 * 4 + 3] = NULL;
    free(kw.words[1 * 4 + 2]);
    kw.words[1 * 4 + 2] = tr_strdup("payment");
    tr_tasks_set_name(&t, 0, "x");
    assert_int_equal(tr_task_names_from_keywords(&t, &kw), TR_OK);
    assert_string_equal(t.names[0], "alpha, invoice, payment");
    assert_string_equal(t.names[1], "alpha, invoice, payment #1");
    tr_tasks_clear(&t);
    tr_task_keywords_clear(&kw);
    tr_dataset_free(ds);
}

typedef struct has { const char *w; int hit; } has;
static void find(void *ctx, const char *w, size_t n)
{
    has *h = ctx;
    if (strlen(h->w) == n && !memcmp(h->w, w, n)) h->hit = 1;
}

/* Share of the training prompts idx[0..n) routed to task t (task[i] == t)
 * that contain word w; when lab is given, of those whose synthetic label is
 * not lab instead. */
static double share(const tr_dataset *ds, const size_t *idx, const int *task, size_t n, int t, const char *lab,
                    const char *w)
{
    size_t m = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const tr_record *r = &ds->rec[idx[i]];
        if (lab ? !strcmp(r->task, lab) : task[i] != t) continue;
        has h = {w, 0};
        tr_name_words(r->prompt, r->prompt_len, find, &h);
        m++;
        k += h.hit;
    }
    return m ? (double)k / (double)m : 0;
}

static void test_demo_names(void **state)
{
    (void)state;
    tr_dataset *ds = NULL;
    char err[1024];
    if (tr_dataset_load("data/demo.jsonl", NULL, &ds, err, sizeof err)) { print_message("%s\n", err); skip(); }
    tr_train_options o;
    tr_train_options_default(&o);
    o.threads = 2;   /* the defaults otherwise: a smaller projection clusters the demo data worse */
    tr_router *r = NULL;
    assert_int_equal(tr_discover(ds, &o, &r, NULL, err, sizeof err), TR_OK);
    size_t T = tr_router_task_count(r), *idx = NULL, n = 0;
    assert_int_equal(tr_dataset_train_indices(ds, 0, &idx, &n), TR_OK);
    /* each task's majority label among its training prompts */
    tr_scratch *s = NULL;
    assert_int_equal(tr_scratch_new(r, &s), TR_OK);
    const char *labels[16];
    size_t nl = 0, *cnt = calloc(T * 16, sizeof *cnt), *tot = calloc(T, sizeof *tot);
    int *task = calloc(n, sizeof *task);
    for (size_t i = 0; i < n; i++) {
        const tr_record *rec = &ds->rec[idx[i]];
        tr_decision d;
        assert_int_equal(tr_route(r, rec->prompt, rec->prompt_len, NULL, s, &d), TR_OK);
        size_t l = 0;
        while (l < nl && strcmp(labels[l], rec->task)) l++;
        if (l == nl) labels[nl++] = rec->task;
        cnt[(size_t)d.task * 16 + l]++;
        task[i] = d.task;
        tot[d.task]++;
    }
    /* the generator's own topic words: a name of a task that is one topic has one of them */
    static const struct { const char *label, *words[6]; } topic[] = {
        {"code", {"code", "python", "function", "program", "crashes", NULL}},
        {"sql", {"sql", "query", "table", "postgresql", NULL}},
        {"legal", {"contract", "law", "lawyer", "jurisdiction", "agreement", "clause"}},
        {"medical", {"doctor", "dose", "side", "effects", "safe", "diabetes"}},
        {"logic", {"box", "sits", "puzzle", "truth", "lies", "house"}},
        {"translation", {"translate", "translation", "say", "english", "natural", "sentence"}},
    };
    size_t topics_checked = 0;
    for (size_t t = 0; t < T; t++) {
        const char *name = tr_router_task_name(r, t);
        for (size_t k = 0; k < t; k++) assert_string_not_equal(name, tr_router_task_name(r, k));
        size_t best = 0;
        for (size_t l = 1; l < nl; l++)
            if (cnt[t * 16 + l] > cnt[t * 16 + best]) best = l;
        double purity = tot[t] ? (double)cnt[t * 16 + best] / (double)tot[t] : 0;
        /* the name's words: whole words of the prompts, no stopwords, each far more common in the task
         * than in the prompts of other topics */
        words x = {0};
        tr_name_words(name, strlen(name), collect, &x);
        assert_int_equal(x.n, 3);
        char rebuilt[256];
        snprintf(rebuilt, sizeof rebuilt, "%s, %s, %s", x.w[0], x.w[1], x.w[2]);
        assert_string_equal(rebuilt, name);   /* nothing but the three words */
        int topical = 0;
        for (int k = 0; k < 3; k++) {
            assert_false(tr_is_stopword(x.w[k]));
            double in = share(ds, idx, task, n, (int)t, NULL, x.w[k]), out = share(ds, idx, task, n, -1, labels[best], x.w[k]);
            if (purity >= 0.9) assert_true(in >= 0.05 && in >= 5 * out);
            for (size_t q = 0; q < sizeof topic / sizeof *topic; q++)
                if (!strcmp(topic[q].label, labels[best]))
                    for (int z = 0; z < 6 && topic[q].words[z]; z++) topical |= !strcmp(topic[q].words[z], x.w[k]);
        }
        for (size_t q = 0; q < sizeof topic / sizeof *topic; q++)
            if (purity >= 0.9 && !strcmp(topic[q].label, labels[best]) && tot[t] >= 100) {
                print_message("task %zu '%s' (%s, %.0f%%)\n", t, name, labels[best], 100 * purity);
                assert_true(topical);
                topics_checked++;
            }
    }
    assert_true(topics_checked >= 4);
    free(cnt);
    free(tot);
    free(task);
    tr_free(idx);
    tr_scratch_free(s);
    tr_router_close(r);
    tr_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_keywords_and_unique_names),
        cmocka_unit_test(test_demo_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
