/* Two small cJSON helpers the library, the CLI and the server all need:
 * a number that may not be finite, and a string quoted once for reuse in
 * text we print ourselves. */
#ifndef TR_JSON_TEXT_H
#define TR_JSON_TEXT_H

#include <cJSON.h>

/* v as a JSON number, or null when it is NaN or infinite (JSON has
 * neither).  The caller owns the item; NULL when out of memory. */
cJSON *tr_json_num(double v);

/* s (NULL: "") as a JSON string literal with its quotes and escapes, e.g.
 * "a\"b"; the caller frees it with tr_free.  NULL when out of memory. */
char *tr_json_quote(const char *s);

#endif
