/* The pure parts of `taskroute label` (src/label/): every matcher on
 * tricky answers, the judge's strict score reader on malformed replies,
 * the input and journal readers (a torn last line tolerated, a bad middle
 * line refused) and the labelling order of each strategy. */
#include <math.h>

#include "testutil.h"

#include "base/util.h"
#include "label/input.h"
#include "label/journal.h"
#include "label/judge.h"
#include "label/answer_match.h"
#include "label/sample.h"

static void test_choice(void **state)
{
    (void)state;
    assert_int_equal(tr_match_choice_letter("(B)"), 'B');
    assert_int_equal(tr_match_choice_letter("B."), 'B');
    assert_int_equal(tr_match_choice_letter("The answer is b"), 'B');
    assert_int_equal(tr_match_choice_letter("I think A... no, C"), 'C');
    assert_int_equal(tr_match_choice_letter("the answer is (d) because"), 'D');
    assert_int_equal(tr_match_choice_letter("Answer: **E**"), 'E');
    assert_int_equal(tr_match_choice_letter("Option c is right"), 'C');
    assert_int_equal(tr_match_choice_letter("[F]"), 'F');
    /* "I" as a pronoun, "a" as an article, abbreviations: no commitment */
    assert_int_equal(tr_match_choice_letter("I think so"), 0);
    assert_int_equal(tr_match_choice_letter("It is a cat"), 0);
    assert_int_equal(tr_match_choice_letter("e.g. the U.S. rule"), 0);
    assert_int_equal(tr_match_choice_letter(""), 0);
    /* the last commitment wins, whichever rule made it */
    assert_int_equal(tr_match_choice_letter("(A) looks right. Final answer: B"), 'B');
    assert_int_equal(tr_match_choice_letter("B. On reflection (C)"), 'C');
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "I think A... no, C", "C", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "I think A... no, C", "A", 0), 0);
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "The answer is b", "(B)", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "The answer is b", "b", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "no idea", "B", 0), 0);
    assert_int_equal(tr_match(TR_MATCH_CHOICE, "B", "", 0), 0);
}

static void test_number(void **state)
{
    (void)state;
    double v;
    assert_true(tr_match_final_number("So the total is 1,234.5 apples.", &v));
    assert_true(fabs(v - 1234.5) < 1e-9);
    assert_true(tr_match_final_number("from 3 to -7", &v));
    assert_true(v == -7);
    assert_true(tr_match_final_number("x = 3/4", &v));
    assert_true(fabs(v - 0.75) < 1e-12);
    assert_true(tr_match_final_number("about 2.5e3 m", &v));
    assert_true(v == 2500);
    assert_true(tr_match_final_number("pages 3-4", &v));
    assert_true(v == 4);
    assert_true(tr_match_final_number("12345,678", &v));
    assert_true(v == 678);
    assert_false(tr_match_final_number("no digits here", &v));
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "The answer is 42.", "42", 1e-6), 1);
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "It is 42.0", "42", 1e-6), 1);
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "first 42, then 43", "42", 1e-6), 0);
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "1000001", "1000000", 1e-6), 1);   /* relative above 1 */
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "0.5", "0.6", 0.05), 0);
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "0.5", "0.6", 0.2), 1);
    assert_int_equal(tr_match(TR_MATCH_NUMBER, "none", "1", 1), 0);
}

static void test_text(void **state)
{
    (void)state;
    assert_int_equal(tr_match(TR_MATCH_EXACT, "  Paris\n", "Paris", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_EXACT, "paris", "Paris", 0), 0);
    assert_int_equal(tr_match(TR_MATCH_NORMALIZED, "The Paris!", "paris", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_NORMALIZED, "Paris, France", "paris", 0), 0);
    assert_int_equal(tr_match(TR_MATCH_CONTAINS, "It is Paris, France.", "paris", 0), 1);
    assert_int_equal(tr_match(TR_MATCH_CONTAINS, "Comparison", "paris", 0), 0);  /* whole words */
    assert_int_equal(tr_match(TR_MATCH_CONTAINS, "anything", "", 0), 0);
    char *n = tr_match_normalize("  An  Apple, the PEAR; a plum ");
    assert_string_equal(n, "apple pear plum");
    tr_free(n);
    tr_match_kind k;
    assert_int_equal(tr_match_kind_parse("choice", &k), 0);
    assert_int_equal(k, TR_MATCH_CHOICE);
    assert_int_equal(tr_match_kind_parse("fuzzy", &k), -1);
}

static void test_judge(void **state)
{
    (void)state;
    double s;
    char err[128];
    assert_int_equal(tr_judge_parse_score(" 1\n", 3, &s, err, sizeof err), TR_OK);
    assert_true(s == 1);
    assert_int_equal(tr_judge_parse_score("0.75", 4, &s, err, sizeof err), TR_OK);
    assert_true(s == 0.75);
    assert_int_equal(tr_judge_parse_score(".5", 2, &s, err, sizeof err), TR_OK);
    static const char *const bad[] = {"", "Score: 1", "1.5", "0.5/1", "80%", "1e0", "-0", "0.5 0.7", "high", "0..5",
                                      "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = -1;
        assert_int_equal(tr_judge_parse_score(bad[i], strlen(bad[i]), &s, err, sizeof err), TR_EFORMAT);
        assert_true(s == -1);
        assert_true(strlen(err) > 0);
    }
    char *p = tr_judge_prompt("What is 2+2?", "4", "four");
    assert_non_null(strstr(p, "Question:\nWhat is 2+2?"));
    assert_non_null(strstr(p, "Reference answer:\nfour"));
    assert_non_null(strstr(p, "Answer to grade:\n4"));
    tr_free(p);
    p = tr_judge_prompt("q", "a", NULL);
    assert_null(strstr(p, "Reference"));
    tr_free(p);
}

static void test_input(void **state)
{
    (void)state;
    tr_label_item it;
    char err[256];
    const char *l1 = "{\"id\":7,\"prompt\":\"hi\",\"gold\":\"B\",\"task\":\"t\"}";
    assert_int_equal(tr_label_item_parse(l1, strlen(l1), "gold", &it, err, sizeof err), TR_OK);
    assert_string_equal(it.id, "7");
    assert_string_equal(it.reference, "B");
    assert_string_equal(it.task, "t");
    assert_null(it.messages);
    tr_label_item_free(&it);
    /* a decision log line: request_id, a numeric task not passed on */
    const char *l2 = "{\"unix_ms\":1,\"request_id\":\"r-1\",\"prompt\":\"hello\",\"model\":\"m\",\"task\":3}";
    assert_int_equal(tr_label_item_parse(l2, strlen(l2), NULL, &it, err, sizeof err), TR_OK);
    assert_string_equal(it.id, "r-1");
    assert_null(it.task);
    tr_label_item_free(&it);
    /* messages; no id: a stable hash of the text */
    const char *l3 = "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":"
                     "[{\"type\":\"text\",\"text\":\"2+2?\"}]},{\"role\":\"assistant\",\"content\":\"x\"}],\"ans\":4}";
    assert_int_equal(tr_label_item_parse(l3, strlen(l3), "ans", &it, err, sizeof err), TR_OK);
    assert_string_equal(it.prompt, "be brief\n2+2?");
    assert_string_equal(it.reference, "4");
    assert_non_null(it.messages);
    assert_int_equal(it.id[0], 'p');
    assert_int_equal(strlen(it.id), 17);
    char first[32];
    snprintf(first, sizeof first, "%s", it.id);
    tr_label_item_free(&it);
    assert_int_equal(tr_label_item_parse(l3, strlen(l3), NULL, &it, err, sizeof err), TR_OK);
    assert_string_equal(it.id, first);
    tr_label_item_free(&it);
    static const char *const bad[] = {"[1]", "{\"prompt\":\"\"}", "{\"prompt\":3}", "{\"id\":1.5,\"prompt\":\"x\"}",
                                      "{\"messages\":[]}", "{\"messages\":[{\"content\":\"x\"}]}", "{\"x\":1}",
                                      "{\"prompt\":\"x\",\"gold\":[1]}", "{\"prompt\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_not_equal(tr_label_item_parse(bad[i], strlen(bad[i]), "gold", &it, err, sizeof err), TR_OK);
        assert_true(strlen(err) > 0);
    }
}

static int count_fn(void *ctx, const tr_journal_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return TR_OK;
}

static void test_journal(void **state)
{
    (void)state;
    tr_journal_entry a = {.kind = TR_JOURNAL_ANSWER, .id = "q1", .model = "m", .answer = "B.\n\"quoted\"",
                          .prompt_tokens = -1, .completion_tokens = 5, .usd = 0.25, .estimated = 1};
    tr_journal_entry s = {.kind = TR_JOURNAL_SCORE, .id = "q1", .model = "m", .score = NAN, .usd = 0.01};
    snprintf(s.by, sizeof s.by, "judge");
    size_t la, ls;
    char *A = tr_journal_format(&a, &la), *S = tr_journal_format(&s, &ls);
    tr_journal_entry e;
    char err[256];
    assert_int_equal(tr_journal_parse(A, la - 1, &e, err, sizeof err), TR_OK);
    assert_int_equal(e.kind, TR_JOURNAL_ANSWER);
    assert_string_equal(e.answer, "B.\n\"quoted\"");
    assert_true(e.prompt_tokens == -1 && e.completion_tokens == 5 && e.usd == 0.25 && e.estimated);
    tr_journal_entry_free(&e);
    assert_int_equal(tr_journal_parse(S, ls - 1, &e, err, sizeof err), TR_OK);
    assert_true(isnan(e.score));
    assert_string_equal(e.by, "judge");
    tr_journal_entry_free(&e);
    /* verifications: a confidence, and none (the verifier said neither yes nor no) */
    for (int none = 0; none < 2; none++) {
        tr_journal_entry v = {.kind = TR_JOURNAL_VERIFY, .id = "q1", .model = "m", .verifier = "v", .k = 4,
                              .confidence = none ? NAN : 0.75, .usd = 0.002};
        size_t lv;
        char *V = tr_journal_format(&v, &lv);
        assert_non_null(V);
        assert_int_equal(tr_journal_parse(V, lv - 1, &e, err, sizeof err), TR_OK);
        assert_int_equal(e.kind, TR_JOURNAL_VERIFY);
        assert_string_equal(e.verifier, "v");
        assert_true(e.k == 4 && e.usd == 0.002 && (none ? isnan(e.confidence) : e.confidence == 0.75));
        tr_journal_entry_free(&e);
        tr_free(V);
    }
    /* a whole journal, then the same with its last line torn anywhere */
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s%s%s", A, S, A);
    size_t good;
    int torn, cnt = 0;
    assert_int_equal(tr_journal_scan(buf, (size_t)n, "j", count_fn, &cnt, &good, &torn, err, sizeof err), TR_OK);
    assert_int_equal(cnt, 3);
    assert_int_equal(good, (size_t)n);
    assert_false(torn);
    for (size_t cut = la + ls + 1; cut < (size_t)n; cut++) {
        cnt = 0;
        assert_int_equal(tr_journal_scan(buf, cut, "j", count_fn, &cnt, &good, &torn, err, sizeof err), TR_OK);
        assert_int_equal(cnt, 2);
        assert_int_equal(good, la + ls);
        assert_true(torn);
    }
    /* a bad line that is not the last is damage, named by its line */
    n = snprintf(buf, sizeof buf, "%s{\"kind\":\"answer\"}\n%s", A, S);
    assert_int_equal(tr_journal_scan(buf, (size_t)n, "j", count_fn, &cnt, &good, &torn, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "j:2:"));
    static const char *const bad[] = {"{\"kind\":\"score\",\"id\":\"x\",\"model\":\"m\",\"by\":\"judge\",\"score\":2,\"usd\":null}",
                                      "{\"kind\":\"answer\",\"id\":\"x\",\"model\":\"m\",\"answer\":\"a\",\"prompt_tokens\":1.5,"
                                      "\"completion_tokens\":1,\"usd\":0,\"estimated\":false}",
                                      "{\"kind\":\"verify\",\"id\":\"x\",\"model\":\"m\",\"verifier\":\"v\",\"k\":4,"
                                      "\"confidence\":1.5,\"usd\":0}",
                                      "{\"kind\":\"verify\",\"id\":\"x\",\"model\":\"m\",\"k\":4,\"confidence\":1,\"usd\":0}",
                                      "{\"kind\":\"other\",\"id\":\"x\",\"model\":\"m\"}", "{\"kind\":\"score\",\"id\":\"\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tr_journal_parse(bad[i], strlen(bad[i]), &e, err, sizeof err), TR_EFORMAT);
    tr_free(A);
    tr_free(S);
}

static void test_sample(void **state)
{
    (void)state;
    enum { N = 12 };
    float margin[N] = {0.5f, 0.1f, NAN, 0.3f, 0.05f, 0.9f, 0.2f, 0.1f, 0.7f, 0.6f, 0.4f, 0.8f};
    int task[N] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2};
    size_t o[N], o2[N];
    assert_int_equal(tr_sample_order(N, TR_SAMPLE_UNCERTAIN, margin, task, 1, o), TR_OK);
    assert_int_equal(o[0], 4);                       /* the smallest margin first */
    assert_true((o[1] == 1 && o[2] == 7) || (o[1] == 7 && o[2] == 1));
    assert_int_equal(o[N - 1], 2);                   /* no margin: last */
    assert_int_equal(tr_sample_order(N, TR_SAMPLE_STRATIFIED, NULL, task, 1, o), TR_OK);
    /* the first three come from three different tasks, and so do the next three */
    int seen[3] = {0};
    for (int i = 0; i < 3; i++) seen[task[o[i]]]++;
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    memset(seen, 0, sizeof seen);
    for (int i = 3; i < 6; i++) seen[task[o[i]]]++;
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    /* random: a permutation, the same for the same seed */
    assert_int_equal(tr_sample_order(N, TR_SAMPLE_RANDOM, NULL, NULL, 7, o), TR_OK);
    assert_int_equal(tr_sample_order(N, TR_SAMPLE_RANDOM, NULL, NULL, 7, o2), TR_OK);
    assert_memory_equal(o, o2, sizeof o);
    int hit[N] = {0};
    for (int i = 0; i < N; i++) hit[o[i]]++;
    for (int i = 0; i < N; i++) assert_int_equal(hit[i], 1);
    assert_int_equal(tr_sample_order(N, TR_SAMPLE_UNCERTAIN, NULL, task, 1, o), TR_EINVAL);
    tr_sample_strategy st;
    assert_int_equal(tr_sample_strategy_parse("uncertain", &st), 0);
    assert_int_equal(st, TR_SAMPLE_UNCERTAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice), cmocka_unit_test(test_number), cmocka_unit_test(test_text),
        cmocka_unit_test(test_judge),  cmocka_unit_test(test_input),  cmocka_unit_test(test_journal),
        cmocka_unit_test(test_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
