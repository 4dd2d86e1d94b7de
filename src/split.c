/* EVAL.md's train/test split: a record is test data when FNV-1a 64 of its
 * id's bytes is 0 modulo 5.  Kept in its own file because the hash is part of
 * the evaluation protocol: every router, ours or a peer's, must agree on it,
 * so it is pinned by test vectors (tests/test_split.c) computed outside C. */
#include "taskroute.h"

#define TR_FNV_OFFSET 14695981039346656037ULL
#define TR_FNV_PRIME 1099511628211ULL

/* Borrows data.  Bytes are taken unsigned, so non-ASCII ids hash the same on
 * every platform whatever the signedness of char. */
uint64_t tr_fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = TR_FNV_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= TR_FNV_PRIME;
    }
    return h;
}

/* Borrows id (len bytes, need not be NUL-terminated). */
int tr_split_is_test(const char *id, size_t len)
{
    return tr_fnv1a64(id, len) % 5 == 0;
}

/* Borrows id.  k == 0 is read as 1 (every record in fold 0), never a
 * division by zero. */
unsigned tr_split_fold(const char *id, size_t len, unsigned k)
{
    return k > 1 ? (unsigned)(tr_fnv1a64(id, len) % k) : 0;
}
