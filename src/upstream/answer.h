/* The one reader of OpenAI-shaped chat answers from upstream providers:
 * the proxy's accounting reads what came back through it, and labelling
 * reads the answers it collects, with the same rules.
 *
 * Two shapes:
 *  - a whole answer (a non-streaming chat.completion, or a legacy
 *    completion): the first choice's message content (a string, or an
 *    array of {"type": "text", "text"} parts, joined), its finish_reason,
 *    "usage" {prompt_tokens, completion_tokens, total_tokens}, "model", or
 *    the provider's {"error": {message, type, code}} instead;
 *  - a stream of server-sent events ("stream": true), fed in pieces split
 *    anywhere: "data:" lines, joined per event, each a chat.completion.chunk
 *    whose first choice's delta content is appended; "[DONE]" ends it; an
 *    {"error"} event or an "event: error" records the error; usage comes
 *    with the last chunk when the provider sends it.
 *
 * Bytes are never trusted: malformed JSON, a field of the wrong type, text
 * that is not UTF-8, token counts that are not whole numbers >= 0, an event
 * line or a content beyond the caps give a status (TR_EFORMAT, TR_ERANGE,
 * TR_ENOMEM) and a message naming the field; nothing crashes. */
#ifndef TR_UPSTREAM_ANSWER_H
#define TR_UPSTREAM_ANSWER_H

#include <stddef.h>

#define TR_ANSWER_MAX_CONTENT (64u << 20)  /* bytes of content kept */
#define TR_ANSWER_MAX_LINE (8u << 20)      /* bytes of one SSE event */

typedef struct tr_upstream_answer {
    char *content;             /* the answer's text, NUL-terminated (owned), or NULL: none */
    size_t content_len;
    char finish_reason[32];    /* "" when none was given */
    char model[128];           /* the model the provider names, "" when none */
    int has_usage;
    long long prompt_tokens, completion_tokens, total_tokens;  /* -1 when absent */
    int has_error;             /* the provider answered with an error object */
    char error_message[512];
    char error_type[64], error_code[64];
    size_t events;             /* streams: data events read */
    int done;                  /* streams: "[DONE]" seen */
} tr_upstream_answer;

/* Read a whole answer of len bytes (need not be NUL-terminated).  TR_OK and
 * *out filled (release with tr_upstream_answer_free; an error answer is
 * TR_OK with has_error set), or a status with err naming what is wrong and
 * *out empty. */
int tr_upstream_answer_parse(const char *body, size_t len, tr_upstream_answer *out, char *err, size_t errlen);
void tr_upstream_answer_free(tr_upstream_answer *a);

typedef struct tr_upstream_stream tr_upstream_stream;

/* A stream reader.  *out owned by the caller: tr_upstream_stream_free. */
int tr_upstream_stream_new(tr_upstream_stream **out);
/* Feed the next n bytes of the stream.  TR_OK, or the first error (the
 * stream is then spoiled: later feeds return it again). */
int tr_upstream_stream_feed(tr_upstream_stream *s, const char *bytes, size_t n, char *err, size_t errlen);
/* The answer read so far (an event cut by the end of the stream is read as
 * if it were complete).  Moves the content into *out (release with
 * tr_upstream_answer_free); the stream is then spent.  Same statuses. */
int tr_upstream_stream_finish(tr_upstream_stream *s, tr_upstream_answer *out, char *err, size_t errlen);
void tr_upstream_stream_free(tr_upstream_stream *s);

#endif
