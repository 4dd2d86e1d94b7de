/* The cascade's verifier, one module for the server's cascade and for any
 * command that labels answers with the verifier's confidence.
 *
 * Self-verification (AutoMix's idea): a model is shown the question and a
 * proposed answer and asked one fixed question, TR_VERIFY_INSTRUCTION,
 * sampled k times in one request ("n": k, temperature 1, at most a few
 * tokens).  The confidence is the share of samples that say yes
 * ("yes"/"correct" as the first word, case folded), among those that say
 * yes or no; when the answer carries log-probabilities of its first token
 * ("logprobs"), P(yes) / (P(yes) + P(no)) over the top alternatives of the
 * first choice is used instead.  A sample that says neither does not
 * count; none that counts is a verifier failure. */
#ifndef TR_UPSTREAM_VERIFY_H
#define TR_UPSTREAM_VERIFY_H

#include <stddef.h>

#include "upstream/client.h"

#define TR_VERIFY_INSTRUCTION \
    "Is the proposed answer correct and complete for the question? Reply with one word: Yes or No."
#define TR_VERIFY_MAX_K 16

/* The request body asking upstream_model to verify answer to question
 * (both borrowed, UTF-8): a user message with the question and the
 * proposed answer between markers, then the instruction; "n": k (1..16).
 * Owned by the caller: tr_free; NULL when out of memory. */
char *tr_verify_body(const char *question, const char *answer, const char *upstream_model, int k);

/* The confidence in [0, 1] from the verifier's answer (len bytes).  TR_OK
 * with *conf and *votes (samples that said yes or no; 0 when read from
 * log-probabilities), or TR_EFORMAT with err naming what is wrong (not an
 * answer, an error object, no sample saying yes or no). */
int tr_verify_confidence(const char *body, size_t len, double *conf, int *votes, char *err, size_t errlen);

/* One verification through the client: ask table entry `verifier` (of
 * call_template->table) about answer, blocking.  call_template gives the
 * table, headers and cancellation (its candidates, body and sink are
 * replaced); *res receives the call's result (release with
 * tr_upstream_result_free) for the caller's accounting.  TR_OK and *conf,
 * or a status with err (the call failed, or the answer read as none). */
int tr_verify_run(tr_upstream_client *c, const tr_upstream_call *call_template, int verifier, const char *question,
                  const char *answer, int k, tr_upstream_result *res, double *conf, char *err, size_t errlen);

#endif
