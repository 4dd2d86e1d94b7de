/* Tokenising through a memo of SentencePiece's encodings of single words.
 *
 * SentencePiece 0.1.97's encoder builds a protobuf of pieces on every call
 * and allocates inside: on a 1 KB prompt it was two thirds of a routing
 * decision (callgrind).  The unigram model splits on whitespace, so a prompt's
 * pieces are, up to ties between equal-scoring segmentations, the
 * concatenation of its words' pieces, each word encoded alone.  We make that
 * the rule, so it holds exactly.  Rule TR_TOK_ASCII_WORDS (embedder section
 * version 2): an ASCII prompt (printable bytes, space, tab, CR, LF) is
 * encoded word by word, any other prompt whole.  Rule TR_TOK_UTF8_WORDS
 * (version 3): every valid UTF-8 prompt is split at ASCII whitespace and
 * encoded word by word; only invalid UTF-8 is encoded whole.  Version 3
 * exists because a fifth of mmlu-pro's prompts carry a non-ASCII character
 * (a Greek letter, a math symbol) and took the whole-prompt path, four times
 * dearer, which made the slow tail of routing latency.  A word holding a
 * character NFKC maps to a space still gets its own pieces, the same at
 * training and at routing, which is all the rule needs.  The cache only
 * memoises "word encoded alone" for the words of the training prompts, so a
 * word missing from it is encoded by SentencePiece with the same result; the
 * rule is part of the router file's format.
 *
 * Immutable once built or loaded; lookups allocate nothing and may run on any
 * number of threads. */
#ifndef TR_WORD_CACHE_H
#define TR_WORD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "embed/spm.h"

typedef struct tr_word_cache tr_word_cache;

/* Words longer than this are never cached (encoded by SentencePiece). */
#define TR_WORD_CACHE_MAX_LEN 48

/* Tokenising rules (the embedder section's version picks one). */
enum { TR_TOK_WHOLE = 0, TR_TOK_ASCII_WORDS = 1, TR_TOK_UTF8_WORDS = 2, TR_TOK_DIGIT_RUNS = 3,
       TR_TOK_SCRIPT_RUNS = 4 };

/* TR_TOK_DIGIT_RUNS (embedder format 5): as TR_TOK_UTF8_WORDS, but a word
 * holding an ASCII digit is encoded in units, because numbers ("$4,732,",
 * "46.0") are most of the words a memo of training words lacks, and each
 * costs a SentencePiece call.  A model trained with split_digits has each
 * digit as a piece of its own and no other piece holding a digit, so no
 * piece crosses a digit and a word's segmentation is its segments'.  The
 * word r0 d1 r1 d2 r2 ... (d digits, r runs of other bytes, maybe empty) is
 * encoded as: "r0 d1" alone; then each later digit d as "d" alone less its
 * first piece ("▁"); each run r after a digit d as "d r" alone less its
 * first two ("▁" and d's).  Every unit is a substring of the word, so the
 * memo holds units the way it holds words, and the units repeat ("4,",
 * "$1", "0.") where the numbers do not.  Up to ties between equal-scoring
 * segmentations (4 words of 39,303 with a digit in the shared data) this is
 * SentencePiece's encoding of the whole word; as with the word rule, we make
 * it the rule. */
/* TR_TOK_SCRIPT_RUNS: as TR_TOK_DIGIT_RUNS, and a word
 * is also cut where an ASCII letter meets ASCII punctuation ("neuron," ->
 * "neuron" ","; "(suggesting" -> "(" "suggesting").  SentencePiece's
 * trainer keeps a piece inside one Unicode script (split_by_unicode_script,
 * on by default), so in the vocabularies it trains no piece holds both,
 * and the cut changes no segmentation.  Half of the words a memo of
 * training words lacks are such words, made of parts it has.  A word's
 * first segment is a unit as before; each later segment is a digit (its
 * piece) or a run, encoded as "0 run" less its first two pieces ("▁" and
 * "0"), whatever byte precedes it.  A run unit is keyed by its bytes and a
 * mark, so the memo's run "neuron" is not its word "neuron"; the memo file
 * stores it as "0neuron". */
/* The finest rule sp's vocabulary allows: TR_TOK_SCRIPT_RUNS when each of
 * the ten digits is a piece, no other piece holds a digit, and no piece
 * holds both an ASCII letter and ASCII punctuation; TR_TOK_DIGIT_RUNS when
 * only the digit part holds; else TR_TOK_UTF8_WORDS. */
int tr_word_rule_for(const tr_spm *sp);
/* 1 when a file may tokenise with rule under sp's vocabulary. */
int tr_word_rule_fits(const tr_spm *sp, int rule);

/* Memoise the words of the texts among texts[0..n) (borrowed) that rule
 * splits into words, keeping the max_words most frequent (ties by bytes).
 * *out owned by the caller: tr_word_cache_free. */
int tr_word_cache_build(const tr_spm *sp, int rule, const char *const *texts, const size_t *lens, size_t n,
                        size_t max_words, tr_word_cache **out, char *err, size_t errlen);
void tr_word_cache_free(tr_word_cache *c);
size_t tr_word_cache_count(const tr_word_cache *c);
/* Bytes tr_word_cache_save writes. */
size_t tr_word_cache_bytes(const tr_word_cache *c);

/* Serialise (u32 count, then per word: str, u32 n_ids, i32 ids) / load from
 * a cursor; every count checked against what remains; ids checked against
 * the vocabulary.  rule: the file's (a run unit is "0run" under
 * TR_TOK_SCRIPT_RUNS).  *out owned by the caller. */
int tr_word_cache_save(const tr_word_cache *c, tr_buf *b);
int tr_word_cache_load(tr_cursor *cur, int vocab_size, int rule, tr_word_cache **out, char *err, size_t errlen);

/* 1 when text is ASCII in the sense of TR_TOK_ASCII_WORDS. */
int tr_text_is_plain_ascii(const char *text, size_t len);
/* 1 when rule encodes text word by word. */
int tr_text_takes_words(int rule, const char *text, size_t len);

/* Encode text by rule (TR_TOK_WHOLE: always whole, the format-1 rule).  Contract of tr_spm_encode: the first min(count, cap) ids go into
 * ids, *count gets the full count.  c may be NULL (no memo).  Allocates
 * nothing of ours; SentencePiece allocates when it is called. */
int tr_tokenize(const tr_spm *sp, const tr_word_cache *c, int rule, const char *text, size_t len,
                int32_t *ids, size_t cap, size_t *count, char *err, size_t errlen);

#endif
