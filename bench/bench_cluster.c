/* Stage-1 clustering benchmark: exact vs approximate kNN graph (time,
 * recall of the approximate one on 1000 sampled rows), Leiden and Louvain
 * (time, tasks, modularity), peak RSS.
 *
 * Data: n synthetic unit embeddings, a mixture of C clusters (default 50);
 * each cluster is a random centre plus Gaussian noise in its own random
 * 8-dimensional subspace plus a little isotropic noise, which is closer to
 * real text embeddings (low intrinsic dimension) than isotropic blobs.
 *
 * usage: bench_cluster N D [exact=0|1|auto] [approx=0|1] [k=15] [threads=0]
 *                          [efc=64] [efs=0] [m=16] [clusters=50] [seed=42]
 * "exact=auto" runs the exact graph only up to TR_KNN_AUTO_EXACT_MAX. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/util.h"
#include "cluster/community.h"
#include "cluster/knn_build.h"

static double peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec * 1e-6;
}

static float *make_data(size_t n, size_t d, size_t C, uint64_t seed)
{
    const size_t sub = 8;
    tr_rng r;
    tr_rng_seed(&r, seed);
    float *cent = malloc(C * d * sizeof(float)), *basis = malloc(C * sub * d * sizeof(float));
    float *X = malloc(n * d * sizeof(float));
    if (!cent || !basis || !X) return NULL;
    for (size_t i = 0; i < C * d; i++) cent[i] = (float)(tr_rng_normal(&r) / sqrt((double)d));
    for (size_t i = 0; i < C * sub * d; i++)
        basis[i] = (float)(tr_rng_normal(&r) / sqrt((double)d));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)tr_rng_below(&r, C);
        float *x = X + i * d;
        for (size_t j = 0; j < d; j++)
            x[j] = cent[c * d + j] + (float)(0.05 * tr_rng_normal(&r) / sqrt((double)d));
        for (size_t s = 0; s < sub; s++) {
            float z = (float)(0.35 * tr_rng_normal(&r));
            for (size_t j = 0; j < d; j++) x[j] += z * basis[(c * sub + s) * d + j];
        }
        double nr = 0;
        for (size_t j = 0; j < d; j++) nr += (double)x[j] * x[j];
        for (size_t j = 0; j < d; j++) x[j] /= (float)sqrt(nr);
    }
    free(cent);
    free(basis);
    return X;
}

static const char *arg(int argc, char **argv, const char *key, const char *def)
{
    size_t kl = strlen(key);
    for (int i = 3; i < argc; i++)
        if (!strncmp(argv[i], key, kl) && argv[i][kl] == '=') return argv[i] + kl + 1;
    return def;
}

static void cluster(const tr_knn *g, tr_algo algo, size_t n)
{
    tr_community_params p;
    tr_community_params_default(&p);
    p.algo = algo;
    tr_community_info info;
    p.info = &info;
    int32_t *m = malloc(n * sizeof(int32_t));
    size_t T = 0;
    double q = 0;
    char err[512];
    double t0 = tr_now(), c0 = cpu_s();
    int rc = tr_community_detect(g, &p, m, &T, &q, err, sizeof err);
    double t = tr_now() - t0;
    if (rc != TR_OK) fprintf(stderr, "%s\n", err);
    printf("| %s | %.2f s (cpu %.2f s) | %zu tasks | Q=%.4f | passes=%d |\n",
           algo == TR_ALGO_LEIDEN ? "leiden" : "louvain", t, cpu_s() - c0, T, q, info.passes);
    free(m);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s N D [exact=0|1|auto] [approx=0|1] [k=15] [threads=0] "
                        "[efc=64] [efs=0] [m=16] [clusters=50] [seed=42]\n", argv[0]);
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10), d = strtoull(argv[2], NULL, 10);
    const char *ex = arg(argc, argv, "exact", "auto");
    int do_exact = !strcmp(ex, "auto") ? n <= TR_KNN_AUTO_EXACT_MAX : atoi(ex);
    int do_approx = atoi(arg(argc, argv, "approx", "1"));
    tr_knn_params kp;
    tr_knn_params_default(&kp);
    kp.k = strtoull(arg(argc, argv, "k", "15"), NULL, 10);
    kp.threads = atoi(arg(argc, argv, "threads", "0"));
    kp.hnsw_ef_construction = atoi(arg(argc, argv, "efc", "0"));
    kp.hnsw_ef_search = atoi(arg(argc, argv, "efs", "0"));
    kp.hnsw_m = atoi(arg(argc, argv, "m", "0"));
    size_t C = strtoull(arg(argc, argv, "clusters", "50"), NULL, 10);
    uint64_t seed = strtoull(arg(argc, argv, "seed", "42"), NULL, 10);

    printf("# n=%zu d=%zu k=%zu clusters=%zu threads=%d (ncpu %d) blas=[%s] blas_threads=%d\n", n, d,
           kp.k, C, kp.threads, tr_ncpu(), openblas_get_config(), openblas_get_num_threads());
    double t0 = tr_now();
    float *X = make_data(n, d, C, seed);
    if (!X) return 1;
    printf("# data generated in %.1f s\n", tr_now() - t0);
    char err[512];
    tr_knn ge = {0}, ga = {0};
    if (do_exact) {
        kp.mode = TR_KNN_EXACT;
        t0 = tr_now();
        double c0 = cpu_s();
        if (tr_knn_build(X, n, d, &kp, &ge, err, sizeof err) != TR_OK) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("| exact kNN | %.2f s (cpu %.2f s) | recall 1 | RSS %.0f MB |\n", tr_now() - t0,
               cpu_s() - c0, peak_rss_mb());
        fflush(stdout);
    }
    if (do_approx) {
        kp.mode = TR_KNN_APPROX;
        t0 = tr_now();
        double c0 = cpu_s();
        if (tr_knn_build(X, n, d, &kp, &ga, err, sizeof err) != TR_OK) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        double ta = tr_now() - t0, ca = cpu_s() - c0, rec = 0;
        t0 = tr_now();
        tr_knn_recall(X, n, d, &ga, 1000, 7, &rec, err, sizeof err);
        printf("| approx kNN (HNSW) | %.2f s (cpu %.2f s) | recall %.4f (1000 rows, %.1f s) | RSS %.0f MB |\n",
               ta, ca, rec, tr_now() - t0, peak_rss_mb());
        fflush(stdout);
    }
    const tr_knn *g = do_exact ? &ge : &ga;
    printf("# clustering the %s graph\n", do_exact ? "exact" : "approximate");
    cluster(g, TR_ALGO_LEIDEN, n);
    fflush(stdout);
    cluster(g, TR_ALGO_LOUVAIN, n);
    printf("# peak RSS %.0f MB\n", peak_rss_mb());
    tr_knn_free(&ge);
    tr_knn_free(&ga);
    free(X);
    return 0;
}
