/* Community detection: planted clusters recovered (Leiden, Louvain),
 * determinism, target_tasks, min_size merging, mutual graphs, fallbacks,
 * comparison and modularity helpers, igraph errors turned into TR_EDEP. */
#include "testutil.h"

#include <igraph.h>
#include <math.h>

#include "base/util.h"
#include "cluster/community.h"
#include "cluster/graph.h"
#include "cluster/igraph_glue.h"
#include "cluster/knn_build.h"

/* n points in c Gaussian clusters on the unit sphere; sizes[i] points in
 * cluster i if sizes, else round-robin. */
static float *planted(size_t n, size_t d, size_t c, const size_t *sizes, double noise,
                      uint64_t seed, int32_t *lab)
{
    tr_rng r;
    tr_rng_seed(&r, seed);
    float *C = malloc(c * d * sizeof(float)), *X = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < c * d; i++) C[i] = (float)(tr_rng_normal(&r) / sqrt((double)d));
    size_t ci = 0, left = sizes ? sizes[0] : 0;
    for (size_t i = 0; i < n; i++) {
        if (sizes) {
            while (left == 0) left = sizes[++ci];
            left--;
        } else {
            ci = i % c;
        }
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            X[i * d + j] = C[ci * d + j] + (float)(noise * tr_rng_normal(&r));
            s += (double)X[i * d + j] * X[i * d + j];
        }
        for (size_t j = 0; j < d; j++) X[i * d + j] /= (float)sqrt(s);
        lab[i] = (int32_t)ci;
    }
    free(C);
    return X;
}

static tr_knn g_knn;
static int32_t *g_lab;
static float *g_X;
static size_t g_n = 2000, g_d = 32;

static int setup(void **state)
{
    (void)state;
    g_lab = malloc(g_n * sizeof(int32_t));
    g_X = planted(g_n, g_d, 8, NULL, 0.12, 11, g_lab);
    tr_knn_params p;
    tr_knn_params_default(&p);
    p.k = 15;
    char err[256];
    return tr_knn_build(g_X, g_n, g_d, &p, &g_knn, err, sizeof err) == TR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tr_knn_free(&g_knn);
    free(g_lab);
    free(g_X);
    return 0;
}

static void check_sorted_labels(const int32_t *m, size_t n, size_t T)
{
    size_t *cnt = calloc(T, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        assert_true(m[i] >= 0 && (size_t)m[i] < T);
        cnt[m[i]]++;
    }
    for (size_t t = 0; t < T; t++) {
        assert_true(cnt[t] > 0);
        if (t) assert_true(cnt[t - 1] >= cnt[t]);
    }
    free(cnt);
}

static void recover(tr_algo algo)
{
    tr_community_params p;
    tr_community_params_default(&p);
    p.algo = algo;
    int32_t *m = malloc(g_n * sizeof(int32_t));
    size_t T = 0;
    double q = 0, nmi = 0, ari = 0;
    char err[256];
    assert_int_equal(tr_community_detect(&g_knn, &p, m, &T, &q, err, sizeof err), TR_OK);
    assert_int_equal(tr_partition_compare(m, g_lab, g_n, &nmi, &ari, err, sizeof err), TR_OK);
    print_message("%s: T=%zu Q=%.4f NMI=%.4f ARI=%.4f\n", algo ? "louvain" : "leiden", T, q, nmi,
                  ari);
    assert_true(nmi >= 0.95);
    assert_true(q > 0.7);
    check_sorted_labels(m, g_n, T);
    /* modularity helper agrees with what detect reported */
    double q2 = 0;
    assert_int_equal(tr_modularity(&g_knn, 0, m, 1.0, &q2, err, sizeof err), TR_OK);
    assert_true(fabs(q - q2) < 1e-9);
    /* determinism: same seed, identical membership */
    int32_t *m2 = malloc(g_n * sizeof(int32_t));
    size_t T2 = 0;
    assert_int_equal(tr_community_detect(&g_knn, &p, m2, &T2, NULL, err, sizeof err), TR_OK);
    assert_int_equal(T, T2);
    assert_memory_equal(m, m2, g_n * sizeof(int32_t));
    free(m);
    free(m2);
}

static void test_leiden_planted(void **state) { (void)state; recover(TR_ALGO_LEIDEN); }
static void test_louvain_planted(void **state) { (void)state; recover(TR_ALGO_LOUVAIN); }

static void test_target_tasks(void **state)
{
    (void)state;
    tr_community_params p;
    tr_community_params_default(&p);
    tr_community_info info;
    p.info = &info;
    int32_t *m = malloc(g_n * sizeof(int32_t));
    size_t T = 0;
    char err[256];
    /* Modularity never joins disconnected components, and the planted
     * clusters are separate components here, so test targets above 8. */
    p.target_tasks = 16;
    assert_int_equal(tr_community_detect(&g_knn, &p, m, &T, NULL, err, sizeof err), TR_OK);
    print_message("target 16: T=%zu gamma=%.4g searches=%d\n", T, info.resolution, info.searches);
    assert_true(T >= 15 && T <= 17);
    assert_true(info.resolution > 1.0);
    /* finer than the planted 8 */
    p.target_tasks = 30;
    assert_int_equal(tr_community_detect(&g_knn, &p, m, &T, NULL, err, sizeof err), TR_OK);
    print_message("target 30: T=%zu gamma=%.4g searches=%d\n", T, info.resolution,
                  info.searches);
    assert_true(T >= 27 && T <= 33);
    check_sorted_labels(m, g_n, T);
    free(m);
}

static void test_min_size(void **state)
{
    (void)state;
    /* 6 big clusters and 3 of 12 points: with min_size 30 the small ones
     * must be merged away, every task keeps >= 30 points */
    size_t sizes[] = {300, 300, 300, 300, 300, 300, 12, 12, 12, 0};
    size_t n = 1836, d = 32;
    int32_t *lab = malloc(n * sizeof(int32_t));
    float *X = planted(n, d, 9, sizes, 0.10, 3, lab);
    tr_knn g;
    tr_knn_params kp;
    tr_knn_params_default(&kp);
    kp.k = 10;
    char err[256];
    assert_int_equal(tr_knn_build(X, n, d, &kp, &g, err, sizeof err), TR_OK);
    tr_community_params p;
    tr_community_params_default(&p);
    tr_community_info info;
    p.info = &info;
    int32_t *m = malloc(n * sizeof(int32_t));
    size_t T = 0;
    assert_int_equal(tr_community_detect(&g, &p, m, &T, NULL, err, sizeof err), TR_OK);
    size_t T0 = T;
    assert_true(T0 >= 9); /* the small clusters are found on their own */
    p.min_size = 30;
    p.X = X;
    p.d = d;
    assert_int_equal(tr_community_detect(&g, &p, m, &T, NULL, err, sizeof err), TR_OK);
    print_message("min_size: raw=%zu merged=%zu T=%zu\n", info.raw_tasks, info.merged, T);
    assert_true(info.merged >= 3);
    assert_int_equal(T, info.raw_tasks - info.merged);
    size_t *cnt = calloc(T, sizeof(size_t));
    for (size_t i = 0; i < n; i++) cnt[m[i]]++;
    for (size_t t = 0; t < T; t++) assert_true(cnt[t] >= 30);
    free(cnt);
    /* mutual graph: isolated nodes are reported and merged, not crashed on */
    p.mutual = 1;
    p.min_size = 5;
    assert_int_equal(tr_community_detect(&g, &p, m, &T, NULL, err, sizeof err), TR_OK);
    print_message("mutual: isolated=%zu edges=%zu T=%zu\n", info.isolated, info.edges, T);
    check_sorted_labels(m, n, T);
    /* fewer points than min_size: one task */
    p.min_size = n + 1;
    assert_int_equal(tr_community_detect(&g, &p, m, &T, NULL, err, sizeof err), TR_OK);
    assert_int_equal(T, 1);
    assert_int_equal(info.fallback_one_task, 1);
    tr_knn_free(&g);
    free(m);
    free(lab);
    free(X);
}

static void test_identical_points(void **state)
{
    (void)state;
    size_t n = 200, d = 8;
    float *X = calloc(n * d, sizeof(float));
    for (size_t i = 0; i < n; i++) X[i * d + 2] = 1.0f;
    tr_knn g;
    tr_knn_params kp;
    tr_knn_params_default(&kp);
    char err[256];
    assert_int_equal(tr_knn_build(X, n, d, &kp, &g, err, sizeof err), TR_OK);
    int32_t *m = malloc(n * sizeof(int32_t));
    size_t T = 0;
    tr_community_params p;
    tr_community_params_default(&p);
    tr_community_info info;
    p.info = &info;
    for (int algo = 0; algo < 2; algo++) {
        p.algo = (tr_algo)algo;
        assert_int_equal(tr_community_detect(&g, &p, m, &T, NULL, err, sizeof err), TR_OK);
        assert_int_equal(T, 1);
        assert_int_equal(info.fallback_one_task, 1);
        for (size_t i = 0; i < n; i++) assert_int_equal(m[i], 0);
    }
    tr_knn_free(&g);
    free(m);
    free(X);
}

static void test_bad_input(void **state)
{
    (void)state;
    char err[256];
    int32_t m[4];
    size_t T;
    tr_knn empty = {0};
    assert_int_equal(tr_community_detect(&empty, NULL, m, &T, NULL, err, sizeof err), TR_ETOOFEW);
    assert_string_equal(err, "community: empty graph (n=0)");
    int32_t idx[4 * 2] = {1, 2, 0, 2, 0, 9, 0, 1};
    float sim[4 * 2] = {0.9f, 0.8f, 0.9f, 0.7f, 0.8f, 0.7f, 0.5f, 0.4f};
    tr_knn bad = {.n = 4, .k = 2, .idx = idx, .sim = sim};
    assert_int_equal(tr_community_detect(&bad, NULL, m, &T, NULL, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "graph: row 2 neighbour 1 is 9 (n=4)");
    tr_community_params p;
    tr_community_params_default(&p);
    p.resolution = -1;
    idx[5] = 1;
    assert_int_equal(tr_community_detect(&bad, &p, m, &T, NULL, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "community: resolution must be > 0, got -1");
    int32_t a[3] = {0, 0, -1}, b[3] = {0, 1, 1};
    assert_int_equal(tr_partition_compare(a, b, 3, NULL, NULL, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "compare: negative label at point 2");
}

static void test_igraph_error_mapped(void **state)
{
    (void)state;
    /* A negative vertex count: igraph's default handler would abort the
     * process; ours records the message -> TR_EDEP. */
    char err[256];
    tr_igraph_lock();
    igraph_t g;
    int rc = tr_igraph_check(igraph_empty(&g, -1, IGRAPH_UNDIRECTED), "test create", err,
                             sizeof err);
    tr_igraph_unlock();
    assert_int_equal(rc, TR_EDEP);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "test create: igraph: "));
    assert_non_null(strstr(err, "vertices must not be negative"));
    /* and igraph still works afterwards */
    int32_t x[4] = {0, 0, 1, 1}, y[4] = {1, 1, 0, 0};
    double nmi = 0, ari = 0;
    assert_int_equal(tr_partition_compare(x, y, 4, &nmi, &ari, err, sizeof err), TR_OK);
    assert_true(fabs(nmi - 1) < 1e-12 && fabs(ari - 1) < 1e-12);
}

static int g_app_errors;
static void app_error_handler(const char *reason, const char *file, int line, igraph_error_t e)
{
    (void)reason; (void)file; (void)line; (void)e;
    g_app_errors++;
    IGRAPH_FINALLY_FREE();
}

/* A program that uses igraph itself keeps its error handler and its
 * default generator, stream included, across our igraph use. */
static void test_igraph_state_restored(void **state)
{
    (void)state;
    igraph_error_handler_t *before = igraph_set_error_handler(app_error_handler);
    igraph_rng_seed(igraph_rng_default(), 7);
    igraph_integer_t first = igraph_rng_get_integer(igraph_rng_default(), 0, 1000000000);
    tr_community_params p;
    tr_community_params_default(&p);
    int32_t *m = malloc(g_n * sizeof(int32_t));
    size_t T = 0;
    char err[256];
    assert_int_equal(tr_community_detect(&g_knn, &p, m, &T, NULL, err, sizeof err), TR_OK);
    free(m);
    /* the stream goes on where it was */
    igraph_integer_t second = igraph_rng_get_integer(igraph_rng_default(), 0, 1000000000);
    igraph_rng_seed(igraph_rng_default(), 7);
    assert_int_equal(igraph_rng_get_integer(igraph_rng_default(), 0, 1000000000), first);
    assert_int_equal(igraph_rng_get_integer(igraph_rng_default(), 0, 1000000000), second);
    /* the handler is the program's again */
    igraph_t g;
    assert_int_not_equal(igraph_empty(&g, -1, IGRAPH_UNDIRECTED), IGRAPH_SUCCESS);
    assert_int_equal(g_app_errors, 1);
    assert_ptr_equal(igraph_set_error_handler(before), app_error_handler);
}

int main(void)
{
    if (tu_slow_mode()) g_n = 800;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leiden_planted),
        cmocka_unit_test(test_louvain_planted),
        cmocka_unit_test(test_target_tasks),
        cmocka_unit_test(test_min_size),
        cmocka_unit_test(test_identical_points),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_igraph_error_mapped),
        cmocka_unit_test(test_igraph_state_restored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
