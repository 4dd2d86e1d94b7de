/* Multi-table sign-random-projection hashing for the answer cache
 * (cache_index.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "server/cache_index.h"
#include "taskroute.h"

#define SEED 0x7461736b63616368ULL   /* fixed: the same slots, the same candidates */
#define MAX_BITS 32
#define SKETCH_BITS 96
#define PF_LINES 4   /* cache lines of each bucket asked for ahead */

/* A bucket's members sit side by side, with their sketches: a lookup
 * reads a bucket as a few consecutive cache lines, not one scattered
 * read per member (which, at 100k slots, cost more than the rest of a
 * lookup together). */
typedef struct member {
    uint64_t sketch;        /* the slot's first 96 sign bits: 64 here, */
    uint32_t sketch_hi;     /* 32 here (16 bytes a member) */
    int32_t slot;
} member;

typedef struct bucket {
    member *m;
    uint32_t n, cap;
} bucket;

struct tr_cache_index {
    size_t dim, slots, tables, bits, rows;   /* rows = tables x bits directions */
    size_t nb;              /* buckets per table, a power of two */
    unsigned max_hamming;   /* sketch bits a pair at the threshold differs in, at most (4 sd) */
    uint64_t sketch_mask[2];
    size_t pdim, blocks;    /* pdim: dim padded to a power of two; blocks x pdim >= rows */
    float *sign;            /* blocks x ROUNDS x pdim random signs */
    float *y;               /* blocks x pdim: a query's projections */
    bucket *b;              /* tables x nb */
    uint32_t *pos;          /* slots x tables: the slot's bucket, to take it out */
    unsigned char *present;
    uint32_t *stamp;        /* slots: the query that last listed the slot */
    uint32_t query;
};

/* Each block's directions are the rows of (H D3)(H D2)(H D1), H the
 * Walsh-Hadamard transform and Dr random signs: three rounds make the
 * projections of a unit vector close to Gaussian ones (Andoni et al.,
 * "Practical and optimal LSH for angular distance", 2015), and a block
 * gives pdim of them in pdim log pdim additions, where a dense Gaussian
 * matrix costs pdim x dim multiply-adds.  (Scale does not matter: only
 * signs are kept.) */
#define ROUNDS 3

typedef float v8 __attribute__((vector_size(32)));   /* GCC and Clang: AVX, or two SSE halves */

/* In place, n a power of two >= 8: eight-point transforms, then the
 * stages of stride >= 8 eight lanes at a time. */
static void hadamard(float *v, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        float *w = v + i;
        float a0 = w[0] + w[1], a1 = w[0] - w[1], a2 = w[2] + w[3], a3 = w[2] - w[3];
        float a4 = w[4] + w[5], a5 = w[4] - w[5], a6 = w[6] + w[7], a7 = w[6] - w[7];
        float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
        float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
        w[0] = b0 + b4; w[1] = b1 + b5; w[2] = b2 + b6; w[3] = b3 + b7;
        w[4] = b0 - b4; w[5] = b1 - b5; w[6] = b2 - b6; w[7] = b3 - b7;
    }
    for (size_t h = 8; h < n; h <<= 1)
        for (size_t i = 0; i < n; i += 2 * h)
            for (size_t j = i; j < i + h; j += 8) {
                v8 a, b;
                memcpy(&a, v + j, sizeof a);
                memcpy(&b, v + j + h, sizeof b);
                v8 s = a + b, d = a - b;
                memcpy(v + j, &s, sizeof s);
                memcpy(v + j + h, &d, sizeof d);
            }
}

/* Sign bits of x's projections: table t's key in code[t]; the first
 * SKETCH_BITS of them, in order, in sketch[0] (bits 0-63) and sketch[1]. */
static void keys_of(tr_cache_index *ix, const float *x, uint32_t *code, uint64_t sketch[2])
{
    for (size_t k = 0; k < ix->blocks; k++) {
        float *v = ix->y + k * ix->pdim;
        const float *sg = ix->sign + k * ROUNDS * ix->pdim;
        for (size_t j = 0; j < ix->pdim; j++) v[j] = j < ix->dim ? x[j] * sg[j] : 0;
        hadamard(v, ix->pdim);
        for (int r = 1; r < ROUNDS; r++) {
            for (size_t j = 0; j < ix->pdim; j++) v[j] *= sg[r * ix->pdim + j];
            hadamard(v, ix->pdim);
        }
    }
    sketch[0] = sketch[1] = 0;
    for (size_t t = 0; t < ix->tables; t++) {
        uint32_t k = 0;
        for (size_t b = 0; b < ix->bits; b++) {
            size_t r = t * ix->bits + b;
            unsigned bit = ix->y[r] > 0;
            k |= (uint32_t)bit << b;
            if (r < SKETCH_BITS) sketch[r / 64] |= (uint64_t)bit << (r % 64);
        }
        code[t] = k;
    }
}

static uint32_t key_bucket(const tr_cache_index *ix, size_t t, uint32_t code)
{
    return (uint32_t)(tr_mix64(code + ((uint64_t)t << 32)) & (ix->nb - 1));
}

int tr_cache_index_new(size_t dim, size_t slots, double similarity, tr_cache_index **out, char *err, size_t errlen)
{
    *out = NULL;
    if (dim < 1 || slots < 1 || slots > INT32_MAX || !(similarity > 0 && similarity < 1)) {
        snprintf(err, errlen, "cache index: dim %zu, slots %zu, similarity %g out of range", dim, slots, similarity);
        return TR_EINVAL;
    }
    tr_cache_index *ix = tr_calloc(1, sizeof *ix);
    if (!ix) return TR_ENOMEM;
    ix->dim = dim;
    ix->slots = slots;
    ix->tables = TR_CACHE_INDEX_TABLES;
    /* the most bits per table that still gives a pair at the threshold
     * one shared key in `tables` with probability RECALL */
    double q = acos(similarity) / M_PI, p = 1 - q;
    double per_table = 1 - pow(1 - TR_CACHE_INDEX_RECALL, 1.0 / (double)ix->tables);
    double b = floor(log(per_table) / log(p));
    ix->bits = b < 1 ? 1 : b > MAX_BITS ? MAX_BITS : (size_t)b;
    /* at least 64 points: a short vector padded with zeros still gets
     * projections that are sums over many random signs */
    ix->pdim = 64;
    while (ix->pdim < dim) ix->pdim <<= 1;
    /* one bit fewer (more recall, slightly fuller buckets) when that
     * saves a whole transform per lookup */
    if (ix->bits > 1 && (ix->tables * (ix->bits - 1) + ix->pdim - 1) / ix->pdim <
                            (ix->tables * ix->bits + ix->pdim - 1) / ix->pdim)
        ix->bits--;
    ix->rows = ix->tables * ix->bits;
    size_t m = ix->rows < SKETCH_BITS ? ix->rows : SKETCH_BITS;
    ix->sketch_mask[0] = m >= 64 ? ~0ULL : (1ULL << m) - 1;
    ix->sketch_mask[1] = m <= 64 ? 0 : (1ULL << (m - 64)) - 1;
    double mean = (double)m * q;
    ix->max_hamming = (unsigned)ceil(mean + 4 * sqrt(mean * p));
    /* no more buckets than keys, nor than twice the slots */
    ix->nb = 16;
    while (ix->nb < 2 * slots && (ix->bits >= 32 || ix->nb < ((size_t)1 << ix->bits))) ix->nb <<= 1;
    ix->blocks = (ix->rows + ix->pdim - 1) / ix->pdim;
    ix->sign = tr_mallocarray(ix->blocks * ROUNDS * ix->pdim, sizeof *ix->sign);
    ix->y = tr_mallocarray(ix->blocks * ix->pdim, sizeof *ix->y);
    ix->b = tr_calloc(ix->tables * ix->nb, sizeof *ix->b);
    ix->pos = tr_mallocarray(ix->tables * slots, sizeof *ix->pos);
    ix->present = tr_calloc(slots, 1);
    ix->stamp = tr_calloc(slots, sizeof *ix->stamp);
    if (!ix->sign || !ix->y || !ix->b || !ix->pos || !ix->present || !ix->stamp) {
        tr_cache_index_free(ix);
        snprintf(err, errlen, "cache index: out of memory for %zu slots", slots);
        return TR_ENOMEM;
    }
    tr_rng rng;
    tr_rng_seed(&rng, SEED);
    for (size_t i = 0; i < ix->blocks * ROUNDS * ix->pdim; i++) ix->sign[i] = tr_rng_next(&rng) >> 63 ? 1.0f : -1.0f;
    tr_cache_index_clear(ix);
    *out = ix;
    return TR_OK;
}

void tr_cache_index_free(tr_cache_index *ix)
{
    if (!ix) return;
    tr_free(ix->sign);
    tr_free(ix->y);
    if (ix->b)
        for (size_t i = 0; i < ix->tables * ix->nb; i++) tr_free(ix->b[i].m);
    tr_free(ix->b);
    tr_free(ix->pos);
    tr_free(ix->present);
    tr_free(ix->stamp);
    tr_free(ix);
}

void tr_cache_index_clear(tr_cache_index *ix)
{
    for (size_t i = 0; i < ix->tables * ix->nb; i++) ix->b[i].n = 0;
    memset(ix->present, 0, ix->slots);
}

void tr_cache_index_remove(tr_cache_index *ix, size_t slot)
{
    if (slot >= ix->slots || !ix->present[slot]) return;
    for (size_t t = 0; t < ix->tables; t++) {
        uint32_t p = ix->pos[slot * ix->tables + t];
        if (p == UINT32_MAX) continue;   /* an add that ran out of memory stopped before this table */
        bucket *bk = &ix->b[t * ix->nb + p];
        for (uint32_t j = 0; j < bk->n; j++)
            if (bk->m[j].slot == (int32_t)slot) {
                bk->m[j] = bk->m[--bk->n];
                break;
            }
    }
    ix->present[slot] = 0;
}

int tr_cache_index_add(tr_cache_index *ix, size_t slot, const float *x)
{
    if (slot >= ix->slots) return TR_EINVAL;
    tr_cache_index_remove(ix, slot);
    uint32_t code[TR_CACHE_INDEX_TABLES];
    uint64_t sketch[2];
    keys_of(ix, x, code, sketch);
    uint32_t *pos = ix->pos + slot * ix->tables;
    for (size_t t = 0; t < ix->tables; t++) {
        pos[t] = key_bucket(ix, t, code[t]);
        bucket *bk = &ix->b[t * ix->nb + pos[t]];
        if (bk->n == bk->cap) {
            uint32_t cap = bk->cap ? 2 * bk->cap : 4;
            member *m = tr_realloc(bk->m, (size_t)cap * sizeof *m);
            if (!m) {   /* out of the tables filled so far: as if never added */
                ix->present[slot] = 1;
                for (size_t u = t; u < ix->tables; u++) pos[u] = UINT32_MAX;
                tr_cache_index_remove(ix, slot);
                return TR_ENOMEM;
            }
            bk->m = m;
            bk->cap = cap;
        }
        bk->m[bk->n++] = (member){sketch[0], (uint32_t)sketch[1], (int32_t)slot};
    }
    ix->present[slot] = 1;
    return TR_OK;
}

size_t tr_cache_index_candidates(tr_cache_index *ix, const float *x, int32_t *out, size_t max)
{
    uint32_t code[TR_CACHE_INDEX_TABLES];
    uint64_t sketch[2];
    keys_of(ix, x, code, sketch);
    if (++ix->query == 0) {   /* the stamps wrapped: none may look current */
        memset(ix->stamp, 0, ix->slots * sizeof *ix->stamp);
        ix->query = 1;
    }
    /* the tables' buckets are independent reads: ask for all of them,
     * then for their members, before using any, so that the memory's
     * latencies overlap instead of adding up */
    const bucket *bks[TR_CACHE_INDEX_TABLES];
    for (size_t t = 0; t < ix->tables; t++) {
        bks[t] = &ix->b[t * ix->nb + key_bucket(ix, t, code[t])];
        __builtin_prefetch(bks[t]);
    }
    for (size_t t = 0; t < ix->tables; t++) {
        const char *m = (const char *)bks[t]->m, *end = m + bks[t]->n * sizeof(member);
        for (int l = 0; l < PF_LINES && m < end; l++, m += 64) __builtin_prefetch(m);
    }
    size_t n = 0, visits = 0;
    for (size_t t = 0; t < ix->tables && n < max; t++) {
        const bucket *bk = bks[t];
        for (uint32_t j = 0; j < bk->n && n < max; j++) {
            if (++visits > TR_CACHE_INDEX_VISITS) return n;
            const member *e = &bk->m[j];
            unsigned h = (unsigned)(__builtin_popcountll((e->sketch ^ sketch[0]) & ix->sketch_mask[0]) +
                                    __builtin_popcountll((e->sketch_hi ^ sketch[1]) & ix->sketch_mask[1]));
            if (h > ix->max_hamming) continue;
            if (ix->stamp[e->slot] == ix->query) continue;
            ix->stamp[e->slot] = ix->query;
            out[n++] = e->slot;
        }
    }
    return n;
}

void tr_cache_index_shape(const tr_cache_index *ix, size_t *tables, size_t *bits, size_t *max_hamming)
{
    *tables = ix->tables;
    *bits = ix->bits;
    *max_hamming = ix->max_hamming;
}

size_t tr_cache_index_bytes(const tr_cache_index *ix)
{
    size_t b = sizeof *ix + ix->blocks * (ROUNDS + 1) * ix->pdim * sizeof(float) +
               ix->tables * ix->nb * sizeof(bucket) + ix->slots * (ix->tables * sizeof(uint32_t) + 1 + sizeof(uint32_t));
    for (size_t i = 0; i < ix->tables * ix->nb; i++) b += (size_t)ix->b[i].cap * sizeof(member);
    return b;
}
