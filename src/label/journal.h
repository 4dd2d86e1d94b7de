/* The resume journal of `taskroute label` (OUT.journal beside the output):
 * one JSON line per paid-for result, appended and flushed as soon as it
 * comes back, before the output record that uses it, so a run killed at
 * any point resumes without paying twice for a (prompt, model) pair or a
 * judge's verdict or a verification.  Three kinds of line:
 *
 *   {"kind":"answer","id":ID,"model":M,"answer":TEXT,"prompt_tokens":N,
 *    "completion_tokens":N,"usd":X,"estimated":false}
 *   {"kind":"score","id":ID,"model":M,"by":"judge"|"scorer","score":X|null,
 *    "usd":X|null}                       (usd: what the judge cost)
 *   {"kind":"verify","id":ID,"model":M,"verifier":V,"k":K,
 *    "confidence":X|null,"usd":X}        (confidence null: the verifier
 *                                         answered, but with no yes or no)
 *
 * Token counts are -1 when the provider gave none (then usd is an
 * estimate and "estimated" true).  A reader stops at the first line that
 * is not a complete entry: the last line of a killed run may be torn (no
 * line break, or cut JSON) and is reported and dropped; a bad line
 * anywhere else is an error naming the line. */
#ifndef TR_LABEL_JOURNAL_H
#define TR_LABEL_JOURNAL_H

#include <stddef.h>

enum tr_journal_kind { TR_JOURNAL_ANSWER = 1, TR_JOURNAL_SCORE = 2, TR_JOURNAL_VERIFY = 3 };

typedef struct tr_journal_entry {
    int kind;                   /* enum tr_journal_kind */
    char *id, *model;           /* owned */
    char *answer;               /* answers: the text (owned) */
    long long prompt_tokens, completion_tokens;   /* -1: not given */
    double usd;                 /* answers: cost; scores: the judge's cost (NaN: none); verify: its cost */
    int estimated;              /* answers: usd estimated from token estimates */
    double score;               /* scores: NaN = no score (malformed judge reply) */
    char by[8];                 /* scores: "judge" or "scorer" */
    char *verifier;             /* verify: the table entry that verified (owned) */
    int k;                      /* verify: samples asked for */
    double confidence;          /* verify: in [0, 1]; NaN = no yes or no in the reply */
} tr_journal_entry;

/* One line (len bytes, no line break needed).  TR_OK and *out filled
 * (release with tr_journal_entry_free), or TR_EFORMAT / TR_ENOMEM with err
 * naming the field.  All borrowed. */
int tr_journal_parse(const char *line, size_t len, tr_journal_entry *out, char *err, size_t errlen);
void tr_journal_entry_free(tr_journal_entry *e);

/* The entry as one line ending in a line break, owned by the caller
 * (tr_free), *len its bytes; NULL when out of memory. */
char *tr_journal_format(const tr_journal_entry *e, size_t *len);

/* Read a whole journal of len bytes (name labels the messages): calls
 * fn(ctx, entry) for each complete entry (the entry is borrowed for the
 * call; fn returns TR_OK or a status that stops the scan).  *good gets the
 * bytes up to the end of the last good line (where appending resumes) and
 * *torn 1 when a torn last line was dropped.  TR_OK, fn's status, or
 * TR_EFORMAT naming the line of a bad line that is not the last. */
int tr_journal_scan(const char *buf, size_t len, const char *name, int (*fn)(void *ctx, const tr_journal_entry *e),
                    void *ctx, size_t *good, int *torn, char *err, size_t errlen);

#endif
