/* The semantic answer cache: slots in an LRU list, a hash chain per
 * (scope, normalised prompt) for exact repeats, and a hashing index over
 * the slots' embeddings for paraphrases (answer_cache.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"
#include "server/answer_cache.h"
#include "server/cache_index.h"

/* Index candidates checked on the full cosine per lookup: beyond the
 * nearest few, more only cost time (answer_cache.h). */
#define CANDIDATES 64

typedef struct slot {
    int used;
    uint64_t scope, phash;
    double t_store;
    char *body;
    size_t len;
    char model[128];
    double usd;
    int prev, next;         /* LRU list: head most recent */
    int chain;              /* next slot in the same hash bucket */
} slot;

struct tr_answer_cache {
    pthread_mutex_t mu;
    tr_cache_config cfg;
    size_t dim, n;          /* n slots = cfg.entries */
    slot *s;
    float *emb;             /* n x dim */
    int *bucket;            /* nb heads, -1 empty */
    size_t nb;
    int head, tail, free_list;   /* free slots chained through next */
    tr_cache_index *index;  /* paraphrases; NULL at similarity 1 or after a failed purge */
    size_t index_dim;       /* the dim the index was made for */
    int broken;             /* a purge failed: misses until the next one succeeds */
    tr_cache_stats st;
};

void tr_cache_config_default(tr_cache_config *cfg, size_t entries)
{
    cfg->entries = entries;
    cfg->max_bytes = (size_t)64 << 20;
    cfg->similarity = 0.97;   /* bench/RESULTS.md: the least wrong hits that still catch paraphrases */
    cfg->ttl_s = 3600;
}

uint64_t tr_cache_prompt_hash(const char *p, size_t len)
{
    uint64_t h = TR_FNV1A64_OFFSET;
    int pending_space = 0, any = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            pending_space = any;
            continue;
        }
        if (pending_space) {
            h = tr_fnv1a64_update(h, " ", 1);
            pending_space = 0;
        }
        if (ch >= 'A' && ch <= 'Z') ch = (unsigned char)(ch - 'A' + 'a');
        h = tr_fnv1a64_update(h, &ch, 1);
        any = 1;
    }
    return h;
}

static size_t bucket_of(const tr_answer_cache *c, uint64_t scope, uint64_t phash)
{
    uint64_t x = scope ^ (phash * 0x9E3779B97F4A7C15ULL);
    x ^= x >> 29;
    return (size_t)(x & (c->nb - 1));
}

static double dot(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)a[j] * b[j];
    return s;
}

static int new_index(tr_answer_cache *c, char *err, size_t errlen)
{
    tr_cache_index_free(c->index);
    c->index = NULL;
    if (c->cfg.similarity >= 1) return TR_OK;   /* exact repeats only */
    c->index_dim = c->dim;
    return tr_cache_index_new(c->dim, c->n, c->cfg.similarity, &c->index, err, errlen);
}

/* Every slot free, lists and buckets empty (the index is the caller's). */
static void reset_slots(tr_answer_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        tr_free(c->s[i].body);
        memset(&c->s[i], 0, sizeof c->s[i]);
        c->s[i].next = i + 1 < c->n ? (int)i + 1 : -1;
        c->s[i].prev = c->s[i].chain = -1;
    }
    for (size_t b = 0; b < c->nb; b++) c->bucket[b] = -1;
    c->head = c->tail = -1;
    c->free_list = c->n ? 0 : -1;
    c->st.entries = c->st.bytes = 0;
}

int tr_answer_cache_new(const tr_cache_config *cfg, size_t dim, tr_answer_cache **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *bad = !cfg ? "config" : cfg->entries < 1 || cfg->entries > (1u << 24) ? "entries (1..16777216)"
                    : cfg->max_bytes < 1 ? "max_bytes (>= 1)"
                    : !(cfg->similarity > 0 && cfg->similarity <= 1) ? "similarity (in (0, 1])"
                    : !(cfg->ttl_s > 0) ? "ttl_s (> 0)" : dim < 1 ? "dim (>= 1)" : NULL;
    if (bad) {
        snprintf(err, errlen, "answer cache: %s out of range", bad);
        return TR_EINVAL;
    }
    tr_answer_cache *c = tr_calloc(1, sizeof *c);
    if (!c) return TR_ENOMEM;
    c->cfg = *cfg;
    c->dim = dim;
    c->n = cfg->entries;
    c->nb = 1;
    while (c->nb < 2 * c->n) c->nb <<= 1;
    c->s = tr_calloc(c->n, sizeof *c->s);
    c->emb = tr_mallocarray(c->n * dim, sizeof *c->emb);
    c->bucket = tr_mallocarray(c->nb, sizeof *c->bucket);
    if (!c->s || !c->emb || !c->bucket || pthread_mutex_init(&c->mu, NULL)) {
        tr_free(c->s);
        tr_free(c->emb);
        tr_free(c->bucket);
        tr_free(c);
        snprintf(err, errlen, "answer cache: out of memory for %zu entries", cfg->entries);
        return TR_ENOMEM;
    }
    reset_slots(c);
    int rc = new_index(c, err, errlen);
    if (rc) {
        tr_answer_cache_free(c);
        return rc;
    }
    *out = c;
    return TR_OK;
}

void tr_answer_cache_free(tr_answer_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) tr_free(c->s[i].body);
    tr_cache_index_free(c->index);
    pthread_mutex_destroy(&c->mu);
    tr_free(c->s);
    tr_free(c->emb);
    tr_free(c->bucket);
    tr_free(c);
}

static void lru_unlink(tr_answer_cache *c, int i)
{
    slot *e = &c->s[i];
    if (e->prev >= 0) c->s[e->prev].next = e->next; else c->head = e->next;
    if (e->next >= 0) c->s[e->next].prev = e->prev; else c->tail = e->prev;
    e->prev = e->next = -1;
}

static void lru_push_front(tr_answer_cache *c, int i)
{
    slot *e = &c->s[i];
    e->prev = -1;
    e->next = c->head;
    if (c->head >= 0) c->s[c->head].prev = i;
    c->head = i;
    if (c->tail < 0) c->tail = i;
}

/* Remove slot i from every structure and free it. */
static void drop(tr_answer_cache *c, int i)
{
    slot *e = &c->s[i];
    int *pp = &c->bucket[bucket_of(c, e->scope, e->phash)];
    while (*pp >= 0 && *pp != i) pp = &c->s[*pp].chain;
    if (*pp == i) *pp = e->chain;
    lru_unlink(c, i);
    if (c->index) tr_cache_index_remove(c->index, (size_t)i);
    c->st.bytes -= e->len;
    c->st.entries--;
    tr_free(e->body);
    memset(e, 0, sizeof *e);
    e->prev = e->chain = -1;
    e->next = c->free_list;
    c->free_list = i;
}

static int find_exact(const tr_answer_cache *c, uint64_t scope, uint64_t phash)
{
    for (int i = c->bucket[bucket_of(c, scope, phash)]; i >= 0; i = c->s[i].chain)
        if (c->s[i].scope == scope && c->s[i].phash == phash) return i;
    return -1;
}

static int expired(const tr_answer_cache *c, int i, double now)
{
    return now - c->s[i].t_store >= c->cfg.ttl_s;
}

int tr_answer_cache_get(tr_answer_cache *c, const tr_cache_key *k, double now_s, tr_cache_hit *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    int best = find_exact(c, k->scope, k->prompt_hash);
    double best_sim = 1;
    if (best >= 0 && expired(c, best, now_s)) {
        drop(c, best);
        c->st.expired++;
        best = -1;
    }
    out->exact = best >= 0;
    if (best < 0 && k->emb && k->dim == c->dim && c->index && c->st.entries) {
        int32_t cand[CANDIDATES];
        size_t found = tr_cache_index_candidates(c->index, k->emb, cand, CANDIDATES);
        for (size_t j = 0; j < found; j++) {
            int i = cand[j];
            if (!c->s[i].used || c->s[i].scope != k->scope) continue;
            if (expired(c, i, now_s)) {
                drop(c, i);
                c->st.expired++;
                continue;
            }
            double sim = dot(k->emb, c->emb + (size_t)i * c->dim, c->dim);
            if (sim >= c->cfg.similarity && (best < 0 || sim > best_sim)) {
                best = i;
                best_sim = sim;
            }
        }
    }
    if (best >= 0) {
        slot *e = &c->s[best];
        out->body = tr_malloc(e->len + 1);
        if (out->body) {
            memcpy(out->body, e->body, e->len);
            out->body[e->len] = 0;
            out->len = e->len;
            snprintf(out->model, sizeof out->model, "%s", e->model);
            out->usd = e->usd;
            out->similarity = best_sim;
            lru_unlink(c, best);
            lru_push_front(c, best);
            c->st.hits++;
            c->st.hits_exact += out->exact;
            if (!isnan(e->usd)) c->st.usd_saved += e->usd;
        } else {
            best = -1;
        }
    }
    if (best < 0) {
        out->exact = 0;
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return best >= 0;
}

int tr_answer_cache_put(tr_answer_cache *c, const tr_cache_key *k, double now_s, const char *body, size_t len,
                        const char *model, double usd, char *err, size_t errlen)
{
    if (len > c->cfg.max_bytes) {
        snprintf(err, errlen, "answer cache: an answer of %zu bytes exceeds the cap of %zu", len, c->cfg.max_bytes);
        return TR_ERANGE;
    }
    char *copy = tr_malloc(len + 1);
    if (!copy) return TR_ENOMEM;
    memcpy(copy, body, len);
    copy[len] = 0;
    pthread_mutex_lock(&c->mu);
    if (k->emb && k->dim != c->dim) {
        pthread_mutex_unlock(&c->mu);
        tr_free(copy);
        snprintf(err, errlen, "answer cache: embedding of %zu floats, the cache holds %zu", k->dim, c->dim);
        return TR_ERANGE;
    }
    if (c->broken) {
        pthread_mutex_unlock(&c->mu);
        tr_free(copy);
        snprintf(err, errlen, "answer cache: no index (a purge failed)");
        return TR_EDEP;
    }
    int i = find_exact(c, k->scope, k->prompt_hash);
    if (i >= 0) drop(c, i);
    while (c->tail >= 0 && (c->free_list < 0 || c->st.bytes + len > c->cfg.max_bytes)) {
        drop(c, c->tail);
        c->st.evictions++;
    }
    i = c->free_list;
    slot *e = &c->s[i];
    c->free_list = e->next;
    e->used = 1;
    e->scope = k->scope;
    e->phash = k->prompt_hash;
    e->t_store = now_s;
    e->body = copy;
    e->len = len;
    snprintf(e->model, sizeof e->model, "%s", model ? model : "");
    e->usd = usd;
    size_t b = bucket_of(c, e->scope, e->phash);
    e->chain = c->bucket[b];
    c->bucket[b] = i;
    lru_push_front(c, i);
    c->st.entries++;
    c->st.bytes += len;
    c->st.stores++;
    if (k->emb) memcpy(c->emb + (size_t)i * c->dim, k->emb, c->dim * sizeof *c->emb);
    int rc = k->emb && c->index ? tr_cache_index_add(c->index, (size_t)i, k->emb) : TR_OK;
    if (rc) {
        drop(c, i);
        snprintf(err, errlen, "answer cache: out of memory indexing an entry");
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int tr_answer_cache_purge(tr_answer_cache *c, size_t dim, char *err, size_t errlen)
{
    pthread_mutex_lock(&c->mu);
    reset_slots(c);
    int rc = TR_OK;
    if (dim != c->dim) {
        float *e = tr_mallocarray(c->n * dim, sizeof *e);
        if (!e) rc = TR_ENOMEM;
        else {
            tr_free(c->emb);
            c->emb = e;
            c->dim = dim;
        }
    }
    if (!rc && c->index && c->index_dim == dim) tr_cache_index_clear(c->index);
    else if (!rc) rc = new_index(c, err, errlen);
    else snprintf(err, errlen, "answer cache: out of memory");
    c->broken = rc != TR_OK;
    if (rc) {
        tr_cache_index_free(c->index);
        c->index = NULL;
    }
    c->st.purges++;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void tr_answer_cache_stats(tr_answer_cache *c, tr_cache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
