/* The answer cache's index of embeddings: which stored slots may lie
 * within a cosine of a query (answer_cache.c decides on the full cosine).
 *
 * Multi-table sign-random-projection hashing (Charikar's SimHash): each of
 * TR_CACHE_INDEX_TABLES tables keys a slot by the signs of its embedding's
 * projections on `bits` random directions, so two unit vectors at angle θ
 * share a table's key with probability (1 - θ/π)^bits.  The bits per table
 * are set from the similarity threshold s so that a pair at exactly s
 * shares at least one table's key with probability >= TR_CACHE_INDEX_RECALL;
 * closer pairs share one more often.  The directions are the rows of a
 * randomised Hadamard transform (cache_index.c says why).  Each slot also
 * keeps a 96-bit sketch (its first 96 sign bits); a bucket's slot whose
 * sketch differs from the query's in more bits than a pair at s would
 * (4 standard deviations over the mean) is passed over without touching
 * its embedding.
 *
 * Why not a graph index (HNSW): at 100k slots its search visits a few
 * hundred vectors scattered in memory, about 20 µs a query on a 2-core
 * machine against about 3.5 µs for this one at the same recall
 * (bench/RESULTS.md, "Cascade and cache").
 *
 * Not thread-safe: the answer cache calls it under its mutex.  The
 * directions come from a fixed seed: the same slots give the same
 * candidates. */
#ifndef TR_SERVER_CACHE_INDEX_H
#define TR_SERVER_CACHE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define TR_CACHE_INDEX_TABLES 16
#define TR_CACHE_INDEX_RECALL 0.99

typedef struct tr_cache_index tr_cache_index;

/* An index of up to `slots` unit vectors of dim floats, for the cosine
 * threshold similarity in (0, 1).  *out owned by the caller:
 * tr_cache_index_free.  TR_OK, TR_EINVAL or TR_ENOMEM (message set). */
int tr_cache_index_new(size_t dim, size_t slots, double similarity, tr_cache_index **out, char *err, size_t errlen);
void tr_cache_index_free(tr_cache_index *ix);

/* Index x (unit, borrowed) under slot (< slots), replacing what the slot
 * held.  TR_OK; TR_EINVAL (slot out of range); TR_ENOMEM (the slot is then
 * out of the index). */
int tr_cache_index_add(tr_cache_index *ix, size_t slot, const float *x);
/* Take slot out; no-op when it holds nothing. */
void tr_cache_index_remove(tr_cache_index *ix, size_t slot);
/* Empty the index. */
void tr_cache_index_clear(tr_cache_index *ix);

/* The slots that may lie within the threshold of x (unit, borrowed), each
 * once, into out (up to max): the number written.  A query visits at most
 * TR_CACHE_INDEX_VISITS chained slots, so a crowd of near-identical entries
 * cannot make a lookup slow (it may then miss one). */
#define TR_CACHE_INDEX_VISITS 2048
size_t tr_cache_index_candidates(tr_cache_index *ix, const float *x, int32_t *out, size_t max);

/* The index's shape, for figures and tests. */
void tr_cache_index_shape(const tr_cache_index *ix, size_t *tables, size_t *bits, size_t *max_hamming);

/* The bytes the index holds now (its buckets grow with the slots used). */
size_t tr_cache_index_bytes(const tr_cache_index *ix);

#endif
