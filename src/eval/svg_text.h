/* Writing SVG text by hand, for the plots (plot_svg, heatmap_svg): printf
 * for integers and strings only, numbers written without printf's %f/%g
 * (a host program's LC_NUMERIC could turn "1.5" into "1,5" and break the
 * document), XML escaping, and the atomic write of a finished document. */
#ifndef TR_SVG_TEXT_H
#define TR_SVG_TEXT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/util.h"

/* printf into b for integer and string conversions only. */
void tr_svg_put(tr_buf *b, const char *fmt, ...) TR_PRINTF(2, 3);

/* v with 'dec' decimals, locale-free; "-0.00" is written "0.00". */
void tr_svg_num(tr_buf *b, double v, int dec);

/* Text for XML: & < > " ' escaped; control characters (not allowed in XML
 * 1.0) become '?'.  Other bytes pass through (UTF-8).  NULL: nothing. */
void tr_svg_esc(tr_buf *b, const char *s);

/* Close the document in b ("</g></svg>"), hand its text to *out (a
 * NUL-terminated string the caller frees with tr_free) and its length to
 * *len (may be NULL).  TR_ENOMEM (b freed, message naming `what`) when any
 * write into b failed. */
int tr_svg_finish(tr_buf *b, char **out, size_t *len, const char *what, char *err, size_t errlen);

/* Write the n bytes of svg to path through "<path>.tmp.<pid>" renamed into
 * place, so a reader never sees half a document.  TR_EIO names the path,
 * TR_ENOMEM.  Borrows everything. */
int tr_svg_write_file(const char *svg, size_t n, const char *path, char *err, size_t errlen);

#endif
