#include "base/hash.h"

uint64_t tr_fnv1a64_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= TR_FNV1A64_PRIME;
    }
    return h;
}

/* Borrows data. */
uint64_t tr_fnv1a64(const void *data, size_t len)
{
    return tr_fnv1a64_update(TR_FNV1A64_OFFSET, data, data ? len : 0);
}
