/* Per-record keys and the cuts they give (keys.h). */
#include "dist/keys.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"

uint64_t tr_dist_key(const char *id, size_t len, uint64_t seed, uint64_t salt)
{
    return tr_mix64(tr_fnv1a64(id, len) ^ tr_mix64(seed ^ salt));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t tr_keys_cut(uint64_t *keys, size_t n, size_t k)
{
    if (k > n) return UINT64_MAX;
    qsort(keys, n, sizeof *keys, cmp_u64);
    return k ? keys[k - 1] : 0;
}

int tr_task_cuts(uint32_t *task, uint64_t *keys, size_t n, size_t T, size_t cap, uint64_t *cut)
{
    size_t *start = tr_calloc(T + 1, sizeof *start);
    uint64_t *by = tr_mallocarray(n ? n : 1, sizeof *by);
    if (!start || !by) { tr_free(start); tr_free(by); return TR_ENOMEM; }
    for (size_t i = 0; i < n; i++) {
        if (task[i] >= T) { tr_free(start); tr_free(by); return TR_EINVAL; }
        start[task[i] + 1]++;
    }
    for (size_t t = 0; t < T; t++) start[t + 1] += start[t];
    for (size_t i = 0; i < n; i++) by[start[task[i]]++] = keys[i];
    for (size_t t = T; t > 0; t--) start[t] = start[t - 1];
    start[0] = 0;
    for (size_t t = 0; t < T; t++) {
        size_t m = start[t + 1] - start[t];
        cut[t] = cap == 0 ? 0 : tr_keys_cut(by + start[t], m, cap);
    }
    memcpy(keys, by, n * sizeof *keys);
    for (size_t t = 0; t < T; t++)
        for (size_t i = start[t]; i < start[t + 1]; i++) task[i] = (uint32_t)t;
    tr_free(start);
    tr_free(by);
    return TR_OK;
}
