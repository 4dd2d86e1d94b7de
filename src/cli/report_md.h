/* Render discover's taxonomy report (JSON from tr_discover) as Markdown that
 * also reads well in a terminal, and its task x model quality heatmap as
 * SVG (eval/heatmap_svg.h). */
#ifndef TR_REPORT_MD_H
#define TR_REPORT_MD_H

#include <stddef.h>
#include <stdio.h>

/* heatmap: the heatmap's path as the Markdown should link it (relative to
 * the report), or NULL for no link.  0 ok, -1 when json is not a taxonomy
 * report.  Borrows everything. */
int report_md_write(FILE *f, const char *json, const char *heatmap);

/* Write the heatmap of the report's tasks x models mean quality to path.
 * 0 ok; else -1 with a message in err (no model has a quality: a report of
 * prompts without scores has no heatmap). */
int report_heatmap_write(const char *json, const char *path, char *err, size_t errlen);

#endif
