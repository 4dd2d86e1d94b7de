/* Piece uni+bigram features with sublinear TF and smooth IDF.  Fitting
 * counts each key's document frequency in a growable open-addressing map,
 * keeps the frequent ones in a deterministic order, and builds the fixed
 * lookup table that embedding reads without allocating. */
#include "embed/tfidf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- heapsort of int32 (qsort may allocate; the embed path must not) ---- */
static void sift_down(int32_t *a, size_t start, size_t n)
{
    size_t root = start;
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child] < a[child + 1]) child++;
        if (a[root] >= a[child]) return;
        int32_t t = a[root]; a[root] = a[child]; a[child] = t;
        root = child;
    }
}

void tr_sort_i32(int32_t *a, size_t n)
{
    if (n < 2) return;
    if (n <= 16) {  /* insertion sort: short prompts are the common case */
        for (size_t i = 1; i < n; i++) {
            int32_t v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) { a[j] = a[j - 1]; j--; }
            a[j] = v;
        }
        return;
    }
    for (size_t s = n / 2; s-- > 0;) sift_down(a, s, n);
    for (size_t end = n - 1; end > 0; end--) {
        int32_t t = a[0]; a[0] = a[end]; a[end] = t;
        sift_down(a, 0, end);
    }
}

/* ---- document-frequency counting map (fit time only) ---- */
typedef struct df_map { uint64_t *keys; uint32_t *cnt; size_t cap, used; } df_map;

static int df_grow(df_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1 << 16;
    uint64_t *k = tr_calloc(ncap, sizeof *k);
    uint32_t *c = tr_calloc(ncap, sizeof *c);
    if (!k || !c) { tr_free(k); tr_free(c); return TR_ENOMEM; }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t h = tr_mix64(m->keys[i]) & (ncap - 1);
        while (k[h]) h = (h + 1) & (ncap - 1);
        k[h] = m->keys[i]; c[h] = m->cnt[i];
    }
    tr_free(m->keys); tr_free(m->cnt);
    m->keys = k; m->cnt = c; m->cap = ncap;
    return TR_OK;
}

static int df_add(df_map *m, uint64_t key)
{
    if (2 * (m->used + 1) > m->cap && df_grow(m) != TR_OK) return TR_ENOMEM;
    size_t h = tr_mix64(key) & (m->cap - 1);
    while (m->keys[h] && m->keys[h] != key) h = (h + 1) & (m->cap - 1);
    if (!m->keys[h]) { m->keys[h] = key; m->used++; }
    m->cnt[h]++;
    return TR_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct kdf { uint64_t key; uint32_t df; } kdf;

/* Deterministic feature order: df descending, then key ascending. */
static int cmp_kdf(const void *a, const void *b)
{
    const kdf *x = a, *y = b;
    if (x->df != y->df) return x->df > y->df ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

/* Build the lookup table from f->keys; TR_EFORMAT on a zero or repeated key. */
static int build_table(tr_features *f, char *err, size_t errlen)
{
    size_t cap = 16;
    while (cap < 2 * f->n_feat + 2) cap *= 2;
    f->tab = tr_calloc(cap, sizeof *f->tab);
    if (!f->tab) return tr_errorf(err, errlen, TR_ENOMEM, "feature table: out of memory");
    f->tab_mask = cap - 1;
    size_t n_uni = 0;
    for (size_t i = 0; i < f->n_feat; i++) {
        uint64_t k = f->keys[i];
        if (!k) return tr_errorf(err, errlen, TR_EFORMAT, "feature %zu: zero key", i);
        size_t h = tr_mix64(k) & f->tab_mask;
        while (f->tab[h].key) {
            if (f->tab[h].key == k)
                return tr_errorf(err, errlen, TR_EFORMAT, "feature %zu: key repeated", i);
            h = (h + 1) & f->tab_mask;
        }
        f->tab[h].key = k;
        f->tab[h].val = (int32_t)i;
        if (tr_feat_key_second(k) < 0 && (size_t)tr_feat_key_first(k) + 1 > n_uni)
            n_uni = (size_t)tr_feat_key_first(k) + 1;
    }
    f->uni = tr_mallocarray(n_uni ? n_uni : 1, sizeof *f->uni);
    if (!f->uni) return tr_errorf(err, errlen, TR_ENOMEM, "feature table: out of memory");
    f->n_uni = n_uni;
    for (size_t p = 0; p < n_uni; p++) f->uni[p] = -1;
    for (size_t i = 0; i < f->n_feat; i++)
        if (tr_feat_key_second(f->keys[i]) < 0) f->uni[tr_feat_key_first(f->keys[i])] = (int32_t)i;
    return TR_OK;
}

/* The feature of key, probing from slot h (its hash's); -1 if absent. */
static int32_t lookup_from(const tr_features *f, uint64_t key, size_t h)
{
    for (;;) {
        uint64_t k = f->tab[h].key;
        if (k == key) return f->tab[h].val;
        if (!k) return -1;
        h = (h + 1) & f->tab_mask;
    }
}

int32_t tr_features_lookup(const tr_features *f, uint64_t key)
{
    return lookup_from(f, key, tr_mix64(key) & f->tab_mask);
}

void tr_features_free(tr_features *f)
{
    if (!f) return;
    tr_free(f->keys); tr_free(f->idf);
    tr_free(f->tab); tr_free(f->uni);
    tr_free(f);
}

int tr_features_fit(const int32_t *ids, const size_t *off, size_t n,
                    int min_df, size_t max_features, int bigrams,
                    tr_features **out, char *err, size_t errlen)
{
    *out = NULL;
    if (n == 0 || !off || (!ids && off[n]))
        return tr_errorf(err, errlen, TR_EINVAL, "features: no documents");
    if (min_df < 1 || max_features < 1 || max_features > INT32_MAX)
        return tr_errorf(err, errlen, TR_EINVAL, "features: min_df %d, max_features %zu out of range",
                         min_df, max_features);
    int rc = TR_ENOMEM;
    df_map m = {0};
    uint64_t *dk = NULL;
    kdf *ent = NULL;
    tr_features *f = NULL;
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] - off[i] > maxlen) maxlen = off[i + 1] - off[i];
    dk = tr_mallocarray(2 * maxlen + 1, sizeof *dk);
    if (!dk || df_grow(&m) != TR_OK) goto oom;
    for (size_t i = 0; i < n; i++) {
        const int32_t *d = ids + off[i];
        size_t len = off[i + 1] - off[i], k = 0;
        for (size_t j = 0; j < len; j++) {
            dk[k++] = tr_feat_key(d[j], -1);
            if (bigrams && j + 1 < len) dk[k++] = tr_feat_key(d[j], d[j + 1]);
        }
        qsort(dk, k, sizeof *dk, cmp_u64);
        for (size_t j = 0; j < k; j++)
            if ((j == 0 || dk[j] != dk[j - 1]) && df_add(&m, dk[j]) != TR_OK) goto oom;
    }
    size_t n_ent = 0;
    ent = tr_mallocarray(m.used + 1, sizeof *ent);
    if (!ent) goto oom;
    for (size_t h = 0; h < m.cap; h++)
        if (m.keys[h] && m.cnt[h] >= (uint32_t)min_df) ent[n_ent++] = (kdf){m.keys[h], m.cnt[h]};
    if (n_ent == 0) {
        rc = tr_errorf(err, errlen, TR_ETOOFEW,
                       "features: no piece %s appears in %d or more of the %zu prompts",
                       bigrams ? "unigram or bigram" : "unigram", min_df, n);
        goto fail;
    }
    qsort(ent, n_ent, sizeof *ent, cmp_kdf);
    if (n_ent > max_features) n_ent = max_features;

    f = tr_calloc(1, sizeof *f);
    if (!f) goto oom;
    f->n_feat = n_ent;
    f->n_docs = n;
    f->bigrams = bigrams ? 1 : 0;
    f->keys = tr_mallocarray(n_ent, sizeof *f->keys);
    f->idf = tr_mallocarray(n_ent, sizeof *f->idf);
    if (!f->keys || !f->idf) goto oom;
    for (size_t i = 0; i < n_ent; i++) {
        f->keys[i] = ent[i].key;
        f->idf[i] = (float)(log((1.0 + (double)n) / (1.0 + (double)ent[i].df)) + 1.0);
    }
    rc = build_table(f, err, errlen);
    if (rc != TR_OK) goto fail;
    tr_free(dk); tr_free(ent); tr_free(m.keys); tr_free(m.cnt);
    *out = f;
    return TR_OK;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "features: out of memory counting %zu documents", n);
fail:
    tr_free(dk); tr_free(ent); tr_free(m.keys); tr_free(m.cnt);
    tr_features_free(f);
    return rc;
}

/* Feature indices [0, n_feat) ascending by LSD radix sort, one byte a
 * pass: a decision sorts hundreds of indices, where heapsort was an eighth
 * of its instructions.  tmp (n floats, the caller's val) holds the other
 * copy; values move through memcpy so no float object is read as int. */
static void sort_ids(int32_t *a, size_t n, float *tmp, size_t n_feat)
{
    if (n <= 32) { tr_sort_i32(a, n); return; }
    size_t count[256];
    int in_tmp = 0;
    for (unsigned shift = 0; shift < 32 && ((n_feat - 1) >> shift) != 0; shift += 8) {
        memset(count, 0, sizeof count);
        int32_t v;
        if (in_tmp)
            for (size_t i = 0; i < n; i++) { memcpy(&v, tmp + i, sizeof v); count[((uint32_t)v >> shift) & 255u]++; }
        else
            for (size_t i = 0; i < n; i++) count[((uint32_t)a[i] >> shift) & 255u]++;
        for (size_t b = 0, sum = 0; b < 256; b++) { size_t c = count[b]; count[b] = sum; sum += c; }
        if (in_tmp)
            for (size_t i = 0; i < n; i++) {
                memcpy(&v, tmp + i, sizeof v);
                a[count[((uint32_t)v >> shift) & 255u]++] = v;
            }
        else
            for (size_t i = 0; i < n; i++) {
                v = a[i];
                memcpy(tmp + count[((uint32_t)v >> shift) & 255u]++, &v, sizeof v);
            }
        in_tmp = !in_tmp;
    }
    if (in_tmp) memcpy(a, tmp, n * sizeof *a);
}

/* ln tf for tf = 2 .. 32 as glibc's log() gives it (test_features checks
 * each against log()): a prompt's repeated features called log() about 80
 * times a decision (3k of its 457k instructions). */
static const double LN_TF[33] = {
    0, 0, 0x1.62e42fefa39efp-1, 0x1.193ea7aad030bp+0, 0x1.62e42fefa39efp+0, 0x1.9c041f7ed8d33p+0,
    0x1.cab0bfa2a2002p+0, 0x1.f2272ae325a57p+0, 0x1.0a2b23f3bab73p+1, 0x1.193ea7aad030bp+1,
    0x1.26bb1bbb55516p+1, 0x1.32ee3b77f374cp+1, 0x1.3e116bcd39e7dp+1, 0x1.485042b318c51p+1,
    0x1.51cca16d7bba7p+1, 0x1.5aa16394d481fp+1, 0x1.62e42fefa39efp+1, 0x1.6aa6bc1fa7f7ap+1,
    0x1.71f7b3a6b9186p+1, 0x1.78e360604b32cp+1, 0x1.7f7427b73e391p+1, 0x1.85b2e946faeb1p+1,
    0x1.8ba74773dc5c8p+1, 0x1.9157dfdd1b3f0p+1, 0x1.96ca77c922cf9p+1, 0x1.9c041f7ed8d33p+1,
    0x1.a1094eaf01acdp+1, 0x1.a5ddfb8038490p+1, 0x1.aa85ad6964a23p+1, 0x1.af038cbcdfe1fp+1,
    0x1.b35a6f90bd69bp+1, 0x1.b78ce48912b5ap+1, 0x1.bb9d3beb8c86bp+1,
};

double tr_features_tf_weight(size_t tf)
{
    if (tf <= 1) return 1.0;   /* most features occur once: 1 + ln 1 = 1 without a log */
    return 1.0 + (tf < sizeof LN_TF / sizeof *LN_TF ? LN_TF[tf] : log((double)tf));
}

void tr_features_vectorize(const tr_features *f, const int32_t *ids, size_t n_ids,
                           int32_t *idx, float *val, size_t *nnz)
{
    /* The bigram slots are hashed and prefetched BIGRAM_AHEAD pieces ahead:
     * a prompt's lookups are independent, and the table (16 bytes a feature,
     * twice over) outgrows the caches of a default router. */
    enum { BIGRAM_AHEAD = 8, SLOT_RING = 16 };
    size_t slot[SLOT_RING];
    size_t nb = f->bigrams && n_ids > 1 ? n_ids - 1 : 0;   /* bigrams at j = 0 .. nb-1 */
    for (size_t j = 0; j < nb && j < BIGRAM_AHEAD; j++) {
        slot[j % SLOT_RING] = tr_mix64(tr_feat_key(ids[j], ids[j + 1])) & f->tab_mask;
        __builtin_prefetch(&f->tab[slot[j % SLOT_RING]]);
    }
    size_t k = 0;
    for (size_t j = 0; j < n_ids; j++) {
        int32_t p = ids[j];
        int32_t u = p >= 0 && (size_t)p < f->n_uni ? f->uni[p] : -1;
        if (u >= 0) idx[k++] = u;
        if (j < nb) {
            size_t a = j + BIGRAM_AHEAD;
            if (a < nb) {
                slot[a % SLOT_RING] = tr_mix64(tr_feat_key(ids[a], ids[a + 1])) & f->tab_mask;
                __builtin_prefetch(&f->tab[slot[a % SLOT_RING]]);
            }
            int32_t b = lookup_from(f, tr_feat_key(ids[j], ids[j + 1]), slot[j % SLOT_RING]);
            if (b >= 0) idx[k++] = b;
        }
    }
    sort_ids(idx, k, val, f->n_feat);
    size_t u = 0;
    double ss = 0;
    for (size_t j = 0; j < k;) {
        size_t e = j;
        while (e < k && idx[e] == idx[j]) e++;
        double w = tr_features_tf_weight(e - j) * f->idf[idx[j]];
        idx[u] = idx[j];
        val[u] = (float)w;
        ss += w * w;
        u++;
        j = e;
    }
    if (u) {
        double inv = 1.0 / sqrt(ss);
        for (size_t j = 0; j < u; j++) val[j] = (float)(val[j] * inv);
    }
    *nnz = u;
}

void tr_csr_free(tr_csr *m)
{
    if (!m) return;
    tr_free(m->indptr); tr_free(m->idx); tr_free(m->val);
    memset(m, 0, sizeof *m);
}

int tr_features_transform(const tr_features *f, const int32_t *ids, const size_t *off,
                          size_t n, tr_csr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t maxlen = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = off[i + 1] - off[i];
        if (l > maxlen) maxlen = l;
        cap += tr_features_scratch_len(l);
    }
    int32_t *ti = tr_mallocarray(tr_features_scratch_len(maxlen), sizeof *ti);
    float *tv = tr_mallocarray(tr_features_scratch_len(maxlen), sizeof *tv);
    out->indptr = tr_mallocarray(n + 1, sizeof *out->indptr);
    out->idx = tr_mallocarray(cap ? cap : 1, sizeof *out->idx);
    out->val = tr_mallocarray(cap ? cap : 1, sizeof *out->val);
    if (!ti || !tv || !out->indptr || !out->idx || !out->val) {
        tr_free(ti); tr_free(tv); tr_csr_free(out);
        return tr_errorf(err, errlen, TR_ENOMEM, "features: out of memory for a %zu-row matrix", n);
    }
    out->n_rows = n;
    out->n_cols = f->n_feat;
    out->indptr[0] = 0;
    size_t z = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        tr_features_vectorize(f, ids + off[i], off[i + 1] - off[i], ti, tv, &k);
        memcpy(out->idx + z, ti, k * sizeof *ti);
        memcpy(out->val + z, tv, k * sizeof *tv);
        z += k;
        out->indptr[i + 1] = z;
    }
    out->nnz = z;
    tr_free(ti); tr_free(tv);
    /* shrink to what was used; keeping the larger block is harmless on failure */
    int32_t *si = tr_realloc(out->idx, (z ? z : 1) * sizeof *si);
    if (si) out->idx = si;
    float *sv = tr_realloc(out->val, (z ? z : 1) * sizeof *sv);
    if (sv) out->val = sv;
    return TR_OK;
}

void tr_features_save(const tr_features *f, tr_buf *b)
{
    tr_buf_u64(b, f->n_docs);
    tr_buf_u32(b, (uint32_t)f->bigrams);
    tr_buf_u64(b, f->n_feat);
    for (size_t i = 0; i < f->n_feat; i++) tr_buf_u64(b, f->keys[i]);
    tr_buf_f32s(b, f->idf, f->n_feat);
}

int tr_features_load(tr_cursor *c, int vocab, tr_features **out, char *err, size_t errlen)
{
    *out = NULL;
    uint64_t n_docs = 0, n_feat = 0;
    uint32_t bigrams = 0;
    tr_cursor_field(c, "features.n_docs");
    tr_get_u64(c, &n_docs);
    tr_cursor_field(c, "features.bigrams");
    tr_get_u32(c, &bigrams);
    tr_cursor_field(c, "features.count");
    tr_get_u64(c, &n_feat);
    if (c->err)
        return tr_errorf(err, errlen, c->err, "embedder section: %s: truncated", c->what);
    if (bigrams > 1 || n_feat == 0 || n_feat > INT32_MAX || n_docs == 0)
        return tr_errorf(err, errlen, TR_EFORMAT,
                         "embedder section: features: bigrams %u, count %llu, n_docs %llu invalid",
                         bigrams, (unsigned long long)n_feat, (unsigned long long)n_docs);
    if (tr_cursor_check_count(c, n_feat, 12, "features.keys") != TR_OK)
        return tr_errorf(err, errlen, TR_EFORMAT,
                         "embedder section: %llu features do not fit in the %zu bytes left",
                         (unsigned long long)n_feat, c->left);
    int rc = TR_ENOMEM;
    tr_features *f = tr_calloc(1, sizeof *f);
    if (!f) goto oom;
    f->n_feat = n_feat;
    f->n_docs = n_docs;
    f->bigrams = (int)bigrams;
    f->keys = tr_mallocarray(n_feat, sizeof *f->keys);
    if (!f->keys) goto oom;
    for (size_t i = 0; i < n_feat; i++) {
        tr_get_u64(c, &f->keys[i]);
        int32_t a = tr_feat_key_first(f->keys[i]), b2 = tr_feat_key_second(f->keys[i]);
        if (!c->err && (a < 0 || a >= vocab || b2 >= vocab || (b2 >= 0 && !bigrams))) {
            rc = tr_errorf(err, errlen, TR_EFORMAT,
                           "embedder section: feature %zu names piece %d/%d outside a vocabulary of %d",
                           i, a, b2, vocab);
            goto fail;
        }
    }
    tr_cursor_field(c, "features.idf");
    if (tr_get_f32s_alloc(c, n_feat, &f->idf) != TR_OK) {
        rc = tr_errorf(err, errlen, c->err, "embedder section: %s: truncated", c->what);
        goto fail;
    }
    for (size_t i = 0; i < n_feat; i++)
        if (!isfinite(f->idf[i]) || f->idf[i] <= 0) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: feature %zu: IDF %g invalid",
                           i, (double)f->idf[i]);
            goto fail;
        }
    rc = build_table(f, err, errlen);
    if (rc != TR_OK) {
        tr_error_prefix(err, errlen, rc, "embedder section");
        goto fail;
    }
    *out = f;
    return TR_OK;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder section: out of memory for %llu features",
                   (unsigned long long)n_feat);
fail:
    tr_features_free(f);
    return rc;
}
