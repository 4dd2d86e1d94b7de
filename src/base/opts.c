/* Option structs that can grow: see opts.h. */
#include "base/opts.h"

#include <string.h>

#include "base/util.h"

int tr_opts_size_check(size_t size, size_t min, size_t max, const char *what, char *err, size_t errlen)
{
    if (size >= min && size <= max) return TR_OK;
    if (size == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "%s: struct_size 0: prepare the options with %s_default()", what,
                         what);
    return tr_errorf(err, errlen, TR_EINVAL, "%s: struct_size %zu is not a size of this struct (%zu to %zu bytes): "
                     "prepare the options with %s_default()", what, size, min, max, what);
}

int tr_opts_take(void *dst, size_t dst_size, const void *src, size_t min, const char *what, char *err,
                 size_t errlen)
{
    size_t size;
    memcpy(&size, src, sizeof size);
    int rc = tr_opts_size_check(size, min, dst_size, what, err, errlen);
    if (rc) return rc;
    memcpy(dst, src, size);
    memcpy(dst, &dst_size, sizeof dst_size);
    return TR_OK;
}
