/* Byte ranges of a file aligned to line starts (byte_range.h). */
#include "dist/byte_range.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

#define CHUNK 65536

uint64_t tr_range_nominal(uint64_t size, int r, int R)
{
    uint64_t q = size / (uint64_t)R, m = size % (uint64_t)R;
    return q * (uint64_t)r + m * (uint64_t)r / (uint64_t)R;
}

static int read_at(int fd, const char *path, char *buf, size_t n, uint64_t at, size_t *got,
                   char *err, size_t errlen)
{
    for (;;) {
        ssize_t k = pread(fd, buf, n, (off_t)at);
        if (k >= 0) { *got = (size_t)k; return TR_OK; }
        if (errno != EINTR)
            return tr_errorf(err, errlen, TR_EIO, "%s: read error at byte %llu: %s", path,
                             (unsigned long long)at, strerror(errno));
    }
}

int tr_range_start(int fd, const char *path, uint64_t size, int r, int R, uint64_t *start,
                   char *err, size_t errlen)
{
    if (R < 1 || r < 0 || r > R) return tr_errorf(err, errlen, TR_EINVAL, "byte range: part %d of %d", r, R);
    if (r == 0) { *start = 0; return TR_OK; }
    if (r == R) { *start = size; return TR_OK; }
    uint64_t nom = tr_range_nominal(size, r, R);
    if (nom == 0) { *start = 0; return TR_OK; }
    /* the line start at or after nom: the byte after the first '\n' at or after nom - 1 */
    char buf[CHUNK];
    uint64_t at = nom - 1;
    while (at < size) {
        size_t got;
        int rc = read_at(fd, path, buf, CHUNK, at, &got, err, errlen);
        if (rc) return rc;
        if (got == 0) break;
        const char *nl = memchr(buf, '\n', got);
        if (nl) { *start = at + (uint64_t)(nl - buf) + 1; return TR_OK; }
        at += got;
    }
    *start = size;
    return TR_OK;
}

int tr_range_lines(int fd, const char *path, uint64_t begin, uint64_t end, uint64_t *lines,
                   char *err, size_t errlen)
{
    char buf[CHUNK];
    uint64_t n = 0, at = begin;
    char last = '\n';
    while (at < end) {
        size_t want = end - at < CHUNK ? (size_t)(end - at) : CHUNK, got;
        int rc = read_at(fd, path, buf, want, at, &got, err, errlen);
        if (rc) return rc;
        if (got == 0) break;
        for (const char *p = buf, *e = buf + got; (p = memchr(p, '\n', (size_t)(e - p))); p++) n++;
        last = buf[got - 1];
        at += got;
    }
    *lines = n + (last != '\n');
    return TR_OK;
}
