/* EVAL.md's train/test split: a record is test data when FNV-1a 64 of its
 * id's bytes is 0 modulo 5.  Kept in its own file because the rule is part
 * of the evaluation protocol: every router, ours or a peer's, must agree on
 * it, so it is pinned by test vectors (tests/test_split.c) computed outside
 * C.  The hash is base/hash.c. */
#include "base/hash.h"

/* Borrows id (len bytes, need not be NUL-terminated). */
int tr_split_is_test(const char *id, size_t len)
{
    return tr_fnv1a64(id, len) % 5 == 0;
}

/* Borrows id.  k < 2 is read as one fold (every record in fold 0), never a
 * division by zero. */
unsigned tr_split_fold(const char *id, size_t len, unsigned k)
{
    return k > 1 ? (unsigned)(tr_fnv1a64(id, len) % k) : 0;
}
