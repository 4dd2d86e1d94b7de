/* The task table (cluster/tasks.h): slugs ([a-z0-9-], at most 40 bytes,
 * cut at a '-', unique, "task-<id>" when nothing is left), the section's
 * format 2 round trip with its flags, a format 1 section (the older router
 * files) loading with names marked as made of pieces, a newer format and
 * repeated ids refused. */
#include "testutil.h"

#include "base/buf.h"
#include "base/util.h"
#include "cluster/tasks.h"

static int slug_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TR_SLUG_MAX || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
        if (c == '-' && s[i + 1] == '-') return 0;
    }
    return 1;
}

static void test_slugify(void **state)
{
    (void)state;
    char s[TR_SLUG_MAX + 1];
    tr_slugify("contract, lease, tenant", 3, s);
    assert_string_equal(s, "contract-lease-tenant");
    tr_slugify("  Code help (Python & C++)!  ", 3, s);
    assert_string_equal(s, "code-help-python-c");
    tr_slugify("caf\xc3\xa9, cr\xc3\xa8me", 3, s);   /* non-ASCII letters go */
    assert_string_equal(s, "caf-cr-me");
    tr_slugify("\xe7\xbf\xbb\xe8\xa8\xb3", 17, s);      /* nothing left */
    assert_string_equal(s, "task-17");
    tr_slugify("", 0, s);
    assert_string_equal(s, "task-0");
    /* long: cut at the last '-' within the limit */
    tr_slugify("derivative, integral, limit, series, convergence, taylor", 1, s);
    assert_true(slug_ok(s));
    assert_string_equal(s, "derivative-integral-limit-series");
    /* one long word: cut hard */
    tr_slugify("pneumonoultramicroscopicsilicovolcanoconiosis-and-more", 1, s);
    assert_true(slug_ok(s));
    assert_int_equal(strlen(s), TR_SLUG_MAX);
}

static tr_tasks make(size_t T)
{
    tr_tasks t;
    int32_t memb[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    float X[16] = {1, 0, 0, 1, 1, 1, 1, -1, 1, 0, 0, 1, 1, 1, 1, -1};
    char err[256];
    assert_int_equal(tr_tasks_build(memb, 8, T, X, 2, NULL, NULL, 0, &t, err, sizeof err), TR_OK);
    return t;
}

static void test_unique_slugs(void **state)
{
    (void)state;
    tr_tasks t = make(4);
    for (size_t i = 0; i < 4; i++) t.ids[i] = (int32_t)(10 + i);
    assert_int_equal(tr_tasks_set_name(&t, 0, "Code, Python"), TR_OK);
    assert_int_equal(tr_tasks_set_name(&t, 1, "code python"), TR_OK);   /* same slug as task 0 */
    assert_int_equal(tr_tasks_set_name(&t, 2, "code-python-11"), TR_OK); /* same as task 1's first way out */
    assert_int_equal(tr_tasks_set_name(&t, 3, "\xe6\x97\xa5\xe6\x9c\xac"), TR_OK);
    assert_int_equal(tr_tasks_make_slugs(&t), TR_OK);
    assert_string_equal(t.slugs[0], "code-python");
    assert_string_equal(t.slugs[1], "code-python-11");
    assert_string_equal(t.slugs[2], "code-python-11-12");
    assert_string_equal(t.slugs[3], "task-13");
    for (size_t i = 0; i < 4; i++) {
        assert_true(slug_ok(t.slugs[i]));
        for (size_t k = 0; k < i; k++) assert_string_not_equal(t.slugs[i], t.slugs[k]);
    }
    assert_int_equal(tr_tasks_find_id(&t, 12), 2);
    assert_int_equal(tr_tasks_find_id(&t, 9), -1);
    tr_tasks_clear(&t);
}

static void test_format2_roundtrip(void **state)
{
    (void)state;
    tr_tasks t = make(4), u;
    t.flags[2] = TR_TASK_NAMED;
    assert_int_equal(tr_tasks_set_name(&t, 2, "Legal questions"), TR_OK);
    assert_int_equal(tr_tasks_make_slugs(&t), TR_OK);
    tr_buf b;
    tr_buf_init(&b);
    assert_int_equal(tr_tasks_save(&t, &b), TR_OK);
    uint32_t ver;
    memcpy(&ver, b.data, 4);
    assert_int_equal(ver, 2);
    char err[256];
    assert_int_equal(tr_tasks_load(b.data, b.len, &u, err, sizeof err), TR_OK);
    assert_int_equal(u.n_tasks, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(u.names[i], t.names[i]);
        assert_string_equal(u.slugs[i], t.slugs[i]);
        assert_int_equal(u.ids[i], t.ids[i]);
        assert_int_equal(u.flags[i], t.flags[i]);
    }
    assert_string_equal(u.slugs[2], "legal-questions");
    tr_tasks_clear(&u);
    /* a newer format is refused, naming both */
    uint32_t v3 = 3;
    memcpy(b.data, &v3, 4);
    assert_int_equal(tr_tasks_load(b.data, b.len, &u, err, sizeof err), TR_EVERSION);
    assert_non_null(strstr(err, "format 3"));
    /* repeated ids are refused */
    t.ids[3] = t.ids[1];
    b.len = 0;
    assert_int_equal(tr_tasks_save(&t, &b), TR_OK);
    assert_int_equal(tr_tasks_load(b.data, b.len, &u, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, "repeated"));
    tr_buf_free(&b);
    tr_tasks_clear(&t);
}

/* A format 1 section as the older writer laid it out: no flags. */
static void test_format1_loads(void **state)
{
    (void)state;
    tr_buf b;
    tr_buf_init(&b);
    tr_buf_u32(&b, 1);
    tr_buf_u64(&b, 2);   /* T */
    tr_buf_u64(&b, 2);   /* dim */
    tr_buf_u64(&b, 1);   /* M */
    tr_buf_str(&b, "Whi/of these");
    tr_buf_i32(&b, 0);
    tr_buf_u32(&b, 30);
    tr_buf_str(&b, "many/how");
    tr_buf_i32(&b, 4);
    tr_buf_u32(&b, 20);
    float c[4] = {1, 0, 0, 1}, q[2] = {0.5f, 0.75f}, k[2] = {0.001f, 0.002f};
    tr_buf_f32s(&b, c, 4);
    tr_buf_f32s(&b, q, 2);
    tr_buf_f32s(&b, k, 2);
    tr_buf_u32(&b, 30);
    tr_buf_u32(&b, 20);
    assert_int_equal(tr_buf_ok(&b), TR_OK);
    tr_tasks t;
    char err[256];
    assert_int_equal(tr_tasks_load(b.data, b.len, &t, err, sizeof err), TR_OK);
    assert_int_equal(t.n_tasks, 2);
    assert_string_equal(t.names[1], "many/how");
    assert_int_equal(t.ids[1], 4);
    assert_int_equal(t.flags[0], TR_TASK_LEGACY_NAME);
    assert_int_equal(t.flags[1], TR_TASK_LEGACY_NAME);
    assert_string_equal(t.slugs[0], "whi-of-these");
    assert_string_equal(t.slugs[1], "many-how");
    assert_true(t.quality[1] == 0.75f);
    tr_tasks_clear(&t);
    /* truncated: refused, not read past */
    assert_int_equal(tr_tasks_load(b.data, b.len - 3, &t, err, sizeof err), TR_ETRUNC);
    tr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slugify),
        cmocka_unit_test(test_unique_slugs),
        cmocka_unit_test(test_format2_roundtrip),
        cmocka_unit_test(test_format1_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
