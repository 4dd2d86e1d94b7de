/* Piece n-gram features and their TF-IDF weights.  A feature is a piece
 * unigram or (optionally) a bigram of adjacent pieces; the feature table is
 * fixed at fit time (features seen in >= min_df training prompts, the
 * max_features most frequent, ordered by document frequency descending then
 * by key ascending) and is file format: the order of features is the order
 * of the projection's rows.  A prompt's vector is sublinear TF (1 + ln tf)
 * times smooth IDF (ln((1 + n) / (1 + df)) + 1), L2-normalised, which is
 * scikit-learn's TfidfVectorizer(sublinear_tf=True) on the same tokens.
 * Lookup at embed time goes through an open-addressing table built at fit
 * or load, so vectorising one prompt allocates nothing. */
#ifndef TR_PIECE_FEATURES_H
#define TR_PIECE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Feature keys: unigram a -> (a+1) << 32; bigram (a, b) -> (a+1) << 32 | (b+1).
 * 0 is never a key. */
static inline uint64_t tr_feat_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)(a + 1) << 32) | (b < 0 ? 0u : (uint64_t)(uint32_t)(b + 1));
}
static inline int32_t tr_feat_key_first(uint64_t k) { return (int32_t)(k >> 32) - 1; }
/* -1 for a unigram. */
static inline int32_t tr_feat_key_second(uint64_t k) { return (int32_t)(k & 0xFFFFFFFFu) - 1; }

typedef struct tr_features {
    size_t n_feat;
    uint64_t *keys;        /* n_feat keys in feature order */
    float *idf;            /* n_feat smooth IDF weights */
    uint64_t n_docs;       /* training prompts the IDF counts */
    int bigrams;
    /* lookup: key -> feature index; capacity a power of two, key 0 = empty
     * slot.  Key and index share a slot so a probe touches one cache line. */
    struct tr_feat_slot { uint64_t key; int32_t val; int32_t pad; } *tab;
    size_t tab_mask;
    /* unigrams by piece id, without hashing: uni[p] is piece p's feature or
     * -1; n_uni = 1 + the largest piece id with a unigram feature */
    int32_t *uni;
    size_t n_uni;
} tr_features;

/* A sparse row-major matrix (the training prompts' TF-IDF vectors). */
typedef struct tr_csr {
    size_t n_rows, n_cols, nnz;
    size_t *indptr;        /* n_rows + 1 */
    int32_t *idx;          /* nnz column indices, ascending within a row */
    float *val;            /* nnz values */
} tr_csr;

/* Fit on n documents of piece ids: document i is ids[off[i] .. off[i+1]).
 * Borrowed inputs; *out owned by the caller: tr_features_free.  TR_ETOOFEW
 * when no feature reaches min_df. */
int tr_features_fit(const int32_t *ids, const size_t *off, size_t n,
                    int min_df, size_t max_features, int bigrams,
                    tr_features **out, char *err, size_t errlen);
void tr_features_free(tr_features *f);

/* Feature index of a key, or -1. */
int32_t tr_features_lookup(const tr_features *f, uint64_t key);

/* Scratch (in int32 slots) tr_features_vectorize needs for n_ids pieces. */
static inline size_t tr_features_scratch_len(size_t n_ids) { return 2 * n_ids + 1; }

/* The TF-IDF vector of one document: writes up to 2 n_ids (index, weight)
 * pairs, indices ascending, weights L2-normalised, into the caller's idx
 * and val (each tr_features_scratch_len(n_ids) long); *nnz gets the count
 * (0 when no piece is a known feature).  Allocates nothing. */
void tr_features_vectorize(const tr_features *f, const int32_t *ids, size_t n_ids,
                           int32_t *idx, float *val, size_t *nnz);

/* A feature's term weight for tf occurrences in a document: 1 + ln tf. */
double tr_features_tf_weight(size_t tf);

/* TF-IDF matrix of n documents (same layout as _fit).  out->* owned by the
 * caller: tr_csr_free. */
int tr_features_transform(const tr_features *f, const int32_t *ids, const size_t *off,
                          size_t n, tr_csr *out, char *err, size_t errlen);
void tr_csr_free(tr_csr *m);

/* Serialise keys, IDF and n_docs; load them back, checking every count
 * against the bytes left, that keys are distinct and name pieces < vocab,
 * and that weights are finite and positive.  *out owned by the caller. */
void tr_features_save(const tr_features *f, tr_buf *b);
int tr_features_load(tr_cursor *c, int vocab, tr_features **out, char *err, size_t errlen);

/* In-place ascending sort of int32 without allocating (heapsort). */
void tr_sort_i32(int32_t *a, size_t n);

#endif
