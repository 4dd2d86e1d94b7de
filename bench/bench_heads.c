/* Stage-2 benchmarks.
 *
 *   bench_heads [n_train]        timings on synthetic data shaped like the real
 *                                problem (M = 29, T = 50, d = 256): training
 *                                time (5-fold CV over every variant) and
 *                                predict + select latency, p50 / p99 of single
 *                                calls, warm-up excluded [10000]
 *   bench_heads --data DIR [--tokens] [--topk K] [--k0 K0] [--knn-p P] [--knn-tasks G]
 *                                quality on exported features (raw float32
 *                                files tr_X.f32 ... te_y.i32 and meta.txt
 *                                "n_tr n_te d T M", written by the research
 *                                pipeline's export): the CV table, then the
 *                                docs/evaluation.md figures of every variant on the test
 *                                rows.  --tokens: costs scale with the token
 *                                count instead of bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/util.h"
#include "heads/heads.h"
#include "heads/parts.h"
#include "heads/select.h"

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *slurp(const char *dir, const char *name, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    void *p = malloc(bytes ? bytes : 1);
    if (fread(p, 1, bytes, f) != bytes) { fprintf(stderr, "short read %s\n", path); exit(1); }
    fclose(f);
    return p;
}

static int real_data(const char *dir, int tokens, int topk, double k0, double knn_p, int knn_tasks)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    size_t ntr, nte, d, T, M;
    if (!f || fscanf(f, "%zu %zu %zu %zu %zu", &ntr, &nte, &d, &T, &M) != 5) { fprintf(stderr, "bad %s\n", path); return 1; }
    fclose(f);
    float *X = slurp(dir, "tr_X.f32", ntr * d * 4), *P = slurp(dir, "tr_P.f32", ntr * T * 4);
    float *S = slurp(dir, "tr_S.f32", ntr * M * 4), *C = slurp(dir, "tr_C.f32", ntr * M * 4);
    float *L = slurp(dir, tokens ? "tr_Lt.f32" : "tr_Lb.f32", ntr * 4);
    int32_t *y = slurp(dir, "tr_y.i32", ntr * 4), *fold = slurp(dir, "tr_fold.i32", ntr * 4);
    float *Xt = slurp(dir, "te_X.f32", nte * d * 4), *Pt = slurp(dir, "te_P.f32", nte * T * 4);
    float *St = slurp(dir, "te_S.f32", nte * M * 4), *Ct = slurp(dir, "te_C.f32", nte * M * 4);
    float *Lt = slurp(dir, tokens ? "te_Lt.f32" : "te_Lb.f32", nte * 4);
    tr_heads_params p;
    tr_heads_params_default(&p);
    p.fold = fold;
    p.gate_top_k = topk > 0 ? topk : (int)(T < 64 ? T : 64);
    if (k0 >= 0) p.k0 = k0;
    if (knn_p > 0) p.knn_p = knn_p;
    if (knn_tasks >= 0) p.knn_tasks = knn_tasks;
    char err[256];
    tr_heads *h = NULL;
    double t0 = tr_now();
    if (tr_heads_train(X, P, y, ntr, d, T, S, C, L, M, &p, &h, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    printf("%s: train %zu rows, test %zu, d=%zu T=%zu M=%zu, top_k=%d, lengths in %s: trained in %.1f s\n",
           dir, ntr, nte, d, T, M, p.gate_top_k, tokens ? "tokens" : "bytes", tr_now() - t0);
    size_t nrow;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrow);
    printf("CV (5 folds, complete train rows):\n");
    for (size_t i = 0; i < nrow; i++)
        printf("  %-12s a=%-5g %-12s Q@C=%.4f gap=%.3f save=%6.1f%% Qmax=%.4f AIQlin=%.4f AIQlog=%.4f ECE=%.3f\n",
               tr_qvariant_name(rows[i].qv), rows[i].alpha, tr_cvariant_name(rows[i].cv), rows[i].q_at_cbest,
               rows[i].gap, 100 * rows[i].saving, rows[i].q_max, rows[i].aiq_lin, rows[i].aiq_log, rows[i].ece);
    double er, ec;
    tr_heads_ece(h, &er, &ec);
    printf("chosen: %s (alpha %g) + %s; out-of-fold ECE %.4f raw, %.4f calibrated\n", tr_qvariant_name(tr_heads_qvariant(h)),
           tr_heads_ridge_alpha(h), tr_cvariant_name(tr_heads_cvariant(h)), er, ec);
    /* test figures of every variant */
    double cs = 0; size_t cn = 0;
    for (size_t i = 0; i < ntr * M; i++) if (!isnan(C[i])) { cs += C[i]; cn++; }
    size_t nl = 101;
    double lam[101], pc[101], pq[101];
    lam[0] = 0; lam[nl - 1] = INFINITY;
    for (size_t j = 1; j + 1 < nl; j++) lam[j] = pow(10.0, -3.0 + 6.0 * (double)(j - 1) / (double)(nl - 3)) / (cs / (double)cn);
    tr_frontier_ref ref;
    tr_frontier_ref_compute(St, Ct, nte, M, NULL, &ref);
    printf("test: Q_best=%.4f C_best=%.6f Q_oracle=%.4f\n", ref.q_best, ref.c_best, ref.q_oracle);
    float *q = malloc(nte * M * 4), *c = malloc(nte * M * 4), *qc = malloc(nte * M * 4);
    float *sc = malloc(tr_heads_scratch_floats(h) * 4);
    for (int qv = 0; qv < TR_QV_COUNT; qv++)
        for (int cv = 0; cv < TR_CV_COUNT; cv++) {
            if (!tr_heads_has_qvariant(h, qv) || !tr_heads_has_cvariant(h, cv)) continue;
            for (size_t i = 0; i < nte; i++)
                tr_heads_predict_variant(h, qv, cv, Xt + i * d, Pt + i * T, (size_t)Lt[i], NULL, q + i * M, qc + i * M, c + i * M, sc);
            float *pp = malloc(nl * nte * 4), *aa = malloc(nl * nte * 4);
            size_t np = 0;
            for (size_t j = 0; j < nl; j++) {
                double sq = 0, scost = 0;
                for (size_t i = 0; i < nte; i++) {
                    int m = tr_select_lambda(q + i * M, c + i * M, M, NULL, lam[j]);
                    sq += St[i * M + m]; scost += Ct[i * M + m];
                    pp[np] = qc[i * M + m]; aa[np] = St[i * M + m]; np++;
                }
                pc[j] = scost / (double)nte; pq[j] = sq / (double)nte;
            }
            tr_frontier_figs fg;
            tr_frontier_figures(pc, pq, nl, &ref, &fg);
            printf("  TEST %-12s %-12s Q@C=%.4f gap=%.3f save=%6.1f%% Qmax=%.4f AIQlin=%.4f AIQlog=%.4f ECE(cal)=%.3f\n",
                   tr_qvariant_name(qv), tr_cvariant_name(cv), fg.q_at_cbest, fg.gap, 100 * fg.saving, fg.q_max,
                   fg.aiq_lin, fg.aiq_log, tr_ece(pp, aa, np, 10));
            free(pp); free(aa);
        }
    /* latency of predict + select per variant on the test rows */
    for (int qv = 0; qv < TR_QV_COUNT; qv++) {
        if (!tr_heads_has_qvariant(h, qv)) continue;
        double *lat = malloc(nte * sizeof *lat);
        for (size_t i = 0; i < nte; i++) {
            double a = tr_now();
            tr_heads_predict_variant(h, qv, tr_heads_cvariant(h), Xt + i * d, Pt + i * T, (size_t)Lt[i], NULL, q, qc, c, sc);
            (void)tr_select(q, qc, c, M, NULL, TR_SELECT_LAMBDA, 1e3, tr_heads_tables(h));
            lat[i] = tr_now() - a;
        }
        qsort(lat, nte, sizeof *lat, cmpd);
        printf("  LATENCY %-12s p50 %.2f us  p99 %.2f us\n", tr_qvariant_name(qv), lat[nte / 2] * 1e6, lat[nte * 99 / 100] * 1e6);
        free(lat);
    }
    /* budget and risk on the test rows */
    const tr_select_tables *tab = tr_heads_tables(h);
    for (int k = 1; k <= 4; k++) {
        double B = ref.c_best * k / 4.0, sq = 0, scost = 0;
        for (size_t i = 0; i < nte; i++) {
            tr_heads_predict(h, Xt + i * d, Pt + i * T, (size_t)Lt[i], NULL, q, qc, c, sc);
            int m = tr_select(q, qc, c, M, NULL, TR_SELECT_BUDGET, B, tab);
            sq += St[i * M + m]; scost += Ct[i * M + m];
        }
        printf("  BUDGET B=%.3g (C_best x %.2f): realised cost %.3g (%.2f of B), quality %.4f\n", B, k / 4.0,
               scost / (double)nte, scost / (double)nte / B, sq / (double)nte);
    }
    for (int k = 0; k < 4; k++) {
        double a = (double[]){0.05, 0.1, 0.2, 0.3}[k], mis = 0, scost = 0, sq = 0;
        for (size_t i = 0; i < nte; i++) {
            tr_heads_predict(h, Xt + i * d, Pt + i * T, (size_t)Lt[i], NULL, q, qc, c, sc);
            int m = tr_select(q, qc, c, M, NULL, TR_SELECT_RISK, a, tab);
            int b = tr_select(qc, qc, c, M, NULL, TR_SELECT_QUALITY, 0, NULL);
            mis += St[i * M + m] < St[i * M + b]; scost += Ct[i * M + m]; sq += St[i * M + m];
        }
        printf("  RISK alpha=%.2f: misrouted %.3f, cost %.3g, quality %.4f\n", a, mis / (double)nte, scost / (double)nte, sq / (double)nte);
    }
    tr_heads_free(h);
    free(X); free(P); free(S); free(C); free(L); free(y); free(fold); free(Xt); free(Pt); free(St); free(Ct); free(Lt);
    free(q); free(c); free(sc); free(qc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--data") == 0) {
        int tokens = 0, topk = 0, kt = -1;
        double k0 = -1, kp = -1;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--tokens") == 0) tokens = 1;
            else if (strcmp(argv[i], "--topk") == 0 && i + 1 < argc) topk = atoi(argv[++i]);
            else if (strcmp(argv[i], "--k0") == 0 && i + 1 < argc) k0 = atof(argv[++i]);
            else if (strcmp(argv[i], "--knn-p") == 0 && i + 1 < argc) kp = atof(argv[++i]);
            else if (strcmp(argv[i], "--knn-tasks") == 0 && i + 1 < argc) kt = atoi(argv[++i]);
        }
        return real_data(argv[2], tokens, topk, k0, kp, kt);
    }
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
    float q[29], qc[29], c[29];
    float *sc = malloc(tr_heads_scratch_floats(h) * sizeof *sc);
    volatile int sink = 0;
    for (int qv = 0; qv < TR_QV_COUNT; qv++) {
        if (!tr_heads_has_qvariant(h, qv)) continue;
        for (int i = 0; i < 2000; i++)   /* warm-up */
            tr_heads_predict_variant(h, qv, tr_heads_cvariant(h), X + (i % n) * d, P + (i % n) * T, 500, NULL, q, qc, c, sc);
        for (int i = 0; i < REPS; i++) {
            size_t j = (size_t)i * 7919 % n;
            double a = tr_now();
            tr_heads_predict_variant(h, qv, tr_heads_cvariant(h), X + j * d, P + j * T, (size_t)L[j], NULL, q, qc, c, sc);
            sink += tr_select(q, qc, c, M, NULL, TR_SELECT_LAMBDA, 1e3, tr_heads_tables(h));
            lat[i] = tr_now() - a;
        }
        qsort(lat, REPS, sizeof *lat, cmpd);
        printf("predict+select %-12s p50 %.2f us  p99 %.2f us\n", tr_qvariant_name(qv), lat[REPS / 2] * 1e6, lat[REPS * 99 / 100] * 1e6);
    }
    printf("commit: see git; BLAS: %s\n", openblas_get_config());
    (void)sink;
    free(sc);
    tr_heads_free(h);
    free(X); free(P); free(S); free(C); free(L); free(K); free(price); free(cent); free(y); free(lat);
    return 0;
}
