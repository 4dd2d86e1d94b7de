/* The heatmap SVG (eval/heatmap_svg.h): a cell and a value per finite entry,
 * blank cells for NaN, names XML-escaped and long ones cut, the marked cells
 * outlined (one solid, one dashed per row, once when both mark one cell),
 * the same bytes for the same input, an atomic write, and nothing drawn
 * from nothing. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "eval/heatmap_svg.h"

static size_t count(const char *s, const char *needle)
{
    size_t k = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

static const char *rows[] = {"0 \xc2\xb7 code, python, function", "1 \xc2\xb7 law <&> \"contract\"",
                             "2 \xc2\xb7 a very long task name that goes on and on and on past the limit"};
static const char *cols[] = {"small", "large"};
static const double vals[] = {0.91, 0.70, NAN, 0.83, 0.125, 0.5};
static const int best[] = {0, 1, 1}, value[] = {0, 0, -1};

static void test_structure(void **state)
{
    (void)state;
    tr_heatmap h = {NULL, 3, 2, rows, cols, vals, best, value, "best model", "best value"};
    char *svg, *svg2, err[128];
    size_t len;
    assert_int_equal(tr_heatmap_svg(&h, &svg, &len, err, sizeof err), TR_OK);
    assert_int_equal(strlen(svg), len);
    assert_true(strncmp(svg, "<?xml", 5) == 0);
    assert_true(strcmp(svg + len - 7, "</svg>\n") == 0);
    assert_int_equal(count(svg, "class=\"cell\""), 6);
    assert_int_equal(count(svg, "fill=\"#fff\" stroke=\"#ddd\""), 1);   /* the NaN cell */
    assert_non_null(strstr(svg, ">0.91<"));
    assert_non_null(strstr(svg, ">0.13<"));   /* two decimals */
    assert_null(strstr(svg, "nan"));
    assert_non_null(strstr(svg, "law &lt;&amp;&gt; &quot;contract&quot;"));
    assert_non_null(strstr(svg, "\xe2\x80\xa6"));   /* the long name cut */
    assert_null(strstr(svg, "past the limit"));
    /* rows 0 and 1 outlined solid; row 1 dashed on another cell; row 0's dashed is the solid one */
    assert_int_equal(count(svg, "stroke=\"#e41a1c\" stroke-width=\"2.5\"/>"), 3 + 1);   /* + the legend */
    assert_int_equal(count(svg, "stroke-dasharray"), 1 + 1);
    assert_non_null(strstr(svg, "Quality by task and model"));
    assert_non_null(strstr(svg, ">best value<"));
    assert_int_equal(tr_heatmap_svg(&h, &svg2, NULL, err, sizeof err), TR_OK);
    assert_string_equal(svg, svg2);
    tr_free(svg2);
    const char *path = tu_tmp("h.svg");
    assert_int_equal(tr_heatmap_svg_write(&h, path, err, sizeof err), TR_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *back = malloc(len + 1);
    assert_int_equal(fread(back, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(back, svg, len);
    free(back);
    tr_free(svg);
    assert_int_equal(tr_heatmap_svg_write(&h, "/nonexistent/dir/h.svg", err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "/nonexistent/dir/h.svg"));
}

static void test_nothing_to_draw(void **state)
{
    (void)state;
    double nan6[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    tr_heatmap h = {"t", 3, 2, rows, cols, nan6, NULL, NULL, NULL, NULL};
    char *svg, err[128];
    assert_int_equal(tr_heatmap_svg(&h, &svg, NULL, err, sizeof err), TR_EINVAL);
    assert_null(svg);
    h.values = vals;
    h.rows = 0;
    assert_int_equal(tr_heatmap_svg(&h, &svg, NULL, err, sizeof err), TR_EINVAL);
    /* one value: still a scale */
    double one = 0.5;
    tr_heatmap h1 = {"t", 1, 1, rows, cols, &one, NULL, NULL, NULL, NULL};
    assert_int_equal(tr_heatmap_svg(&h1, &svg, NULL, err, sizeof err), TR_OK);
    assert_non_null(strstr(svg, ">0.50<"));
    tr_free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_nothing_to_draw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
