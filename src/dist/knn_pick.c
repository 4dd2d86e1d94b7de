/* Per-task bounded selection of the smallest keys (knn_pick.h). */
#include "dist/knn_pick.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void tr_knn_pick_free(tr_knn_pick *p)
{
    if (!p) return;
    tr_free(p->count); tr_free(p->key); tr_free(p->slot); tr_free(p->row); tr_free(p->skey); tr_free(p->data);
    memset(p, 0, sizeof *p);
}

int tr_knn_pick_init(tr_knn_pick *p, size_t T, size_t cap, size_t width)
{
    memset(p, 0, sizeof *p);
    p->T = T; p->cap = cap; p->width = width;
    size_t n = T * cap;
    if (!n) n = 1;
    p->count = tr_calloc(T ? T : 1, sizeof *p->count);
    p->key = tr_mallocarray(n, sizeof *p->key);
    p->slot = tr_mallocarray(n, sizeof *p->slot);
    p->row = tr_mallocarray(n, sizeof *p->row);
    p->skey = tr_mallocarray(n, sizeof *p->skey);
    p->data = tr_mallocarray(n, width * sizeof *p->data);
    if (!p->count || !p->key || !p->slot || !p->row || !p->skey || !p->data) {
        tr_knn_pick_free(p);
        return TR_ENOMEM;
    }
    return TR_OK;
}

void tr_knn_pick_offer(tr_knn_pick *p, size_t t, uint64_t key, uint64_t row, const float *payload)
{
    if (t >= p->T || p->cap == 0) return;
    uint64_t *k = p->key + t * p->cap;
    size_t *sl = p->slot + t * p->cap, n = p->count[t], s, i;
    if (n < p->cap) {
        /* sift up from the end */
        s = n;
        i = n;
        p->count[t] = n + 1;
        while (i > 0 && k[(i - 1) / 2] < key) {
            k[i] = k[(i - 1) / 2];
            sl[i] = sl[(i - 1) / 2];
            i = (i - 1) / 2;
        }
    } else {
        if (key >= k[0]) return;
        /* replace the largest: its slot takes the new row; sift down */
        s = sl[0];
        i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && k[c + 1] > k[c]) c++;
            if (k[c] <= key) break;
            k[i] = k[c];
            sl[i] = sl[c];
            i = c;
        }
    }
    k[i] = key;
    sl[i] = s;
    p->row[t * p->cap + s] = row;
    p->skey[t * p->cap + s] = key;
    memcpy(p->data + (t * p->cap + s) * p->width, payload, p->width * sizeof *payload);
}

size_t tr_knn_pick_keys(const tr_knn_pick *p, uint32_t *task, uint64_t *key)
{
    size_t n = 0;
    for (size_t t = 0; t < p->T; t++)
        for (size_t s = 0; s < p->count[t]; s++) {
            task[n] = (uint32_t)t;
            key[n++] = p->skey[t * p->cap + s];
        }
    return n;
}

typedef struct pick_ref { uint64_t row; uint32_t task; size_t slot; } pick_ref;

static int cmp_ref(const void *a, const void *b)
{
    const pick_ref *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

size_t tr_knn_pick_select(const tr_knn_pick *p, const uint64_t *cut, uint32_t *task, size_t *slot)
{
    size_t total = 0, n = 0;
    for (size_t t = 0; t < p->T; t++) total += p->count[t];
    pick_ref *r = tr_mallocarray(total ? total : 1, sizeof *r);
    if (!r) return (size_t)-1;
    for (size_t t = 0; t < p->T; t++)
        for (size_t s = 0; s < p->count[t]; s++)
            if (p->skey[t * p->cap + s] <= cut[t]) r[n++] = (pick_ref){p->row[t * p->cap + s], (uint32_t)t, s};
    qsort(r, n, sizeof *r, cmp_ref);
    for (size_t i = 0; i < n; i++) { task[i] = r[i].task; slot[i] = r[i].slot; }
    tr_free(r);
    return n;
}
