/* Synthetic routing data with a planted truth, for the heads and selection
 * tests: T tasks, M models, a known skill matrix K[t][m] = P(model m answers
 * a task-t prompt right), optionally a prompt-level effect (model 'pm' is
 * better by 'eff' when x[0] > 0 and worse when x[0] < 0), and costs =
 * price_m * prompt bytes.  Embeddings are task centroids plus noise, unit
 * length; P puts 'conf' on the true task and spreads the rest. */
#ifndef TR_HEADS_SYNTH_H
#define TR_HEADS_SYNTH_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

typedef struct synth {
    size_t n, d, T, M;
    float *X, *P, *S, *C, *L, *K;   /* K: T x M true skill */
    int32_t *y;
    float *ptrue;                   /* n x M true success probability */
} synth;

static inline void synth_free(synth *s)
{
    free(s->X); free(s->P); free(s->S); free(s->C); free(s->L); free(s->K); free(s->y); free(s->ptrue);
    memset(s, 0, sizeof *s);
}

/* sizes[t] prompts per task; price[m] USD per byte; pm < 0: no prompt effect. */
static inline void synth_make(synth *s, size_t T, size_t M, size_t d, const size_t *sizes,
                              const float *K, const float *price, float conf, int pm,
                              float eff, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    size_t n = 0;
    for (size_t t = 0; t < T; t++) n += sizes[t];
    s->n = n; s->d = d; s->T = T; s->M = M;
    s->X = calloc(n * d, sizeof(float)); s->P = calloc(n * T, sizeof(float));
    s->S = calloc(n * M, sizeof(float)); s->C = calloc(n * M, sizeof(float));
    s->L = calloc(n, sizeof(float)); s->K = calloc(T * M, sizeof(float));
    s->y = calloc(n, sizeof(int32_t)); s->ptrue = calloc(n * M, sizeof(float));
    memcpy(s->K, K, T * M * sizeof(float));
    tr_rng r;
    tr_rng_seed(&r, seed);
    size_t i = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < sizes[t]; j++, i++) {
            s->y[i] = (int32_t)t;
            float *x = s->X + i * d;
            double nn = 0;
            for (size_t a = 0; a < d; a++) {
                x[a] = (float)(0.4 * tr_rng_normal(&r));
                if (a == 1 + t % (d - 1)) x[a] += 2.0f;
                nn += (double)x[a] * x[a];
            }
            for (size_t a = 0; a < d; a++) x[a] /= (float)sqrt(nn);
            for (size_t u = 0; u < T; u++) s->P[i * T + u] = T > 1 ? (1 - conf) / (float)(T - 1) : 1;
            s->P[i * T + t] = T > 1 ? conf : 1;
            s->L[i] = (float)(200 + tr_rng_below(&r, 1800));
            for (size_t m = 0; m < M; m++) {
                float p = K[t * M + m];
                if ((int)m == pm) p += x[0] > 0 ? eff : -eff;
                p = p < 0 ? 0 : p > 1 ? 1 : p;
                s->ptrue[i * M + m] = p;
                s->S[i * M + m] = tr_rng_uniform(&r) < p ? 1.0f : 0.0f;
                s->C[i * M + m] = price[m] * s->L[i];
            }
        }
}

#endif
