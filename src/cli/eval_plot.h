/* `eval --plot`: the evaluation's JSON (routers' hulls and sweeps, single
 * models) turned into plot_svg.c's input. */
#ifndef TR_EVAL_PLOT_H
#define TR_EVAL_PLOT_H

#include <cJSON.h>

/* Write the SVG to path (atomically).  0 ok, -1 error (printed). */
int eval_plot_write(const char *path, const cJSON *eval);

#endif
