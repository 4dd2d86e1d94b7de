/* LLM-as-judge for `taskroute label --judge MODEL`: the prompt the judge is
 * sent (its text is documented, word for word, in docs/label.md) and the
 * strict reader of its reply.  The same strict reader reads the lines of a
 * --scorer command. */
#ifndef TR_LABEL_JUDGE_H
#define TR_LABEL_JUDGE_H

#include <stddef.h>

/* The judge's user message for one answer; reference NULL leaves the
 * reference section out.  Owned by the caller (tr_free); NULL when out of
 * memory.  All borrowed. */
char *tr_judge_prompt(const char *prompt, const char *answer, const char *reference);

/* Read a score: the whole text, surrounding whitespace aside, must be one
 * plain decimal number in [0, 1] ("1", "0.75", ".5", "1.0"); anything
 * else (words, a percentage, two numbers, 1.5, an exponent) is refused.
 * TR_OK and *score set, or TR_EFORMAT with err saying what was read.
 * len bytes of text (need not be NUL-terminated). */
int tr_judge_parse_score(const char *text, size_t len, double *score, char *err, size_t errlen);

#endif
