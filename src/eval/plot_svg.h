/* An SVG cost-quality plot for `taskroute eval --plot`: each router's hull
 * as a line (its raw sweep points faintly behind it), each single model as a
 * labelled point, a log10 cost axis, a quality axis, a legend and a title.
 * The output is a pure function of the input (no clock, no locale: numbers
 * are formatted by hand), so plots can be diffed and tested. */
#ifndef TR_PLOT_SVG_H
#define TR_PLOT_SVG_H

#include <stddef.h>

#include "base/eval_metrics.h"

/* One router (or baseline with a knob). */
typedef struct tr_plot_series {
    const char *name;        /* legend text; XML-escaped on output */
    const tr_point *hull;    /* hull vertices by increasing cost (tr_eval_hull) */
    size_t n_hull;
    const tr_point *sweep;   /* raw sweep points, drawn faintly; NULL/0 for none */
    size_t n_sweep;
} tr_plot_series;

/* One single model: a labelled point. */
typedef struct tr_plot_model {
    const char *name;
    double cost, quality;
} tr_plot_model;

typedef struct tr_plot {
    const char *title;       /* NULL: "Cost vs quality" */
    const tr_plot_series *series;
    size_t n_series;
    const tr_plot_model *models;
    size_t n_models;
} tr_plot;

/* Render p as an SVG document.  Everything in p is borrowed.  Points with a
 * non-finite coordinate are left out; a cost <= 0 (no place on a log axis)
 * is drawn on the axis's left edge.  *out is NUL-terminated, owned by the
 * caller (tr_free); *len its length without the NUL (len may be NULL).
 * TR_EINVAL when there is nothing to draw, TR_ENOMEM. */
int tr_plot_svg(const tr_plot *p, char **out, size_t *len, char *err, size_t errlen);

/* Render p and write it to path through "<path>.tmp.<pid>" renamed into
 * place, so a reader never sees half a plot.  TR_EIO names the path. */
int tr_plot_svg_write(const tr_plot *p, const char *path, char *err, size_t errlen);

#endif
