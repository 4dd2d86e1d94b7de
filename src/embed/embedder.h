/* Prompt -> unit vector in R^d: SentencePiece pieces -> piece uni+bigram
 * features (vocabulary-indexed) -> sublinear TF x IDF, L2-normalised ->
 * projection onto the top-d right singular vectors of the training TF-IDF
 * matrix (randomised SVD) -> unit-normalised.  Immutable once fitted or
 * loaded; embedding one prompt allocates nothing of ours (SentencePiece's
 * encoder allocates internally). */
#ifndef TR_EMBEDDER_H
#define TR_EMBEDDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct tr_embedder tr_embedder;

/* The projection's storage (q8.h, half.h): what a decision reads per feature. */
enum { TR_PROJ_INT8 = 0, TR_PROJ_HALF = 1, TR_PROJ_FLOAT = 2 /* formats 1-3, load only */ };

typedef struct tr_embed_params {
    int dim;            /* output dimension [256] */
    int vocab_size;     /* SentencePiece vocabulary [4000], shrunk for small corpora */
    int min_df;         /* drop features seen in fewer training prompts [2] */
    int max_features;   /* keep at most this many features, most frequent [50000] */
    int bigrams;        /* 1: piece bigrams as well as unigrams [1] */
    int oversample;     /* randomised SVD oversampling [16] */
    int power_iters;    /* randomised SVD power iterations [4] */
    uint64_t seed;      /* [42] */
    int threads;        /* 0 = all cores */
    int projection;     /* how V is stored: TR_PROJ_INT8 or TR_PROJ_HALF, both in format 5
                         * [TR_PROJ_INT8]; set from the section on load (TR_PROJ_FLOAT for
                         * formats 1-3, which no fit writes) */
    /* Extension: progress of a fit ("tokenizer", "features", "projection"),
     * NULL for none. */
    void (*progress)(void *ctx, const char *stage, double frac);
    void *progress_ctx;
} tr_embed_params;

void tr_embed_params_default(tr_embed_params *p);

/* Fit on n prompts (borrowed).  *out owned by the caller: tr_embedder_free. */
int tr_embedder_fit(const char *const *texts, const size_t *lens, size_t n,
                    const tr_embed_params *p, tr_embedder **out,
                    char *err, size_t errlen);
/* As tr_embedder_fit, but tokenise with the given SentencePiece model bytes
 * (borrowed; copied) instead of training one; spm_model NULL = train. */
int tr_embedder_fit_spm(const char *const *texts, const size_t *lens, size_t n,
                        const void *spm_model, size_t spm_len,
                        const tr_embed_params *p, tr_embedder **out,
                        char *err, size_t errlen);
/* Free; NULL is a no-op. */
void tr_embedder_free(tr_embedder *e);

/* The output dimension: the requested dim, capped at min(training prompts,
 * features) when the corpus is smaller than that. */
size_t tr_embedder_dim(const tr_embedder *e);
/* How many SentencePiece pieces text (len bytes) encodes to: the router's
 * own token count, which `taskroute label` uses to estimate what a
 * provider that reports no usage billed.  -1 on failure.  Borrows both. */
long tr_embedder_piece_count(const tr_embedder *e, const char *text, size_t len);
/* The SentencePiece vocabulary actually trained (may be below the request). */
int tr_embedder_vocab_size(const tr_embedder *e);
/* How it splits prompts before SentencePiece (word_cache.h's TR_TOK_*). */
int tr_embedder_rule(const tr_embedder *e);
/* The singular values of the training TF-IDF matrix, dim of them, descending;
 * owned by e. */
const float *tr_embedder_singular_values(const tr_embedder *e);
/* The parameters as fitted (dim is the effective one); owned by e. */
const tr_embed_params *tr_embedder_params(const tr_embedder *e);
/* Bytes of scratch tr_embedder_embed needs for a prompt of len bytes (grows
 * with the prompt: callers size it once for a maximum prompt length). */
size_t tr_embedder_scratch_bytes(const tr_embedder *e, size_t len);

/* Embed one prompt into out[dim] (unit norm; all-zero when the prompt has no
 * known feature).  scratch: tr_embedder_scratch_bytes(e, len) bytes, owned by
 * the caller.  Thread-safe on a shared e with distinct scratch. */
int tr_embedder_embed(const tr_embedder *e, const char *text, size_t len,
                      float *out, void *scratch, size_t scratch_bytes);

/* tr_embedder_embed, and *kept (when not NULL) gets the squared norm of the
 * projection before normalising: the share of the prompt's TF-IDF energy in
 * the training corpus's top dim directions, in [0, ~1] (0 for a prompt with
 * no known feature).  Text unlike the training prompts keeps less of it. */
int tr_embedder_embed_kept(const tr_embedder *e, const char *text, size_t len,
                           float *out, float *kept, void *scratch, size_t scratch_bytes);

/* For a training prompt (one the projection was fitted on) with unit
 * embedding x and kept share 'kept': about what kept would be had it been
 * left out of the fit, for calibrating thresholds on it like new prompts.
 * In-sample prompts keep more than new ones (the fit bends toward them);
 * the leave-one-out residual of a least-squares fit is the in-sample one
 * over (1 - h)^2, h the prompt's leverage sum_k c_k^2 / s_k^2 (c its
 * projection, s the singular values), as in the PRESS statistic.  On the
 * shared datasets the 5% quantile of these is within a point or two of the
 * held-out prompts' own (bench/RESULTS.md, "Out-of-distribution"). */
float tr_embedder_kept_loo(const tr_embedder *e, const float *x, float kept);

/* Embed n prompts into out[n x dim] using 'threads' threads (0 = all cores);
 * the result does not depend on the thread count.  Borrows everything. */
int tr_embedder_embed_batch(const tr_embedder *e, const char *const *texts,
                            const size_t *lens, size_t n, float *out,
                            int threads, char *err, size_t errlen);
/* The same, and kept[n] (NULL: not wanted) as tr_embedder_embed_kept's. */
int tr_embedder_embed_batch_kept(const tr_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                                 float *out, float *kept, int threads, char *err, size_t errlen);

/* The sparse TF-IDF vector of a prompt (before projection): feature ids
 * ascending and their L2-normalised weights, at most cap of them (*nnz gets
 * the count kept).  Used to name tasks by their distinctive pieces. */
int tr_embedder_sparse(const tr_embedder *e, const char *text, size_t len,
                       int32_t *idx, float *val, size_t cap, size_t *nnz,
                       void *scratch, size_t scratch_bytes);

/* Words memoised for tokenising, and the bytes they take in the section
 * (the section's tail; see word_cache.h). */
size_t tr_embedder_word_count(const tr_embedder *e);
size_t tr_embedder_word_cache_bytes(const tr_embedder *e);

/* Serialise into b / load from a section written by _save.  *out owned by the
 * caller.  The SentencePiece model bytes, feature vocabulary order, IDF and
 * projection are format: pinned by golden tests. */
int tr_embedder_save(const tr_embedder *e, tr_buf *b);
int tr_embedder_load(const void *data, size_t len, tr_embedder **out,
                     char *err, size_t errlen);

/* Distinctive pieces for naming tasks: the text of feature f (piece or
 * "piece piece" for a bigram), owned by e; NULL when out of range. */
const char *tr_embedder_feature_text(const tr_embedder *e, size_t f);
size_t tr_embedder_feature_count(const tr_embedder *e);

/* Unit-normalise n caller-supplied embeddings of d floats each, in place
 * (the records' "embedding" arrays: ds->emb).  A NaN or infinite component,
 * or a zero vector, is refused with TR_EINVAL and a message naming the row
 * (and *bad_row, if not NULL, gets it); rows before it are already
 * normalised.  x is borrowed. */
int tr_embedding_normalize(float *x, size_t n, size_t d, size_t *bad_row,
                           char *err, size_t errlen);

#endif
