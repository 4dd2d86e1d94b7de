/* Public option structs that can grow.  Each begins with size_t
 * struct_size, which its *_default() function sets to the struct's size in
 * the header the caller compiled with.  A library built with a later
 * header, where the struct has more fields at its end, reads only the
 * caller's struct_size bytes and keeps its defaults for the rest, so an
 * older program keeps working; a size smaller than the struct's first
 * published layout, or larger than the library knows, is a wrong size
 * (TR_EINVAL), as is 0: options that no *_default() call prepared.
 *
 * The project's own tools (the CLI, the benchmarks) may pass a struct's
 * internal extension instead: the public struct as its first member, then
 * knobs that only experiments set (train/train.h), with struct_size the
 * extension's size with TR_OPTS_INTERNAL set.  No public caller sets that
 * bit, and tr_opts_take refuses it: only the function that knows the
 * extension accepts it. */
#ifndef TR_OPTS_H
#define TR_OPTS_H

#include <stddef.h>

#define TR_OPTS_INTERNAL ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* The size of type up to and including field: a struct's first published
 * layout, given its last field then (trailing padding not included). */
#define TR_SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* TR_OK when min <= size <= max, else TR_EINVAL with a message naming the
 * struct ("tr_route_options") and the way to prepare it. */
int tr_opts_size_check(size_t size, size_t min, size_t max, const char *what, char *err, size_t errlen);

/* Take the caller's options src (whose first member is its struct_size)
 * over dst, which holds the defaults in dst_size bytes: checks the size
 * (min .. dst_size), copies the caller's bytes, and leaves dst's
 * struct_size dst_size.  Borrows src; dst is the caller's. */
int tr_opts_take(void *dst, size_t dst_size, const void *src, size_t min, const char *what, char *err,
                 size_t errlen);

#endif
