/* The routing JSONL reader: values, NaN for absent labels, model order and
 * stats on good input; every kind of bad input (tests/data/bad/) with its
 * status code, full message (file, line, field, value); skip_bad counting and
 * reporting; stdin; the in-memory entry point; allocation failures. */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>

#include "base/util.h"
#include "data/dataset.h"

#define BAD "tests/data/bad/"

static void test_good_values(void **state)
{
    (void)state;
    const char *p = tu_write("good.jsonl",
        "{\"id\":\"70\",\"prompt\":\"What is 2+2?\",\"task\":\"math\",\"scores\":{\"big\":1,\"small\":0.25},"
        "\"costs\":{\"big\":0.00031,\"small\":2e-05},\"split\":\"train\"}\n"
        "\n"
        "{\"id\":\"r1\",\"prompt\":\"caf\xc3\xa9 \\u00e9\\n\",\"task\":null,\"scores\":{\"small\":1,\"mid\":null},"
        "\"costs\":{\"small\":0.5}}\r\n"
        "   \n"
        "{\"id\":\"r0\",\"prompt\":\"no labels\"}\n"
        "{\"id\":\"3\",\"prompt\":\"last, no newline\",\"scores\":{\"mid\":0,\"big\":1,\"small\":1},"
        "\"costs\":{\"mid\":0.01,\"big\":0.1,\"small\":0.001}}");
    tr_dataset *ds = NULL;
    char err[512] = "";
    assert_int_equal(tr_dataset_load(p, NULL, &ds, err, sizeof err), TR_OK);
    assert_int_equal(tr_dataset_count(ds), 4);
    assert_int_equal(tr_dataset_model_count(ds), 3);
    /* first appearance: big, small (line 1), mid (line 3) */
    assert_string_equal(tr_dataset_model_name(ds, 0), "big");
    assert_string_equal(tr_dataset_model_name(ds, 1), "small");
    assert_string_equal(tr_dataset_model_name(ds, 2), "mid");
    assert_null(tr_dataset_model_name(ds, 3));
    assert_int_equal(tr_dataset_find_model(ds, "mid"), 2);
    assert_int_equal(tr_dataset_find_model(ds, "nope"), -1);

    assert_string_equal(ds->rec[0].id, "70");
    assert_string_equal(ds->rec[0].task, "math");
    assert_int_equal(ds->rec[0].line, 1);
    assert_true(ds->rec[0].is_test); /* fnv1a64("70") % 5 == 0 */
    assert_false(ds->rec[0].complete); /* no "mid" */
    assert_float_equal(tr_ds_score(ds, 0, 0), 1.0, 0);
    assert_float_equal(tr_ds_score(ds, 0, 1), 0.25, 0);
    assert_true(isnan(tr_ds_score(ds, 0, 2)));
    assert_float_equal(tr_ds_cost(ds, 0, 0), 0.00031f, 1e-12);
    assert_float_equal(tr_ds_cost(ds, 0, 1), 2e-05f, 1e-12);

    assert_string_equal(ds->rec[1].prompt, "caf\xc3\xa9 \xc3\xa9\n");
    assert_int_equal(ds->rec[1].prompt_len, 9);
    assert_null(ds->rec[1].task);
    assert_int_equal(ds->rec[1].line, 3);
    assert_true(isnan(tr_ds_score(ds, 1, 0)));
    assert_float_equal(tr_ds_score(ds, 1, 1), 1.0, 0);
    assert_true(isnan(tr_ds_score(ds, 1, 2))); /* null = no label */
    assert_float_equal(tr_ds_cost(ds, 1, 1), 0.5, 0);

    assert_int_equal(ds->rec[2].line, 5);
    for (size_t m = 0; m < 3; m++) assert_true(isnan(tr_ds_score(ds, 2, m)) && isnan(tr_ds_cost(ds, 2, m)));

    assert_int_equal(ds->rec[3].line, 6);
    assert_true(ds->rec[3].is_test); /* "3" */
    assert_true(ds->rec[3].complete);
    assert_float_equal(tr_ds_cost(ds, 3, 2), 0.01f, 0);
    assert_int_equal(ds->emb_dim, 0);
    assert_null(ds->emb);

    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    assert_int_equal(st.lines, 4);
    assert_int_equal(st.kept, 4);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(st.test, 3); /* "70", "r0", "3" */
    assert_int_equal(st.train, 1);
    assert_int_equal(st.test_complete, 1);

    size_t *idx, n;
    assert_int_equal(tr_dataset_test_indices(ds, &idx, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 3);
    tr_free(idx);
    assert_int_equal(tr_dataset_train_indices(ds, 0, &idx, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
    tr_free(idx);
    assert_true(ds->rec[2].is_test); /* "r0" */
    tr_dataset_free(ds);
    tr_dataset_free(NULL);
}

static void test_embeddings(void **state)
{
    (void)state;
    const char *p = tu_write("emb.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"embedding\":[0.5,-1,2e3]}\n"
        "{\"id\":\"b\",\"prompt\":\"y\",\"embedding\":[0,0,1]}\n");
    tr_dataset *ds;
    char err[256];
    assert_int_equal(tr_dataset_load(p, NULL, &ds, err, sizeof err), TR_OK);
    assert_int_equal(ds->emb_dim, 3);
    assert_float_equal(ds->emb[0], 0.5, 0);
    assert_float_equal(ds->emb[1], -1, 0);
    assert_float_equal(ds->emb[2], 2000, 0);
    assert_float_equal(ds->emb[5], 1, 0);
    assert_int_equal(tr_dataset_model_count(ds), 0);
    tr_dataset_free(ds);
}

typedef struct bad_case {
    const char *file;
    int code;
    const char *msg; /* after "tests/data/bad/FILE:" */
} bad_case;

static const bad_case bad_cases[] = {
    {"malformed.jsonl", TR_EFORMAT, "2: malformed JSON at column 24"},
    {"not_object.jsonl", TR_EFORMAT, "2: expected a JSON object, got an array"},
    {"missing_id.jsonl", TR_EFORMAT, "1: field 'id': missing"},
    {"empty_id.jsonl", TR_EFORMAT, "2: field 'id': empty string"},
    {"nonstring_id.jsonl", TR_EFORMAT, "2: field 'id': expected a string, got number 70"},
    {"dup_id.jsonl", TR_EFORMAT, "3: field 'id': duplicate id \"a\" (first on line 1)"},
    {"missing_prompt.jsonl", TR_EFORMAT, "2: field 'prompt': missing"},
    {"empty_prompt.jsonl", TR_EFORMAT, "2: field 'prompt': empty string"},
    {"nonstring_prompt.jsonl", TR_EFORMAT, "2: field 'prompt': expected a string, got an array"},
    {"bad_utf8_prompt.jsonl", TR_EFORMAT, "2: field 'prompt': invalid UTF-8 at byte 3 of the string"},
    {"bad_utf8_model.jsonl", TR_EFORMAT, "2: field 'scores': a key has invalid UTF-8 at byte 1"},
    {"bad_utf8_other.jsonl", TR_EFORMAT, "2: field 'meta.src[1]': invalid UTF-8 at byte 0 of the string"},
    {"task_number.jsonl", TR_EFORMAT, "2: field 'task': expected a string or null, got number 3"},
    {"scores_array.jsonl", TR_EFORMAT, "2: field 'scores': expected an object, got an array"},
    {"score_string.jsonl", TR_EFORMAT,
     "2: field 'scores.m1': expected a number in [0, 1] or null, got string \"high\""},
    {"score_range.jsonl", TR_ERANGE, "2: field 'scores.gpt-4': score 7 is outside [0, 1]"},
    {"score_negative.jsonl", TR_ERANGE, "2: field 'scores.m1': score -0.5 is outside [0, 1]"},
    {"score_dup_key.jsonl", TR_EFORMAT, "2: field 'scores.m1': the key appears twice"},
    {"dup_prompt_key.jsonl", TR_EFORMAT, "2: field 'prompt': the key appears twice"},
    {"dup_scores_key.jsonl", TR_EFORMAT, "2: field 'scores': the key appears twice"},
    {"costs_string.jsonl", TR_EFORMAT, "2: field 'costs': expected an object, got string \"cheap\""},
    {"cost_negative.jsonl", TR_ERANGE, "2: field 'costs.m2': cost -0.1 is negative"},
    {"cost_inf.jsonl", TR_ERANGE, "2: field 'costs.m2': cost inf is not finite"},
    {"cost_bool.jsonl", TR_EFORMAT, "2: field 'costs.m2': expected a number or null, got true"},
    {"emb_not_array.jsonl", TR_EFORMAT, "2: field 'embedding': expected an array of numbers, got string \"x\""},
    {"emb_not_number.jsonl", TR_EFORMAT, "2: field 'embedding[1]': expected a number, got string \"a\""},
    {"emb_length.jsonl", TR_EFORMAT, "3: field 'embedding': 2 numbers, but the first record (line 1) has 3"},
    {"emb_missing.jsonl", TR_EFORMAT,
     "2: field 'embedding': missing, but the first record (line 1) has one of 3 numbers"},
    {"truncated.jsonl", TR_ETRUNC, "2: truncated last line (no final newline): malformed JSON at column 21"},
    {"empty.jsonl", TR_ETOOFEW, " no records (empty file)"},
    {"blank_only.jsonl", TR_ETOOFEW, " no records (empty file)"},
    {"trailing_text.jsonl", TR_EFORMAT, "2: unexpected text after the JSON value at column 25"},
    {"nul_byte.jsonl", TR_EFORMAT, "2: NUL byte at column 24"},
    {"typo_model.jsonl", TR_EFORMAT,
     "13: field 'scores.gtp-4': model 'gtp-4' is labelled in only this record of 25 (a typo?)"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char path[256], want[512], err[512] = "";
        snprintf(path, sizeof path, BAD "%s", c->file);
        snprintf(want, sizeof want, "%s:%s", path, c->msg);
        tr_dataset *ds = (tr_dataset *)1;
        int rc = tr_dataset_load(path, NULL, &ds, err, sizeof err);
        if (rc != c->code || strcmp(err, want))
            fail_msg("%s: got %s \"%s\", want %s \"%s\"", c->file, tr_strerror_name(rc), err,
                     tr_strerror_name(c->code), want);
        assert_null(ds);
    }
}

/* Every bad corpus file also fails the same way through the memory reader. */
static void test_bad_inputs_mem(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char path[256], want[512], err[512] = "";
        snprintf(path, sizeof path, BAD "%s", c->file);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        snprintf(want, sizeof want, "mem:%s", c->msg);
        tr_dataset *ds;
        int rc = tr_dataset_load_mem(buf, n, "mem", NULL, &ds, err, sizeof err);
        if (rc != c->code || strcmp(err, want))
            fail_msg("%s: got %s \"%s\", want \"%s\"", c->file, tr_strerror_name(rc), err, want);
    }
}

static void test_open_errors(void **state)
{
    (void)state;
    tr_dataset *ds;
    char err[256];
    assert_int_equal(tr_dataset_load("tests/data/bad/no-such-file.jsonl", NULL, &ds, err, sizeof err), TR_EIO);
    assert_string_equal(err, "tests/data/bad/no-such-file.jsonl: cannot open: No such file or directory");
    assert_int_equal(tr_dataset_load("tests/data/bad", NULL, &ds, err, sizeof err), TR_EIO);
    assert_string_equal(err, "tests/data/bad: is a directory");
    assert_int_equal(tr_dataset_load(NULL, NULL, &ds, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_dataset_load("x", NULL, NULL, err, sizeof err), TR_EINVAL);
}

typedef struct reports { int n; char last[512]; char first[512]; } reports;

static tr_load_options load_options(int skip_bad, void (*report)(void *, const char *), void *ctx)
{
    tr_load_options o;
    tr_load_options_default(&o);
    o.skip_bad = skip_bad;
    o.report = report;
    o.report_ctx = ctx;
    return o;
}

static void collect(void *ctx, const char *msg)
{
    reports *r = ctx;
    if (!r->n) snprintf(r->first, sizeof r->first, "%s", msg);
    snprintf(r->last, sizeof r->last, "%s", msg);
    r->n++;
}

/* Records the reader keeps but that deserve a look are counted: no score
 * at all (no "scores", {}, only null), a repeated key it ignores. */
static void test_unscored_and_repeated(void **state)
{
    (void)state;
    const char *p = tu_write("unscored.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1},\"costs\":{\"m\":1}}\n"
        "{\"id\":\"b\",\"prompt\":\"y\"}\n"
        "{\"id\":\"c\",\"prompt\":\"z\",\"scores\":{}}\n"
        "{\"id\":\"d\",\"prompt\":\"w\",\"scores\":{\"m\":null},\"costs\":{\"m\":1}}\n"
        "{\"id\":\"e\",\"prompt\":\"v\",\"scores\":{\"m\":0},\"note\":1,\"note\":2}\n");
    tr_dataset *ds;
    char err[256];
    assert_int_equal(tr_dataset_load(p, NULL, &ds, err, sizeof err), TR_OK);
    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    assert_int_equal(st.kept, 5);
    assert_int_equal(st.unscored, 3);
    assert_int_equal(st.repeated_keys, 1);
    tr_dataset_free(ds);
}

static void test_skip_bad(void **state)
{
    (void)state;
    const char *p = tu_write("mixed.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1}}\n"
        "{\"id\":\"b\",\"prompt\":\"y\",\"scores\":{\"new\":2}}\n"   /* bad; its model must vanish */
        "not json\n"
        "{\"id\":\"a\",\"prompt\":\"dup\"}\n"
        "\n"
        "{\"id\":\"70\",\"prompt\":\"z\",\"scores\":{\"m\":0},\"costs\":{\"m\":1}}\n"
        "{\"id\":\"c\",\"prompt\":\"cut");
    reports r = {0};
    tr_load_options o = load_options(1, collect, &r);
    tr_dataset *ds;
    char err[256];
    assert_int_equal(tr_dataset_load(p, &o, &ds, err, sizeof err), TR_OK);
    assert_int_equal(r.n, 5); /* four bad lines + the totals */
    char want[1024];
    snprintf(want, sizeof want, "%s:2: field 'scores.new': score 2 is outside [0, 1]", p);
    assert_string_equal(r.first, want);
    snprintf(want, sizeof want, "%s: 6 lines, 2 records kept, 4 skipped, 1 models; 0 without a score, 0 repeating an "
                                "ignored key", p);
    assert_string_equal(r.last, want);
    tr_load_stats st;
    tr_dataset_stats(ds, &st);
    assert_int_equal(st.lines, 6);
    assert_int_equal(st.kept, 2);
    assert_int_equal(st.skipped, 4);
    assert_int_equal(st.lines, st.kept + st.skipped);
    assert_int_equal(st.test, 1);
    assert_int_equal(st.test_complete, 1);
    assert_int_equal(st.train, 1);
    assert_int_equal(tr_dataset_model_count(ds), 1);
    assert_string_equal(tr_dataset_model_name(ds, 0), "m");
    assert_string_equal(ds->rec[1].id, "70");
    assert_float_equal(tr_ds_score(ds, 1, 0), 0, 0);
    tr_dataset_free(ds);

    /* Everything bad: nothing kept is an error, not an empty dataset. */
    p = tu_write("allbad.jsonl", "[1]\n{}\n");
    memset(&r, 0, sizeof r);
    assert_int_equal(tr_dataset_load(p, &o, &ds, err, sizeof err), TR_ETOOFEW);
    snprintf(want, sizeof want, "%s: no records kept (2 bad lines skipped)", p);
    assert_string_equal(err, want);
    assert_int_equal(r.n, 2);
}

static void test_skip_bad_typo(void **state)
{
    (void)state;
    reports r = {0};
    tr_load_options o = load_options(1, collect, &r);
    tr_dataset *ds;
    char err[256];
    assert_int_equal(tr_dataset_load(BAD "typo_model.jsonl", &o, &ds, err, sizeof err), TR_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.first, BAD "typo_model.jsonl:13: field 'scores.gtp-4': model 'gtp-4' is "
                                 "labelled in only this record of 25 (a typo?); model dropped");
    assert_int_equal(tr_dataset_model_count(ds), 2);
    assert_string_equal(tr_dataset_model_name(ds, 0), "small");
    assert_string_equal(tr_dataset_model_name(ds, 1), "gpt-4");
    assert_int_equal(tr_dataset_count(ds), 25);
    assert_true(isnan(tr_ds_score(ds, 12, 1)));
    assert_false(ds->rec[12].complete);
    assert_true(ds->rec[11].complete);
    tr_dataset_free(ds);

    /* Below 20 records a model seen once is legitimate. */
    const char *p = tu_write("few.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1}}\n"
        "{\"id\":\"b\",\"prompt\":\"y\",\"scores\":{\"m\":1,\"rare\":0}}\n");
    assert_int_equal(tr_dataset_load(p, NULL, &ds, err, sizeof err), TR_OK);
    assert_int_equal(tr_dataset_model_count(ds), 2);
    tr_dataset_free(ds);
}

static void test_stdin(void **state)
{
    (void)state;
    const char *p = tu_write("stdin.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1}}\n"
        "{\"id\":\"b\",\"prompt\":\"y\",\"scores\":{\"m\":9}}\n");
    int saved = dup(0);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 0);
    close(fd);
    clearerr(stdin);
    tr_dataset *ds;
    char err[256];
    int rc = tr_dataset_load("-", NULL, &ds, err, sizeof err);
    dup2(saved, 0);
    close(saved);
    clearerr(stdin);
    assert_int_equal(rc, TR_ERANGE);
    assert_string_equal(err, "<stdin>:2: field 'scores.m': score 9 is outside [0, 1]");

    p = tu_write("stdin2.jsonl", "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1}}\n");
    saved = dup(0);
    fd = open(p, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    clearerr(stdin);
    rc = tr_dataset_load("-", NULL, &ds, err, sizeof err);
    dup2(saved, 0);
    close(saved);
    clearerr(stdin);
    assert_int_equal(rc, TR_OK);
    assert_string_equal(ds->path, "-");
    assert_int_equal(tr_dataset_count(ds), 1);
    tr_dataset_free(ds);
}

static void on_progress(void *ctx, double frac)
{
    double *last = ctx;
    assert_true(frac >= *last && frac <= 1.0);
    *last = frac;
}

static void test_mem_and_progress(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1}}\nGARBAGE";
    tr_dataset *ds;
    char err[256];
    double last = 0;
    tr_load_options o = load_options(0, NULL, NULL);
    o.progress = on_progress;
    o.progress_ctx = &last;
    /* only the first line's bytes are given: the garbage is never seen */
    assert_int_equal(tr_dataset_load_mem(text, strlen(text) - 7, NULL, &o, &ds, err, sizeof err), TR_OK);
    assert_float_equal(last, 1.0, 0);
    assert_string_equal(ds->path, "<memory>");
    assert_int_equal(tr_dataset_count(ds), 1);
    tr_dataset_free(ds);
    assert_int_equal(tr_dataset_load_mem(text, strlen(text), "t", NULL, &ds, err, sizeof err), TR_ETRUNC);
    assert_string_equal(err, "t:2: truncated last line (no final newline): malformed JSON at column 1");
    assert_int_equal(tr_dataset_load_mem(NULL, 0, "t", NULL, &ds, err, sizeof err), TR_ETOOFEW);
}

/* Fail the k-th allocation for every k until the load succeeds: each must be
 * TR_ENOMEM with nothing leaked (valgrind / ASan check the leaks). */
static void test_alloc_failures(void **state)
{
    (void)state;
    const char *p = tu_write("oom.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\",\"scores\":{\"m\":1,\"n\":0},\"costs\":{\"m\":1},\"embedding\":[1,2]}\n"
        "{\"id\":\"b\",\"prompt\":\"y\",\"task\":\"t\",\"scores\":{\"m\":1,\"o\":0.5},\"embedding\":[3,4]}\n"
        "{\"id\":\"c\",\"prompt\":\"z\",\"scores\":{\"bad\":5},\"embedding\":[3,4]}\n");
    tr_load_options o = load_options(1, NULL, NULL);
    int ok_at = -1, enomem = 0;
    for (long k = 0; k < 200; k++) {
        tr_dataset *ds = (tr_dataset *)1;
        char err[256] = "";
        tr_alloc_fail_after(k);
        int rc = tr_dataset_load(p, &o, &ds, err, sizeof err);
        long failed = tr_alloc_fail_after(-1);
        if (rc == TR_OK) {
            assert_int_equal(failed, 0);
            assert_int_equal(tr_dataset_count(ds), 2);
            assert_int_equal(tr_dataset_model_count(ds), 3);
            tr_dataset_free(ds);
            ok_at = (int)k;
            break;
        }
        assert_int_equal(rc, TR_ENOMEM);
        assert_true(strstr(err, "out of memory") != NULL);
        assert_null(ds);
        enomem++;
    }
    assert_true(ok_at > 5);
    assert_int_equal(enomem, ok_at);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_bad_inputs_mem),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_unscored_and_repeated),
        cmocka_unit_test(test_skip_bad),
        cmocka_unit_test(test_skip_bad_typo),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_mem_and_progress),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
