/* EVAL.md's train/test split: a record is test data when FNV-1a 64 of its
 * id's bytes is 0 modulo 5.  Kept in its own file because the rule is part
 * of the evaluation protocol: every router, ours or a peer's, must agree on
 * it, so it is pinned by test vectors (tests/test_split.c) computed outside
 * C.  The hash is base/hash.c. */
#include "base/hash.h"

/* Borrows id (len bytes, need not be NUL-terminated). */
int tr_split_is_test(const char *id, size_t len)
{
    if (!id && len) return TR_EINVAL;
    return tr_fnv1a64(id, len) % 5 == 0;
}

/* Borrows id.  k < 2 is read as one fold (every record in fold 0), never a
 * division by zero. */
int tr_split_fold(const char *id, size_t len, int k)
{
    if (!id && len) return TR_EINVAL;
    return k > 1 ? (int)(tr_fnv1a64(id, len) % (uint64_t)k) : 0;
}
