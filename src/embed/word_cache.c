/* Word-by-word tokenising with a memo of single-word encodings; see
 * word_cache.h for the rule and why. */
#include "embed/word_cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"
#include "taskroute.h"

struct tr_word_cache {
    size_t n;
    /* While building or loading only (build_table frees them): */
    char *pool;            /* word bytes, back to back */
    uint32_t *woff;        /* n + 1 offsets into pool */
    int32_t *ids;          /* every word's piece ids, back to back */
    uint32_t *ioff;        /* n + 1 offsets into ids */
    unsigned char *wmid;   /* per word: 1 for a run unit (TR_TOK_SCRIPT_RUNS) */
    size_t pool_bytes, n_ids, n_mid;   /* their totals, for tr_word_cache_bytes */
    /* What lookups read, built from the above at build and load time:
     * open addressing, each slot the word's hash's high half (a tag) and its
     * record's offset in rec (records start at 1, so 0 = empty); a record is the
     * word's length, its piece count, its bytes and its pieces, together,
     * so that a lookup reads one slot and one or two adjacent lines, both
     * of which tr_tokenize prefetches words ahead. */
    uint64_t *table;
    size_t mask;
    uint32_t *rec;
    /* A digit's own piece ("d" less its "▁"), from the memo; -1 when the
     * memo lacks "d".  The digit-run rule asks for one per digit of a
     * number, so these skip the hash and the probe. */
    int32_t digit_piece[10];
};

/* A record: rec[0] = len | mid << 7 | nids << 8 (len <= 48 takes 6 bits;
 * mid marks a run unit), then the bytes in ceil(len / 4) words, then nids
 * piece ids. */
static size_t rec_words(size_t len, size_t nids) { return 1 + (len + 3) / 4 + nids; }
#define REC_MID 0x80u

/* A run unit's hash differs from its word's, so both may be memoised. */
static uint64_t unit_hash(const char *w, size_t len, int mid)
{
    return tr_fnv1a64(w, len) ^ (mid ? 0x9e3779b97f4a7c15ULL : 0);
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int tr_text_is_plain_ascii(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!is_space(c) && (c < 0x21 || c > 0x7e)) return 0;
    }
    return 1;
}

int tr_text_takes_words(int rule, const char *text, size_t len)
{
    if (rule == TR_TOK_UTF8_WORDS || rule == TR_TOK_DIGIT_RUNS || rule == TR_TOK_SCRIPT_RUNS)
        return tr_utf8_invalid_at((const unsigned char *)text, len) == len;
    if (rule == TR_TOK_ASCII_WORDS) return tr_text_is_plain_ascii(text, len);
    return 0;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Byte classes for TR_TOK_SCRIPT_RUNS, one load a byte: the rule's
 * whitespace (is_space), digits (is_digit), ASCII letters, the other
 * printable ASCII bytes (punctuation), and 0 for everything else. */
enum { CL_ALPHA = 1, CL_PUNCT = 2, CL_DIGIT = 4, CL_SPACE = 8 };
static const unsigned char byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 0, 0, 8, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2,
    2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2,
    2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

int tr_word_rule_for(const tr_spm *sp)
{
    int n = tr_spm_vocab_size(sp), seen = 0, mixed = 0;
    for (int i = 0; i < n; i++) {
        const char *p = tr_spm_piece(sp, i);
        if (!p) return TR_TOK_UTF8_WORDS;
        int digits = 0, alpha = 0, punct = 0;
        for (const char *q = p; *q; q++) {
            digits += is_digit((unsigned char)*q);
            alpha |= byte_class[(unsigned char)*q] & CL_ALPHA;
            punct |= byte_class[(unsigned char)*q] & CL_PUNCT;
        }
        /* SentencePiece's own control pieces are never a segment's */
        if (alpha && punct && strcmp(p, "<unk>") && strcmp(p, "<s>") && strcmp(p, "</s>")) mixed = 1;
        if (!digits) continue;
        if (p[1] || seen >> (p[0] - '0') & 1) return TR_TOK_UTF8_WORDS;   /* a digit among other bytes */
        seen |= 1 << (p[0] - '0');
    }
    if (seen != 0x3ff) return TR_TOK_UTF8_WORDS;
    return mixed ? TR_TOK_DIGIT_RUNS : TR_TOK_SCRIPT_RUNS;
}

int tr_word_rule_fits(const tr_spm *sp, int rule)
{
    if (rule == TR_TOK_UTF8_WORDS) return 1;
    if (rule != TR_TOK_DIGIT_RUNS && rule != TR_TOK_SCRIPT_RUNS) return 0;
    int best = tr_word_rule_for(sp);
    return best == TR_TOK_SCRIPT_RUNS || best == rule;
}

void tr_word_cache_free(tr_word_cache *c)
{
    if (!c) return;
    tr_free(c->pool); tr_free(c->woff); tr_free(c->ids); tr_free(c->ioff); tr_free(c->wmid);
    tr_free(c->table); tr_free(c->rec);
    tr_free(c);
}

size_t tr_word_cache_count(const tr_word_cache *c) { return c ? c->n : 0; }

size_t tr_word_cache_bytes(const tr_word_cache *c)
{
    if (!c) return 0;
    return 4 + 8 * c->n + c->pool_bytes + c->n_mid + 4 * c->n_ids;
}

static int build_table(tr_word_cache *c)
{
    size_t cap = 16, words = 1;
    while (cap < 2 * c->n + 2) cap *= 2;
    for (size_t w = 0; w < c->n; w++)
        words += rec_words(c->woff[w + 1] - c->woff[w], c->ioff[w + 1] - c->ioff[w]);
    if (words >= UINT32_MAX) return TR_ENOMEM;
    c->table = tr_calloc(cap, sizeof *c->table);
    c->rec = tr_calloc(words, sizeof *c->rec);
    if (!c->table || !c->rec) return TR_ENOMEM;
    c->mask = cap - 1;
    size_t at = 1;   /* rec[0] stays unused, so a slot of 0 means empty */
    for (size_t w = 0; w < c->n; w++) {
        size_t len = c->woff[w + 1] - c->woff[w], ni = c->ioff[w + 1] - c->ioff[w];
        uint32_t *r = c->rec + at;
        int mid = c->wmid && c->wmid[w];
        r[0] = (uint32_t)len | (mid ? REC_MID : 0) | (uint32_t)ni << 8;
        memcpy(r + 1, c->pool + c->woff[w], len);
        memcpy(r + 1 + (len + 3) / 4, c->ids + c->ioff[w], ni * sizeof *c->ids);
        c->n_mid += (size_t)mid;
        uint64_t hash = unit_hash(c->pool + c->woff[w], len, mid);
        size_t h = (size_t)hash & c->mask;
        while (c->table[h]) h = (h + 1) & c->mask;
        c->table[h] = (hash >> 32) << 32 | (uint64_t)at;
        at += rec_words(len, ni);
    }
    /* the records hold everything now, in word order */
    c->pool_bytes = c->woff[c->n];
    c->n_ids = c->ioff[c->n];
    tr_free(c->pool); tr_free(c->woff); tr_free(c->ids); tr_free(c->ioff); tr_free(c->wmid);
    c->pool = NULL; c->woff = NULL; c->ids = NULL; c->ioff = NULL; c->wmid = NULL;
    return TR_OK;
}

/* The record of the first slot from h on whose tag matches, or NULL at an
 * empty slot; *h is left at that slot. */
static const uint32_t *probe(const tr_word_cache *c, uint64_t hash, size_t *h)
{
    uint64_t tag = hash >> 32;
    for (uint64_t e; (e = c->table[*h]); *h = (*h + 1) & c->mask)
        if (e >> 32 == tag) return c->rec + (uint32_t)e;
    return NULL;
}

static int rec_is(const uint32_t *r, const char *w, size_t len, int mid)
{
    return (r[0] & 255u) == (len | (mid ? REC_MID : 0)) && !memcmp(r + 1, w, len);
}

/* The word's pieces from the memo, given what probe found for it: r (may
 * be NULL) at slot h.  When r is another word with the same tag (rare),
 * probing goes on past h. */
static inline __attribute__((always_inline)) int lookup(const tr_word_cache *c, uint64_t hash, const uint32_t *r, size_t h, const char *w,
                  size_t len, int mid, const int32_t **ids, size_t *n)
{
    while (r && !rec_is(r, w, len, mid)) {
        h = (h + 1) & c->mask;
        r = probe(c, hash, &h);
    }
    if (!r) return 0;
    *ids = (const int32_t *)(r + 1 + (len + 3) / 4);
    *n = r[0] >> 8;
    return 1;
}

static void find_digit_pieces(tr_word_cache *c)
{
    for (int d = 0; d < 10; d++) {
        char w = (char)('0' + d);
        uint64_t hash = tr_fnv1a64(&w, 1);
        size_t h = (size_t)hash & c->mask;
        const int32_t *ids;
        size_t n;
        const uint32_t *r = probe(c, hash, &h);
        c->digit_piece[d] = lookup(c, hash, r, h, &w, 1, 0, &ids, &n) && n == 2 ? ids[1] : -1;
    }
}

/* The words of one prompt missing from the memo, each encoded once: such a
 * word tends to come back in the same prompt (29% of the misses on
 * mmlu-pro's held-out prompts), and a SentencePiece call costs about 14k
 * instructions where copying its pieces costs a few dozen.  On the stack,
 * for one call only: no state between calls, so nothing to share between
 * threads and the same pieces whatever came before. */
#define SEEN_SLOTS 128   /* a power of two; filled at most half */

typedef struct seen_word {
    const char *w;       /* NULL: empty slot */
    uint32_t len, strip;
    uint32_t at, n;      /* its pieces: ids[at .. at + n) of this call's output */
} seen_word;

/* Words in flight: a prompt's memo lookups are independent, so the slot of
 * the word AHEAD words on and the record of the word AHEAD / 2 on are
 * prefetched while this one is copied; one after another, each lookup
 * would wait for two cache misses in a memo of megabytes.  16 words ahead
 * beat 8 by ~8% on cold decisions; 32 gained nothing more. */
#define AHEAD 16
#define RING 32   /* a power of two, at least AHEAD */

typedef struct word_ref {
    const char *w;
    size_t len;
    size_t strip;        /* the leading pieces of w's encoding that are not its own (digit runs) */
    int mid;             /* a run unit: encoded as "0" w (TR_TOK_SCRIPT_RUNS) */
    uint64_t hash;
    const uint32_t *r;   /* the record whose tag matched (unverified), or NULL */
    size_t slot;         /* where probe stopped */
} word_ref;

/* The units a text is encoded in, one after another: whole words, and under
 * TR_TOK_DIGIT_RUNS the pieces of a word with a digit (word_cache.h). */
typedef struct unit_iter {
    const char *t;
    size_t len, k;       /* next byte to look at */
    size_t wend;         /* end of the digit word being split, or 0 */
    int digits;          /* the rule splits words at digits */
    int scripts;         /* ...and at letter/punctuation boundaries */
    int in_word;         /* TR_TOK_SCRIPT_RUNS: k is inside a word, after its first segment */
} unit_iter;

static void unit_iter_init(unit_iter *it, int rule, const char *text, size_t len)
{
    *it = (unit_iter){text, len, 0, 0, rule == TR_TOK_DIGIT_RUNS || rule == TR_TOK_SCRIPT_RUNS,
                      rule == TR_TOK_SCRIPT_RUNS, 0};
}

static void unit_set(word_ref *out, const char *w, size_t len, size_t strip, int mid)
{
    out->w = w;
    out->len = len;
    out->strip = strip;
    out->mid = mid;
    out->hash = unit_hash(w, len, mid);
    out->r = NULL;
}

/* next_unit under TR_TOK_SCRIPT_RUNS: the next segment, a digit alone or a
 * run up to the next digit, space or letter/punctuation cut. */
static inline __attribute__((always_inline)) int next_segment(unit_iter *it, word_ref *out)
{
    const char *t = it->t;
    size_t k = it->k, len = it->len;
    int later = it->in_word;
    if (!later) {
        while (k < len && byte_class[(unsigned char)t[k]] & CL_SPACE) k++;
        if (k == len) { it->k = k; return 0; }
    }
    unsigned c0 = byte_class[(unsigned char)t[k]];
    size_t e = k + 1;
    if (!(c0 & CL_DIGIT))
        for (unsigned prev = c0; e < len; e++) {
            unsigned cl = byte_class[(unsigned char)t[e]];
            if (cl & (CL_DIGIT | CL_SPACE) || (prev | cl) == (CL_ALPHA | CL_PUNCT)) break;
            prev = cl;
        }
    it->in_word = e < len && !(byte_class[(unsigned char)t[e]] & CL_SPACE);
    it->k = e;
    if (!later)
        unit_set(out, t + k, e - k, 0, 0);   /* the word's first segment, with its "▁" */
    else if (c0 & CL_DIGIT)
        unit_set(out, t + k, 1, 1, 0);   /* "d" less its "▁" */
    else
        unit_set(out, t + k, e - k, 2, 1);   /* "0 run" less "▁" and "0" */
    return 1;
}

static inline __attribute__((always_inline)) int next_unit(unit_iter *it, word_ref *out)
{
    if (it->scripts) return next_segment(it, out);
    const char *t = it->t;
    size_t k = it->k;
    if (k < it->wend) {   /* inside a digit word, just after a digit */
        if (is_digit((unsigned char)t[k])) {   /* a digit: "d" less its "▁" */
            unit_set(out, t + k, 1, 1, 0);
            it->k = k + 1;
            return 1;
        }
        size_t e = k;   /* a run: "d run" less "▁" and d's piece */
        while (e < it->wend && !is_digit((unsigned char)t[e])) e++;
        unit_set(out, t + k - 1, e - k + 1, 2, 0);
        it->k = e;
        return 1;
    }
    while (k < it->len && is_space((unsigned char)t[k])) k++;
    size_t st = k, first = (size_t)-1;
    for (; k < it->len && !is_space((unsigned char)t[k]); k++)
        if (it->digits && first == (size_t)-1 && is_digit((unsigned char)t[k])) first = k;
    if (k == st) { it->k = k; return 0; }
    if (!it->digits || first == (size_t)-1) {
        unit_set(out, t + st, k - st, 0, 0);
        it->k = k;
        return 1;
    }
    /* the word up to its first digit, encoded alone, ends with that digit's piece */
    unit_set(out, t + st, first + 1 - st, 0, 0);
    it->wend = k;
    it->k = first + 1;
    return 1;
}

/* SentencePiece's pieces of a unit from skip on: a word as it stands, a
 * run unit after the "0" it is encoded behind. */
static int encode_unit(const tr_spm *sp, const char *w, size_t len, int mid, size_t skip, int32_t *ids, size_t cap,
                       size_t *count, char *err, size_t errlen)
{
    return mid ? tr_spm_encode_prefixed(sp, "0", 1, w, len, skip, ids, cap, count, err, errlen)
               : tr_spm_encode_skip(sp, w, len, skip, ids, cap, count, err, errlen);
}

int tr_tokenize(const tr_spm *sp, const tr_word_cache *c, int rule, const char *text, size_t len,
                int32_t *ids, size_t cap, size_t *count, char *err, size_t errlen)
{
    if (!tr_text_takes_words(rule, text, len))
        return tr_spm_encode(sp, text, len, ids, cap, count, err, errlen);
    seen_word seen[SEEN_SLOTS];
    size_t n_seen = 0;
    int seen_ready = 0;
    word_ref ring[RING];
    size_t n_in = 0, n_probed = 0, n_out = 0;
    size_t total = 0;
    unit_iter it;
    unit_iter_init(&it, rule, text, len);
    for (;;) {
        while (n_in < n_out + AHEAD && next_unit(&it, &ring[n_in % RING])) {
            if (c) __builtin_prefetch(&c->table[(size_t)ring[n_in % RING].hash & c->mask]);
            n_in++;
        }
        while (n_probed < n_in && n_probed <= n_out + AHEAD / 2) {
            word_ref *q = &ring[n_probed % RING];
            if (c && q->len + (size_t)q->mid <= TR_WORD_CACHE_MAX_LEN &&
                !(q->strip == 1 && c->digit_piece[q->w[0] - '0'] >= 0)) {
                q->slot = (size_t)q->hash & c->mask;
                if ((q->r = probe(c, q->hash, &q->slot))) __builtin_prefetch(q->r);
            }
            n_probed++;
        }
        if (n_out == n_in) break;
        const word_ref *q = &ring[n_out % RING];
        n_out++;
        const int32_t *w;
        size_t nw;
        size_t strip = q->strip;
        if (c && strip == 1 && c->digit_piece[q->w[0] - '0'] >= 0) {   /* a digit of a number */
            if (total < cap) ids[total] = c->digit_piece[q->w[0] - '0'];
            total++;
            continue;
        }
        if (c && q->len + (size_t)q->mid <= TR_WORD_CACHE_MAX_LEN &&
            lookup(c, q->hash, q->r, q->slot, q->w, q->len, q->mid, &w, &nw)) {
            /* under the rule an encoding has its strip pieces; a corrupt
             * memo that lacks them gives fewer pieces, never a bad read */
            size_t from = strip < nw ? strip : nw;
            for (size_t j = from; j < nw && total + j - from < cap; j++) ids[total + j - from] = w[j];
            total += nw - from;
            continue;
        }
        if (!seen_ready) { memset(seen, 0, sizeof seen); seen_ready = 1; }
        size_t s = (size_t)(q->hash + strip) & (SEEN_SLOTS - 1);
        while (seen[s].w && !(seen[s].len == q->len && seen[s].strip == strip && !memcmp(seen[s].w, q->w, q->len)))
            s = (s + 1) & (SEEN_SLOTS - 1);
        if (seen[s].w) {
            nw = seen[s].n;   /* its first pieces lie before total: no overlap */
            for (size_t j = 0; j < nw && total + j < cap; j++) ids[total + j] = ids[seen[s].at + j];
        } else {
            /* without the strip pieces, which belong to the unit's neighbours */
            size_t at = total < cap ? total : cap;
            int rc = encode_unit(sp, q->w, q->len, q->mid, strip, ids + at, cap - at, &nw, err, errlen);
            if (rc) return rc;
            /* remembered only when all its pieces fitted, and while the
             * table is at most half full */
            if (total + nw <= cap && n_seen < SEEN_SLOTS / 2 && q->len <= UINT32_MAX && total + nw <= UINT32_MAX) {
                seen[s] = (seen_word){q->w, (uint32_t)q->len, (uint32_t)strip, (uint32_t)total, (uint32_t)nw};
                n_seen++;
            }
        }
        total += nw;
    }
    *count = total;
    return TR_OK;
}

/* ---- building: count the distinct words, keep the most frequent */

typedef struct wcount {
    const char *w;
    uint32_t len, count;
    int mid;
} wcount;

static int cmp_wcount(const void *a, const void *b)
{
    const wcount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t l = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->w, y->w, l);
    if (c) return c;
    if (x->len != y->len) return (x->len > y->len) - (x->len < y->len);
    return (x->mid > y->mid) - (x->mid < y->mid);
}

int tr_word_cache_build(const tr_spm *sp, int rule, const char *const *texts, const size_t *lens, size_t n,
                        size_t max_words, tr_word_cache **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t cap = 1u << 16, used = 0;
    wcount *tab = tr_calloc(cap, sizeof *tab);
    tr_word_cache *c = tr_calloc(1, sizeof *c);
    int32_t *tmp = NULL;
    int rc = TR_ENOMEM;
    if (!tab || !c) goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[i];
        size_t len = lens[i];
        if (!tr_text_takes_words(rule, t, len)) continue;
        unit_iter it;
        word_ref u;
        unit_iter_init(&it, rule, t, len);
        while (next_unit(&it, &u)) {
            size_t wl = u.len;
            const char *uw = u.w;
            if (wl + (size_t)u.mid > TR_WORD_CACHE_MAX_LEN) continue;
            if (2 * (used + 1) > cap) {   /* grow: rehash into twice the slots */
                wcount *nt = tr_calloc(2 * cap, sizeof *nt);
                if (!nt) goto fail;
                for (size_t s = 0; s < cap; s++) {
                    if (!tab[s].w) continue;
                    size_t h = (size_t)unit_hash(tab[s].w, tab[s].len, tab[s].mid) & (2 * cap - 1);
                    while (nt[h].w) h = (h + 1) & (2 * cap - 1);
                    nt[h] = tab[s];
                }
                tr_free(tab);
                tab = nt;
                cap *= 2;
            }
            size_t h = (size_t)u.hash & (cap - 1);
            while (tab[h].w && !(tab[h].len == wl && tab[h].mid == u.mid && !memcmp(tab[h].w, uw, wl)))
                h = (h + 1) & (cap - 1);
            if (!tab[h].w) { tab[h] = (wcount){uw, (uint32_t)wl, 0, u.mid}; used++; }
            tab[h].count++;
        }
    }
    /* compact, order by frequency, keep max_words */
    size_t m = 0;
    for (size_t s = 0; s < cap; s++)
        if (tab[s].w) tab[m++] = tab[s];
    qsort(tab, m, sizeof *tab, cmp_wcount);
    if (m > max_words) m = max_words;
    size_t bytes = 0;
    for (size_t w = 0; w < m; w++) bytes += tab[w].len;
    c->n = m;
    c->pool = tr_malloc(bytes + 1);
    c->woff = tr_mallocarray(m + 1, sizeof *c->woff);
    c->ioff = tr_mallocarray(m + 1, sizeof *c->ioff);
    c->wmid = tr_calloc(m + 1, 1);
    size_t icap = bytes + 3 * m + 16, itot = 0;
    c->ids = tr_mallocarray(icap, sizeof *c->ids);
    tmp = tr_mallocarray(TR_WORD_CACHE_MAX_LEN + 16, sizeof *tmp);
    if (!c->pool || !c->woff || !c->ioff || !c->wmid || !c->ids || !tmp) goto fail;
    size_t at = 0;
    for (size_t w = 0; w < m; w++) {
        c->woff[w] = (uint32_t)at;
        c->ioff[w] = (uint32_t)itot;
        memcpy(c->pool + at, tab[w].w, tab[w].len);
        at += tab[w].len;
        c->wmid[w] = (unsigned char)tab[w].mid;
        size_t nw = 0;
        /* a run unit's record holds all of "0 run"'s pieces, as a word's does */
        rc = encode_unit(sp, tab[w].w, tab[w].len, tab[w].mid, 0, tmp, TR_WORD_CACHE_MAX_LEN + 16, &nw, err, errlen);
        if (rc) goto fail;
        /* a word of l bytes has at most l + 1 pieces (a lone "▁" and one per byte) */
        if (nw > TR_WORD_CACHE_MAX_LEN + 16 || itot + nw > icap) {
            rc = tr_errorf(err, errlen, TR_EINTERNAL, "word cache: %zu pieces for a %u-byte word", nw, tab[w].len);
            goto fail;
        }
        memcpy(c->ids + itot, tmp, nw * sizeof *tmp);
        itot += nw;
    }
    c->woff[m] = (uint32_t)at;
    c->ioff[m] = (uint32_t)itot;
    rc = TR_ENOMEM;
    if (build_table(c)) goto fail;
    find_digit_pieces(c);
    tr_free(tab);
    tr_free(tmp);
    *out = c;
    return TR_OK;
fail:
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "word cache: out of memory");
    tr_free(tab);
    tr_free(tmp);
    tr_word_cache_free(c);
    return rc;
}

int tr_word_cache_save(const tr_word_cache *c, tr_buf *b)
{
    tr_buf_u32(b, (uint32_t)c->n);
    size_t at = 1;   /* the records, in word order */
    for (size_t w = 0; w < c->n; w++) {
        const uint32_t *r = c->rec + at;
        uint32_t l = r[0] & 127u, ni = r[0] >> 8;
        if (r[0] & REC_MID) {   /* a run unit: "0run" */
            tr_buf_u32(b, l + 1);
            tr_buf_put(b, "0", 1);
        } else {
            tr_buf_u32(b, l);
        }
        tr_buf_put(b, r + 1, l);
        tr_buf_u32(b, ni);
        tr_buf_i32s(b, (const int32_t *)(r + 1 + (l + 3) / 4), ni);
        at += rec_words(l, ni);
    }
    return tr_buf_ok(b);
}

int tr_word_cache_load(tr_cursor *cur, int vocab_size, int rule, tr_word_cache **out, char *err, size_t errlen)
{
    *out = NULL;
    uint32_t n = 0;
    tr_cursor_field(cur, "word cache count");
    if (tr_get_u32(cur, &n)) return tr_errorf(err, errlen, cur->err, "word cache: truncated");
    /* every word takes at least 9 bytes (two counts, one byte) */
    if (tr_cursor_check_count(cur, n, 9, "word cache count"))
        return tr_errorf(err, errlen, TR_EFORMAT, "word cache: %u words cannot fit in %zu bytes", n, cur->left);
    tr_word_cache *c = tr_calloc(1, sizeof *c);
    int rc = TR_ENOMEM;
    if (!c) goto fail;
    c->n = n;
    size_t pcap = cur->left, icap = cur->left / 4 + 1;
    c->woff = tr_mallocarray((size_t)n + 1, sizeof *c->woff);
    c->ioff = tr_mallocarray((size_t)n + 1, sizeof *c->ioff);
    c->pool = tr_malloc(pcap + 1);
    c->ids = tr_mallocarray(icap, sizeof *c->ids);
    c->wmid = tr_calloc((size_t)n + 1, 1);
    if (!c->woff || !c->ioff || !c->pool || !c->ids || !c->wmid) goto fail;
    size_t at = 0, itot = 0;
    uint32_t w = 0;
    for (; w < n; w++) {
        uint32_t l = 0, ni = 0;
        const void *bytes;
        c->woff[w] = (uint32_t)at;
        c->ioff[w] = (uint32_t)itot;
        tr_cursor_field(cur, "word");
        tr_get_u32(cur, &l);
        if (!cur->err && (l == 0 || l > TR_WORD_CACHE_MAX_LEN || l > cur->left)) cur->err = TR_EFORMAT;
        if (cur->err) break;
        bytes = cur->p;
        cur->p += l;
        cur->left -= l;
        if (rule == TR_TOK_SCRIPT_RUNS && l >= 2 && is_digit(*(const unsigned char *)bytes)) {
            c->wmid[w] = 1;   /* a run unit, stored as "0run" */
            bytes = (const char *)bytes + 1;
            l--;
        }
        memcpy(c->pool + at, bytes, l);
        at += l;
        tr_get_u32(cur, &ni);
        if (!cur->err && (ni > TR_WORD_CACHE_MAX_LEN + 16 || itot + ni > icap)) cur->err = TR_EFORMAT;
        if (cur->err || tr_get_i32s(cur, c->ids + itot, ni)) break;
        for (uint32_t j = 0; j < ni; j++)
            if (c->ids[itot + j] < 0 || c->ids[itot + j] >= vocab_size) cur->err = TR_EFORMAT;
        itot += ni;
    }
    if (cur->err) {
        rc = tr_errorf(err, errlen, cur->err, "word cache: %s at word %u of %u", tr_strerror(cur->err), w, n);
        goto fail;
    }
    c->woff[n] = (uint32_t)at;
    c->ioff[n] = (uint32_t)itot;
    if (build_table(c)) goto fail;
    find_digit_pieces(c);
    *out = c;
    return TR_OK;
fail:
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "word cache: out of memory");
    tr_word_cache_free(c);
    return rc;
}
