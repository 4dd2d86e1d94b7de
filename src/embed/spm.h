/* A C view of SentencePiece 0.1.97 (embed/spm_wrap.cc): train a unigram model
 * from prompts held in memory, move the model to and from bytes (so it can
 * live inside a router file), and encode text to piece ids.  SentencePiece
 * is C++ and reports through exceptions and util::Status; the wrapper
 * catches everything, so no exception or abort ever reaches C: every call
 * returns a status from taskroute.h and writes a message into err.
 *
 * A tr_spm is immutable once trained or loaded; tr_spm_encode may run on one
 * shared tr_spm from any number of threads. */
#ifndef TR_SPM_H
#define TR_SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SentencePiece release this wrapper was built and tested against.  It is
 * stored beside each model (tokenisation is file format). */
#define TR_SPM_VERSION "0.1.97"

typedef struct tr_spm tr_spm;

typedef struct tr_spm_train_params {
    int vocab_size;      /* requested vocabulary; shrunk when the corpus is too small */
    uint64_t seed;       /* SentencePiece's generator seed (process-wide in 0.1.97) */
    int threads;         /* trainer threads; fixed so that training is reproducible */
    /* Extra trainer flags ("--name=value ..."), appended last; NULL for none.
     * Mainly for tests: an unknown flag must come back as an error. */
    const char *extra_flags;
} tr_spm_train_params;

/* Train a unigram model on n texts (borrowed; lens in bytes; texts need not
 * be NUL-terminated).  Training twice with the same params and texts gives
 * byte-identical models.  When the corpus cannot support vocab_size pieces
 * the vocabulary shrinks: *vocab_out (may be NULL) gets the size obtained.
 * *out owned by the caller: tr_spm_free. */
int tr_spm_train(const char *const *texts, const size_t *lens, size_t n,
                 const tr_spm_train_params *p, tr_spm **out, int *vocab_out,
                 char *err, size_t errlen);

/* Load a model from the bytes tr_spm_serialize wrote (borrowed; copied).
 * *out owned by the caller: tr_spm_free. */
int tr_spm_load(const void *data, size_t len, tr_spm **out, char *err, size_t errlen);

/* The model's bytes (a serialised ModelProto), owned by sp: valid while sp lives. */
int tr_spm_serialize(const tr_spm *sp, const void **data, size_t *len);

void tr_spm_free(tr_spm *sp);

/* Number of pieces (ids are 0 .. size-1; 0 is <unk>, 1 <s>, 2 </s>). */
int tr_spm_vocab_size(const tr_spm *sp);

/* The text of piece id (UTF-8, "▁" marks a preceding space), owned by sp;
 * NULL when id is out of range. */
const char *tr_spm_piece(const tr_spm *sp, int id);

/* Encode len bytes of UTF-8 text into piece ids.  The first min(count, cap)
 * ids go into the caller's ids[]; *count gets the full count (so a caller
 * can tell it cut the text).  The wrapper reuses one id vector per thread,
 * so steady-state calls allocate only inside SentencePiece.  Thread-safe. */
int tr_spm_encode(const tr_spm *sp, const char *text, size_t len,
                  int32_t *ids, size_t cap, size_t *count,
                  char *err, size_t errlen);
/* The same without the first skip pieces of the encoding: ids gets pieces
 * skip .. skip + cap, *count the number after skip (0 when there are no
 * more than skip).  For word_cache.h's digit runs. */
int tr_spm_encode_skip(const tr_spm *sp, const char *text, size_t len, size_t skip,
                       int32_t *ids, size_t cap, size_t *count,
                       char *err, size_t errlen);
/* tr_spm_encode_skip of the text prefix then text (the wrapper joins them
 * in a per-thread string).  For word_cache.h's mid-word runs, which are
 * encoded after a digit that their caller's text does not hold. */
int tr_spm_encode_prefixed(const tr_spm *sp, const char *prefix, size_t plen, const char *text, size_t len,
                           size_t skip, int32_t *ids, size_t cap, size_t *count, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
