/* Stage-2 timings on synthetic data shaped like the real problem (M = 29
 * models, T = 50 tasks, d = 256): training time (5-fold CV over every
 * variant), and per-prompt predict + select latency (p50 / p99 over single
 * calls, warm-up excluded).  Usage: bench_heads [n_train]  (default 10000) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "heads.h"
#include "select.h"
#include "util.h"

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000, M = 29, T = 50, d = 256;
    tr_rng r;
    tr_rng_seed(&r, 1);
    float *X = malloc(n * d * 4), *P = malloc(n * T * 4), *S = malloc(n * M * 4), *C = malloc(n * M * 4), *L = malloc(n * 4);
    float *K = malloc(T * M * 4), *price = malloc(M * 4), *cent = malloc(T * d * 4);
    int32_t *y = malloc(n * 4);
    for (size_t t = 0; t < T * d; t++) cent[t] = (float)tr_rng_normal(&r);
    for (size_t i = 0; i < T * M; i++) K[i] = (float)(0.2 + 0.7 * tr_rng_uniform(&r));
    for (size_t m = 0; m < M; m++) price[m] = (float)(1e-8 * pow(10, 3 * tr_rng_uniform(&r)));
    for (size_t i = 0; i < n; i++) {
        size_t t = tr_rng_below(&r, T);
        y[i] = (int32_t)t;
        double nn = 0;
        for (size_t a = 0; a < d; a++) { X[i * d + a] = cent[t * d + a] + 2.0f * (float)tr_rng_normal(&r); nn += X[i * d + a] * X[i * d + a]; }
        for (size_t a = 0; a < d; a++) X[i * d + a] /= (float)sqrt(nn);
        double s = 0;
        for (size_t u = 0; u < T; u++) { P[i * T + u] = (float)tr_rng_uniform(&r) * 0.02f; s += P[i * T + u]; }
        P[i * T + t] += 1.0f; s += 1;
        for (size_t u = 0; u < T; u++) P[i * T + u] /= (float)s;
        L[i] = (float)(100 + tr_rng_below(&r, 3000));
        for (size_t m = 0; m < M; m++) {
            S[i * M + m] = tr_rng_uniform(&r) < K[t * M + m] ? 1.0f : 0.0f;
            C[i * M + m] = price[m] * L[i];
        }
    }
    char err[256];
    tr_heads *h = NULL;
    double t0 = tr_now();
    if (tr_heads_train(X, P, y, n, d, T, S, C, L, M, NULL, &h, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    double ttrain = tr_now() - t0;
    printf("train: n=%zu M=%zu T=%zu d=%zu: %.2f s (5-fold CV, %d variants); chosen %s + %s, ridge alpha %g\n",
           n, M, T, d, ttrain, 5 * 2, tr_qvariant_name(tr_heads_qvariant(h)), tr_cvariant_name(tr_heads_cvariant(h)),
           tr_heads_ridge_alpha(h));
    enum { REPS = 20000 };
    double *lat = malloc(REPS * sizeof *lat);
    float q[29], qc[29], c[29], sc[4];
    volatile int sink = 0;
    for (int qv = 0; qv < TR_QV_COUNT; qv++) {
        if (!tr_heads_has_qvariant(h, qv)) continue;
        for (int i = 0; i < 2000; i++)   /* warm-up */
            tr_heads_predict_variant(h, qv, tr_heads_cvariant(h), X + (i % n) * d, P + (i % n) * T, 500, q, qc, c, sc);
        for (int i = 0; i < REPS; i++) {
            size_t j = (size_t)i * 7919 % n;
            double a = tr_now();
            tr_heads_predict_variant(h, qv, tr_heads_cvariant(h), X + j * d, P + j * T, (size_t)L[j], q, qc, c, sc);
            sink += tr_select(q, qc, c, M, NULL, TR_SELECT_LAMBDA, 1e3, tr_heads_tables(h));
            lat[i] = tr_now() - a;
        }
        qsort(lat, REPS, sizeof *lat, cmpd);
        printf("predict+select %-12s p50 %.2f us  p99 %.2f us\n", tr_qvariant_name(qv), lat[REPS / 2] * 1e6, lat[REPS * 99 / 100] * 1e6);
    }
    printf("commit: see git; BLAS: %s\n", openblas_get_config());
    (void)sink;
    tr_heads_free(h);
    free(X); free(P); free(S); free(C); free(L); free(K); free(price); free(cent); free(y); free(lat);
    return 0;
}
