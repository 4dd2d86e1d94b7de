/* One input line of `taskroute label`: a prompt to label.  Accepted:
 *   {"prompt": "...", "id": "...", <reference field>: ..., "task": "..."}
 *   {"messages": [{"role", "content"}...], ...}      (an OpenAI chat body)
 *   a line of the server's decisions.jsonl           ("request_id", "prompt")
 * The id is "id" (a string or a whole number), else "request_id", else a
 * stable hash of the prompt ("p" and 16 hex digits of FNV-1a 64), so a
 * file without ids resumes onto the same records.  With messages, the
 * text recorded (and routed) is the content of the user, system and
 * developer messages joined by line breaks, the server's rule; the
 * messages themselves are what the models are sent.  A string "task" is
 * passed through to the output; a number (the decision log's task id) is
 * not. */
#ifndef TR_LABEL_INPUT_H
#define TR_LABEL_INPUT_H

#include <stddef.h>

typedef struct tr_label_item {
    char *id;           /* owned */
    char *prompt;       /* owned, non-empty UTF-8 */
    char *messages;     /* the "messages" array as JSON text, or NULL (one user message of prompt) */
    char *reference;    /* the reference field as text (a number printed exactly), or NULL when absent */
    char *task;         /* or NULL */
} tr_label_item;

/* Parse len bytes of one line (need not be NUL-terminated).  ref_field:
 * the reference's field name, or NULL.  TR_OK and *out filled (release
 * with tr_label_item_free), or TR_EFORMAT / TR_ENOMEM with err naming the
 * field (the caller adds file and line).  All borrowed. */
int tr_label_item_parse(const char *line, size_t len, const char *ref_field, tr_label_item *out, char *err,
                        size_t errlen);
void tr_label_item_free(tr_label_item *it);

#endif
