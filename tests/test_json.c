/* The shared cJSON helpers (base/json.c): non-finite numbers as null,
 * quoting, and the lenient getters' fallbacks. */
#include "testutil.h"

#include <math.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_and_quote),
        cmocka_unit_test(test_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
