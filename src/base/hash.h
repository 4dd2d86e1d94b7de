/* FNV-1a 64, the project's one byte hash: the evaluation split and the CV
 * folds (which every router, ours or a peer's, must reproduce), the word
 * cache, the embedder's vocabulary identity, the server's router-file id and
 * its feedback table.  tr_fnv1a64 itself is public (taskroute.h). */
#ifndef TR_HASH_H
#define TR_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

#define TR_FNV1A64_OFFSET 14695981039346656037ULL
#define TR_FNV1A64_PRIME 1099511628211ULL

/* Fold len more bytes of data (borrowed) into the running hash h: FNV-1a is
 * byte-serial, so hashing a stream block by block from TR_FNV1A64_OFFSET
 * gives tr_fnv1a64 of the whole.  Bytes are taken unsigned, so non-ASCII
 * input hashes the same on every platform whatever the signedness of char. */
uint64_t tr_fnv1a64_update(uint64_t h, const void *data, size_t len);

#endif
