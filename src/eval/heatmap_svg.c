/* The heatmap as SVG; see heatmap_svg.h. */
#include "eval/heatmap_svg.h"

#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "eval/svg_text.h"

enum { CELL_W = 64, CELL_H = 24, NAME_CHARS = 44, CHAR_W = 7, TOP = 150, PAD = 16, LEGEND_H = 112 };

/* Light to dark blue ("Blues"): three stops, linear between them. */
static void colour(double t, int rgb[3])
{
    static const int stops[3][3] = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    int k = t < 0.5 ? 0 : 1;
    double u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(stops[k][c] + u * (stops[k + 1][c] - stops[k][c]));
}

/* A name cut to NAME_CHARS characters (UTF-8 aware), "…" when cut. */
static void put_name(tr_buf *b, const char *s)
{
    char buf[4 * NAME_CHARS + 8];
    size_t o = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p && chars < NAME_CHARS) {
        size_t n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        for (size_t k = 0; k < n && p[k]; k++) buf[o++] = (char)p[k];
        p += n;
        chars++;
    }
    if (*p) { memcpy(buf + o, "\xE2\x80\xA6", 3); o += 3; }
    buf[o] = 0;
    tr_svg_esc(b, buf);
}

static void outline(tr_buf *b, double x, double y, const char *style)
{
    tr_svg_put(b, "<rect x=\"");
    tr_svg_num(b, x + 1.5, 1);
    tr_svg_put(b, "\" y=\"");
    tr_svg_num(b, y + 1.5, 1);
    tr_svg_put(b, "\" width=\"%d\" height=\"%d\" fill=\"none\" %s/>\n", CELL_W - 3, CELL_H - 3, style);
}

/* red and orange: visible on the light cells and the dark ones */
static const char *const MARK_SOLID = "stroke=\"#e41a1c\" stroke-width=\"2.5\"";
static const char *const MARK_DASHED = "stroke=\"#ff7f00\" stroke-width=\"2.5\" stroke-dasharray=\"5,3\"";

int tr_heatmap_svg(const tr_heatmap *h, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    if (len) *len = 0;
    if (!h || !h->rows || !h->cols || !h->values || !h->row_names || !h->col_names)
        return tr_errorf(err, errlen, TR_EINVAL, "heatmap: no rows or columns");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < h->rows * h->cols; i++)
        if (isfinite(h->values[i])) { lo = fmin(lo, h->values[i]); hi = fmax(hi, h->values[i]); }
    if (!(lo <= hi)) return tr_errorf(err, errlen, TR_EINVAL, "heatmap: no finite value to draw");
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    size_t longest = 0;
    for (size_t r = 0; r < h->rows; r++) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)(h->row_names[r] ? h->row_names[r] : ""); *p; p++)
            n += (*p & 0xC0) != 0x80;
        if (n > longest) longest = n;
    }
    if (longest > NAME_CHARS + 1) longest = NAME_CHARS + 1;
    int left = PAD + (int)longest * CHAR_W + 10;
    int grid_w = (int)h->cols * CELL_W, grid_h = (int)h->rows * CELL_H;
    int W = left + grid_w + PAD + 60, H = TOP + grid_h + LEGEND_H;
    const char *labels[2] = {h->mark_label, h->mark2_label};
    for (int k = 0; k < 2; k++)
        if (labels[k] && left + 40 + CHAR_W * (int)strlen(labels[k]) + PAD > W)
            W = left + 40 + CHAR_W * (int)strlen(labels[k]) + PAD;
    const char *title = h->title ? h->title : "Quality by task and model";
    tr_buf b;
    tr_buf_init(&b);
    tr_svg_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    tr_svg_put(&b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
               W, H, W, H);
    tr_svg_put(&b, "<title>");
    tr_svg_esc(&b, title);
    tr_svg_put(&b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    tr_svg_put(&b, "<text class=\"title\" x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", PAD);
    tr_svg_esc(&b, title);
    tr_svg_put(&b, "</text>\n<g class=\"columns\">\n");
    for (size_t c = 0; c < h->cols; c++) {
        int x = left + (int)c * CELL_W + CELL_W / 2;
        tr_svg_put(&b, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-45 %d %d)\">", x, TOP - 8, x, TOP - 8);
        tr_svg_esc(&b, h->col_names[c]);
        tr_svg_put(&b, "</text>\n");
    }
    tr_svg_put(&b, "</g>\n<g class=\"rows\">\n");
    for (size_t r = 0; r < h->rows; r++) {
        int y = TOP + (int)r * CELL_H;
        tr_svg_put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + CELL_H / 2 + 4);
        put_name(&b, h->row_names[r]);
        tr_svg_put(&b, "</text>\n");
        for (size_t c = 0; c < h->cols; c++) {
            double v = h->values[r * h->cols + c];
            int x = left + (int)c * CELL_W;
            if (!isfinite(v)) {
                tr_svg_put(&b, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
                               "stroke=\"#ddd\"/>\n", x, y, CELL_W, CELL_H);
                continue;
            }
            double t = (v - lo) / (hi - lo);
            int rgb[3];
            colour(t, rgb);
            tr_svg_put(&b, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\" "
                           "stroke=\"#fff\"/>",
                       x, y, CELL_W, CELL_H, rgb[0], rgb[1], rgb[2]);
            tr_svg_put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">", x + CELL_W / 2,
                       y + CELL_H / 2 + 4, t > 0.55 ? "#fff" : "#111");
            tr_svg_num(&b, v, 2);
            tr_svg_put(&b, "</text>\n");
        }
        if (h->mark2 && h->mark2[r] >= 0 && (size_t)h->mark2[r] < h->cols &&
            !(h->mark && h->mark[r] == h->mark2[r]))
            outline(&b, left + h->mark2[r] * CELL_W, y, MARK_DASHED);
        if (h->mark && h->mark[r] >= 0 && (size_t)h->mark[r] < h->cols) outline(&b, left + h->mark[r] * CELL_W, y, MARK_SOLID);
    }
    tr_svg_put(&b, "</g>\n<g class=\"legend\">\n");
    int ly = TOP + grid_h + 24, lw = 160;
    tr_svg_put(&b, "<defs><linearGradient id=\"scale\">");
    for (int k = 0; k <= 4; k++) {
        int rgb[3];
        colour(k / 4.0, rgb);
        tr_svg_put(&b, "<stop offset=\"%d%%\" stop-color=\"#%02x%02x%02x\"/>", k * 25, rgb[0], rgb[1], rgb[2]);
    }
    tr_svg_put(&b, "</linearGradient></defs>\n");
    tr_svg_put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"url(#scale)\" stroke=\"#999\"/>\n",
               left, ly, lw);
    tr_svg_put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", left, ly + 26);
    tr_svg_num(&b, lo, 2);
    tr_svg_put(&b, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", left + lw, ly + 26);
    tr_svg_num(&b, hi, 2);
    tr_svg_put(&b, "</text>\n");
    const char *styles[2] = {MARK_SOLID, MARK_DASHED};
    int my = ly + 42;
    for (int k = 0; k < 2; k++) {
        if (!labels[k]) continue;
        tr_svg_put(&b, "<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"14\" fill=\"none\" %s/>", left, my - 1,
                   styles[k]);
        tr_svg_put(&b, "<text x=\"%d\" y=\"%d\">", left + 30, my + 10);
        tr_svg_esc(&b, labels[k]);
        tr_svg_put(&b, "</text>\n");
        my += 20;
    }
    return tr_svg_finish(&b, out, len, "heatmap", err, errlen);
}

int tr_heatmap_svg_write(const tr_heatmap *h, const char *path, char *err, size_t errlen)
{
    char *svg = NULL;
    size_t n;
    int rc = tr_heatmap_svg(h, &svg, &n, err, errlen);
    if (!rc) rc = tr_svg_write_file(svg, n, path, err, errlen);
    tr_free(svg);
    return rc;
}
