/* The cJSON helpers the library, the CLI and the server share: a number
 * that may not be finite, a string quoted once for reuse in text we print
 * ourselves, and lenient field getters for reading back JSON we wrote
 * (reports, evaluation output).  Input from users is validated where it is
 * read, with messages naming file, line and field (data/dataset.c,
 * server/body_json.c). */
#ifndef TR_JSON_H
#define TR_JSON_H

#include <cJSON.h>

/* v as a JSON number, or null when it is NaN or infinite (JSON has
 * neither).  The caller owns the item; NULL when out of memory. */
cJSON *tr_json_num(double v);

/* s (NULL: "") as a JSON string literal with its quotes and escapes, e.g.
 * "a\"b"; the caller frees it with tr_free.  NULL when out of memory. */
char *tr_json_quote(const char *s);

/* Field k of object o as a number; NaN when o or the field is absent or the
 * field is not a number. */
double tr_json_get_num(const cJSON *o, const char *k);

/* Field k of object o as a string (borrowed from o); dflt when o or the
 * field is absent or the field is not a string. */
const char *tr_json_get_str(const cJSON *o, const char *k, const char *dflt);

#endif
