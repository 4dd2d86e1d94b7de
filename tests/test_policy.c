/* The server's policies and their names (src/server/policy.c), and its
 * inbound keys file (src/server/api_keys.c): every SPEC and virtual model
 * name, refusals that say what is accepted, the router's default resolved
 * per router (and the fallback for a file without one), keys found in
 * constant time by hash, labels that never show the key, and key files
 * refused with file and line. */
#include "testutil.h"

#include <math.h>

#include "server/api_keys.c"
#include "server/policy.c"

static void test_specs(void **state)
{
    (void)state;
    tr_policy p;
    char msg[256];
    assert_int_equal(tr_policy_parse("default", &p, msg, sizeof msg), 0);
    assert_int_equal(p.kind, TR_POLICY_ROUTER_DEFAULT);
    assert_int_equal(tr_policy_parse("quality", &p, msg, sizeof msg), 0);
    assert_int_equal(p.kind, TR_POLICY_FIXED);
    assert_int_equal(p.mode, TR_SELECT_QUALITY);
    assert_int_equal(tr_policy_parse("cheap", &p, msg, sizeof msg), 0);
    assert_true(p.mode == TR_SELECT_LAMBDA && isinf(p.value));
    assert_int_equal(tr_policy_parse("lambda=250", &p, msg, sizeof msg), 0);
    assert_true(p.mode == TR_SELECT_LAMBDA && p.value == 250);
    assert_int_equal(tr_policy_parse("budget=0.002", &p, msg, sizeof msg), 0);
    assert_true(p.mode == TR_SELECT_BUDGET && p.value == 0.002);
    assert_int_equal(tr_policy_parse("tolerance=0.02", &p, msg, sizeof msg), 0);
    assert_int_equal(p.mode, TR_SELECT_TOLERANCE);
    assert_int_equal(tr_policy_parse("risk=0.1", &p, msg, sizeof msg), 0);
    assert_int_equal(p.mode, TR_SELECT_RISK);
    assert_string_equal(p.name, "risk=0.1");
    /* refusals say what is accepted */
    assert_int_equal(tr_policy_parse("lambda=-1", &p, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "lambda wants a number in [0, 1e+12]"));
    assert_int_equal(tr_policy_parse("budget=0", &p, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "(0, 1e+12]"));
    assert_int_equal(tr_policy_parse("lambda=", &p, msg, sizeof msg), -1);
    assert_int_equal(tr_policy_parse("lambda=1x", &p, msg, sizeof msg), -1);
    assert_int_equal(tr_policy_parse("lambda=nan", &p, msg, sizeof msg), -1);
    assert_int_equal(tr_policy_parse("risk=2", &p, msg, sizeof msg), -1);
    assert_int_equal(tr_policy_parse("fastest", &p, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "use default, quality, cheap, lambda=L"));
}

static void test_model_names(void **state)
{
    (void)state;
    tr_policy def, p;
    char msg[256];
    assert_int_equal(tr_policy_parse("lambda=5", &def, msg, sizeof msg), 0);
    assert_int_equal(tr_policy_from_model("taskroute", &def, &p, msg, sizeof msg), 1);
    assert_true(p.mode == TR_SELECT_LAMBDA && p.value == 5);     /* the server's default */
    assert_string_equal(p.name, "taskroute");
    assert_int_equal(tr_policy_from_model("taskroute:quality", &def, &p, msg, sizeof msg), 1);
    assert_int_equal(p.mode, TR_SELECT_QUALITY);
    assert_string_equal(p.name, "taskroute:quality");
    assert_int_equal(tr_policy_from_model("taskroute:lambda=1e3", &def, &p, msg, sizeof msg), 1);
    assert_true(p.value == 1000);
    assert_int_equal(tr_policy_from_model("taskroute:cascade", &def, &p, msg, sizeof msg), 1);
    assert_true(p.cascade && p.value == 5);
    assert_int_equal(tr_policy_from_model("taskroute:nope", &def, &p, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "model 'taskroute:nope' names no policy"));
    /* not ours: real model names, near misses, no name */
    assert_int_equal(tr_policy_from_model("gpt-4o", &def, &p, msg, sizeof msg), 0);
    assert_int_equal(tr_policy_from_model("taskrouter", &def, &p, msg, sizeof msg), 0);
    assert_int_equal(tr_policy_from_model(NULL, &def, &p, msg, sizeof msg), 0);
    /* every listed name is one */
    for (const char *const *n = tr_policy_model_names; *n; n++)
        assert_int_equal(tr_policy_from_model(*n, &def, &p, msg, sizeof msg), 1);
}

static void test_keys(void **state)
{
    (void)state;
    tr_keyset *k;
    char err[512];
    const char *p = tu_write("keys.txt", "# team keys\n\nsk-team-a-0123456789abcdef\n   sk-team-b-0123456789abcdef  \r\n");
    assert_int_equal(tr_keyset_load(p, &k, err, sizeof err), TR_OK);
    assert_int_equal(tr_keyset_count(k), 2);
    const char *a = "sk-team-a-0123456789abcdef", *b = "sk-team-b-0123456789abcdef";
    int ia = tr_keyset_find(k, a, strlen(a)), ib = tr_keyset_find(k, b, strlen(b));
    assert_true(ia >= 0 && ib >= 0 && ia != ib);
    assert_int_equal(tr_keyset_find(k, a, strlen(a) - 1), -1);         /* a prefix is no key */
    assert_int_equal(tr_keyset_find(k, "sk-team-a-0123456789abcdeF", 26), -1);
    assert_int_equal(tr_keyset_find(k, "", 0), -1);
    const char *la = tr_keyset_label(k, (size_t)ia);
    assert_int_equal(strlen(la), 13);
    assert_true(la[0] == 'k' && strspn(la + 1, "0123456789abcdef") == 12);
    assert_null(strstr(a, la + 1));
    assert_string_not_equal(la, tr_keyset_label(k, (size_t)ib));
    tr_keyset_set_slot(k, (size_t)ia, 7);
    assert_int_equal(tr_keyset_slot(k, (size_t)ia), 7);
    assert_int_equal(tr_keyset_slot(k, (size_t)ib), -1);
    tr_keyset_free(k);
    /* refusals name file and line */
    struct { const char *text, *want; } bad[] = {
        {"sk-ok-0123456789abcdef\nshort\n", "keys.txt:2: a key must have 16 to 256 characters, this one has 5"},
        {"sk-with space-0123456789\n", "keys.txt:1: a key holds a space"},
        {"sk-same-0123456789abcdef\n#\nsk-same-0123456789abcdef\n", "keys.txt:3: the key repeats an earlier line's"},
        {"# nothing\n\n", "keys.txt: no key in the file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = tu_write("keys.txt", bad[i].text);
        assert_int_equal(tr_keyset_load(p, &k, err, sizeof err), TR_EFORMAT);
        if (!strstr(err, bad[i].want)) fail_msg("'%s': got '%s'", bad[i].want, err);
    }
    assert_int_equal(tr_keyset_load(tu_tmp("none.txt"), &k, err, sizeof err), TR_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_model_names),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
