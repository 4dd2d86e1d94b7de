/* The request-id memory of online mode: fixed ring + chained hash index.
 * See online_memory.h. */
#include "server/online_memory.h"

#include <pthread.h>
#include <string.h>

#include "taskroute.h"
#include "base/hash.h"
#include "base/util.h"

#define NONE ((size_t)-1)

typedef struct slot {
    char id[64];          /* "" = free */
    size_t next;          /* next slot in the same hash chain, or NONE */
    tr_online_memo v;
} slot;

struct tr_online_memory {
    pthread_mutex_t mu;
    size_t cap, head, count;   /* head: the slot the next put overwrites */
    size_t nbuckets;           /* power of two >= 2 cap */
    size_t *bucket;            /* first slot of each chain, or NONE */
    slot *s;
};

/* FNV-1a: ids are short and server-made, no adversarial hashing needed. */
static size_t hash_id(const char *id)
{
    return (size_t)tr_fnv1a64(id, strlen(id));
}

int tr_online_memory_new(size_t capacity, tr_online_memory **out)
{
    *out = NULL;
    if (capacity < 1 || capacity > ((size_t)1 << 30)) return TR_EINVAL;
    tr_online_memory *mm = tr_calloc(1, sizeof *mm);
    if (!mm) return TR_ENOMEM;
    if (pthread_mutex_init(&mm->mu, NULL)) { tr_free(mm); return TR_ENOMEM; }
    mm->cap = capacity;
    mm->nbuckets = 2;
    while (mm->nbuckets < 2 * capacity) mm->nbuckets *= 2;
    mm->bucket = tr_mallocarray(mm->nbuckets, sizeof *mm->bucket);
    mm->s = tr_calloc(capacity, sizeof *mm->s);
    if (!mm->bucket || !mm->s) { tr_online_memory_free(mm); return TR_ENOMEM; }
    for (size_t i = 0; i < mm->nbuckets; i++) mm->bucket[i] = NONE;
    *out = mm;
    return TR_OK;
}

void tr_online_memory_free(tr_online_memory *mm)
{
    if (!mm) return;
    pthread_mutex_destroy(&mm->mu);
    tr_free(mm->bucket);
    tr_free(mm->s);
    tr_free(mm);
}

/* Unlink slot i from its chain and mark it free.  Lock held. */
static void unlink_slot(tr_online_memory *mm, size_t i)
{
    size_t *p = &mm->bucket[hash_id(mm->s[i].id) & (mm->nbuckets - 1)];
    while (*p != NONE && *p != i) p = &mm->s[*p].next;
    if (*p == i) *p = mm->s[i].next;
    mm->s[i].id[0] = 0;
    mm->s[i].next = NONE;
    mm->count--;
}

/* The slot holding id, or NONE.  Lock held. */
static size_t find(tr_online_memory *mm, const char *id)
{
    for (size_t i = mm->bucket[hash_id(id) & (mm->nbuckets - 1)]; i != NONE; i = mm->s[i].next)
        if (!strcmp(mm->s[i].id, id)) return i;
    return NONE;
}

int tr_online_memory_put(tr_online_memory *mm, const char *id, const tr_online_memo *v)
{
    size_t n = strlen(id);
    if (!n || n >= sizeof mm->s[0].id) return TR_EINVAL;
    pthread_mutex_lock(&mm->mu);
    size_t old = find(mm, id);
    if (old != NONE) unlink_slot(mm, old);
    size_t i = mm->head;
    mm->head = (mm->head + 1) % mm->cap;
    if (mm->s[i].id[0]) unlink_slot(mm, i);   /* the oldest entry expires */
    memcpy(mm->s[i].id, id, n + 1);
    mm->s[i].v = *v;
    size_t b = hash_id(id) & (mm->nbuckets - 1);
    mm->s[i].next = mm->bucket[b];
    mm->bucket[b] = i;
    mm->count++;
    pthread_mutex_unlock(&mm->mu);
    return TR_OK;
}

int tr_online_memory_take(tr_online_memory *mm, const char *id, tr_online_memo *v)
{
    if (strlen(id) >= sizeof mm->s[0].id) return 0;
    pthread_mutex_lock(&mm->mu);
    size_t i = find(mm, id);
    if (i != NONE) {
        *v = mm->s[i].v;
        unlink_slot(mm, i);
    }
    pthread_mutex_unlock(&mm->mu);
    return i != NONE;
}

size_t tr_online_memory_count(tr_online_memory *mm)
{
    pthread_mutex_lock(&mm->mu);
    size_t n = mm->count;
    pthread_mutex_unlock(&mm->mu);
    return n;
}
