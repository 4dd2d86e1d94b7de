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

/* j as compact JSON text in our allocator (the caller's, tr_free): cJSON's
 * own buffer comes from its allocator, which may not be ours.  NULL when j
 * is NULL or out of memory. */
char *tr_json_print(const cJSON *j);

/* Field k of object o as a number; NaN when o or the field is absent or the
 * field is not a number. */
double tr_json_get_num(const cJSON *o, const char *k);

/* Field k of object o as a string (borrowed from o); dflt when o or the
 * field is absent or the field is not a string. */
const char *tr_json_get_str(const cJSON *o, const char *k, const char *dflt);

/* The text routing reads from an OpenAI chat "messages" array: the content
 * of its user, system and developer messages (a string, or the "text"
 * parts of an array of parts), joined by '\n'; assistant and tool
 * messages are skipped.  The server's /v1/chat/completions and `taskroute
 * label` read prompts through this one rule.  TR_OK with *out (the
 * caller's, tr_free; NULL and *len 0 when no message holds such text);
 * TR_ETOOFEW for an empty array; TR_EFORMAT naming the element, e.g.
 * "messages[2].content[0].text must be a string"; TR_ENOMEM.  err gets
 * the message. */
int tr_json_chat_text(const cJSON *msgs, char **out, size_t *len, char *err, size_t errlen);

#endif
