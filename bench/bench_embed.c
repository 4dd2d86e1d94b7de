/* Embedder benchmark on ../shared/data/mmlu-pro.jsonl (or argv's file):
 * fit time by stage (SentencePiece, features, SVD) on the training
 * split, embedding throughput (1 thread, one prompt at a time; and the batch
 * call on N threads), peak RSS, and embedding quality: for each test prompt
 * the share of its 10 nearest training prompts (cosine) with its `task`
 * label, for our embedding and for a plain word TF-IDF (lowercased \w+
 * tokens, sublinear tf, smooth idf, L2; no SentencePiece, no SVD) computed
 * here.  Skips with a message when the data file is absent.
 *
 *   build/bench/bench_embed [DATA.jsonl] [--dim D --vocab V --min-df N
 *       --bigrams 0|1 --max-features F --power-iters Q --threads T --no-speed --no-plain]
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cblas.h>

#include "base/util.h"
#include "data/dataset.h"
#include "embed/embedder.h"

extern char *openblas_get_config(void);

#define K 10

static double stage_t[4];
static void on_stage(void *ctx, const char *stage, double frac)
{
    (void)ctx; (void)frac;
    int s = !strcmp(stage, "tokenizer") ? 0 : !strcmp(stage, "features") ? 1 : 2;
    if (frac == 0 && stage_t[s] == 0) stage_t[s] = tr_now();
    if (s == 2 && frac == 1) stage_t[3] = tr_now();
}

/* For each test row (q x d), the share of its K nearest train rows (t x d)
 * sharing its label. */
static double knn_agree(const float *Q, size_t nq, const float *T, size_t nt, size_t d,
                        char **qlab, char **tlab)
{
    size_t blk = 256, hit = 0, tot = 0;
    float *sim = malloc(blk * nt * sizeof *sim);
    for (size_t q0 = 0; q0 < nq; q0 += blk) {
        size_t b = nq - q0 < blk ? nq - q0 : blk;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)nt, (int)d, 1.0f,
                    Q + q0 * d, (int)d, T, (int)d, 0.0f, sim, (int)nt);
        for (size_t i = 0; i < b; i++) {
            float best[K]; size_t who[K]; int have = 0;
            const float *s = sim + i * nt;
            for (size_t j = 0; j < nt; j++) {
                if (have == K && s[j] <= best[K - 1]) continue;
                int k = have < K ? have++ : K - 1;
                while (k > 0 && best[k - 1] < s[j]) { best[k] = best[k - 1]; who[k] = who[k - 1]; k--; }
                best[k] = s[j]; who[k] = j;
            }
            for (int k = 0; k < have; k++) hit += !strcmp(qlab[q0 + i], tlab[who[k]]);
            tot += have;
        }
    }
    free(sim);
    return (double)hit / (double)tot;
}

/* ---- plain word TF-IDF baseline ---- */
typedef struct wmap { char **w; size_t *df; size_t cap, n; } wmap;
static uint64_t h64(const char *s, size_t n) { return tr_fnv1a64(s, n); }
static long wfind(wmap *m, const char *s, size_t n, int add)
{
    size_t h = h64(s, n) & (m->cap - 1);
    while (m->w[h]) {
        if (strlen(m->w[h]) == n && !memcmp(m->w[h], s, n)) return (long)h;
        h = (h + 1) & (m->cap - 1);
    }
    if (!add) return -1;
    m->w[h] = strndup(s, n); m->n++;
    return (long)h;
}
static int isw(unsigned char c) { return isalnum(c) || c == '_' || c >= 0x80; }

/* Sparse doc: slot ids (into the map) and weights. */
typedef struct sdoc { size_t n; long *id; float *w; } sdoc;

static sdoc vec_doc(wmap *m, const char *s, size_t len, int add, double *idf)
{
    char *low = malloc(len + 1);
    for (size_t i = 0; i < len; i++) low[i] = (char)tolower((unsigned char)s[i]);
    long *ids = malloc((len + 1) * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (!isw((unsigned char)low[i])) { i++; continue; }
        size_t j = i;
        while (j < len && isw((unsigned char)low[j])) j++;
        long id = wfind(m, low + i, j - i, add);
        if (id >= 0) ids[k++] = id;
        i = j;
    }
    free(low);
    /* unique with counts */
    for (size_t a = 1; a < k; a++) { long v = ids[a]; size_t b = a; while (b > 0 && ids[b - 1] > v) { ids[b] = ids[b - 1]; b--; } ids[b] = v; }
    sdoc d = {0, malloc((k + 1) * sizeof(long)), malloc((k + 1) * sizeof(float))};
    for (size_t a = 0; a < k;) {
        size_t b = a;
        while (b < k && ids[b] == ids[a]) b++;
        d.id[d.n] = ids[a];
        d.w[d.n] = idf ? (float)((1 + log((double)(b - a))) * idf[ids[a]]) : 1.0f;
        d.n++;
        a = b;
    }
    free(ids);
    if (idf) {
        double ss = 0;
        for (size_t a = 0; a < d.n; a++) ss += d.w[a] * d.w[a];
        for (size_t a = 0; a < d.n; a++) d.w[a] = ss > 0 ? (float)(d.w[a] / sqrt(ss)) : 0;
    }
    return d;
}

static double plain_tfidf(char **tr, size_t *trl, size_t nt, char **te, size_t *tel, size_t nq,
                          char **qlab, char **tlab, size_t *nwords)
{
    wmap m = {calloc(1 << 22, sizeof(char *)), NULL, 1 << 22, 0};
    double *idf = calloc(m.cap, sizeof *idf);
    size_t *df = calloc(m.cap, sizeof *df);
    for (size_t i = 0; i < nt; i++) {
        sdoc d = vec_doc(&m, tr[i], trl[i], 1, NULL);
        for (size_t a = 0; a < d.n; a++) df[d.id[a]]++;
        free(d.id); free(d.w);
    }
    for (size_t h = 0; h < m.cap; h++) if (df[h]) idf[h] = log((1.0 + nt) / (1.0 + df[h])) + 1;
    /* inverted index of the training docs */
    size_t *ptr = calloc(m.cap + 1, sizeof *ptr);
    sdoc *docs = malloc(nt * sizeof *docs);
    for (size_t i = 0; i < nt; i++) {
        docs[i] = vec_doc(&m, tr[i], trl[i], 0, idf);
        for (size_t a = 0; a < docs[i].n; a++) ptr[docs[i].id[a] + 1]++;
    }
    for (size_t h = 0; h < m.cap; h++) ptr[h + 1] += ptr[h];
    size_t *fill = malloc((m.cap + 1) * sizeof *fill);
    memcpy(fill, ptr, (m.cap + 1) * sizeof *fill);
    uint32_t *pd = malloc(ptr[m.cap] * sizeof *pd);
    float *pw = malloc(ptr[m.cap] * sizeof *pw);
    for (size_t i = 0; i < nt; i++)
        for (size_t a = 0; a < docs[i].n; a++) { size_t at = fill[docs[i].id[a]]++; pd[at] = (uint32_t)i; pw[at] = docs[i].w[a]; }
    float *score = calloc(nt, sizeof *score);
    size_t hit = 0, tot = 0;
    for (size_t q = 0; q < nq; q++) {
        sdoc d = vec_doc(&m, te[q], tel[q], 0, idf);
        memset(score, 0, nt * sizeof *score);
        for (size_t a = 0; a < d.n; a++)
            for (size_t z = ptr[d.id[a]]; z < ptr[d.id[a] + 1]; z++) score[pd[z]] += d.w[a] * pw[z];
        float best[K]; size_t who[K]; int have = 0;
        for (size_t j = 0; j < nt; j++) {
            if (have == K && score[j] <= best[K - 1]) continue;
            int k = have < K ? have++ : K - 1;
            while (k > 0 && best[k - 1] < score[j]) { best[k] = best[k - 1]; who[k] = who[k - 1]; k--; }
            best[k] = score[j]; who[k] = j;
        }
        for (int k = 0; k < have; k++) hit += !strcmp(qlab[q], tlab[who[k]]);
        tot += have;
        free(d.id); free(d.w);
    }
    *nwords = m.n;
    for (size_t i = 0; i < nt; i++) { free(docs[i].id); free(docs[i].w); }
    for (size_t h = 0; h < m.cap; h++) free(m.w[h]);
    free(docs); free(m.w); free(idf); free(df); free(ptr); free(fill); free(pd); free(pw); free(score);
    return (double)hit / (double)tot;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    tr_embed_params p;
    tr_embed_params_default(&p);
    p.threads = 2;
    int speed = 1, plain = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dim") && i + 1 < argc) p.dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) p.vocab_size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-df") && i + 1 < argc) p.min_df = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bigrams") && i + 1 < argc) p.bigrams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-features") && i + 1 < argc) p.max_features = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--power-iters") && i + 1 < argc) p.power_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--oversample") && i + 1 < argc) p.oversample = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) p.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-speed")) speed = 0;
        else if (!strcmp(argv[i], "--no-plain")) plain = 0;
        else path = argv[i];
    }
    if (!path) path = "../shared/data/mmlu-pro.jsonl";
    FILE *probe = fopen(path, "r");
    if (!probe) { printf("bench_embed: %s not found: skipped\n", path); return 0; }
    fclose(probe);

    char err[1024];
    tr_dataset *ds = NULL;
    if (tr_dataset_load(path, NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    size_t n = ds->n, nt = 0, nq = 0;
    char **tr = malloc(n * sizeof *tr), **te = malloc(n * sizeof *te);
    size_t *trl = malloc(n * sizeof *trl), *tel = malloc(n * sizeof *tel);
    char **tlab = malloc(n * sizeof *tlab), **qlab = malloc(n * sizeof *qlab);
    for (size_t i = 0; i < n; i++) {
        tr_record *r = &ds->rec[i];
        if (!r->is_test) { tr[nt] = r->prompt; trl[nt] = r->prompt_len; tlab[nt++] = r->task ? r->task : ""; }
        else if (r->task) { te[nq] = r->prompt; tel[nq] = r->prompt_len; qlab[nq++] = r->task; }
    }
    FILE *g = popen("git rev-parse --short HEAD 2>/dev/null", "r");
    char commit[64] = "unknown";
    if (g) { if (fgets(commit, sizeof commit, g)) commit[strcspn(commit, "\n")] = 0; pclose(g); }
    printf("data %s: %zu train, %zu test with a task label\n", path, nt, nq);
    printf("commit %s, threads %d, openblas %s\n", commit, p.threads, openblas_get_config());
    printf("params: dim %d vocab %d min_df %d bigrams %d max_features %d oversample %d power_iters %d seed %llu\n",
           p.dim, p.vocab_size, p.min_df, p.bigrams, p.max_features, p.oversample, p.power_iters,
           (unsigned long long)p.seed);

    p.progress = on_stage;
    tr_embedder *e = NULL;
    double t0 = tr_now();
    if (tr_embedder_fit((const char *const *)tr, trl, nt, &p, &e, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    double t1 = tr_now();
    size_t d = tr_embedder_dim(e);
    printf("fit: %.2f s total (spm %.2f, features %.2f, svd %.2f); vocab %d, features %zu, dim %zu\n",
           t1 - t0, stage_t[1] - stage_t[0], stage_t[2] - stage_t[1], stage_t[3] - stage_t[2],
           tr_embedder_vocab_size(e), tr_embedder_feature_count(e), d);

    float *T = malloc(nt * d * sizeof *T), *Q = malloc(nq * d * sizeof *Q);
    double t2 = tr_now();
    tr_embedder_embed_batch(e, (const char *const *)tr, trl, nt, T, p.threads, NULL, 0);
    double t3 = tr_now();
    tr_embedder_embed_batch(e, (const char *const *)te, tel, nq, Q, p.threads, NULL, 0);
    if (speed) {
        size_t maxl = 0, bytes = 0;
        for (size_t i = 0; i < nq; i++) { if (tel[i] > maxl) maxl = tel[i]; bytes += tel[i]; }
        size_t sb = tr_embedder_scratch_bytes(e, maxl);
        void *scr = malloc(sb);
        float *o = malloc(d * sizeof *o);
        for (size_t i = 0; i < 200 && i < nq; i++) tr_embedder_embed(e, te[i], tel[i], o, scr, sb); /* warm-up */
        double reps[3];
        for (int r = 0; r < 3; r++) {
            double a = tr_now();
            for (size_t i = 0; i < nq; i++) tr_embedder_embed(e, te[i], tel[i], o, scr, sb);
            reps[r] = nq / (tr_now() - a);
        }
        double mx = fmax(reps[0], fmax(reps[1], reps[2])), mn = fmin(reps[0], fmin(reps[1], reps[2]));
        double med = reps[0] + reps[1] + reps[2] - mx - mn;
        printf("embed 1 thread: %.0f prompts/s median of 3 (min %.0f, max %.0f), mean prompt %zu bytes\n",
               med, mn, mx, bytes / (nq ? nq : 1));
        printf("embed batch %d threads: %.0f prompts/s (%zu training prompts)\n", p.threads, nt / (t3 - t2), nt);
        free(scr); free(o);
    }
    double ours = knn_agree(Q, nq, T, nt, d, qlab, tlab);
    printf("quality: %d-NN task agreement, ours %.4f\n", K, ours);
    if (plain) {
        size_t nw;
        double pl = plain_tfidf(tr, trl, nt, te, tel, nq, qlab, tlab, &nw);
        printf("quality: %d-NN task agreement, plain word TF-IDF %.4f (%zu words)\n", K, pl, nw);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
    tr_embedder_free(e);
    free(T); free(Q); free(tr); free(te); free(trl); free(tel); free(tlab); free(qlab);
    tr_dataset_free(ds);
    return 0;
}
