/* Tokenising through a memo of SentencePiece's encodings of single words.
 *
 * SentencePiece 0.1.97's encoder builds a protobuf of pieces on every call
 * and allocates inside: on a 1 KB prompt it was two thirds of a routing
 * decision (callgrind).  The unigram model splits on whitespace, so a prompt's
 * pieces are, up to ties between equal-scoring segmentations, the
 * concatenation of its words' pieces, each word encoded alone.  We make that
 * the rule, so it holds exactly: an ASCII prompt (printable bytes, space, tab,
 * CR, LF) is encoded word by word; any other prompt whole.  The cache only
 * memoises "word encoded alone" for the words of the training prompts, so a
 * word missing from it is encoded by SentencePiece with the same result; the
 * rule is part of the router file's format (embedder section version 2).
 *
 * Immutable once built or loaded; lookups allocate nothing and may run on any
 * number of threads. */
#ifndef TR_WORD_CACHE_H
#define TR_WORD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "spm.h"

typedef struct tr_word_cache tr_word_cache;

/* Words longer than this are never cached (encoded by SentencePiece). */
#define TR_WORD_CACHE_MAX_LEN 48

/* Memoise the words of the ASCII texts among texts[0..n) (borrowed), keeping
 * the max_words most frequent (ties by bytes).  *out owned by the caller:
 * tr_word_cache_free. */
int tr_word_cache_build(const tr_spm *sp, const char *const *texts, const size_t *lens, size_t n,
                        size_t max_words, tr_word_cache **out, char *err, size_t errlen);
void tr_word_cache_free(tr_word_cache *c);
size_t tr_word_cache_count(const tr_word_cache *c);
/* Bytes tr_word_cache_save writes. */
size_t tr_word_cache_bytes(const tr_word_cache *c);

/* Serialise (u32 count, then per word: str, u32 n_ids, i32 ids) / load from
 * a cursor; every count checked against what remains; ids checked against
 * the vocabulary.  *out owned by the caller. */
int tr_word_cache_save(const tr_word_cache *c, tr_buf *b);
int tr_word_cache_load(tr_cursor *cur, int vocab_size, tr_word_cache **out, char *err, size_t errlen);

/* 1 when text takes the word-by-word path. */
int tr_text_is_plain_ascii(const char *text, size_t len);

/* Encode text by the rule above (per_word = 0: always whole, the format-1
 * rule).  Contract of tr_spm_encode: the first min(count, cap) ids go into
 * ids, *count gets the full count.  c may be NULL (no memo).  Allocates
 * nothing of ours; SentencePiece allocates when it is called. */
int tr_tokenize(const tr_spm *sp, const tr_word_cache *c, int per_word, const char *text, size_t len,
                int32_t *ids, size_t cap, size_t *count, char *err, size_t errlen);

#endif
