/* Labelling order (sample.h). */
#include "label/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int tr_sample_strategy_parse(const char *s, tr_sample_strategy *out)
{
    static const char *const names[] = {"random", "uncertain", "stratified"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) { *out = (tr_sample_strategy)i; return 0; }
    return -1;
}

typedef struct keyed { float key; uint64_t tie; size_t i; } keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->tie != y->tie) return x->tie < y->tie ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int tr_sample_order(size_t n, tr_sample_strategy s, const float *margin, const int *task, uint64_t seed,
                    size_t *order)
{
    if ((s == TR_SAMPLE_UNCERTAIN && !margin) || (s == TR_SAMPLE_STRATIFIED && !task)) return TR_EINVAL;
    if (!n) return TR_OK;
    keyed *k = tr_mallocarray(n, sizeof *k);
    if (!k) return TR_ENOMEM;
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        k[i].i = i;
        k[i].tie = tr_rng_next(&rng);
        /* unknown margins go after every known one */
        k[i].key = s == TR_SAMPLE_UNCERTAIN ? (isnan(margin[i]) ? INFINITY : margin[i]) : 0.0f;
    }
    if (s == TR_SAMPLE_STRATIFIED) {
        /* shuffle, then the rank of each item within its task is its round */
        qsort(k, n, sizeof *k, by_key);
        int max_task = 0;
        for (size_t i = 0; i < n; i++) max_task = task[i] > max_task ? task[i] : max_task;
        size_t *seen = tr_calloc((size_t)max_task + 1, sizeof *seen);
        if (!seen) { tr_free(k); return TR_ENOMEM; }
        for (size_t j = 0; j < n; j++) {
            int t = task[k[j].i] < 0 ? 0 : task[k[j].i];
            /* round first, then the task's place in the random order of its first item */
            k[j].key = (float)seen[t]++;
        }
        tr_free(seen);
    }
    qsort(k, n, sizeof *k, by_key);
    for (size_t i = 0; i < n; i++) order[i] = k[i].i;
    tr_free(k);
    return TR_OK;
}
