/* Prompt-level correction of the task prior: per model, a ridge regression of
 * the residual (score - the prompt's task prior) on the embedding with an
 * unpenalised intercept.  One regression per model shared by all tasks (not
 * one per task and model): most tasks have a few hundred prompts, too few
 * for d = 256 weights each, while the residual structure (e.g. "long
 * multi-step prompt -> small models fail more") is shared.
 *
 * The Gram matrix [X 1]^T [X 1] is built once with SSYRK over blocks of
 * gathered rows (accumulated in double); a model missing labels on some rows
 * subtracts those rows' Gram instead of rebuilding it.  Each model's system
 * is then solved by Cholesky (LAPACKE_dposv), once per penalty of the grid
 * cross-validation compares (the Gram matrix is shared). */
#include "heads/parts.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "kernels/gemv.h"

#define BLOCK TR_EXPERT_BLOCK

void tr_expert_gram_add(const float *X, size_t d, const size_t *idx, size_t nidx,
                        double sign, double *G, float *buf, float *gb)
{
    size_t D = d + 1;
    for (size_t s = 0; s < nidx; s += BLOCK) {
        size_t nb = nidx - s < BLOCK ? nidx - s : BLOCK;
        for (size_t r = 0; r < nb; r++) {
            memcpy(buf + r * D, X + idx[s + r] * d, d * sizeof *buf);
            buf[r * D + d] = 1.0f;
        }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)D, (int)nb, 1.0f,
                    buf, (int)D, 0.0f, gb, (int)D);
        for (size_t a = 0; a < D; a++)
            for (size_t b = a; b < D; b++) G[a * D + b] += sign * gb[a * D + b];
    }
}

int tr_expert_solve(const double *A, const double *rhs0, size_t d, size_t nl, double alpha,
                    double *A2, double *rhs, float *w, size_t model, char *err, size_t errlen)
{
    size_t D = d + 1;
    memcpy(A2, A, D * D * sizeof *A2);
    memcpy(rhs, rhs0, D * sizeof *rhs);
    /* a tiny ridge on the intercept too keeps a 1-row fit positive definite */
    A2[d * D + d] += 1e-9 * (double)nl + 1e-12;
    for (size_t a = 0; a < d; a++) A2[a * D + a] += alpha;
    /* the upper triangle in row-major order is the lower one in
     * column-major: no transposed copy inside LAPACKE */
    lapack_int info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', (lapack_int)D, 1, A2,
                                    (lapack_int)D, rhs, (lapack_int)D);
    if (info != 0)
        return tr_errorf(err, errlen, TR_EDEP,
                         "ridge head of model %zu: LAPACKE_dposv info %d (%zu labelled rows, alpha %g)",
                         model, (int)info, nl, alpha);
    for (size_t a = 0; a < D; a++) w[a] = (float)rhs[a];
    return TR_OK;
}

int tr_expert_fit(const float *X, size_t d, const float *V, size_t M,
                  const float *base, const int32_t *y, const size_t *rows,
                  size_t nrows, const double *alphas, size_t na, float *const *Ws,
                  char *err, size_t errlen)
{
    size_t D = d + 1;
    int rc = TR_ENOMEM;
    double *G = tr_mallocarray(D * D, sizeof *G);
    double *A = tr_mallocarray(D * D, sizeof *A), *A2 = tr_mallocarray(D * D, sizeof *A2);
    double *rhs0 = tr_mallocarray(D, sizeof *rhs0);
    double *rhs = tr_mallocarray(D, sizeof *rhs);
    float *buf = tr_mallocarray((size_t)BLOCK * D, sizeof *buf);
    float *gb = tr_mallocarray(D * D, sizeof *gb);
    size_t *miss = tr_mallocarray(nrows ? nrows : 1, sizeof *miss);
    size_t *lab = tr_mallocarray(nrows ? nrows : 1, sizeof *lab);
    size_t *all = NULL;
    if (!rows) all = tr_mallocarray(nrows ? nrows : 1, sizeof *all);
    if (!G || !A || !A2 || !rhs0 || !rhs || !buf || !gb || !miss || !lab || (!rows && !all)) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "ridge heads: out of memory (d=%zu, rows=%zu)", d, nrows);
        goto fail;
    }
    if (!rows) {
        for (size_t r = 0; r < nrows; r++) all[r] = r;
        rows = all;
    }
    memset(G, 0, D * D * sizeof *G);
    tr_expert_gram_add(X, d, rows, nrows, 1.0, G, buf, gb);

    for (size_t m = 0; m < M; m++) {
        for (size_t a = 0; a < na; a++) memset(Ws[a] + m * D, 0, D * sizeof(float));
        size_t nm = 0, nl = 0;
        for (size_t r = 0; r < nrows; r++) {
            size_t i = rows[r];
            if (isnan(V[i * M + m])) miss[nm++] = i; else lab[nl++] = i;
        }
        if (nl == 0) continue;
        if (nm == 0) {
            memcpy(A, G, D * D * sizeof *A);
        } else if (nm < nl) {
            memcpy(A, G, D * D * sizeof *A);
            tr_expert_gram_add(X, d, miss, nm, -1.0, A, buf, gb);
        } else {
            memset(A, 0, D * D * sizeof *A);
            tr_expert_gram_add(X, d, lab, nl, 1.0, A, buf, gb);
        }
        memset(rhs0, 0, D * sizeof *rhs0);
        for (size_t r = 0; r < nl; r++) {
            size_t i = lab[r];
            double res = (double)V[i * M + m] - (double)base[(size_t)y[i] * M + m];
            const float *x = X + i * d;
            for (size_t a = 0; a < d; a++) rhs0[a] += res * x[a];
            rhs0[d] += res;
        }
        for (size_t k = 0; k < na; k++)
            if ((rc = tr_expert_solve(A, rhs0, d, nl, alphas[k], A2, rhs, Ws[k] + m * D, m, err, errlen))) goto fail;
    }
    rc = TR_OK;
fail:
    tr_free(G); tr_free(A); tr_free(A2); tr_free(rhs0); tr_free(rhs); tr_free(buf); tr_free(gb);
    tr_free(miss); tr_free(lab); tr_free(all);
    return rc;
}

/* One GEMV (the weights are M rows of stride d+1), gemv.h's: in a fixed
 * order and never on OpenBLAS's threads.  'corr' is M floats of scratch. */
void tr_expert_apply(const float *W, size_t d, size_t M, const float *x, float *out, float *corr)
{
    size_t D = d + 1;
    tr_gemv(M, d, W, D, x, corr);
    for (size_t m = 0; m < M; m++)
        if (!isnan(out[m])) out[m] += corr[m] + W[m * D + d];
}
