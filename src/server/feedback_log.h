/* The durable feedback log behind POST /v1/feedback.
 *
 * One JSON object per line (JSONL) in DIR/feedback.jsonl, each written with
 * a single write() and made durable with fsync() before the request is
 * answered.  When the next line would take the file past max_bytes it is
 * renamed to DIR/feedback.jsonl.N (N = 1, 2, ... in order of rotation, so
 * the highest N is the newest full file) and a new file begun; the directory
 * is fsynced so the rename survives a crash.  A mutex serialises appends:
 * lines never interleave and rotation never races an append. */
#ifndef TR_SERVER_FEEDBACK_LOG_H
#define TR_SERVER_FEEDBACK_LOG_H

#include <stddef.h>

typedef struct tr_feedback_log tr_feedback_log;

/* Open (creating DIR and the file if needed) a log rotated past max_bytes
 * (0 = never).  Existing rotated files are counted so numbering resumes.
 * *out owned by the caller: tr_feedback_log_close.  dir borrowed. */
int tr_feedback_log_open(const char *dir, size_t max_bytes, tr_feedback_log **out,
                         char *err, size_t errlen);
void tr_feedback_log_close(tr_feedback_log *log);

/* Append {"ts": ISO-8601 UTC, "unix_ms", "request_id", "model", "score"}
 * and fsync.  Strings borrowed.  TR_OK, TR_ENOMEM or TR_EIO (with message). */
int tr_feedback_log_append(tr_feedback_log *log, const char *request_id, const char *model,
                           double score, char *err, size_t errlen);

/* Number of rotations so far (the highest N in use). */
unsigned tr_feedback_log_rotations(tr_feedback_log *log);

#endif
