/* Text in the Prometheus exposition format (0.0.4), grown as it is
 * written: the server's /metrics and the upstream client's counters print
 * with the same two calls.  The first failed allocation latches 'failed';
 * later writes are no-ops, so a caller checks once at the end. */
#ifndef TR_PROM_TEXT_H
#define TR_PROM_TEXT_H

#include <stddef.h>

#include "base/util.h"

typedef struct tr_prom_text {
    char *p;                   /* NUL-terminated when len > 0 (tr_free) */
    size_t len, cap;
    int failed;
} tr_prom_text;

/* Append printf-style. */
void tr_prom_put(tr_prom_text *t, const char *fmt, ...) TR_PRINTF(2, 3);
/* Append a label value with the format's escapes (backslash, double quote,
 * newline): names come from router files and tables, never trusted. */
void tr_prom_label(tr_prom_text *t, const char *s);

#endif
