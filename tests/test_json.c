/* The shared cJSON helpers (base/json.c): non-finite numbers as null,
 * quoting, and the lenient getters' fallbacks. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

static void test_num_and_quote(void **state)
{
    (void)state;
    cJSON *a = tr_json_num(NAN), *b = tr_json_num(INFINITY), *c = tr_json_num(1.5);
    assert_true(cJSON_IsNull(a) && cJSON_IsNull(b) && cJSON_IsNumber(c) && c->valuedouble == 1.5);
    cJSON_Delete(a); cJSON_Delete(b); cJSON_Delete(c);
    char *q = tr_json_quote("a\"b\n");
    assert_string_equal(q, "\"a\\\"b\\n\"");
    tr_free(q);
    q = tr_json_quote(NULL);
    assert_string_equal(q, "\"\"");
    tr_free(q);
}

static void test_getters(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"n\": 2.5, \"s\": \"x\", \"b\": true}");
    assert_non_null(o);
    assert_true(tr_json_get_num(o, "n") == 2.5);
    assert_true(isnan(tr_json_get_num(o, "s")));
    assert_true(isnan(tr_json_get_num(o, "missing")));
    assert_true(isnan(tr_json_get_num(NULL, "n")));
    assert_string_equal(tr_json_get_str(o, "s", "-"), "x");
    assert_string_equal(tr_json_get_str(o, "b", "-"), "-");
    assert_null(tr_json_get_str(o, "missing", NULL));
    assert_null(tr_json_get_str(NULL, "s", NULL));
    cJSON_Delete(o);
}

/* The chat rule the server and `label` share: user, system and developer
 * text joined by newlines, the rest skipped; a bad element named. */
static void test_chat_text(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{ \"a\" : [1, \"x\"] }");
    char *printed = tr_json_print(o);
    assert_string_equal(printed, "{\"a\":[1,\"x\"]}");
    tr_free(printed);
    cJSON_Delete(o);
    assert_null(tr_json_print(NULL));
    cJSON *j = cJSON_Parse("[{\"role\":\"system\",\"content\":\"be brief\"},"
                           "{\"role\":\"assistant\",\"content\":\"skipped\"},"
                           "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"},"
                           "{\"type\":\"text\",\"text\":\"2+2?\"}]},{\"role\":\"tool\",\"content\":null}]");
    char *t = NULL, err[256];
    size_t n = 7;
    assert_int_equal(tr_json_chat_text(j, &t, &n, err, sizeof err), TR_OK);
    assert_string_equal(t, "be brief\n2+2?");
    assert_int_equal(n, strlen("be brief\n2+2?"));
    tr_free(t);
    cJSON_Delete(j);

    j = cJSON_Parse("[{\"role\":\"assistant\",\"content\":\"only me\"}]");
    assert_int_equal(tr_json_chat_text(j, &t, &n, err, sizeof err), TR_OK);
    assert_null(t);
    assert_int_equal(n, 0);
    cJSON_Delete(j);

    static const struct { const char *json; int rc; const char *msg; } bad[] = {
        {"{}", TR_EFORMAT, "must be an array"},
        {"[]", TR_ETOOFEW, "is empty"},
        {"[{\"content\":\"x\"}]", TR_EFORMAT, "messages[0] must be an object with a string \"role\""},
        {"[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":5}]", TR_EFORMAT,
         "messages[1].content must be a string or an array of parts"},
        {"[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]", TR_EFORMAT,
         "messages[0].content[0] must be an object with a string \"type\""},
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]", TR_EFORMAT,
         "messages[0].content[0].text must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = cJSON_Parse(bad[i].json);
        assert_non_null(j);
        t = (char *)"stale";
        err[0] = 0;
        assert_int_equal(tr_json_chat_text(j, &t, &n, err, sizeof err), bad[i].rc);
        assert_null(t);
        assert_non_null(strstr(err, bad[i].msg));
        cJSON_Delete(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_and_quote),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_chat_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
