/* The SVG text helpers (eval/svg_text.h): numbers without the locale
 * ("-0.00" written "0.00", rounding half away from zero), XML escaping with
 * control characters replaced, the atomic file write. */
#include "testutil.h"

#include "base/buf.h"
#include "eval/svg_text.h"

static void test_text(void **state)
{
    (void)state;
    tr_buf b;
    tr_buf_init(&b);
    tr_svg_num(&b, -0.001, 2);
    tr_buf_put(&b, " ", 1);
    tr_svg_num(&b, 2.345, 2);
    tr_buf_put(&b, " ", 1);
    tr_svg_num(&b, -12.5, 0);
    tr_buf_put(&b, " ", 1);
    tr_svg_esc(&b, "a<b>&'\"\x01");
    tr_buf_u8(&b, 0);
    assert_string_equal((char *)b.data, "0.00 2.35 -13 a&lt;b&gt;&amp;&apos;&quot;?");
    tr_buf_free(&b);
}

static void test_write(void **state)
{
    (void)state;
    char err[256];
    const char *path = tu_tmp("t.svg");
    assert_int_equal(tr_svg_write_file("<svg/>", 6, path, err, sizeof err), TR_OK);
    FILE *f = fopen(path, "rb");
    char buf[16] = {0};
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 6);
    fclose(f);
    assert_string_equal(buf, "<svg/>");
    assert_int_equal(tr_svg_write_file("x", 1, "/nonexistent/dir/t.svg", err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "/nonexistent/dir/t.svg"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
