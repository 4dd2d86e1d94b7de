/* The semantic answer cache (server/answer_cache.c), measured in-process.
 *
 *   bench_cache overhead ROUTER.trm DATA.jsonl [ENTRIES]
 *       A cache filled with ENTRIES [100000] embeddings (the data's prompts,
 *       then random unit vectors), then every prompt routed with and
 *       without a look-up that misses, side by side in one run: the
 *       look-up's cost per request at that size, and the route's.
 *   bench_cache trace ROUTER.trm TRACE.jsonl
 *       Replays a traffic trace ({"prompt", "source", "kind"} per line,
 *       bench/cache_trace.py) through a cache at each similarity threshold:
 *       hits by kind of request, and wrong hits (a hit whose stored prompt
 *       came from another source question, hence another reference answer).
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/cache_index.c"
#include "server/answer_cache.c"
#include "base/util.h"
#include "data/dataset.h"

/* This thread's CPU seconds: on a shared machine, waiting for a core is
 * not the cache's cost. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char **v = NULL, *line = NULL;
    size_t cap = 0, lc = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &lc, f)) > 0) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            v = realloc(v, cap * sizeof *v);
        }
        v[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return v;
}

static void rand_unit(float *x, size_t d, uint64_t *s)
{
    double n = 0;
    for (size_t j = 0; j < d; j++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[j] = (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
        n += (double)x[j] * x[j];
    }
    for (size_t j = 0; j < d; j++) x[j] = (float)(x[j] / sqrt(n));
}

/* base (unit) moved by eps times a random unit vector (noise: scratch),
 * made unit again, into x; its cosine with base. */
static double moved(const float *base, float eps, float *noise, float *x, size_t d, uint64_t *seed)
{
    rand_unit(noise, d, seed);
    double nn = 0, cs = 0;
    for (size_t j = 0; j < d; j++) {
        x[j] = base[j] + eps * noise[j];
        nn += (double)x[j] * x[j];
    }
    for (size_t j = 0; j < d; j++) {
        x[j] = (float)(x[j] / sqrt(nn));
        cs += (double)x[j] * base[j];
    }
    return cs;
}

static int overhead(tr_router *r, const char *data, size_t entries)
{
    tr_dataset *ds = NULL;
    char err[512];
    if (tr_dataset_load(data, NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    tr_scratch *sc = NULL;
    tr_scratch_new(r, &sc);
    size_t d = tr_router_dim(r), n = ds->n;
    tr_cache_config cfg;
    tr_cache_config_default(&cfg, entries);
    tr_answer_cache *c = NULL;
    if (tr_answer_cache_new(&cfg, d, &c, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    float *x = malloc(d * sizeof *x), *noise = malloc(d * sizeof *noise);
    size_t half = n / 2;
    float *real = malloc(half * d * sizeof *real);
    uint64_t seed = 7;
    for (size_t i = 0; i < half; i++) {
        tr_decision dec;
        if (tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sc, &dec)) return 1;
        memcpy(real + i * d, dec.embedding, d * sizeof *real);
    }
    double t0 = tr_now();
    /* the first half of the prompts stored, then the same moved off by
     * noise (cosine about 0.8 with their prompt: the neighbourhoods real
     * traffic fills, yet no hit): the second half of the prompts misses */
    for (size_t i = 0; i < entries; i++) {
        const float *base = real + (i % half) * d;
        if (i < half) memcpy(x, base, d * sizeof *x);
        else moved(base, 0.75f, noise, x, d, &seed);
        tr_cache_key k = {1, (uint64_t)i * 2654435761u, x, d};
        tr_answer_cache_put(c, &k, 0, "{\"answer\":1}", 12, "m", 1e-4, err, sizeof err);
    }
    double fill = tr_now() - t0;
    size_t lo = half, cnt = n - lo;
    /* the missing prompts' embeddings, for look-ups back to back */
    float *miss = malloc(cnt * d * sizeof *miss);
    uint64_t *mhash = malloc(cnt * sizeof *mhash);
    for (size_t i = lo; i < n; i++) {
        tr_decision dec;
        tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sc, &dec);
        memcpy(miss + (i - lo) * d, dec.embedding, d * sizeof *miss);
        mhash[i - lo] = tr_cache_prompt_hash(ds->rec[i].prompt, ds->rec[i].prompt_len);
    }
    double t_route = 0, t_both = 0, t_look = 0;
    size_t hits = 0;
    for (int rep = 0; rep < 3; rep++) {
        /* alternate the arms so drift in machine load hits each alike */
        double a = cpu_now();
        for (size_t i = lo; i < n; i++) {
            tr_decision dec;
            tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sc, &dec);
        }
        double b = cpu_now();
        for (size_t i = lo; i < n; i++) {
            tr_decision dec;
            tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, sc, &dec);
            tr_cache_key k = {1, tr_cache_prompt_hash(ds->rec[i].prompt, ds->rec[i].prompt_len), dec.embedding, d};
            tr_cache_hit h;
            if (tr_answer_cache_get(c, &k, 1, &h)) { hits++; tr_free(h.body); }
        }
        double e = cpu_now();
        for (size_t i = 0; i < cnt; i++) {
            tr_cache_key k = {1, mhash[i], miss + i * d, d};
            tr_cache_hit h;
            if (tr_answer_cache_get(c, &k, 1, &h)) tr_free(h.body);
        }
        double f = cpu_now();
        t_route += b - a;
        t_both += e - b;
        t_look += f - e;
    }
    free(miss);
    free(mhash);
    /* the index's recall at this size: stored prompts moved to a cosine
     * just above the threshold, which a scan would find by construction */
    size_t eligible = 0, found = 0;
    for (size_t i = 0; i < half && eligible < 2000; i++) {
        double eps = sqrt(1 / ((cfg.similarity + 0.005) * (cfg.similarity + 0.005)) - 1);
        double cs = moved(real + i * d, (float)eps, noise, x, d, &seed);
        if (cs < cfg.similarity || cs > cfg.similarity + 0.01) continue;
        eligible++;
        tr_cache_key k = {1, ~(uint64_t)i, x, d};
        tr_cache_hit h;
        if (tr_answer_cache_get(c, &k, 1, &h)) { found++; tr_free(h.body); }
    }
    free(real);
    free(noise);
    double per = 1e6 / (3.0 * (double)cnt);
    tr_cache_stats st;
    tr_answer_cache_stats(c, &st);
    printf("cache of %zu entries (dim %zu) filled in %.1f s; %zu look-ups x 3 (%zu hits at similarity %.2f)\n", st.entries,
           d, fill, cnt, hits / 3, cfg.similarity);
#ifdef TR_SERVER_CACHE_INDEX_H
    printf("index: %.0f bytes an entry\n", c->index ? (double)tr_cache_index_bytes(c->index) / (double)st.entries : 0.0);
#endif
    printf("CPU time per request (this thread)\nroute alone           %8.1f us/request\n", t_route * per);
    printf("route + cache miss    %8.1f us/request  (difference %+.1f us)\n", t_both * per, (t_both - t_route) * per);
    printf("look-ups back to back %8.1f us/look-up\n", t_look * per);
    printf("index recall: %zu of %zu stored prompts found from a cosine of %.2f-%.2f (%.1f%%)\n", found, eligible,
           cfg.similarity, cfg.similarity + 0.01, eligible ? 100.0 * found / eligible : 0.0);
    free(x);
    tr_answer_cache_free(c);
    tr_scratch_free(sc);
    tr_dataset_free(ds);
    return 0;
}

enum { KINDS = 4 };
static const char *const KIND[KINDS] = {"new", "repeat", "variant", "paraphrase"};

static int trace(tr_router *r, const char *path)
{
    size_t n = 0;
    char **lines = read_lines(path, &n);
    if (!lines) { fprintf(stderr, "%s: cannot read\n", path); return 1; }
    size_t d = tr_router_dim(r);
    float *emb = malloc(n * d * sizeof *emb);
    char **prompt = calloc(n, sizeof *prompt), **source = calloc(n, sizeof *source);
    int *kind = calloc(n, sizeof *kind);
    tr_scratch *sc = NULL;
    tr_scratch_new(r, &sc);
    size_t count[KINDS] = {0};
    for (size_t i = 0; i < n; i++) {
        cJSON *j = cJSON_Parse(lines[i]);
        prompt[i] = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompt")));
        source[i] = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source")));
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind"));
        for (int t = 0; t < KINDS; t++)
            if (!strcmp(k, KIND[t])) kind[i] = t;
        count[kind[i]]++;
        cJSON_Delete(j);
        tr_decision dec;
        if (tr_route(r, prompt[i], strlen(prompt[i]), NULL, sc, &dec)) { fprintf(stderr, "route failed\n"); return 1; }
        memcpy(emb + i * d, dec.embedding, d * sizeof *emb);
    }
    printf("trace %s: %zu requests (new %zu, repeat %zu, white space/case variant %zu, paraphrase %zu)\n", path, n,
           count[0], count[1], count[2], count[3]);
    printf("similarity  hit rate  wrong hits  hits: repeat  variant  paraphrase  new  index recall\n");
    static const double S[] = {0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.99, 1.0};
    for (size_t s = 0; s < sizeof S / sizeof S[0]; s++) {
        tr_cache_config cfg;
        tr_cache_config_default(&cfg, n);
        cfg.similarity = S[s];
        tr_answer_cache *c = NULL;
        char err[256];
        tr_answer_cache_new(&cfg, d, &c, err, sizeof err);
        size_t hits[KINDS] = {0}, wrong = 0, all = 0, scan_hits = 0, found = 0;
        for (size_t i = 0; i < n; i++) {
            tr_cache_key k = {1, tr_cache_prompt_hash(prompt[i], strlen(prompt[i])), emb + i * d, d};
            tr_cache_hit h;
            /* what a scan of every stored embedding would find: the index's
             * recall is the share of these the cache finds too */
            int scan = find_exact(c, k.scope, k.prompt_hash) >= 0;
            for (size_t e = 0; e < c->n && !scan && S[s] < 1; e++)
                scan = c->s[e].used && dot(emb + i * d, c->emb + e * d, d) >= S[s];
            scan_hits += scan;
            int got = tr_answer_cache_get(c, &k, (double)i, &h);
            found += scan && got;
            if (got) {
                hits[kind[i]]++;
                all++;
                wrong += strcmp(h.body, source[i]) != 0;
                tr_free(h.body);
            } else {
                tr_answer_cache_put(c, &k, (double)i, source[i], strlen(source[i]), "m", 0, err, sizeof err);
            }
        }
        printf("%10.2f  %7.1f%%  %9.1f%%  %11.1f%%  %6.1f%%  %9.1f%%  %4.1f%%  %11.1f%%\n", S[s], 100.0 * all / n,
               all ? 100.0 * wrong / all : 0.0, count[1] ? 100.0 * hits[1] / count[1] : 0,
               count[2] ? 100.0 * hits[2] / count[2] : 0, count[3] ? 100.0 * hits[3] / count[3] : 0,
               count[0] ? 100.0 * hits[0] / count[0] : 0, scan_hits ? 100.0 * found / scan_hits : 100.0);
        tr_answer_cache_free(c);
    }
    for (size_t i = 0; i < n; i++) { free(lines[i]); free(prompt[i]); free(source[i]); }
    free(lines); free(prompt); free(source); free(kind); free(emb);
    tr_scratch_free(sc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "overhead") && strcmp(argv[1], "trace"))) {
        fprintf(stderr, "usage: bench_cache overhead ROUTER.trm DATA.jsonl [ENTRIES]\n"
                        "       bench_cache trace ROUTER.trm TRACE.jsonl\n");
        return 2;
    }
    tr_router *r = NULL;
    char err[512];
    if (tr_router_open(argv[2], &r, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    int rc = !strcmp(argv[1], "overhead") ? overhead(r, argv[3], argc > 4 ? (size_t)atol(argv[4]) : 100000)
                                          : trace(r, argv[3]);
    tr_router_close(r);
    return rc;
}
