/* The SVG cost-quality plot: one polyline per router, one labelled point per
 * model, names XML-escaped, no NaN/inf in coordinates, deterministic output,
 * an atomic write. */
#include "testutil.h"

#include <math.h>

#include "base/eval_metrics.h"
#include "base/util.h"
#include "eval/plot_svg.h"

static size_t count(const char *s, const char *needle)
{
    size_t k = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

static const tr_point sweep_a[] = {{0.0002, 0.55}, {0.0005, 0.66}, {0.0004, 0.62}, {0.001, 0.71},
                                   {0.003, 0.74}, {0.002, 0.70}, {0.01, 0.76}};
static const tr_point sweep_b[] = {{0.0003, 0.5}, {0.0008, 0.6}, {0.002, 0.69}, {0.006, 0.72}, {NAN, 0.7}};
static const tr_plot_model models[] = {
    {"gpt-4o", 0.008, 0.74},  {"llama-3-8b", 0.0002, 0.52}, {"mixtral <8x7b> & \"co\"", 0.0012, 0.63},
    {"free-model", 0.0, 0.4},
};

static tr_plot sample(tr_point *ha, size_t *na, tr_point *hb, size_t *nb, tr_plot_series *series)
{
    char err[128];
    assert_int_equal(tr_eval_hull(sweep_a, 7, ha, na, err, sizeof err), TR_OK);
    assert_int_equal(tr_eval_hull(sweep_b, 4, hb, nb, err, sizeof err), TR_OK);
    series[0] = (tr_plot_series){"taskroute (λ sweep)", ha, *na, sweep_a, 7};
    series[1] = (tr_plot_series){"kNN <baseline> & co", hb, *nb, sweep_b, 5};
    return (tr_plot){"mmlu-pro: cost vs quality", series, 2, models, 4};
}

static void test_structure(void **state)
{
    (void)state;
    tr_point ha[7], hb[4];
    size_t na, nb;
    tr_plot_series series[2];
    tr_plot p = sample(ha, &na, hb, &nb, series);
    char *svg, *svg2, err[128];
    size_t len;
    assert_int_equal(tr_plot_svg(&p, &svg, &len, err, sizeof err), TR_OK);
    assert_int_equal(strlen(svg), len);
    assert_true(strncmp(svg, "<?xml", 5) == 0);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_true(strcmp(svg + len - 7, "</svg>\n") == 0);
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_int_equal(count(svg, "<g class=\"router\""), 2);
    assert_int_equal(count(svg, "<g class=\"model\">"), 4);
    /* sweep points faintly: 7 + 4 finite ones */
    assert_int_equal(count(svg, "r=\"2.5\""), 11);
    /* hull vertices of router a: (2e-4,.55) (5e-4,.66) (1e-3,.71) (3e-3,.74) (1e-2,.76) */
    assert_int_equal(na, 5);
    /* names escaped, in the labels and the legend */
    assert_non_null(strstr(svg, ">mixtral &lt;8x7b&gt; &amp; &quot;co&quot;</text>"));
    assert_non_null(strstr(svg, ">kNN &lt;baseline&gt; &amp; co</text>"));
    assert_non_null(strstr(svg, "data-name=\"kNN &lt;baseline&gt; &amp; co\""));
    assert_null(strstr(svg, "<8x7b>"));
    assert_non_null(strstr(svg, ">taskroute (λ sweep)</text>"));
    assert_non_null(strstr(svg, "<title>mmlu-pro: cost vs quality</title>"));
    /* log axis with decade labels and a quality axis */
    assert_non_null(strstr(svg, ">0.001</text>"));
    assert_non_null(strstr(svg, ">0.01</text>"));
    assert_non_null(strstr(svg, "log scale"));
    assert_true(count(svg, "class=\"ytick\"") >= 4);
    assert_non_null(strstr(svg, "single model"));
    /* deterministic */
    assert_int_equal(tr_plot_svg(&p, &svg2, NULL, err, sizeof err), TR_OK);
    assert_string_equal(svg, svg2);
    /* no NaN or infinity anywhere */
    for (char *q = svg; *q; q++) *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "inf"));
    tr_free(svg);
    tr_free(svg2);
}

static void test_hull_coordinates(void **state)
{
    (void)state;
    /* one router from 1e-3 to 1e-1 at quality .5 and .7 */
    tr_point h[] = {{0.001, 0.5}, {0.1, 0.7}};
    tr_plot_series s = {"r", h, 2, NULL, 0};
    tr_plot p = {NULL, &s, 1, NULL, 0};
    char *svg, err[128];
    assert_int_equal(tr_plot_svg(&p, &svg, NULL, err, sizeof err), TR_OK);
    const char *pts = strstr(svg, "points=\"");
    assert_non_null(pts);
    double x1, y1, x2, y2;
    assert_int_equal(sscanf(pts + 8, "%lf,%lf %lf,%lf", &x1, &y1, &x2, &y2), 4);
    assert_true(x1 > 80 && x2 < 630 && x2 > x1);         /* inside the frame, left to right */
    assert_true(y2 < y1 && y1 < 470 && y2 > 60);         /* higher quality drawn higher */
    assert_non_null(strstr(svg, "<title>Cost vs quality</title>"));
    assert_null(strstr(svg, "single model"));
    tr_free(svg);
}

static void test_errors_and_write(void **state)
{
    (void)state;
    tr_point bad[] = {{NAN, 0.5}};
    tr_plot_series s = {"r", bad, 1, NULL, 0};
    tr_plot p = {NULL, &s, 1, NULL, 0};
    char *svg = (char *)1, err[256];
    assert_int_equal(tr_plot_svg(&p, &svg, NULL, err, sizeof err), TR_EINVAL);
    assert_null(svg);
    assert_non_null(strstr(err, "no point"));

    tr_point ha[7], hb[4];
    size_t na, nb;
    tr_plot_series series[2];
    tr_plot q = sample(ha, &na, hb, &nb, series);
    for (long k = 0; k < 50; k++) {
        tr_alloc_fail_after(k);
        int rc = tr_plot_svg(&q, &svg, NULL, err, sizeof err);
        tr_alloc_fail_after(-1);
        if (rc == TR_OK) { tr_free(svg); break; }
        assert_int_equal(rc, TR_ENOMEM);
        assert_null(svg);
    }
    const char *path = tu_tmp("plot.svg");
    assert_int_equal(tr_plot_svg_write(&q, path, err, sizeof err), TR_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char head[6] = {0};
    assert_int_equal(fread(head, 1, 5, f), 5);
    fclose(f);
    assert_string_equal(head, "<?xml");
    const char *missing = tu_tmp("no/such/dir/plot.svg");
    assert_int_equal(tr_plot_svg_write(&q, missing, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_hull_coordinates),
        cmocka_unit_test(test_errors_and_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
