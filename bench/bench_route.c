/* bench_route: in-process routing latency and throughput.
 *
 *   build/bench/bench_route ROUTER.trm DATA.jsonl [N] [--test] [--bytes LO-HI]
 *
 * Routes the first N prompts of DATA (default 2000; with --test, of its
 * EVAL.md test split: prompts the router never saw, whose words miss the
 * tokeniser's memo as production traffic's do; with --bytes, only prompts of
 * LO to HI bytes: 1000-1400 is about 300 tokens, the design target's size)
 * with tr_route: one
 * thread for latency (p50, p90, p99, max per decision, tokenisation
 * included), then one thread per core for throughput.  A warm-up pass over
 * the same prompts is excluded.  Prints one Markdown table row set, with the
 * commit and BLAS kernel, for bench/RESULTS.md.
 *
 * --stages adds a pass that routes each prompt twice in a row: the first
 * decision finds the router's rows for this prompt out of cache (as in the
 * latency pass, where the other prompts evicted them), the second finds
 * them in cache, and the stages of the second are timed apart (sparse
 * features, projection, classifier + heads).  The difference between the
 * two decisions is what cache misses cost. */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "data/dataset.h"
#include "embed/embedder.h"
#include "router/router.h"
#include "taskroute.h"

extern char *openblas_get_config(void);
extern void openblas_set_num_threads(int);

typedef struct job {
    const tr_router *r;
    const tr_dataset *ds;
    size_t from, to, reps;
    double seconds;
    size_t routed;
} job;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *worker(void *arg)
{
    job *j = arg;
    tr_scratch *s = NULL;
    if (tr_scratch_new(j->r, &s)) return NULL;
    tr_route_options opt;
    tr_route_options_default(&opt);
    tr_decision d;
    double t0 = tr_now();
    for (size_t rep = 0; rep < j->reps; rep++)
        for (size_t i = j->from; i < j->to; i++) {
            const tr_record *rec = &j->ds->rec[i];
            if (tr_route(j->r, rec->prompt, rec->prompt_len, &opt, s, &d) == TR_OK) j->routed++;
        }
    j->seconds = tr_now() - t0;
    tr_scratch_free(s);
    return NULL;
}

static double usec(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

static void print_stages(const tr_router *r, const tr_dataset *ds, size_t N, tr_scratch *s)
{
    enum { COLD, WARM, SPARSE, PROJ, HEADS, NST };
    double *v = malloc(N * NST * sizeof *v);
    size_t cap = 2 * TR_MAX_PROMPT_BYTES + 64;
    int32_t *idx = malloc(cap * sizeof *idx);
    float *val = malloc(cap * sizeof *val);
    if (!v || !idx || !val) { free(v); free(idx); free(val); return; }
    tr_route_options opt;
    tr_route_options_default(&opt);
    tr_decision d;
    for (size_t i = 0; i < N; i++) {
        const tr_record *rec = &ds->rec[i];
        size_t len = tr_prompt_cut(rec->prompt, rec->prompt_len), nnz;
        struct timespec t[6];
        clock_gettime(CLOCK_MONOTONIC, &t[0]);
        tr_route(r, rec->prompt, rec->prompt_len, &opt, s, &d);
        clock_gettime(CLOCK_MONOTONIC, &t[1]);
        tr_route(r, rec->prompt, rec->prompt_len, &opt, s, &d);
        clock_gettime(CLOCK_MONOTONIC, &t[2]);
        tr_embedder_sparse(r->emb, rec->prompt, len, idx, val, cap, &nnz, s->emb_scratch, s->emb_bytes);
        clock_gettime(CLOCK_MONOTONIC, &t[3]);
        tr_embedder_embed(r->emb, rec->prompt, len, s->x, s->emb_scratch, s->emb_bytes);
        clock_gettime(CLOCK_MONOTONIC, &t[4]);
        double warm = usec(&t[1], &t[2]), sparse = usec(&t[2], &t[3]), embed = usec(&t[3], &t[4]);
        v[COLD * N + i] = usec(&t[0], &t[1]);
        v[WARM * N + i] = warm;
        v[SPARSE * N + i] = sparse;
        v[PROJ * N + i] = embed - sparse;
        v[HEADS * N + i] = warm - embed;
    }
    for (int k = 0; k < NST; k++) qsort(v + k * N, N, sizeof *v, cmp_double);
    printf("\nStages, p50 us (second decision of the same prompt: its rows in cache):\n\n");
    printf("| decision, rows out of cache | decision, rows in cache | sparse features | projection | "
           "classifier + heads |\n|---:|---:|---:|---:|---:|\n");
    printf("| %.1f | %.1f | %.1f | %.1f | %.1f |\n", v[COLD * N + N / 2], v[WARM * N + N / 2],
           v[SPARSE * N + N / 2], v[PROJ * N + N / 2], v[HEADS * N + N / 2]);
    free(v); free(idx); free(val);
}

int main(int argc, char **argv)
{
    int test_only = 0, stages = 0;
    size_t blo = 0, bhi = (size_t)-1;
    for (;;) {
        if (argc > 1 && !strcmp(argv[argc - 1], "--test")) { test_only = 1; argc--; continue; }
        if (argc > 1 && !strcmp(argv[argc - 1], "--stages")) { stages = 1; argc--; continue; }
        if (argc > 2 && !strcmp(argv[argc - 2], "--bytes")) {
            if (sscanf(argv[argc - 1], "%zu-%zu", &blo, &bhi) != 2 || blo > bhi) {
                fprintf(stderr, "--bytes wants LO-HI, e.g. 1000-1400\n");
                return 2;
            }
            argc -= 2;
            continue;
        }
        break;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROUTER.trm DATA.jsonl [N] [--test] [--bytes LO-HI] [--stages]\n", argv[0]);
        return 2;
    }
    size_t N = argc > 3 ? (size_t)atol(argv[3]) : 2000;
    char err[1024];
    openblas_set_num_threads(1);
    tr_router *r = NULL;
    tr_dataset *ds = NULL;
    if (tr_router_open(argv[1], &r, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    if (tr_dataset_load(argv[2], NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    if (test_only || blo > 0 || bhi != (size_t)-1) {   /* keep the chosen records, in file order */
        size_t k = 0;
        for (size_t i = 0; i < ds->n; i++) {
            if (test_only && !tr_split_is_test(ds->rec[i].id, strlen(ds->rec[i].id))) continue;
            if (ds->rec[i].prompt_len < blo || ds->rec[i].prompt_len > bhi) continue;
            tr_record t = ds->rec[k]; ds->rec[k] = ds->rec[i]; ds->rec[i] = t;
            k++;
        }
        if (N > k) N = k;
    }
    if (N > ds->n) N = ds->n;
    tr_scratch *s = NULL;
    tr_scratch_new(r, &s);
    tr_route_options opt;
    tr_route_options_default(&opt);
    tr_decision d;
    double *lat = malloc(N * sizeof *lat);
    size_t bytes = 0;
    for (size_t i = 0; i < N; i++) {   /* warm-up */
        tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, &opt, s, &d);
        bytes += ds->rec[i].prompt_len;
    }
    for (size_t i = 0; i < N; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, &opt, s, &d);
        clock_gettime(CLOCK_MONOTONIC, &b);
        lat[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(lat, N, sizeof *lat, cmp_double);
    double mean = 0;
    for (size_t i = 0; i < N; i++) mean += lat[i];
    mean /= (double)N;
    int threads = tr_ncpu();
    pthread_t th[64];
    job jobs[64];
    size_t reps = 3;
    for (int t = 0; t < threads && t < 64; t++) {
        jobs[t] = (job){r, ds, N * (size_t)t / (size_t)threads, N * (size_t)(t + 1) / (size_t)threads, reps, 0, 0};
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    double wall = 0;
    size_t routed = 0;
    for (int t = 0; t < threads && t < 64; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].seconds > wall) wall = jobs[t].seconds;
        routed += jobs[t].routed;
    }
    char commit[64] = "?";
    FILE *g = popen("git rev-parse --short HEAD 2>/dev/null", "r");
    if (g) { if (fgets(commit, sizeof commit, g)) commit[strcspn(commit, "\n")] = 0; pclose(g); }
    char sel[64] = "";
    if (blo > 0 || bhi != (size_t)-1) snprintf(sel, sizeof sel, "%zu-%zu-byte ", blo, bhi);
    printf("router %s (%zu models, %zu tasks, dim %zu); %zu %s%sprompts of %s, mean %.0f bytes\n", argv[1],
           tr_router_model_count(r), tr_router_task_count(r), tr_router_dim(r), N, test_only ? "test-split " : "",
           sel, argv[2], (double)bytes / (double)N);
    printf("commit %s; BLAS %s; 1 BLAS thread per routing thread\n\n", commit, openblas_get_config());
    printf("| threads | p50 us | p90 us | p99 us | max us | mean us | decisions/s |\n|---|---:|---:|---:|---:|---:|---:|\n");
    printf("| 1 | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |\n", lat[N / 2], lat[N * 9 / 10], lat[N * 99 / 100],
           lat[N - 1], mean, 1e6 / mean);
    printf("| %d | | | | | | %.0f |\n", threads, (double)routed / wall);
    if (stages && r->emb) print_stages(r, ds, N, s);
    free(lat);
    tr_scratch_free(s);
    tr_dataset_free(ds);
    tr_router_close(r);
    return 0;
}
