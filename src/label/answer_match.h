/* Scoring an answer against a reference: the matchers of `taskroute label
 * --match`.  Each returns 1 (match) or 0; the rules, which docs/label.md
 * states for users, are:
 *
 *  exact       the two texts equal after trimming surrounding whitespace;
 *  normalized  equal after ASCII lower-casing, punctuation turned to
 *              spaces, the articles a/an/the dropped and whitespace
 *              collapsed (the usual QA normalisation);
 *  contains    the normalized reference is a run of whole words of the
 *              normalized answer;
 *  choice      the multiple-choice letter (A-J) the answer commits to
 *              equals the reference's: a letter commits when it is in
 *              parentheses or brackets ("(b)", "[C]"), when it follows a
 *              cue ("answer is b", "answer: (B)", "option C", "choice d"),
 *              or when it stands alone as a capital followed by the end of
 *              the text or by . ) : , * " or a line break ("B.", "B)",
 *              "... no, C"); the LAST commitment in the text wins, so an
 *              answer that changes its mind is read at its final word;
 *  number      the last number in the answer (integers, decimals, 1,234
 *              thousands, a leading sign, an exponent, a/b fractions)
 *              equals the reference's last number within tolerance:
 *              |a - r| <= tolerance * max(1, |r|).
 * Inputs are borrowed, UTF-8 (bytes >= 0x80 are letters to the matchers);
 * nothing allocates beyond a copy of the texts. */
#ifndef TR_LABEL_MATCH_H
#define TR_LABEL_MATCH_H

#include <stddef.h>

typedef enum tr_match_kind {
    TR_MATCH_EXACT = 0, TR_MATCH_NORMALIZED, TR_MATCH_CHOICE, TR_MATCH_NUMBER, TR_MATCH_CONTAINS
} tr_match_kind;

/* The kind named s ("exact", ...): 0 and *out set, or -1. */
int tr_match_kind_parse(const char *s, tr_match_kind *out);

/* 1 when answer matches reference under kind, 0 when not, -1 when out of
 * memory.  tolerance: number's (>= 0). */
int tr_match(tr_match_kind kind, const char *answer, const char *reference, double tolerance);

/* The letter (upper case 'A'..'J') the text commits to under choice's
 * rule, or 0 when none. */
char tr_match_choice_letter(const char *text);

/* The last number in the text: 1 and *out set, or 0 when there is none. */
int tr_match_final_number(const char *text, double *out);

/* Write the normalized form of text into a new string (tr_free), or NULL
 * when out of memory. */
char *tr_match_normalize(const char *text);

#endif
