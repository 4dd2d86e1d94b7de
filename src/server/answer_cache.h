/* The proxy's semantic cache of answers (serve --cache ENTRIES).
 *
 * An entry is a whole (non-streamed) 2xx answer stored under its scope (a
 * hash of the request's policy, allowed models, pinned model and inbound
 * API key: entries never cross scopes), the hash of the normalised prompt
 * (ASCII case folded, runs of white space as one space, ends trimmed) and
 * the prompt's unit embedding, the one the router computed.  A lookup hits
 * on the same scope and either the same normalised prompt or an embedding
 * whose cosine with a stored one is >= the similarity threshold.
 *
 * Candidates for a paraphrase come from a hashing index over the stored
 * embeddings (cache_index.h), set for the similarity threshold; each is
 * then checked on the full cosine.  An evicted slot leaves the index and
 * is reused by the next insertion, so the index never grows beyond the
 * entry cap.  The index finds a stored pair at exactly the threshold
 * with probability about 0.99, closer pairs more surely; a miss it causes
 * is a miss, never a wrong hit.
 *
 * Bounded: at most `entries` entries and `max_bytes` bytes of stored
 * answers, least recently used evicted first; entries older than ttl_s
 * are dropped when met.  Thread-safe: one mutex (a lookup holds it for
 * one index query). */
#ifndef TR_SERVER_ANSWER_CACHE_H
#define TR_SERVER_ANSWER_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_answer_cache tr_answer_cache;

typedef struct tr_cache_config {
    size_t entries;       /* >= 1 */
    size_t max_bytes;     /* stored answer bytes, all entries [64 MiB] */
    double similarity;    /* cosine threshold in (0, 1]; 1: exact repeats only */
    double ttl_s;         /* > 0; entries older are dropped */
} tr_cache_config;

/* The defaults for `entries` entries. */
void tr_cache_config_default(tr_cache_config *cfg, size_t entries);

/* A cache for embeddings of dim floats.  *out owned by the caller:
 * tr_answer_cache_free.  TR_OK, TR_EINVAL (a field out of range, message
 * naming it) or TR_ENOMEM. */
int tr_answer_cache_new(const tr_cache_config *cfg, size_t dim, tr_answer_cache **out, char *err, size_t errlen);
void tr_answer_cache_free(tr_answer_cache *c);

/* The hash of a prompt's normalised form (see above). */
uint64_t tr_cache_prompt_hash(const char *prompt, size_t len);

typedef struct tr_cache_key {
    uint64_t scope;         /* policy, models, key: tr_fnv1a64 of the caller's choosing */
    uint64_t prompt_hash;   /* tr_cache_prompt_hash */
    const float *emb;       /* unit vector of dim floats (borrowed), or NULL: exact matches only */
    size_t dim;
} tr_cache_key;

typedef struct tr_cache_hit {
    char *body;             /* the stored answer (owned by the caller: tr_free) */
    size_t len;
    char model[128];        /* the model that answered */
    double usd;             /* what the stored answer cost, NaN unknown */
    double similarity;      /* cosine with the stored prompt (1 for an exact match) */
    int exact;              /* matched by the normalised prompt */
} tr_cache_hit;

/* Look k up at time now_s (seconds, any monotonic origin).  1: a hit,
 * *out filled; 0: a miss (or out of memory copying the answer). */
int tr_answer_cache_get(tr_answer_cache *c, const tr_cache_key *k, double now_s, tr_cache_hit *out);

/* Store an answer (copied) under k at now_s, replacing one stored under
 * the same scope and normalised prompt.  TR_OK; TR_ERANGE when the answer
 * alone exceeds the byte cap or k's dim is not the cache's (not stored);
 * TR_ENOMEM; TR_EDEP (the index failed, message set). */
int tr_answer_cache_put(tr_answer_cache *c, const tr_cache_key *k, double now_s, const char *body, size_t len,
                        const char *model, double usd, char *err, size_t errlen);

/* Drop every entry and take embeddings of dim floats from now on (a new
 * router may embed differently).  TR_OK or TR_ENOMEM / TR_EDEP (the cache
 * is then empty and answers misses until the next successful purge). */
int tr_answer_cache_purge(tr_answer_cache *c, size_t dim, char *err, size_t errlen);

typedef struct tr_cache_stats {
    unsigned long long hits, hits_exact, misses, evictions, expired, stores, purges;
    size_t entries, bytes;
    double usd_saved;       /* sum of the stored answers' cost over hits */
} tr_cache_stats;
void tr_answer_cache_stats(tr_answer_cache *c, tr_cache_stats *out);

#endif
