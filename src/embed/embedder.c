/* The prompt embedder (embedder.h): SentencePiece pieces -> piece uni+bigram
 * TF-IDF (tfidf.c) -> projection on the top right singular vectors
 * of the training TF-IDF matrix (svd.c) -> unit vector.
 *
 * Embedding one prompt uses only the caller's scratch: piece ids, then the
 * prompt's sparse TF-IDF vector, then out = sum_f w_f V[f, :], normalised.
 * A prompt is cut to len + 16 pieces, at fit and at embed time alike (a
 * piece covers at least one input byte except under NFKC expansion), so the
 * scratch size is a function of the prompt length only.
 *
 * Section layout (little-endian, tr_buf), format version 5 (and 4, 3, 2):
 *   u32 format version, str tokenizer ("sentencepiece 0.1.97 unigram"),
 *   str feature scheme, u64 vocabulary hash (FNV-1a 64 over every piece's
 *   text + NUL, in id order), i32 x 7 params (dim, vocab_size, min_df,
 *   max_features, bigrams, oversample, power_iters), u64 seed,
 *   bytes SentencePiece model, features (tfidf.h: n_docs, bigrams,
 *   count, keys, idf), u32 dim, f32 singular values[dim],
 *   format 5: u32 storage (1 int8, 2 half), then for int8 f32 row scales
 *   [features] and i8 V[features x dim], for half f16 V; format 4: f16 V
 *   (IEEE binary16, half.h); 1-3: f32 V; V row-major;
 *   format 5: u32 tokenising rule (TR_TOK_UTF8_WORDS, TR_TOK_DIGIT_RUNS or,
 *   since the eighth session, TR_TOK_SCRIPT_RUNS, which older readers refuse);
 *   then the word cache (word_cache.h).
 * Format 5 stores how V is stored and the tokenising rule explicitly: int8
 * rows (q8.h) read half the bytes of half rows, and the digit-run rule
 * (word_cache.h) spares most of the SentencePiece calls for numbers.
 * Format 4 is format 3 with the projection rounded to half after the SVD:
 * a prompt's projection reads one scattered row of V per feature, from a
 * matrix far larger than the caches, and half the bytes made it faster
 * (the sum stays in float, half.h).  Training embeds its prompts through
 * the same half rows, so training and routing agree.
 * Formats 1-3 differ only in the tokenising rule (word_cache.h): 3 splits
 * every valid UTF-8 prompt into words, 2 only ASCII prompts; format 1 has no
 * word cache and tokenises prompts whole.  All four are read, and an
 * embedder is saved in the version it was read in (1-3 keep their float
 * projection and its BLAS path), so that warm-started routers keep their
 * rule and their embeddings.
 * The loader checks every count against the bytes left before allocating,
 * and refuses a newer format, another tokenizer or feature scheme, a model
 * whose vocabulary hash differs, non-finite numbers and trailing bytes. */
#include "embed/embedder.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"
#include "base/vec.h"
#include "embed/spm.h"
#include "embed/svd.h"
#include "embed/tfidf.h"
#include "embed/word_cache.h"
#include "kernels/half.h"
#include "kernels/q8.h"

/* 5: as 4, the projection stored as int8 rows with a float scale each
 * (q8.h); 4: as 3, the projection stored as half; 3: valid UTF-8 prompts are
 * tokenised word by word (word_cache.h) and the section ends with the word
 * cache; 2: only ASCII prompts word by word; 1: whole prompts, no cache. */
#define EMBED_FORMAT_VERSION 5u
enum { STORE_INT8 = 1, STORE_HALF = 2 };   /* format 5's storage codes */
#define WORD_CACHE_MAX 200000
#define TOKENIZER_ID "sentencepiece " TR_SPM_VERSION " unigram"
#define FEATURE_SCHEME "piece-unigram+bigram;tf=1+ln(tf);idf=ln((1+n)/(1+df))+1;l2"
#define PIECE_SLACK 16

struct tr_embedder {
    tr_embed_params p;     /* as fitted; p.dim is the effective dimension */
    tr_spm *spm;
    tr_features *feat;
    size_t dim;
    float *V;              /* n_feat x dim, row-major (formats 1-3), or NULL */
    uint16_t *Vh;          /* the same as half (format 4), or NULL */
    int8_t *Vq;            /* the same as int8 rows (format 5), or NULL, */
    float *Vs;             /* ... times these n_feat row scales */
    float *S;              /* dim singular values */
    uint64_t vocab_hash;
    tr_word_cache *words;  /* memo of single-word encodings (format 2) */
    int rule;              /* tokenising rule TR_TOK_* (format 5 stores it; 3, 2, 1 imply it) */
    unsigned fmt;          /* the section version it is saved in: 5 when fitted */
    char *text_pool;       /* feature texts, NUL-separated */
    size_t *text_off;      /* n_feat offsets into text_pool */
};

void tr_embed_params_default(tr_embed_params *p)
{
    memset(p, 0, sizeof *p);
    p->dim = 256;
    p->vocab_size = 4000;
    p->min_df = 2;
    p->max_features = 50000;
    p->bigrams = 1;
    p->oversample = 16;
    p->power_iters = 4;
    p->seed = 42;
    p->threads = 0;
    p->projection = TR_PROJ_INT8;
}

static int check_params(const tr_embed_params *p, char *err, size_t errlen)
{
    if (p->dim < 1 || p->dim > 4096)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: dim %d not in [1, 4096]", p->dim);
    if (p->vocab_size < 8 || p->vocab_size > 1000000)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: vocab_size %d not in [8, 1000000]", p->vocab_size);
    if (p->min_df < 1)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: min_df %d below 1", p->min_df);
    if (p->max_features < 1)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: max_features %d below 1", p->max_features);
    if (p->bigrams != 0 && p->bigrams != 1)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: bigrams %d is not 0 or 1", p->bigrams);
    if (p->oversample < 0 || p->oversample > 1000 || p->power_iters < 0 || p->power_iters > 100)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: oversample %d / power_iters %d out of range",
                         p->oversample, p->power_iters);
    if (p->threads < 0)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: threads %d below 0", p->threads);
    /* TR_PROJ_FLOAT describes a loaded format 1-3 section; a fit writes int8 or half */
    if (p->projection != TR_PROJ_INT8 && p->projection != TR_PROJ_HALF)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: projection storage %d (want %d int8 or %d half)",
                         p->projection, TR_PROJ_INT8, TR_PROJ_HALF);
    return TR_OK;
}


static void progress(const tr_embed_params *p, const char *stage, double frac)
{
    if (p->progress) p->progress(p->progress_ctx, stage, frac);
}

static uint64_t vocab_hash(const tr_spm *sp)
{
    uint64_t h = TR_FNV1A64_OFFSET;
    int n = tr_spm_vocab_size(sp);
    for (int i = 0; i < n; i++) {
        const char *s = tr_spm_piece(sp, i);
        h = tr_fnv1a64_update(h, s, strlen(s) + 1);
    }
    return h;
}

/* Feature texts: "piece" or "piece piece", from the model's pieces. */
static int build_texts(tr_embedder *e)
{
    size_t n = e->feat->n_feat, total = 0;
    for (size_t f = 0; f < n; f++) {
        uint64_t k = e->feat->keys[f];
        int32_t b = tr_feat_key_second(k);
        total += strlen(tr_spm_piece(e->spm, tr_feat_key_first(k))) + 1;
        if (b >= 0) total += strlen(tr_spm_piece(e->spm, b)) + 1;
    }
    e->text_pool = tr_malloc(total ? total : 1);
    e->text_off = tr_mallocarray(n, sizeof *e->text_off);
    if (!e->text_pool || !e->text_off) return TR_ENOMEM;
    size_t at = 0;
    for (size_t f = 0; f < n; f++) {
        uint64_t k = e->feat->keys[f];
        int32_t b = tr_feat_key_second(k);
        const char *s = tr_spm_piece(e->spm, tr_feat_key_first(k));
        e->text_off[f] = at;
        size_t l = strlen(s);
        memcpy(e->text_pool + at, s, l);
        at += l;
        if (b >= 0) {
            const char *t = tr_spm_piece(e->spm, b);
            e->text_pool[at++] = ' ';
            l = strlen(t);
            memcpy(e->text_pool + at, t, l);
            at += l;
        }
        e->text_pool[at++] = '\0';
    }
    return TR_OK;
}

void tr_embedder_free(tr_embedder *e)
{
    if (!e) return;
    tr_spm_free(e->spm);
    tr_word_cache_free(e->words);
    tr_features_free(e->feat);
    tr_free(e->V); tr_free(e->Vh); tr_free(e->Vq); tr_free(e->Vs); tr_free(e->S);
    tr_free(e->text_pool); tr_free(e->text_off);
    tr_free(e);
}

/* ------------------------------------------------------------ tokenising */

typedef struct enc_job {
    const tr_embedder *e;
    const char *const *texts; const size_t *lens;
    int32_t *ids; const size_t *slot;   /* doc i's ids go to ids + slot[i] */
    size_t *count;                      /* pieces kept per doc */
    size_t i0, i1;
    int rc; char err[256];
} enc_job;

static void *enc_run(void *arg)
{
    enc_job *j = arg;
    for (size_t i = j->i0; i < j->i1 && j->rc == TR_OK; i++) {
        size_t cap = j->lens[i] + PIECE_SLACK, n;
        j->rc = tr_tokenize(j->e->spm, j->e->words, j->e->rule, j->texts[i], j->lens[i],
                            j->ids + j->slot[i], cap, &n, j->err, sizeof j->err);
        j->count[i] = n < cap ? n : cap;
        if (j->rc) tr_error_prefix(j->err, sizeof j->err, j->rc, "prompt %zu", i);
    }
    return NULL;
}

/* Encode n texts into one id array: *ids (doc i at off[i] .. off[i+1]).
 * Both tr_malloc'ed, owned by the caller. */
static int encode_all(const tr_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                      int threads, int32_t **ids_out, size_t **off_out, char *err, size_t errlen)
{
    int rc = TR_ENOMEM;
    size_t *slot = tr_mallocarray(n + 1, sizeof *slot);
    size_t *cnt = tr_mallocarray(n, sizeof *cnt);
    int32_t *ids = NULL;
    if (!slot || !cnt) goto oom;
    slot[0] = 0;
    for (size_t i = 0; i < n; i++) slot[i + 1] = slot[i] + lens[i] + PIECE_SLACK;
    ids = tr_mallocarray(slot[n], sizeof *ids);
    if (!ids) goto oom;
    threads = tr_workers(threads, n);
    enc_job jobs[TR_RUN_MAX_THREADS];
    for (int t = 0; t < threads; t++)
        jobs[t] = (enc_job){e, texts, lens, ids, slot, cnt, n * t / threads, n * (t + 1) / threads, TR_OK, ""};
    tr_run_workers(threads, enc_run, jobs, sizeof jobs[0]);
    for (int t = 0; t < threads; t++)
        if (jobs[t].rc != TR_OK) { rc = tr_errorf(err, errlen, jobs[t].rc, "%s", jobs[t].err); goto fail; }
    /* compact in place: slot i >= the compacted offset of doc i */
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memmove(ids + at, ids + slot[i], cnt[i] * sizeof *ids);
        slot[i] = at;
        at += cnt[i];
    }
    slot[n] = at;
    int32_t *shrunk = tr_realloc(ids, (at ? at : 1) * sizeof *ids);
    if (shrunk) ids = shrunk;
    tr_free(cnt);
    *ids_out = ids; *off_out = slot;
    return TR_OK;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder: out of memory tokenising %zu prompts", n);
fail:
    tr_free(slot); tr_free(cnt); tr_free(ids);
    return rc;
}

/* ------------------------------------------------------------------ fit */

int tr_embedder_fit_spm(const char *const *texts, const size_t *lens, size_t n,
                        const void *spm_model, size_t spm_len,
                        const tr_embed_params *p, tr_embedder **out,
                        char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!texts || !lens || !p || !out)
        return tr_errorf(err, errlen, TR_EINVAL, "embedder: no texts, params or output");
    int rc = check_params(p, err, errlen);
    if (rc) return rc;
    if (n < 2)
        return tr_errorf(err, errlen, TR_ETOOFEW, "embedder: %zu prompt(s); at least 2 are needed", n);
    int threads = tr_workers(p->threads, n);
    int32_t *ids = NULL;
    size_t *off = NULL;
    tr_csr A = {0};
    tr_embedder *e = tr_calloc(1, sizeof *e);
    if (!e) return tr_errorf(err, errlen, TR_ENOMEM, "embedder: out of memory");
    e->p = *p;
    e->p.progress = NULL;
    e->p.progress_ctx = NULL;

    progress(p, "tokenizer", 0);
    if (spm_model) {
        rc = tr_spm_load(spm_model, spm_len, &e->spm, err, errlen);
    } else {
        /* The trainer's thread count is pinned (not p->threads) so that a
         * fit is the same bytes on any machine and with any --threads. */
        tr_spm_train_params sp = {.vocab_size = p->vocab_size, .seed = p->seed, .threads = 2, .extra_flags = NULL};
        rc = tr_spm_train(texts, lens, n, &sp, &e->spm, NULL, err, errlen);
    }
    if (rc) goto fail;
    e->vocab_hash = vocab_hash(e->spm);
    e->rule = tr_word_rule_for(e->spm);
    e->fmt = EMBED_FORMAT_VERSION;
    rc = tr_word_cache_build(e->spm, e->rule, texts, lens, n, WORD_CACHE_MAX, &e->words, err, errlen);
    if (rc) goto fail;

    progress(p, "features", 0);
    rc = encode_all(e, texts, lens, n, threads, &ids, &off, err, errlen);
    if (rc) goto fail;
    rc = tr_features_fit(ids, off, n, p->min_df, (size_t)p->max_features, p->bigrams, &e->feat, err, errlen);
    if (rc) goto fail;
    rc = tr_features_transform(e->feat, ids, off, n, &A, err, errlen);
    if (rc) goto fail;
    tr_free(ids); ids = NULL;
    tr_free(off); off = NULL;

    progress(p, "projection", 0);
    tr_svd_params sv = {.k = p->dim, .oversample = p->oversample, .power_iters = p->power_iters,
                        .seed = p->seed, .threads = threads};
    int k = 0;
    rc = tr_rsvd(&A, &sv, &e->V, &e->S, &k, err, errlen);
    if (rc) goto fail;
    tr_csr_free(&A);
    /* formats 5 and 4: from here on the projection is its int8 or half
     * rounding, for the training prompts' embeddings as for routing */
    size_t nv = e->feat->n_feat * (size_t)k;
    if (p->projection == TR_PROJ_HALF) {
        e->Vh = tr_mallocarray(nv ? nv : 1, sizeof *e->Vh);
        if (!e->Vh) { rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder: out of memory"); goto fail; }
        tr_half_from_floats(e->V, nv, e->Vh);
    } else {
        e->Vq = tr_malloc_big(nv ? nv : 1);
        e->Vs = tr_mallocarray(e->feat->n_feat ? e->feat->n_feat : 1, sizeof *e->Vs);
        if (!e->Vq || !e->Vs) { rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder: out of memory"); goto fail; }
        tr_q8_quantize(e->V, e->feat->n_feat, (size_t)k, e->Vq, e->Vs);
    }
    tr_free(e->V);
    e->V = NULL;
    e->dim = (size_t)k;
    e->p.dim = k;
    e->p.vocab_size = tr_spm_vocab_size(e->spm);
    if (build_texts(e) != TR_OK) { rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder: out of memory"); goto fail; }
    progress(p, "projection", 1);
    *out = e;
    return TR_OK;
fail:
    tr_free(ids); tr_free(off);
    tr_csr_free(&A);
    tr_embedder_free(e);
    return rc;
}

int tr_embedder_fit(const char *const *texts, const size_t *lens, size_t n,
                    const tr_embed_params *p, tr_embedder **out,
                    char *err, size_t errlen)
{
    return tr_embedder_fit_spm(texts, lens, n, NULL, 0, p, out, err, errlen);
}

/* ------------------------------------------------------------ accessors */

size_t tr_embedder_dim(const tr_embedder *e) { return e ? e->dim : 0; }
int tr_embedder_vocab_size(const tr_embedder *e) { return e ? tr_spm_vocab_size(e->spm) : 0; }
int tr_embedder_rule(const tr_embedder *e) { return e ? e->rule : TR_TOK_WHOLE; }
const float *tr_embedder_singular_values(const tr_embedder *e) { return e ? e->S : NULL; }

float tr_embedder_kept_loo(const tr_embedder *e, const float *x, float kept)
{
    /* leverage h = sum_k c_k^2 / s_k^2 with c = sqrt(kept) x the projection;
     * the residual 1 - kept of a prompt left out grows by 1 / (1 - h)^2 */
    double h = 0;
    for (size_t k = 0; k < e->dim; k++)
        if (e->S[k] > 0) h += (double)x[k] * x[k] / ((double)e->S[k] * e->S[k]);
    h *= kept;
    if (!(h < 0.99)) h = 0.99;
    double loo = 1 - (1 - (double)kept) / ((1 - h) * (1 - h));
    return (float)(loo > 0 ? loo : 0);
}
const tr_embed_params *tr_embedder_params(const tr_embedder *e) { return e ? &e->p : NULL; }
size_t tr_embedder_feature_count(const tr_embedder *e) { return e ? e->feat->n_feat : 0; }

size_t tr_embedder_word_count(const tr_embedder *e) { return e ? tr_word_cache_count(e->words) : 0; }
size_t tr_embedder_word_cache_bytes(const tr_embedder *e) { return e ? tr_word_cache_bytes(e->words) : 0; }

const char *tr_embedder_feature_text(const tr_embedder *e, size_t f)
{
    if (!e || f >= e->feat->n_feat) return NULL;
    return e->text_pool + e->text_off[f];
}

/* ---------------------------------------------------------------- embed */

/* Scratch layout: ids[cap] | idx[2 cap + 1] | val[2 cap + 1], cap = len + 16. */
size_t tr_embedder_scratch_bytes(const tr_embedder *e, size_t len)
{
    (void)e;
    size_t cap = len + PIECE_SLACK, fl = tr_features_scratch_len(cap);
    return cap * sizeof(int32_t) + fl * sizeof(int32_t) + fl * sizeof(float);
}

/* The prompt's sparse TF-IDF vector inside scratch; *idx, *val point there. */
static int sparse_in_scratch(const tr_embedder *e, const char *text, size_t len,
                             void *scratch, size_t scratch_bytes,
                             int32_t **idx, float **val, size_t *nnz)
{
    if (!e || (!text && len) || !scratch || scratch_bytes < tr_embedder_scratch_bytes(e, len))
        return TR_EINVAL;
    size_t cap = len + PIECE_SLACK, fl = tr_features_scratch_len(cap), n = 0;
    int32_t *ids = scratch;
    int32_t *ix = ids + cap;
    float *v = (float *)(ix + fl);
    int rc = tr_tokenize(e->spm, e->words, e->rule, text, len, ids, cap, &n, NULL, 0);
    if (rc) return rc;
    if (n > cap) n = cap;
    tr_features_vectorize(e->feat, ids, n, ix, v, nnz);
    *idx = ix; *val = v;
    return TR_OK;
}

int tr_embedder_embed(const tr_embedder *e, const char *text, size_t len,
                      float *out, void *scratch, size_t scratch_bytes)
{
    return tr_embedder_embed_kept(e, text, len, out, NULL, scratch, scratch_bytes);
}

int tr_embedder_embed_kept(const tr_embedder *e, const char *text, size_t len,
                           float *out, float *kept, void *scratch, size_t scratch_bytes)
{
    int32_t *idx; float *val; size_t nnz;
    if (!out) return TR_EINVAL;
    int rc = sparse_in_scratch(e, text, len, scratch, scratch_bytes, &idx, &val, &nnz);
    if (rc) return rc;
    size_t d = e->dim;
    /* x = sum_z val[z] * V[idx[z]]: this is most of a route's arithmetic
     * and -O2 leaves the plain loop scalar, so q8.h's gathered sum for an
     * int8 projection, and one axpy per feature for the older storages
     * (half.h's for half, BLAS's for float). */
    memset(out, 0, d * sizeof *out);
    /* The rows are scattered over a projection larger than the caches, so
     * the rows a few features ahead are fetched while this one is added
     * (q8.c does the same for int8 rows); every other line: the
     * adjacent-line prefetcher brings its pair. */
    enum { AHEAD = 4 };
    if (e->Vq) {
        /* each feature's weight times its row's scale, in place: val is
         * this call's scratch */
        for (size_t z = 0; z < nnz; z++) val[z] = val[z] * e->Vs[idx[z]];
        tr_q8_gather_acc(nnz, idx, val, e->Vq, d, out);
    } else if (e->Vh) {
        const tr_half_ops *ops = tr_half_best();
        for (size_t z = 0; z < nnz; z++) {
            if (z + AHEAD < nnz) {
                const uint16_t *next = e->Vh + (size_t)idx[z + AHEAD] * d;
                for (size_t c = 0; c < d; c += 64) __builtin_prefetch(next + c);
            }
            ops->axpy(d, val[z], e->Vh + (size_t)idx[z] * d, out);
        }
    } else {
        for (size_t z = 0; z < nnz; z++) {
            if (z + AHEAD < nnz) {
                const float *next = e->V + (size_t)idx[z + AHEAD] * d;
                for (size_t c = 0; c < d; c += 32) __builtin_prefetch(next + c);
            }
            cblas_saxpy((blasint)d, val[z], e->V + (size_t)idx[z] * d, 1, out, 1);
        }
    }
    /* the TF-IDF vector has unit norm and the projection's columns are
     * orthonormal, so the projection's squared norm is the share of the
     * prompt the training corpus's top directions explain */
    double n2 = tr_vec_unit_fast(out, out, d);
    if (kept) *kept = (float)n2;
    return TR_OK;
}

int tr_embedder_sparse(const tr_embedder *e, const char *text, size_t len,
                       int32_t *idx, float *val, size_t cap, size_t *nnz,
                       void *scratch, size_t scratch_bytes)
{
    int32_t *si; float *sv; size_t n;
    if (!nnz || (cap && (!idx || !val))) return TR_EINVAL;
    *nnz = 0;
    int rc = sparse_in_scratch(e, text, len, scratch, scratch_bytes, &si, &sv, &n);
    if (rc) return rc;
    if (n <= cap) {
        memcpy(idx, si, n * sizeof *idx);
        memcpy(val, sv, n * sizeof *val);
        *nnz = n;
        return TR_OK;
    }
    /* Keep the cap largest weights (lower id first on ties), still in id
     * order: bisect for the threshold t with count(w > t) < cap <= count(w >= t). */
    float lo = 0, hi = 1.0f;   /* weights are in (0, 1] after L2 normalisation */
    for (int it = 0; it < 40; it++) {
        float mid = 0.5f * (lo + hi);
        size_t c = 0;
        for (size_t z = 0; z < n; z++) c += sv[z] >= mid;
        if (c >= cap) lo = mid; else hi = mid;
    }
    size_t above = 0;
    for (size_t z = 0; z < n; z++) above += sv[z] > lo;
    size_t ties = cap > above ? cap - above : 0, k = 0;
    for (size_t z = 0; z < n && k < cap; z++) {
        if (sv[z] > lo || (sv[z] == lo && ties && ties--)) { idx[k] = si[z]; val[k] = sv[z]; k++; }
    }
    *nnz = k;
    return TR_OK;
}

/* ---------------------------------------------------------------- batch */

typedef struct batch_job {
    const tr_embedder *e;
    const char *const *texts; const size_t *lens;
    float *out, *kept; size_t i0, i1;
    int rc; size_t bad;
} batch_job;

static void *batch_run(void *arg)
{
    batch_job *j = arg;
    size_t maxlen = 0;
    for (size_t i = j->i0; i < j->i1; i++) if (j->lens[i] > maxlen) maxlen = j->lens[i];
    size_t sb = tr_embedder_scratch_bytes(j->e, maxlen);
    void *scratch = tr_malloc(sb);
    if (!scratch) { j->rc = TR_ENOMEM; j->bad = j->i0; return NULL; }
    for (size_t i = j->i0; i < j->i1; i++) {
        int rc = tr_embedder_embed_kept(j->e, j->texts[i], j->lens[i], j->out + i * j->e->dim,
                                        j->kept ? j->kept + i : NULL, scratch, sb);
        if (rc) { j->rc = rc; j->bad = i; break; }
    }
    tr_free(scratch);
    return NULL;
}

int tr_embedder_embed_batch(const tr_embedder *e, const char *const *texts,
                            const size_t *lens, size_t n, float *out,
                            int threads, char *err, size_t errlen)
{
    return tr_embedder_embed_batch_kept(e, texts, lens, n, out, NULL, threads, err, errlen);
}

int tr_embedder_embed_batch_kept(const tr_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                                 float *out, float *kept, int threads, char *err, size_t errlen)
{
    if (!e || (n && (!texts || !lens || !out)) || threads < 0)
        return tr_errorf(err, errlen, TR_EINVAL, "embed batch: bad arguments");
    if (n == 0) return TR_OK;
    threads = tr_workers(threads, n);
    batch_job jobs[TR_RUN_MAX_THREADS];
    for (int t = 0; t < threads; t++)
        jobs[t] = (batch_job){e, texts, lens, out, kept, n * t / threads, n * (t + 1) / threads, TR_OK, 0};
    tr_run_workers(threads, batch_run, jobs, sizeof jobs[0]);
    for (int t = 0; t < threads; t++)
        if (jobs[t].rc != TR_OK)
            return tr_errorf(err, errlen, jobs[t].rc, "embedding prompt %zu: %s", jobs[t].bad,
                             tr_strerror(jobs[t].rc));
    return TR_OK;
}

/* ------------------------------------------------------- save and load */

int tr_embedder_save(const tr_embedder *e, tr_buf *b)
{
    if (!e || !b) return TR_EINVAL;
    const void *model; size_t mlen;
    tr_spm_serialize(e->spm, &model, &mlen);
    tr_buf_u32(b, e->fmt);
    tr_buf_str(b, TOKENIZER_ID);
    tr_buf_str(b, FEATURE_SCHEME);
    tr_buf_u64(b, e->vocab_hash);
    int32_t pv[7] = {(int32_t)e->dim, e->p.vocab_size, e->p.min_df, e->p.max_features,
                     e->p.bigrams, e->p.oversample, e->p.power_iters};
    tr_buf_i32s(b, pv, 7);
    tr_buf_u64(b, e->p.seed);
    tr_buf_bytes(b, model, mlen);
    tr_features_save(e->feat, b);
    tr_buf_u32(b, (uint32_t)e->dim);
    tr_buf_f32s(b, e->S, e->dim);
    if (e->fmt >= 5) tr_buf_u32(b, e->Vq ? STORE_INT8 : STORE_HALF);
    if (e->Vq) {
        tr_buf_f32s(b, e->Vs, e->feat->n_feat);
        tr_buf_put(b, e->Vq, e->feat->n_feat * e->dim);
    } else if (e->Vh) {
        tr_buf_u16s(b, e->Vh, e->feat->n_feat * e->dim);
    } else tr_buf_f32s(b, e->V, e->feat->n_feat * e->dim);
    if (e->fmt >= 5) tr_buf_u32(b, (uint32_t)e->rule);
    if (e->rule != TR_TOK_WHOLE) tr_word_cache_save(e->words, b);
    return tr_buf_ok(b);
}

static int expect_str(tr_cursor *c, const char *want, const char *what, int code, char *err, size_t errlen)
{
    char *s = NULL;
    tr_cursor_field(c, what);
    if (tr_get_str(c, &s) != TR_OK)
        return tr_errorf(err, errlen, c->err, "embedder section: %s: %s", what,
                         c->err == TR_ENOMEM ? "out of memory" : "truncated or invalid");
    int ok = s && !strcmp(s, want);
    int rc = ok ? TR_OK : tr_errorf(err, errlen, code, "embedder section: %s is '%s'; this build reads '%s'",
                                    what, s ? s : "(null)", want);
    tr_free(s);
    return rc;
}

int tr_embedder_load(const void *data, size_t len, tr_embedder **out, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!data || !out) return tr_errorf(err, errlen, TR_EINVAL, "embedder section: no bytes");
    tr_cursor c;
    tr_cursor_init(&c, data, len);
    uint32_t ver = 0;
    tr_cursor_field(&c, "format version");
    if (tr_get_u32(&c, &ver) != TR_OK)
        return tr_errorf(err, errlen, TR_ETRUNC, "embedder section: truncated (%zu bytes)", len);
    if (ver > EMBED_FORMAT_VERSION || ver == 0)
        return tr_errorf(err, errlen, ver ? TR_EVERSION : TR_EFORMAT,
                         "embedder section: format version %u; this build reads 1 to %u",
                         ver, EMBED_FORMAT_VERSION);
    int rc = expect_str(&c, TOKENIZER_ID, "tokenizer", TR_EVERSION, err, errlen);
    if (rc) return rc;
    rc = expect_str(&c, FEATURE_SCHEME, "feature scheme", TR_EVERSION, err, errlen);
    if (rc) return rc;
    uint64_t hash = 0, seed = 0;
    int32_t pv[7] = {0};
    const void *model = NULL; size_t mlen = 0;
    tr_cursor_field(&c, "vocabulary hash"); tr_get_u64(&c, &hash);
    tr_cursor_field(&c, "params"); tr_get_i32s(&c, pv, 7);
    tr_cursor_field(&c, "seed"); tr_get_u64(&c, &seed);
    tr_cursor_field(&c, "sentencepiece model"); tr_get_bytes(&c, &model, &mlen);
    if (c.err)
        return tr_errorf(err, errlen, c.err, "embedder section: %s: truncated or invalid", c.what);

    tr_embedder *e = tr_calloc(1, sizeof *e);
    if (!e) return tr_errorf(err, errlen, TR_ENOMEM, "embedder section: out of memory");
    tr_embed_params_default(&e->p);
    e->p.dim = pv[0]; e->p.vocab_size = pv[1]; e->p.min_df = pv[2]; e->p.max_features = pv[3];
    e->p.bigrams = pv[4]; e->p.oversample = pv[5]; e->p.power_iters = pv[6]; e->p.seed = seed;
    rc = check_params(&e->p, err, errlen);
    if (rc) { rc = tr_error_prefix(err, errlen, TR_EFORMAT, "embedder section: params"); goto fail; }
    rc = tr_spm_load(model, mlen, &e->spm, err, errlen);
    if (rc) { tr_error_prefix(err, errlen, rc, "embedder section"); goto fail; }
    e->vocab_hash = vocab_hash(e->spm);
    if (e->vocab_hash != hash) {
        rc = tr_errorf(err, errlen, TR_EFORMAT,
                       "embedder section: the SentencePiece model's vocabulary hash %016llx is not the stored %016llx",
                       (unsigned long long)e->vocab_hash, (unsigned long long)hash);
        goto fail;
    }
    rc = tr_features_load(&c, tr_spm_vocab_size(e->spm), &e->feat, err, errlen);
    if (rc) goto fail;
    if (e->feat->bigrams != e->p.bigrams) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: bigrams %d in params, %d in features",
                       e->p.bigrams, e->feat->bigrams);
        goto fail;
    }
    uint32_t dim = 0;
    tr_cursor_field(&c, "dim");
    tr_get_u32(&c, &dim);
    if (c.err) { rc = tr_errorf(err, errlen, c.err, "embedder section: dim: truncated"); goto fail; }
    if (dim == 0 || dim != (uint32_t)e->p.dim) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: dim %u (params say %d)", dim, e->p.dim);
        goto fail;
    }
    e->dim = dim;
    e->fmt = ver;
    uint32_t store = ver == 4 ? STORE_HALF : 0;
    if (tr_get_f32s_alloc(&c, dim, &e->S)) {
        rc = tr_errorf(err, errlen, c.err, "embedder section: singular values: %s", tr_strerror(c.err));
        goto fail;
    }
    if (ver >= 5) {
        tr_cursor_field(&c, "projection storage");
        if (tr_get_u32(&c, &store)) { rc = tr_errorf(err, errlen, c.err, "embedder section: projection storage: truncated"); goto fail; }
        if (store != STORE_INT8 && store != STORE_HALF) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: projection storage %u (want %d int8 or %d half)",
                           store, STORE_INT8, STORE_HALF);
            goto fail;
        }
    }
    size_t nv = e->feat->n_feat * (size_t)dim, vbytes = store == STORE_INT8 ? 1 : store == STORE_HALF ? 2 : sizeof(float);
    uint64_t scale_bytes = store == STORE_INT8 ? (uint64_t)e->feat->n_feat * sizeof(float) : 0;
    if (tr_cursor_check_count(&c, scale_bytes + (uint64_t)nv * vbytes, 1, "projection") != TR_OK) {
        rc = tr_errorf(err, errlen, TR_EFORMAT,
                       "embedder section: a %zu x %u projection does not fit in the %zu bytes left",
                       e->feat->n_feat, dim, c.left);
        goto fail;
    }
    e->p.projection = store == STORE_INT8 ? TR_PROJ_INT8 : store == STORE_HALF ? TR_PROJ_HALF : TR_PROJ_FLOAT;
    if (store == STORE_INT8 ? tr_get_f32s_alloc(&c, e->feat->n_feat, &e->Vs) || tr_get_i8s_alloc(&c, nv, &e->Vq)
        : store == STORE_HALF ? tr_get_u16s_alloc(&c, nv, &e->Vh) : tr_get_f32s_alloc(&c, nv, &e->V)) {
        rc = tr_errorf(err, errlen, c.err, "embedder section: projection: %s", tr_strerror(c.err));
        goto fail;
    }
    e->rule = ver >= 3 ? TR_TOK_UTF8_WORDS : ver == 2 ? TR_TOK_ASCII_WORDS : TR_TOK_WHOLE;
    if (ver >= 5) {
        uint32_t rule = 0;
        tr_cursor_field(&c, "tokenising rule");
        if (tr_get_u32(&c, &rule)) { rc = tr_errorf(err, errlen, c.err, "embedder section: tokenising rule: truncated"); goto fail; }
        /* the digit- and script-run rules hold only for a vocabulary whose pieces never cross their cuts */
        if (rule > TR_TOK_SCRIPT_RUNS || !tr_word_rule_fits(e->spm, (int)rule)) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: tokenising rule %u does not fit this vocabulary (want %d; %d when every digit is a piece of its own; %d when also no piece holds an ASCII letter and punctuation)",
                           rule, TR_TOK_UTF8_WORDS, TR_TOK_DIGIT_RUNS, TR_TOK_SCRIPT_RUNS);
            goto fail;
        }
        e->rule = (int)rule;
    }
    if (e->rule != TR_TOK_WHOLE && (rc = tr_word_cache_load(&c, tr_spm_vocab_size(e->spm), e->rule, &e->words, err, errlen))) {
        tr_error_prefix(err, errlen, rc, "embedder section");
        goto fail;
    }
    if (c.left) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: %zu unexpected bytes at the end", c.left);
        goto fail;
    }
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(e->S[i]) || e->S[i] < 0) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: singular value %zu is %g", i, (double)e->S[i]);
            goto fail;
        }
    for (size_t i = 0; e->Vs && i < e->feat->n_feat; i++)
        if (!isfinite(e->Vs[i]) || e->Vs[i] < 0) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: projection row %zu's scale is %g",
                           i, (double)e->Vs[i]);
            goto fail;
        }
    for (size_t i = 0; !e->Vq && i < nv; i++)
        if (e->Vh ? tr_half_nonfinite(e->Vh[i]) : !isfinite(e->V[i])) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "embedder section: projection[%zu][%zu] is %g",
                           i / dim, i % dim, e->Vh ? (double)tr_half_to_float(e->Vh[i]) : (double)e->V[i]);
            goto fail;
        }
    if (build_texts(e) != TR_OK) { rc = tr_errorf(err, errlen, TR_ENOMEM, "embedder section: out of memory"); goto fail; }
    *out = e;
    return TR_OK;
fail:
    tr_embedder_free(e);
    return rc;
}

/* --------------------------------------------------- caller embeddings */

int tr_embedding_normalize(float *x, size_t n, size_t d, size_t *bad_row,
                           char *err, size_t errlen)
{
    if (n && (!x || d == 0)) return tr_errorf(err, errlen, TR_EINVAL, "embedding: dimension 0");
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * d;
        for (size_t c = 0; c < d; c++) {
            if (!isfinite(r[c])) {
                if (bad_row) *bad_row = i;
                return tr_errorf(err, errlen, TR_EINVAL, "embedding %zu: component %zu is %s",
                                 i, c, isnan(r[c]) ? "NaN" : "infinite");
            }
        }
        double ss = tr_vec_sumsq(r, d);
        if (!(ss > 0) || !isfinite(ss)) {
            if (bad_row) *bad_row = i;
            return tr_errorf(err, errlen, TR_EINVAL, "embedding %zu: %s vector cannot be unit-normalised",
                             i, ss > 0 ? "an overflowing" : "a zero");
        }
        tr_vec_unit(r, r, d);
    }
    return TR_OK;
}

long tr_embedder_piece_count(const tr_embedder *e, const char *text, size_t len)
{
    size_t count = 0;
    if (!e || !e->spm || tr_spm_encode(e->spm, text, len, NULL, 0, &count, NULL, 0)) return -1;
    return (long)count;
}
