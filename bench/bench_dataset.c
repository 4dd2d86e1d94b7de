/* Reader throughput: load a routing JSONL file (default
 * ../shared/data/mmlu-pro.jsonl) REPS times after one warm-up load, report
 * the median and spread of the wall time, records/s and MB/s.
 * Usage: build/bench/bench_dataset [FILE] [REPS=7] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/util.h"
#include "data/dataset.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "../shared/data/mmlu-pro.jsonl";
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > 1000) reps = 7;
    struct stat st;
    if (stat(path, &st)) { fprintf(stderr, "bench_dataset: cannot stat %s\n", path); return 1; }
    double t[1000];
    size_t n = 0;
    for (int r = -1; r < reps; r++) {
        tr_dataset *ds;
        char err[512];
        double t0 = tr_now();
        int rc = tr_dataset_load(path, NULL, &ds, err, sizeof err);
        double dt = tr_now() - t0;
        if (rc) { fprintf(stderr, "bench_dataset: %s\n", err); return 1; }
        n = tr_dataset_count(ds);
        tr_dataset_free(ds);
        if (r >= 0) t[r] = dt; /* r = -1 warms the page cache */
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    double med = t[reps / 2], mb = (double)st.st_size / 1e6;
    printf("file %s: %zu records, %.1f MB, %d runs (1 warm-up excluded), 1 thread\n", path, n, mb, reps);
    printf("load time median %.1f ms (min %.1f, max %.1f)\n", med * 1e3, t[0] * 1e3, t[reps - 1] * 1e3);
    printf("throughput %.0f records/s, %.1f MB/s\n", (double)n / med, mb / med);
    return 0;
}
