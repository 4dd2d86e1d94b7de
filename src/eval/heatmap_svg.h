/* A heatmap as SVG: rows x columns of values in [0, 1]-ish, each cell
 * coloured on one light-to-dark scale (its range the values' own) and
 * labelled with its value, row and column names, a colour legend, and up
 * to two marked cells per row.  The taxonomy report draws task x model mean
 * quality with it, the best model's cell outlined in black and the best
 * value model's dashed.  A pure function of the input, like plot_svg.h. */
#ifndef TR_HEATMAP_SVG_H
#define TR_HEATMAP_SVG_H

#include <stddef.h>

typedef struct tr_heatmap {
    const char *title;              /* NULL: "Quality by task and model" */
    size_t rows, cols;
    const char *const *row_names;   /* rows strings, XML-escaped on output (long ones cut) */
    const char *const *col_names;   /* cols strings */
    const double *values;           /* rows x cols, row-major; NaN: a blank cell */
    const int *mark;                /* rows: the column outlined solid in each row, -1 none; NULL: none */
    const int *mark2;               /* rows: the column outlined dashed, -1 none; NULL: none */
    const char *mark_label;         /* legend text for mark; NULL: none shown */
    const char *mark2_label;        /* legend text for mark2 */
} tr_heatmap;

/* Render h.  Everything borrowed.  *out is NUL-terminated, owned by the
 * caller (tr_free); *len its length (len may be NULL).  TR_EINVAL when
 * there are no rows or columns or no finite value, TR_ENOMEM. */
int tr_heatmap_svg(const tr_heatmap *h, char **out, size_t *len, char *err, size_t errlen);

/* Render h and write it to path atomically (eval/svg_text.h). */
int tr_heatmap_svg_write(const tr_heatmap *h, const char *path, char *err, size_t errlen);

#endif
