/* The cost-quality plot as SVG (see plot_svg.h).  SVG, not PNG: it needs no
 * library, opens in any browser and diffs as text; numbers are written by
 * hand (svg_text.h). */
#include "eval/plot_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "eval/svg_text.h"

enum { W = 860, H = 540, PL = 80, PR = 630, PT = 60, PB = 470, LEGEND_X = 650 };

/* tab10: distinguishable and colour-blind tolerable. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct axes {
    double lx0, lx1; /* log10 cost range */
    double y0, y1;   /* quality range */
    double ystep;
} axes;

static void put_xy(tr_buf *b, double x, double y)
{
    tr_svg_num(b, x, 2);
    tr_buf_put(b, ",", 1);
    tr_svg_num(b, y, 2);
}

/* A tick value m * 10^k (m in 1, 2, 5) as text, e.g. 0.002, 20, 1e-6. */
static void put_tick_cost(tr_buf *b, int m, int k)
{
    if (k <= -6 || k >= 6)
        tr_svg_put(b, "%de%d", m, k);
    else if (k >= 0) {
        tr_svg_put(b, "%d", m);
        for (int i = 0; i < k; i++) tr_buf_put(b, "0", 1);
    } else {
        tr_buf_put(b, "0.", 2);
        for (int i = 0; i < -k - 1; i++) tr_buf_put(b, "0", 1);
        tr_svg_put(b, "%d", m);
    }
}

static int usable(double c, double q) { return isfinite(c) && isfinite(q); }

static void extend(double c, double q, double *cmin, double *cmax, double *qmin, double *qmax, size_t *npts)
{
    if (!usable(c, q)) return;
    if (c > 0) {
        *cmin = fmin(*cmin, c);
        *cmax = fmax(*cmax, c);
    }
    *qmin = fmin(*qmin, q);
    *qmax = fmax(*qmax, q);
    (*npts)++;
}

static int make_axes(const tr_plot *p, axes *a)
{
    double cmin = INFINITY, cmax = -INFINITY, qmin = INFINITY, qmax = -INFINITY;
    size_t npts = 0;
    for (size_t i = 0; i < p->n_series; i++) {
        const tr_plot_series *s = &p->series[i];
        for (size_t j = 0; j < s->n_hull; j++) extend(s->hull[j].cost, s->hull[j].quality, &cmin, &cmax, &qmin, &qmax, &npts);
        for (size_t j = 0; j < s->n_sweep; j++)
            extend(s->sweep[j].cost, s->sweep[j].quality, &cmin, &cmax, &qmin, &qmax, &npts);
    }
    for (size_t i = 0; i < p->n_models; i++)
        extend(p->models[i].cost, p->models[i].quality, &cmin, &cmax, &qmin, &qmax, &npts);
    if (npts == 0) return TR_EINVAL;
    if (!(cmin <= cmax)) cmin = cmax = 1e-3; /* only costs <= 0 */
    double l0 = log10(cmin), l1 = log10(cmax);
    if (l1 - l0 < 0.5) {
        double mid = (l0 + l1) / 2;
        l0 = mid - 0.25;
        l1 = mid + 0.25;
    }
    double pad = 0.04 * (l1 - l0);
    a->lx0 = l0 - pad;
    a->lx1 = l1 + pad;

    double span = qmax - qmin;
    if (span < 1e-6) {
        qmin -= 0.05;
        qmax += 0.05;
        span = qmax - qmin;
    }
    static const double steps[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10};
    size_t k = 0;
    while (k + 1 < sizeof steps / sizeof *steps && span / steps[k] > 8) k++;
    a->ystep = steps[k];
    a->y0 = floor((qmin - 0.03 * span) / a->ystep) * a->ystep;
    a->y1 = ceil((qmax + 0.03 * span) / a->ystep) * a->ystep;
    return TR_OK;
}

static double xpos(const axes *a, double c)
{
    double l = c > 0 ? log10(c) : a->lx0;
    return PL + (l - a->lx0) / (a->lx1 - a->lx0) * (PR - PL);
}

static double ypos(const axes *a, double q) { return PB - (q - a->y0) / (a->y1 - a->y0) * (PB - PT); }

static void draw_axes(tr_buf *b, const axes *a)
{
    /* cost ticks: decades, plus 2x and 5x when the range is narrow */
    int dense = a->lx1 - a->lx0 < 2.5;
    tr_buf labels; /* drawn after the grid, collected meanwhile */
    tr_buf_init(&labels);
    tr_svg_put(b, "<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (int k = (int)floor(a->lx0); k <= (int)ceil(a->lx1); k++) {
        static const int ms[] = {1, 2, 5};
        for (int mi = 0; mi < (dense ? 3 : 1); mi++) {
            double l = k + log10((double)ms[mi]);
            if (l < a->lx0 || l > a->lx1) continue;
            double x = PL + (l - a->lx0) / (a->lx1 - a->lx0) * (PR - PL);
            tr_svg_put(b, "<line x1=\"");
            tr_svg_num(b, x, 2);
            tr_svg_put(b, "\" y1=\"%d\" x2=\"", PT);
            tr_svg_num(b, x, 2);
            tr_svg_put(b, "\" y2=\"%d\"/>\n", PB);
            tr_svg_put(&labels, "<text class=\"xtick\" x=\"");
            tr_svg_num(&labels, x, 2);
            tr_svg_put(&labels, "\" y=\"%d\" text-anchor=\"middle\">", PB + 18);
            put_tick_cost(&labels, ms[mi], k);
            tr_svg_put(&labels, "</text>\n");
        }
    }
    long n0 = lround(a->y0 / a->ystep), n1 = lround(a->y1 / a->ystep);
    int dec = a->ystep >= 1 ? 0 : a->ystep >= 0.1 ? 1 : a->ystep >= 0.01 ? 2 : 3;
    if (a->ystep == 0.25 || a->ystep == 0.025) dec++;
    for (long i = n0; i <= n1; i++) {
        double q = (double)i * a->ystep, y = ypos(a, q);
        tr_svg_put(b, "<line x1=\"%d\" y1=\"", PL);
        tr_svg_num(b, y, 2);
        tr_svg_put(b, "\" x2=\"%d\" y2=\"", PR);
        tr_svg_num(b, y, 2);
        tr_svg_put(b, "\"/>\n");
        tr_svg_put(&labels, "<text class=\"ytick\" x=\"%d\" y=\"", PL - 8);
        tr_svg_num(&labels, y + 4, 2);
        tr_svg_put(&labels, "\" text-anchor=\"end\">");
        tr_svg_num(&labels, q, dec);
        tr_svg_put(&labels, "</text>\n");
    }
    tr_svg_put(b, "</g>\n<g class=\"axes\">\n");
    tr_svg_put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", PL, PT, PR - PL,
        PB - PT);
    if (labels.oom) b->oom = 1;
    else tr_buf_put(b, labels.data, labels.len);
    tr_svg_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">mean cost per query (USD, log scale)</text>\n",
        (PL + PR) / 2, PB + 44);
    tr_svg_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">mean quality</text>\n",
        PL - 52, (PT + PB) / 2, PL - 52, (PT + PB) / 2);
    tr_svg_put(b, "</g>\n");
    tr_buf_free(&labels);
}

static void draw_series(tr_buf *b, const axes *a, const tr_plot_series *s, const char *color)
{
    tr_svg_put(b, "<g class=\"router\" data-name=\"");
    tr_svg_esc(b, s->name);
    tr_svg_put(b, "\">\n");
    if (s->n_sweep) {
        tr_svg_put(b, "<g class=\"sweep\" fill=\"%s\" fill-opacity=\"0.25\">\n", color);
        for (size_t j = 0; j < s->n_sweep; j++) {
            if (!usable(s->sweep[j].cost, s->sweep[j].quality)) continue;
            tr_svg_put(b, "<circle cx=\"");
            tr_svg_num(b, xpos(a, s->sweep[j].cost), 2);
            tr_svg_put(b, "\" cy=\"");
            tr_svg_num(b, ypos(a, s->sweep[j].quality), 2);
            tr_svg_put(b, "\" r=\"2.5\"/>\n");
        }
        tr_svg_put(b, "</g>\n");
    }
    tr_svg_put(b, "<polyline class=\"hull\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    int first = 1;
    for (size_t j = 0; j < s->n_hull; j++) {
        if (!usable(s->hull[j].cost, s->hull[j].quality)) continue;
        if (!first) tr_buf_put(b, " ", 1);
        put_xy(b, xpos(a, s->hull[j].cost), ypos(a, s->hull[j].quality));
        first = 0;
    }
    tr_svg_put(b, "\"/>\n<g class=\"vertices\" fill=\"%s\">\n", color);
    for (size_t j = 0; j < s->n_hull; j++) {
        if (!usable(s->hull[j].cost, s->hull[j].quality)) continue;
        tr_svg_put(b, "<circle cx=\"");
        tr_svg_num(b, xpos(a, s->hull[j].cost), 2);
        tr_svg_put(b, "\" cy=\"");
        tr_svg_num(b, ypos(a, s->hull[j].quality), 2);
        tr_svg_put(b, "\" r=\"3\"/>\n");
    }
    tr_svg_put(b, "</g>\n</g>\n");
}

int tr_plot_svg(const tr_plot *p, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    if (len) *len = 0;
    axes a;
    if (make_axes(p, &a))
        return tr_errorf(err, errlen, TR_EINVAL, "plot: no point with finite cost and quality to draw");
    tr_buf b;
    tr_buf_init(&b);
    const char *title = p->title ? p->title : "Cost vs quality";
    tr_svg_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    tr_svg_put(&b,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
        "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
        W, H, W, H);
    tr_svg_put(&b, "<title>");
    tr_svg_esc(&b, title);
    tr_svg_put(&b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    tr_svg_put(&b, "<text class=\"title\" x=\"%d\" y=\"34\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">",
        (PL + PR) / 2);
    tr_svg_esc(&b, title);
    tr_svg_put(&b, "</text>\n");
    draw_axes(&b, &a);
    for (size_t i = 0; i < p->n_series; i++)
        draw_series(&b, &a, &p->series[i], palette[i % (sizeof palette / sizeof *palette)]);
    for (size_t i = 0; i < p->n_models; i++) {
        const tr_plot_model *m = &p->models[i];
        if (!usable(m->cost, m->quality)) continue;
        double x = xpos(&a, m->cost), y = ypos(&a, m->quality);
        tr_svg_put(&b, "<g class=\"model\"><circle cx=\"");
        tr_svg_num(&b, x, 2);
        tr_svg_put(&b, "\" cy=\"");
        tr_svg_num(&b, y, 2);
        tr_svg_put(&b, "\" r=\"5\" fill=\"#222\"/><text x=\"");
        tr_svg_num(&b, x + 7, 2);
        tr_svg_put(&b, "\" y=\"");
        tr_svg_num(&b, y - 7, 2);
        tr_svg_put(&b, "\" font-size=\"11\" fill=\"#222\">");
        tr_svg_esc(&b, m->name);
        tr_svg_put(&b, "</text></g>\n");
    }
    tr_svg_put(&b, "<g class=\"legend\">\n");
    int ly = PT + 10;
    for (size_t i = 0; i < p->n_series; i++, ly += 22) {
        const char *color = palette[i % (sizeof palette / sizeof *palette)];
        tr_svg_put(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>", LEGEND_X, ly,
            LEGEND_X + 24, ly, color);
        tr_svg_put(&b, "<text x=\"%d\" y=\"%d\">", LEGEND_X + 32, ly + 4);
        tr_svg_esc(&b, p->series[i].name);
        tr_svg_put(&b, "</text>\n");
    }
    if (p->n_models) {
        tr_svg_put(&b, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"#222\"/>", LEGEND_X + 12, ly);
        tr_svg_put(&b, "<text x=\"%d\" y=\"%d\">single model</text>\n", LEGEND_X + 32, ly + 4);
    }
    return tr_svg_finish(&b, out, len, "plot", err, errlen);
}

int tr_plot_svg_write(const tr_plot *p, const char *path, char *err, size_t errlen)
{
    char *svg = NULL;
    size_t n;
    int rc = tr_plot_svg(p, &svg, &n, err, errlen);
    if (!rc) rc = tr_svg_write_file(svg, n, path, err, errlen);
    tr_free(svg);
    return rc;
}
