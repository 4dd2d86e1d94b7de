/* bench_ids: are task ids stable across warm-started retraining?
 *
 *   build/bench/bench_ids DATA.jsonl [--seed S] [--reseed S2] [--keep PCT] [--heads LIST]
 *
 * Trains router A on DATA's training split (seed S, 42), then router B warm-
 * started from A on a subsample of it (every record whose id hashes below
 * PCT percent, 90, kept) with another seed (S2, 7), as a scheduled retrain
 * on new traffic would.  Every record of DATA is routed by both; the figure
 * is the share whose most probable task has the same id in B as in A
 * ("keeps its task"), over all records and over the test split (prompts
 * neither router trained on).  Heads are restricted to --heads (prior-soft
 * by default): task ids come from stage 1, the heads only cost time. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/util.h"
#include "data/dataset.h"
#include "taskroute.h"
#include "train/train.h"

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    if (!b) return -1;
    *buf = b;
    *len = n;
    return 0;
}

/* The lines of buf whose record id hashes below pct percent (a hash salted
 * apart from the evaluation split's, so the subsample cuts across it). */
static char *sample(const char *buf, size_t len, double pct, size_t *out_len)
{
    char *o = malloc(len + 1);
    size_t w = 0;
    for (size_t a = 0; a < len;) {
        const char *nl = memchr(buf + a, '\n', len - a);
        size_t b = nl ? (size_t)(nl - buf) + 1 : len;
        cJSON *j = cJSON_ParseWithLength(buf + a, b - a);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
        uint64_t h = 0;
        if (id) {
            h = tr_fnv1a64("subsample:", 10);
            h ^= tr_fnv1a64(id, strlen(id));
            h = tr_fnv1a64(&h, sizeof h);
        }
        if (!id || (double)(h % 10000) < pct * 100) { memcpy(o + w, buf + a, b - a); w += b - a; }
        cJSON_Delete(j);
        a = b;
    }
    *out_len = w;
    return o;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *heads = "prior-soft";
    unsigned long long seed = 42, reseed = 7;
    double keep = 90;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--seed") && a + 1 < argc) seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--reseed") && a + 1 < argc) reseed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--keep") && a + 1 < argc) keep = atof(argv[++a]);
        else if (!strcmp(argv[a], "--heads") && a + 1 < argc) heads = argv[++a];
        else if (!path) path = argv[a];
        else { fprintf(stderr, "usage: bench_ids DATA.jsonl [--seed S] [--reseed S2] [--keep PCT] [--heads LIST]\n"); return 2; }
    }
    if (!path) { fprintf(stderr, "usage: bench_ids DATA.jsonl [--seed S] [--reseed S2] [--keep PCT] [--heads LIST]\n"); return 2; }
    char *buf, err[1024];
    size_t len;
    if (read_file(path, &buf, &len)) { fprintf(stderr, "bench_ids: cannot read %s\n", path); return 1; }
    tr_dataset *ds = NULL, *sub = NULL;
    size_t slen;
    char *sbuf = sample(buf, len, keep, &slen);
    if (tr_dataset_load_mem(buf, len, path, NULL, &ds, err, sizeof err) ||
        tr_dataset_load_mem(sbuf, slen, "subsample", NULL, &sub, err, sizeof err)) {
        fprintf(stderr, "bench_ids: %s\n", err);
        return 1;
    }
    tr_train_options o;
    tr_train_options_default(&o);
    o.heads = heads;
    o.seed = seed;
    tr_router *A = NULL, *B = NULL;
    double t0 = tr_now();
    if (tr_train(ds, &o, &A, err, sizeof err)) { fprintf(stderr, "bench_ids: %s\n", err); return 1; }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/bench_ids.%ld.trm", (long)getpid());
    if (tr_router_save(A, tmp, err, sizeof err)) { fprintf(stderr, "bench_ids: %s\n", err); return 1; }
    double ta = tr_now() - t0;
    o.seed = reseed;
    o.warm_start = tmp;
    t0 = tr_now();
    char *drift = NULL;
    int rc = tr_train_warm(sub, &o, NULL, &B, &drift, err, sizeof err);
    unlink(tmp);
    if (rc) { fprintf(stderr, "bench_ids: %s\n", err); return 1; }
    double tb = tr_now() - t0;
    tr_scratch *sa = NULL, *sb = NULL;
    tr_scratch_new(A, &sa);
    tr_scratch_new(B, &sb);
    size_t n = 0, same = 0, same_name = 0, nt = 0, same_t = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const tr_record *r = &ds->rec[i];
        tr_decision da, db;
        if (tr_route(A, r->prompt, r->prompt_len, NULL, sa, &da) || tr_route(B, r->prompt, r->prompt_len, NULL, sb, &db))
            continue;
        int eq = da.task_id == db.task_id;
        n++;
        same += eq;
        same_name += !strcmp(da.task_name, db.task_name);
        if (tr_split_is_test(r->id, strlen(r->id))) { nt++; same_t += eq; }
    }
    if (getenv("BENCH_IDS_VERBOSE")) {
        /* where each of A's tasks went in B */
        for (size_t t = 0; t < tr_router_task_count(A); t++) {
            int ida = tr_router_task_id(A, t);
            size_t cnt[1024] = {0}, tot = 0;
            for (size_t i = 0; i < ds->n; i++) {
                const tr_record *r = &ds->rec[i];
                tr_decision da, db;
                if (tr_route(A, r->prompt, r->prompt_len, NULL, sa, &da) || da.task_id != ida) continue;
                if (tr_route(B, r->prompt, r->prompt_len, NULL, sb, &db) || db.task_id < 0 || db.task_id >= 1024) continue;
                cnt[db.task_id]++;
                tot++;
            }
            printf("A %3d %-40s %5zu ->", ida, tr_router_task_name(A, t), tot);
            for (int k = 0; k < 1024; k++)
                if (cnt[k]) printf(" %d:%zu", k, cnt[k]);
            printf("\n");
        }
    }
    printf("%s: A %zu tasks (seed %llu, %.0f s); B warm-started on %.0f%% (%zu records), seed %llu: %zu tasks (%.0f s)\n",
           path, tr_router_task_count(A), seed, ta, keep, sub->n, reseed, tr_router_task_count(B), tb);
    printf("prompts that keep their task id: %.1f%% of %zu (test split: %.1f%% of %zu); same task name: %.1f%%\n",
           100.0 * same / (double)(n ? n : 1), n, 100.0 * same_t / (double)(nt ? nt : 1), nt,
           100.0 * same_name / (double)(n ? n : 1));
    tr_free(drift);
    tr_scratch_free(sa);
    tr_scratch_free(sb);
    tr_router_close(A);
    tr_router_close(B);
    tr_dataset_free(ds);
    tr_dataset_free(sub);
    free(buf);
    free(sbuf);
    return 0;
}
