/* The upstream table (src/upstream/table.c): the documented format with
 * every field, the first version's files still valid, keys read from the
 * environment (unset ones noted), and malformed tables refused with the
 * file and the field named; the check against a router's models. */
#include "testutil.h"

#include "upstream/backoff.c"
#include "upstream/breaker.c"
#include "upstream/table.c"

static const char *fake_env(const char *name)
{
    if (!strcmp(name, "GOOD_KEY")) return "sk-test-123";
    if (!strcmp(name, "BAD_KEY")) return "sk-line\nbreak";
    return NULL;
}

static int parse(const char *text, tr_upstream_table **t, char *err)
{
    err[0] = 0;
    return tr_upstream_table_parse(text, strlen(text), "up.json", NULL, fake_env, t, err, 512);
}

static void test_full_format(void **state)
{
    (void)state;
    const char *text =
        "{\"_comment\": \"the documented example\","
        " \"defaults\": {\"timeout_ms\": {\"connect\": 2000, \"total\": 45000}, \"max_concurrency\": 64,"
        "   \"retries\": 3, \"backoff_ms\": {\"base\": 100, \"max\": 2000}, \"retry_after_max_ms\": 8000,"
        "   \"breaker\": {\"failures\": 4, \"cooldown_ms\": 10000}},"
        " \"models\": {"
        "  \"gpt-big\": {\"base_url\": \"https://api.example.com/v1/\", \"model\": \"big-2024\", \"api_key_env\": \"GOOD_KEY\","
        "    \"price\": {\"input_per_mtok\": 2.5, \"output_per_mtok\": 10}, \"timeout_ms\": 60000,"
        "    \"max_concurrency\": 8, \"fallbacks\": [\"gpt-small\", \"local\"]},"
        "  \"gpt-small\": {\"base_url\": \"https://api.example.com/v1\", \"api_key_env\": \"UNSET_KEY\","
        "    \"price\": {\"input_per_mtok\": 0.15, \"output_per_mtok\": 0.6}, \"timeout_ms\": {\"connect\": 500, \"total\": 20000}},"
        "  \"local\": {\"base_url\": \"http://127.0.0.1:8000/v1\", \"_note\": \"no key, no price\"}},"
        " \"fallback\": \"local\"}";
    tr_upstream_table *t;
    char err[512];
    assert_int_equal(parse(text, &t, err), TR_OK);
    assert_int_equal(t->n, 3);
    int big = tr_upstream_table_find(t, "gpt-big"), small = tr_upstream_table_find(t, "gpt-small"),
        local = tr_upstream_table_find(t, "local");
    assert_true(big >= 0 && small >= 0 && local >= 0);
    const tr_upstream *b = &t->u[big];
    assert_string_equal(b->url, "https://api.example.com/v1/chat/completions");
    assert_string_equal(b->model, "big-2024");
    assert_string_equal(b->auth_header, "Authorization: Bearer sk-test-123");
    assert_true(b->has_price && b->price_in == 2.5 && b->price_out == 10);
    assert_int_equal(b->timeout_ms, 60000);
    assert_int_equal(b->connect_timeout_ms, 2000);   /* the default's */
    assert_int_equal(b->max_concurrency, 8);
    assert_int_equal(b->n_fallbacks, 2);
    assert_int_equal(b->fallbacks[0], small);
    assert_int_equal(b->fallbacks[1], local);
    const tr_upstream *s = &t->u[small];
    assert_string_equal(s->model, "gpt-small");       /* default: the key */
    assert_null(s->auth_header);                      /* unset: noted */
    assert_int_equal(s->connect_timeout_ms, 500);
    assert_int_equal(s->timeout_ms, 20000);
    assert_int_equal(s->max_concurrency, 64);
    const tr_upstream *l = &t->u[local];
    assert_false(l->has_price);
    assert_null(l->api_key_env);
    assert_int_equal(l->timeout_ms, 45000);
    assert_int_equal(t->fallback, local);
    assert_int_equal(t->retry.max_retries, 3);
    assert_int_equal(t->retry.base_ms, 100);
    assert_int_equal(t->retry.max_ms, 2000);
    assert_int_equal(t->retry.retry_after_max_ms, 8000);
    assert_int_equal(t->breaker.failures, 4);
    assert_int_equal(t->breaker.cooldown_ms, 10000);
    assert_int_equal(t->n_notes, 1);
    assert_non_null(strstr(t->notes[0], "gpt-small"));
    assert_non_null(strstr(t->notes[0], "$UNSET_KEY"));
    /* references */
    tr_upstream_table_ref(t);
    tr_upstream_table_unref(t);
    assert_int_equal(atomic_load(&t->refs), 1);
    tr_upstream_table_unref(t);
}

static void test_first_version_still_valid(void **state)
{
    (void)state;
    const char *text = "{\"models\": {\"a\": {\"base_url\": \"http://127.0.0.1:9/v1\", \"model\": \"up-a\", "
                       "\"api_key_env\": \"GOOD_KEY\"}, \"b\": {\"base_url\": \"http://127.0.0.1:9/v1\"}},"
                       " \"fallback\": \"b\", \"timeout_ms\": 1000}";
    tr_upstream_table *t;
    char err[512];
    assert_int_equal(parse(text, &t, err), TR_OK);
    assert_int_equal(t->u[0].timeout_ms, 1000);
    assert_int_equal(t->u[0].connect_timeout_ms, 1000);   /* no longer than the total */
    assert_int_equal(t->fallback, 1);
    assert_int_equal(t->n_notes, 0);
    tr_upstream_table_unref(t);
    /* --fallback replaces the file's */
    assert_int_equal(tr_upstream_table_parse(text, strlen(text), "up.json", "a", fake_env, &t, err, 512), TR_OK);
    assert_int_equal(t->fallback, 0);
    tr_upstream_table_unref(t);
    assert_int_equal(tr_upstream_table_parse(text, strlen(text), "up.json", "zz", fake_env, &t, err, 512), TR_EFORMAT);
    assert_non_null(strstr(err, "fallback model 'zz' has no entry"));
}

static void refused(const char *text, const char *want)
{
    tr_upstream_table *t = (tr_upstream_table *)1;
    char err[512];
    int rc = parse(text, &t, err);
    if (rc != TR_EFORMAT || !strstr(err, want) || strncmp(err, "up.json: ", 9))
        fail_msg("table %s\n  rc %d, message '%s', wanted '%s'", text, rc, err, want);
    assert_null(t);
}

#define M(body) "{\"models\": {\"m\": " body "}}"

static void test_refusals_name_the_field(void **state)
{
    (void)state;
    refused("{\"models\": ", "malformed JSON");
    refused("[1]", "not a JSON object");
    refused("{\"models\": {}}", "\"models\" must be a non-empty object");
    refused("{\"modles\": {}}", "modles: unknown field");
    refused(M("{\"base_url\": \"ftp://x\"}"), "models.m.base_url must be an http:// or https:// URL");
    refused(M("{\"base_url\": \"http://x\", \"max_concurency\": 3}"), "models.m.max_concurency: unknown field");
    refused(M("{\"base_url\": \"http://x\", \"model\": 3}"), "models.m.model must be a non-empty string");
    refused(M("{\"base_url\": \"http://x\", \"api_key_env\": \"BAD_KEY\"}"), "the key in $BAD_KEY holds a line break");
    refused(M("{\"base_url\": \"http://x\", \"price\": 3}"), "models.m.price must be an object");
    refused(M("{\"base_url\": \"http://x\", \"price\": {\"input_per_mtok\": -1, \"output_per_mtok\": 1}}"),
            "models.m.price.input_per_mtok must be a number >= 0");
    refused(M("{\"base_url\": \"http://x\", \"price\": {\"input_per_mtok\": 1}}"),
            "models.m.price.output_per_mtok must be a number >= 0");
    refused(M("{\"base_url\": \"http://x\", \"price\": {\"input_per_mtok\": 0, \"output_per_mtok\": 0}}"),
            "input and output prices are both 0");
    refused(M("{\"base_url\": \"http://x\", \"price\": {\"input\": 1, \"output_per_mtok\": 1}}"),
            "models.m.price.input: unknown field");
    refused(M("{\"base_url\": \"http://x\", \"timeout_ms\": 0}"), "models.m.timeout_ms must be a whole number in [1, 3600000]");
    refused(M("{\"base_url\": \"http://x\", \"timeout_ms\": {\"total\": 1.5}}"), "models.m.timeout_ms.total must be a whole number");
    refused(M("{\"base_url\": \"http://x\", \"timeout_ms\": \"60s\"}"), "models.m.timeout_ms must be a number or an object");
    refused(M("{\"base_url\": \"http://x\", \"max_concurrency\": -1}"), "models.m.max_concurrency must be a whole number");
    refused(M("{\"base_url\": \"http://x\", \"fallbacks\": \"n\"}"), "models.m.fallbacks must be an array");
    refused(M("{\"base_url\": \"http://x\", \"fallbacks\": [\"nope\"]}"), "models.m.fallbacks[0]: 'nope' has no entry");
    refused(M("{\"base_url\": \"http://x\", \"fallbacks\": [\"m\"]}"), "models.m.fallbacks[0] names the model itself");
    refused(M("{\"base_url\": \"http://x\", \"base_url\": \"http://y\"}"), "models.m.base_url appears twice");
    refused("{\"models\": {\"m\": {\"base_url\": \"http://x\"}, \"m\": {\"base_url\": \"http://y\"}}}", "models.m listed twice");
    refused("{\"defaults\": 3, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}", "\"defaults\" must be an object");
    refused("{\"defaults\": {\"retries\": 11}, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}",
            "defaults.retries must be a whole number in [0, 10]");
    refused("{\"defaults\": {\"breaker\": {\"failures\": 2, \"cooldown_ms\": 0}}, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}",
            "defaults.breaker.cooldown_ms must be a whole number");
    refused("{\"defaults\": {\"backoff_ms\": {\"base\": 500, \"max\": 100}}, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}",
            "defaults.backoff_ms.max must be >= its base");
    refused("{\"defaults\": {\"retry\": 1}, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}", "defaults.retry: unknown field");
    refused("{\"fallback\": 3, \"models\": {\"m\": {\"base_url\": \"http://x\"}}}", "\"fallback\" must be a model name");
}

static void collect(void *ctx, const char *msg)
{
    char *buf = ctx;
    strncat(buf, msg, 4000 - strlen(buf) - 2);
    strcat(buf, "\n");
}

static void test_check_against_router(void **state)
{
    (void)state;
    const char *text = "{\"models\": {\"a\": {\"base_url\": \"http://x\", \"api_key_env\": \"UNSET_KEY\"},"
                       " \"extra\": {\"base_url\": \"http://x\"}}}";
    tr_upstream_table *t;
    char err[512];
    assert_int_equal(parse(text, &t, err), TR_OK);
    const char *models[] = {"a", "b"};
    char buf[4096] = "";
    assert_int_equal(tr_upstream_table_check(t, models, 2, collect, buf), 3);
    assert_non_null(strstr(buf, "router model 'b' has no entry in the upstream table up.json"));
    assert_non_null(strstr(buf, "model 'extra' is not one of the router's"));
    assert_non_null(strstr(buf, "model 'a': $UNSET_KEY (api_key_env) is not set"));
    tr_upstream_table_unref(t);
}

static void test_load_file(void **state)
{
    (void)state;
    tr_upstream_table *t;
    char err[512];
    assert_int_equal(tr_upstream_table_load(tu_tmp("missing.json"), NULL, &t, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "cannot open"));
    const char *p = tu_write("up.json", "{\"models\": {\"a\": {\"base_url\": \"http://x\"}}}\n");
    assert_int_equal(tr_upstream_table_load(p, NULL, &t, err, sizeof err), TR_OK);
    assert_string_equal(t->path, p);
    tr_upstream_table_unref(t);
    p = tu_write("bad.json", "{\"models\": {\"a\": {\"base_url\": \"http://x\", \"price\": {}}}}\n");
    assert_int_equal(tr_upstream_table_load(p, NULL, &t, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "bad.json: models.a.price.input_per_mtok"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_format),
        cmocka_unit_test(test_first_version_still_valid),
        cmocka_unit_test(test_refusals_name_the_field),
        cmocka_unit_test(test_check_against_router),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
