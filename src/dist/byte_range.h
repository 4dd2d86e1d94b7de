/* Splitting a JSONL file between R processes by bytes: part r is
 * [start(r), start(r+1)), where start(r) is the first line start at or
 * after r * size / R (start(0) = 0, start(R) = size).  Every line lands in
 * exactly one part, whole; a line longer than a part leaves parts empty.
 * A process finds its own bounds by reading at most one line past each
 * nominal offset, never the whole file. */
#ifndef TR_BYTE_RANGE_H
#define TR_BYTE_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* The nominal offset r * size / R without overflow (r <= R, R >= 1). */
uint64_t tr_range_nominal(uint64_t size, int r, int R);

/* start(r) for the file open as fd, of size bytes (pread only: the file
 * offset is left alone).  TR_EIO with a message naming path on a read
 * error; TR_EINVAL for r outside [0, R]. */
int tr_range_start(int fd, const char *path, uint64_t size, int r, int R, uint64_t *start,
                   char *err, size_t errlen);

/* Newlines in [begin, end) of fd: the part's line count (plus one when the
 * file's last line has no newline and ends the part).  TR_EIO on error. */
int tr_range_lines(int fd, const char *path, uint64_t begin, uint64_t end, uint64_t *lines,
                   char *err, size_t errlen);

#endif
