/* The task table from sums (task_sums.h): tr_tasks_build's figures. */
#include "dist/task_sums.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "base/vec.h"

void tr_task_sums_free(tr_task_sums *s)
{
    if (!s) return;
    tr_free(s->sum);
    memset(s, 0, sizeof *s);
}

int tr_task_sums_init(tr_task_sums *s, size_t T, size_t d, size_t M)
{
    memset(s, 0, sizeof *s);
    s->T = T; s->d = d; s->M = M;
    s->n_sum = T + T * d + 4 * T * M;
    s->sum = tr_calloc(s->n_sum ? s->n_sum : 1, sizeof *s->sum);
    if (!s->sum) return TR_ENOMEM;
    s->count = s->sum;
    s->xsum = s->count + T;
    s->qs = s->xsum + T * d;
    s->qn = s->qs + T * M;
    s->cs = s->qn + T * M;
    s->cn = s->cs + T * M;
    return TR_OK;
}

int tr_task_sums_add(tr_task_sums *s, const float *X, const float *S, const float *C, const int32_t *y, size_t n)
{
    size_t T = s->T, d = s->d, M = s->M;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= T) return TR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)y[i];
        s->count[t] += 1;
        double *c = s->xsum + t * d;
        for (size_t j = 0; j < d; j++) c[j] += X[i * d + j];
        for (size_t m = 0; m < M; m++) {
            float q = S[i * M + m], k = C[i * M + m];
            if (!isnan(q)) { s->qs[t * M + m] += q; s->qn[t * M + m] += 1; }
            if (!isnan(k)) { s->cs[t * M + m] += k; s->cn[t * M + m] += 1; }
        }
    }
    return TR_OK;
}

int tr_task_sums_apply(const tr_task_sums *s, tr_tasks *t)
{
    size_t T = s->T, d = s->d, M = s->M;
    if (t->n_tasks != T || t->dim != d || t->n_models != M) return TR_EINVAL;
    for (size_t k = 0; k < T; k++) {
        t->sizes[k] = (uint32_t)s->count[k];
        float *c = t->centroids + k * d;
        for (size_t j = 0; j < d; j++) c[j] = (float)s->xsum[k * d + j];
        tr_vec_unit(c, c, d);
    }
    for (size_t k = 0; k < T * M; k++) {
        t->n_labels[k] = (uint32_t)s->qn[k];
        t->quality[k] = s->qn[k] > 0 ? (float)(s->qs[k] / s->qn[k]) : NAN;
        t->cost[k] = s->cn[k] > 0 ? (float)(s->cs[k] / s->cn[k]) : NAN;
    }
    return TR_OK;
}
