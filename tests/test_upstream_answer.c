/* The reader of upstream chat answers (src/upstream/answer.c): whole
 * answers of every shape providers send, streams split at every byte, and
 * tricky or broken input refused with the field named.  The server objects
 * live in the binary, so the source is compiled in. */
#include "testutil.h"

#include "upstream/answer.c"

static int parse(const char *body, tr_upstream_answer *a, char *err)
{
    return tr_upstream_answer_parse(body, strlen(body), a, err, 256);
}

static void test_whole_answer(void **state)
{
    (void)state;
    tr_upstream_answer a;
    char err[256];
    const char *ok = "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\","
                     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Bonjour \\u00e0 \\ud83d\\ude00\"},"
                     "\"finish_reason\":\"stop\"},{\"index\":1,\"message\":{\"content\":\"second\"}}],"
                     "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}";
    assert_int_equal(parse(ok, &a, err), TR_OK);
    assert_string_equal(a.content, "Bonjour \xc3\xa0 \xf0\x9f\x98\x80");
    assert_int_equal(a.content_len, strlen(a.content));
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.model, "gpt-4o-mini");
    assert_true(a.has_usage);
    assert_int_equal(a.prompt_tokens, 12);
    assert_int_equal(a.completion_tokens, 3);
    assert_int_equal(a.total_tokens, 15);
    assert_false(a.has_error);
    tr_upstream_answer_free(&a);

    /* tool calls: no content; usage without a total */
    assert_int_equal(parse("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":\"t\"}]},"
                           "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":null}}",
                           &a, err), TR_OK);
    assert_null(a.content);
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_int_equal(a.prompt_tokens, 5);
    assert_int_equal(a.completion_tokens, -1);
    assert_int_equal(a.total_tokens, -1);
    tr_upstream_answer_free(&a);

    /* content as parts: text parts joined, others skipped */
    assert_int_equal(parse("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                           "{\"type\":\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"b\"}]}}]}", &a, err),
                     TR_OK);
    assert_string_equal(a.content, "ab");
    assert_false(a.has_usage);
    tr_upstream_answer_free(&a);

    /* a legacy completion */
    assert_int_equal(parse("{\"choices\":[{\"text\":\"old style\",\"finish_reason\":\"length\"}]}", &a, err), TR_OK);
    assert_string_equal(a.content, "old style");
    assert_string_equal(a.finish_reason, "length");
    tr_upstream_answer_free(&a);

    /* a model name with controls and past the buffer: cleaned and cut on a
     * character boundary */
    char big[512];
    int n = snprintf(big, sizeof big, "{\"model\":\"x\\r\\ny");
    for (int i = 0; i < 70; i++) n += snprintf(big + n, sizeof big - (size_t)n, "\xc3\xa9");
    snprintf(big + n, sizeof big - (size_t)n, "\",\"choices\":[{\"message\":{\"content\":\"\"}}]}");
    assert_int_equal(parse(big, &a, err), TR_OK);
    assert_int_equal(strncmp(a.model, "x  y", 4), 0);
    assert_true(strlen(a.model) < sizeof a.model);
    assert_int_equal(tr_utf8_invalid_at((const unsigned char *)a.model, strlen(a.model)), strlen(a.model));
    assert_string_equal(a.content ? a.content : "", "");
    tr_upstream_answer_free(&a);
}

static void test_error_answers(void **state)
{
    (void)state;
    tr_upstream_answer a;
    char err[256];
    assert_int_equal(parse("{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":429}}", &a, err),
                     TR_OK);
    assert_true(a.has_error);
    assert_string_equal(a.error_message, "Rate limit reached");
    assert_string_equal(a.error_type, "requests");
    assert_string_equal(a.error_code, "429");
    assert_null(a.content);
    tr_upstream_answer_free(&a);
    assert_int_equal(parse("{\"error\":\"overloaded\"}", &a, err), TR_OK);
    assert_true(a.has_error);
    assert_string_equal(a.error_message, "overloaded");
    tr_upstream_answer_free(&a);
    assert_int_equal(parse("{\"error\":{\"message\":\"bad\",\"code\":\"invalid_api_key\",\"param\":null}}", &a, err), TR_OK);
    assert_string_equal(a.error_code, "invalid_api_key");
    tr_upstream_answer_free(&a);
}

static void test_broken_answers(void **state)
{
    (void)state;
    static const struct { const char *body; int rc; const char *needle; } cases[] = {
        {"{\"choices\":[{\"message\":{\"content\":\"x\"}}]", TR_EFORMAT, "malformed JSON"},
        {"{\"choices\":[]} trailing", TR_EFORMAT, "trailing bytes"},
        {"[1,2]", TR_EFORMAT, "expected a JSON object, got an array"},
        {"{}", TR_EFORMAT, "neither \"choices\" nor \"error\""},
        {"{\"choices\":{}}", TR_EFORMAT, "choices: expected an array, got an object"},
        {"{\"choices\":[]}", TR_EFORMAT, "choices: empty"},
        {"{\"choices\":[7]}", TR_EFORMAT, "choices[0]: expected an object, got a number"},
        {"{\"choices\":[{}]}", TR_EFORMAT, "choices[0]: neither \"message\" nor \"text\""},
        {"{\"choices\":[{\"message\":\"hi\"}]}", TR_EFORMAT, "choices[0].message: expected an object, got a string"},
        {"{\"choices\":[{\"message\":{\"content\":5}}]}", TR_EFORMAT, "choices[0].message.content: expected a string"},
        {"{\"choices\":[{\"message\":{\"content\":[1]}}]}", TR_EFORMAT, "choices[0].message.content[0]: expected an object"},
        {"{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\"}]}}]}", TR_EFORMAT, "content[0].text: expected a string"},
        {"{\"choices\":[{\"message\":{},\"finish_reason\":1}]}", TR_EFORMAT, "choices[0].finish_reason: expected a string"},
        {"{\"model\":[],\"choices\":[]}", TR_EFORMAT, "model: expected a string, got an array"},
        {"{\"usage\":7,\"choices\":[{\"text\":\"\"}]}", TR_EFORMAT, "usage: expected an object"},
        {"{\"usage\":{\"prompt_tokens\":\"3\"},\"choices\":[{\"text\":\"\"}]}", TR_EFORMAT, "usage.prompt_tokens: expected a number"},
        {"{\"usage\":{\"prompt_tokens\":-1},\"choices\":[{\"text\":\"\"}]}", TR_ERANGE, "usage.prompt_tokens: -1 is not a whole"},
        {"{\"usage\":{\"total_tokens\":1.5},\"choices\":[{\"text\":\"\"}]}", TR_ERANGE, "usage.total_tokens: 1.5"},
        {"{\"usage\":{\"completion_tokens\":1e300},\"choices\":[{\"text\":\"\"}]}", TR_ERANGE, "usage.completion_tokens"},
        {"{\"error\":[]}", TR_EFORMAT, "error: expected an object or a string"},
        {"{\"error\":{\"message\":{}}}", TR_EFORMAT, "error.message: expected a string"},
        {"{\"error\":{\"code\":true}}", TR_EFORMAT, "error.code: expected a string or a number"},
        {"{\"choices\":[{\"text\":\"\xff\"}]}", TR_EFORMAT, "invalid UTF-8 at byte 21"},
        {"{\"choices\":[{\"text\":\"\\ud800\"}]}", TR_EFORMAT, "malformed JSON"},
        {"", TR_EFORMAT, "empty answer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tr_upstream_answer a;
        char err[256] = "";
        int rc = parse(cases[i].body, &a, err);
        if (rc != cases[i].rc || !strstr(err, cases[i].needle))
            fail_msg("case %zu: got %s '%s', want %s '%s'", i, tr_strerror_name(rc), err, tr_strerror_name(cases[i].rc),
                     cases[i].needle);
        assert_null(a.content);
    }
}

/* The stream read whole and fed in pieces of every size gives the same
 * answer. */
static const char stream[] =
    ": keep-alive\r\n"
    "data: {\"id\":\"c\",\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n"
    "\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    "id: 7\nretry: 100\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\"},\"finish_reason\":null}]}\r\r"
    "data: {\"choices\":[{\"delta\":\n"
    "data: {}, \"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
    "data: [DONE]\n\n"
    "data: not json after the end\n\n";

static void check_stream_answer(const tr_upstream_answer *a)
{
    assert_string_equal(a->content, "Hello \xc3\xa9");
    assert_string_equal(a->finish_reason, "stop");
    assert_string_equal(a->model, "m-1");
    assert_int_equal(a->prompt_tokens, 9);
    assert_int_equal(a->total_tokens, 11);
    assert_true(a->done);
    assert_int_equal(a->events, 7);
    assert_false(a->has_error);
}

static void test_stream_any_split(void **state)
{
    (void)state;
    size_t n = sizeof stream - 1;
    char err[256];
    for (size_t step = 1; step <= n; step = step < 8 ? step + 1 : step * 3) {
        tr_upstream_stream *s;
        assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
        for (size_t i = 0; i < n; i += step)
            assert_int_equal(tr_upstream_stream_feed(s, stream + i, i + step < n ? step : n - i, err, sizeof err), TR_OK);
        tr_upstream_answer a;
        assert_int_equal(tr_upstream_stream_finish(s, &a, err, sizeof err), TR_OK);
        check_stream_answer(&a);
        tr_upstream_answer_free(&a);
        tr_upstream_stream_free(s);
    }
}

static void test_stream_errors(void **state)
{
    (void)state;
    char err[256];
    tr_upstream_answer a;
    tr_upstream_stream *s;
    /* an error event, in both shapes; no final blank line */
    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    const char *e1 = "data: {\"choices\":[{\"delta\":{\"content\":\"part\"}}]}\n\n"
                     "event: error\ndata: {\"message\":\"upstream overloaded\",\"type\":\"overloaded_error\"}";
    assert_int_equal(tr_upstream_stream_feed(s, e1, strlen(e1), err, sizeof err), TR_OK);
    assert_int_equal(tr_upstream_stream_finish(s, &a, err, sizeof err), TR_OK);
    assert_true(a.has_error);
    assert_string_equal(a.error_message, "upstream overloaded");
    assert_string_equal(a.content, "part");
    assert_false(a.done);
    tr_upstream_answer_free(&a);
    tr_upstream_stream_free(s);

    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    const char *e2 = "data: {\"error\":{\"message\":\"context too long\",\"code\":\"context_length_exceeded\"}}\n\n";
    assert_int_equal(tr_upstream_stream_feed(s, e2, strlen(e2), err, sizeof err), TR_OK);
    assert_int_equal(tr_upstream_stream_finish(s, &a, err, sizeof err), TR_OK);
    assert_string_equal(a.error_code, "context_length_exceeded");
    assert_null(a.content);
    tr_upstream_answer_free(&a);
    tr_upstream_stream_free(s);

    /* a broken event spoils the stream, named by number */
    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    const char *bad = "data: {\"choices\":[]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":3}}]}\n\n";
    assert_int_equal(tr_upstream_stream_feed(s, bad, strlen(bad), err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "event 2: choices[0].delta.content: expected a string"));
    err[0] = 0;
    assert_int_equal(tr_upstream_stream_feed(s, "data: [DONE]\n\n", 14, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "event 2"));
    assert_int_equal(tr_upstream_stream_finish(s, &a, err, sizeof err), TR_EFORMAT);
    assert_null(a.content);
    tr_upstream_stream_free(s);

    /* an event past the cap, never ending */
    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    size_t big = TR_ANSWER_MAX_LINE + 16;
    char *junk = malloc(big);
    assert_non_null(junk);
    memset(junk, 'a', big);
    memcpy(junk, "data: ", 6);
    assert_int_equal(tr_upstream_stream_feed(s, junk, big, err, sizeof err), TR_ERANGE);
    assert_non_null(strstr(err, "longer than"));
    free(junk);
    tr_upstream_stream_free(s);

    /* invalid UTF-8 inside an event; an empty stream */
    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    assert_int_equal(tr_upstream_stream_feed(s, "data: {\"model\":\"\xc0\xaf\"}\n\n", 23, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "event 1: invalid UTF-8"));
    tr_upstream_stream_free(s);
    assert_int_equal(tr_upstream_stream_new(&s), TR_OK);
    assert_int_equal(tr_upstream_stream_finish(s, &a, err, sizeof err), TR_OK);
    assert_null(a.content);
    assert_int_equal(a.events, 0);
    assert_false(a.done);
    tr_upstream_answer_free(&a);
    tr_upstream_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_answer),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_broken_answers),
        cmocka_unit_test(test_stream_any_split),
        cmocka_unit_test(test_stream_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
