/* Render discover's taxonomy report (JSON from tr_discover) as Markdown that
 * also reads well in a terminal. */
#ifndef TR_REPORT_MD_H
#define TR_REPORT_MD_H

#include <stdio.h>

/* 0 ok, -1 when json is not a taxonomy report. Borrows both. */
int report_md_write(FILE *f, const char *json);

#endif
