/* The router file container: reading, validating and atomically writing the
 * one-file, many-sections format described in router_file.h.
 *
 * Reading: the whole file is loaded by read() into one tr_malloc'ed buffer,
 * not mmap'ed.  Validation touches every byte anyway (each section's CRC), so
 * mmap would save no I/O, and a mapped file that another process truncates
 * turns a later access into SIGBUS: a library call must never crash.  One
 * buffer also keeps tr_file_open and tr_file_open_mem on the same code path
 * and lets the allocation fault injection reach it.  Nothing read from the
 * file is trusted before it is checked against the bytes that are there.
 *
 * Writing: sections are copied into the writer; commit writes the image to
 * "<path>.tmp.<pid>", fsyncs it, renames it over path and fsyncs the
 * directory, so a reader sees the old file or the new one, never half. */
#include "router/router_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"

#define HDR_FIXED 24u  /* magic 8, version 4, count 4, file length 8 */
#define ENTRY_SIZE 32u /* tag 4, flags 4, offset 8, length 8, crc 4, reserved 4 */

typedef struct sec {
    uint32_t tag, flags, crc;
    uint64_t off, len;
} sec;

struct tr_file {
    unsigned char *data; /* the whole image; sections point into it */
    size_t len;
    uint32_t version;
    size_t nsec;
    sec *secs;           /* in table order */
};

/* ------------------------------------------------------------ helpers */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint64_t table_end(uint64_t count) { return HDR_FIXED + ENTRY_SIZE * count + 4; }

static uint64_t align8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

/* A tag as text for messages: its four characters, '?' for unprintable. */
static const char *tag_str(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(tag >> (8 * i));
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[4] = 0;
    return out;
}

static int cmp_by_tag(const void *a, const void *b)
{
    const sec *x = a, *y = b;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

static int cmp_by_off(const void *a, const void *b)
{
    const sec *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* ------------------------------------------------------------ reading */

/* Check f->data[0..f->len) and fill version and the section table.  The
 * order matters: magic, then version (a newer version may lay out the rest
 * differently, so nothing past it is interpreted), then the header CRC over
 * the table (so a corrupted count or offset is reported as corruption), then
 * the file length, bounds and overlaps, then each section's CRC. */
static int validate(tr_file *f, const char *name, char *err, size_t errlen)
{
    const unsigned char *d = f->data;
    size_t n = f->len;
    char t4[5];
    sec *sorted = NULL;
    int rc = TR_OK;

    size_t m = n < 8 ? n : 8;
    if (memcmp(d, TR_FILE_MAGIC, m) != 0)
        return tr_errorf(err, errlen, TR_EFORMAT, "%s: not a taskroute router file (bad magic)", name);
    if (n < HDR_FIXED)
        return tr_errorf(err, errlen, TR_ETRUNC, "%s: truncated: %zu bytes, shorter than the %u-byte header",
                         name, n, HDR_FIXED);
    uint32_t version = rd32(d + 8), count = rd32(d + 12);
    uint64_t flen = rd64(d + 16);
    if (version == 0)
        return tr_errorf(err, errlen, TR_EFORMAT, "%s: invalid format version 0", name);
    if (version > TR_FILE_VERSION)
        return tr_errorf(err, errlen, TR_EVERSION,
                         "%s: format version %u is newer than this reader's (%u): upgrade taskroute",
                         name, version, TR_FILE_VERSION);
    /* Version 1 is the only layout so far; a version 2 reader dispatches here. */
    if (n < table_end(0) || count > (n - table_end(0)) / ENTRY_SIZE) {
        /* The table cannot fit.  The header's file length tells a short file
         * from a garbled count (the CRC cannot be checked: its place depends
         * on the count). */
        if (flen > n && flen >= table_end(count))
            return tr_errorf(err, errlen, TR_ETRUNC, "%s: truncated: %zu bytes of %llu", name, n,
                             (unsigned long long)flen);
        return tr_errorf(err, errlen, TR_ECHECKSUM,
                         "%s: header corrupted: %u sections cannot fit in %zu bytes", name, count, n);
    }
    uint64_t tend = table_end(count);
    uint32_t stored = rd32(d + tend - 4), calc = tr_crc32(0, d, (size_t)tend - 4);
    if (stored != calc)
        return tr_errorf(err, errlen, TR_ECHECKSUM,
                         "%s: header checksum mismatch (stored %08x, computed %08x): file corrupted",
                         name, stored, calc);
    if (flen != n) {
        if (flen > n)
            return tr_errorf(err, errlen, TR_ETRUNC, "%s: truncated: %zu bytes of %llu", name, n,
                             (unsigned long long)flen);
        return tr_errorf(err, errlen, TR_EFORMAT, "%s: %zu bytes but the header says %llu: trailing data",
                         name, n, (unsigned long long)flen);
    }

    f->version = version;
    f->nsec = count;
    if (count == 0) {
        for (uint64_t j = tend; j < n; j++)
            if (d[j])
                return tr_errorf(err, errlen, TR_ECHECKSUM,
                                 "%s: non-zero padding byte at offset %llu: file corrupted", name,
                                 (unsigned long long)j);
        return TR_OK;
    }
    f->secs = tr_mallocarray(count, sizeof *f->secs);
    sorted = tr_mallocarray(count, sizeof *sorted);
    if (!f->secs || !sorted) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory for %u sections", name, count);
        goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = d + HDR_FIXED + (size_t)i * ENTRY_SIZE;
        sec *s = &f->secs[i];
        s->tag = rd32(e);
        s->flags = rd32(e + 4);
        s->off = rd64(e + 8);
        s->len = rd64(e + 16);
        s->crc = rd32(e + 24);
        if (s->off % 8 != 0 || s->off < tend || s->off > n || s->len > n - s->off) {
            rc = tr_errorf(err, errlen, TR_EFORMAT,
                           "%s: section %u ('%s') at offset %llu, length %llu: outside the body of a %zu-byte file "
                           "or not 8-byte aligned",
                           name, i, tag_str(s->tag, t4), (unsigned long long)s->off,
                           (unsigned long long)s->len, n);
            goto fail;
        }
    }
    memcpy(sorted, f->secs, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_by_tag);
    for (uint32_t i = 1; i < count; i++)
        if (sorted[i].tag == sorted[i - 1].tag) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: section '%s' appears twice", name,
                           tag_str(sorted[i].tag, t4));
            goto fail;
        }
    qsort(sorted, count, sizeof *sorted, cmp_by_off);
    for (uint32_t i = 1; i < count; i++)
        if (sorted[i - 1].off + sorted[i - 1].len > sorted[i].off) {
            char t4b[5];
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: sections '%s' and '%s' overlap", name,
                           tag_str(sorted[i - 1].tag, t4), tag_str(sorted[i].tag, t4b));
            goto fail;
        }
    /* No CRC covers the padding, so it must be zero: then every byte of the
     * file is checked by something. */
    for (uint32_t i = 0; i <= count; i++) {
        uint64_t from = i ? sorted[i - 1].off + sorted[i - 1].len : tend;
        uint64_t to = i < count ? sorted[i].off : n;
        for (uint64_t j = from; j < to; j++)
            if (d[j]) {
                rc = tr_errorf(err, errlen, TR_ECHECKSUM,
                               "%s: non-zero padding byte at offset %llu: file corrupted", name,
                               (unsigned long long)j);
                goto fail;
            }
    }
    for (uint32_t i = 0; i < count; i++) {
        const sec *s = &f->secs[i];
        uint32_t c = tr_crc32(0, d + s->off, (size_t)s->len);
        if (c != s->crc) {
            rc = tr_errorf(err, errlen, TR_ECHECKSUM,
                           "%s: section '%s' checksum mismatch (stored %08x, computed %08x): file corrupted",
                           name, tag_str(s->tag, t4), s->crc, c);
            goto fail;
        }
    }
    tr_free(sorted);
    return TR_OK;
fail:
    tr_free(sorted);
    tr_free(f->secs);
    f->secs = NULL;
    f->nsec = 0;
    return rc;
}

/* Validate an image and wrap it in a handle; takes 'data' (tr_malloc'ed) in
 * every case: it is owned by *out on success and freed on failure. */
static int open_take(unsigned char *data, size_t len, const char *name, tr_file **out, char *err, size_t errlen)
{
    tr_file *f = tr_calloc(1, sizeof *f);
    if (!f) {
        tr_free(data);
        return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", name);
    }
    f->data = data;
    f->len = len;
    int rc = validate(f, name, err, errlen);
    if (rc) {
        tr_file_close(f);
        return rc;
    }
    *out = f;
    return TR_OK;
}

int tr_file_open_mem(const void *data, size_t len, const char *name, tr_file **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_file_open_mem: out is NULL");
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && len) return tr_errorf(err, errlen, TR_EINVAL, "%s: data is NULL", name);
    unsigned char *copy = tr_malloc(len ? len : 1);
    if (!copy) return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory for %zu bytes", name, len);
    if (len) memcpy(copy, data, len);
    return open_take(copy, len, name, out, err, errlen);
}

int tr_file_open(const char *path, tr_file **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_file_open: out is NULL");
    *out = NULL;
    if (!path) return tr_errorf(err, errlen, TR_EINVAL, "tr_file_open: path is NULL");
    unsigned char *buf = NULL;
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if ((uintmax_t)st.st_size > SIZE_MAX - 1) {
        rc = tr_errorf(err, errlen, TR_ERANGE, "%s: too large (%lld bytes)", path, (long long)st.st_size);
        goto fail;
    }
    size_t len = (size_t)st.st_size, got = 0;
    buf = tr_malloc(len ? len : 1);
    if (!buf) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory for %zu bytes", path, len);
        goto fail;
    }
    /* One read() normally does it; loop for short reads and EINTR.  A file
     * that shrank since fstat is validated at its new length (and will be
     * reported as truncated). */
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = tr_errorf(err, errlen, TR_EIO, "%s: read failed: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    return open_take(buf, got, path, out, err, errlen);
fail:
    tr_free(buf);
    close(fd);
    return rc;
}

void tr_file_close(tr_file *f)
{
    if (!f) return;
    tr_free(f->secs);
    tr_free(f->data);
    tr_free(f);
}

uint32_t tr_file_version(const tr_file *f) { return f->version; }

int tr_file_section(const tr_file *f, uint32_t tag, const void **data, size_t *len)
{
    for (size_t i = 0; i < f->nsec; i++)
        if (f->secs[i].tag == tag) {
            *data = f->data + f->secs[i].off;
            *len = (size_t)f->secs[i].len;
            return TR_OK;
        }
    *data = NULL;
    *len = 0;
    return TR_ENOTFOUND;
}

size_t tr_file_section_count(const tr_file *f) { return f->nsec; }

void tr_file_section_info(const tr_file *f, size_t i, uint32_t *tag, size_t *len)
{
    if (i >= f->nsec) {
        *tag = 0;
        *len = 0;
        return;
    }
    *tag = f->secs[i].tag;
    *len = (size_t)f->secs[i].len;
}

/* ------------------------------------------------------------ writing */

typedef struct wsec {
    uint32_t tag;
    unsigned char *data;
    size_t len;
} wsec;

struct tr_file_writer {
    char *path, *tmp, *dir;
    int fd;
    int status;       /* sticky failure of tr_fw_section, reported by commit */
    char msg[256];
    wsec *secs;
    size_t n, cap;
};

static void writer_free(tr_file_writer *w)
{
    for (size_t i = 0; i < w->n; i++) tr_free(w->secs[i].data);
    tr_free(w->secs);
    tr_free(w->path);
    tr_free(w->tmp);
    tr_free(w->dir);
    tr_free(w);
}

int tr_fw_open(const char *path, tr_file_writer **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_fw_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return tr_errorf(err, errlen, TR_EINVAL, "tr_fw_open: empty path");
    int rc;
    tr_file_writer *w = tr_calloc(1, sizeof *w);
    if (!w) return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path);
    w->fd = -1;
    size_t plen = strlen(path);
    w->path = tr_strdup(path);
    w->tmp = tr_malloc(plen + 32);
    const char *slash = strrchr(path, '/');
    w->dir = slash ? tr_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : tr_strdup(".");
    if (!w->path || !w->tmp || !w->dir) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(w->tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot create temporary file %s: %s", path, w->tmp,
                       strerror(errno));
        goto fail;
    }
    *out = w;
    return TR_OK;
fail:
    writer_free(w);
    return rc;
}

int tr_fw_section(tr_file_writer *w, uint32_t tag, const void *data, size_t len)
{
    if (!w) return TR_EINVAL;
    if (w->status) return w->status;
    char t4[5];
    if (!data && len) {
        w->status = tr_errorf(w->msg, sizeof w->msg, TR_EINVAL, "%s: section '%s': data is NULL", w->path,
                              tag_str(tag, t4));
        return w->status;
    }
    for (size_t i = 0; i < w->n; i++)
        if (w->secs[i].tag == tag) {
            w->status = tr_errorf(w->msg, sizeof w->msg, TR_EINVAL, "%s: section '%s' added twice", w->path,
                                  tag_str(tag, t4));
            return w->status;
        }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wsec *s = tr_realloc(w->secs, cap * sizeof *s);
        if (!s) goto oom;
        w->secs = s;
        w->cap = cap;
    }
    unsigned char *copy = tr_malloc(len ? len : 1);
    if (!copy) goto oom;
    if (len) memcpy(copy, data, len);
    w->secs[w->n++] = (wsec){tag, copy, len};
    return TR_OK;
oom:
    w->status = tr_errorf(w->msg, sizeof w->msg, TR_ENOMEM, "%s: out of memory for section '%s' (%zu bytes)",
                          w->path, tag_str(tag, t4), len);
    return w->status;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t r = write(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

void tr_fw_abort(tr_file_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    unlink(w->tmp);
    writer_free(w);
}

int tr_fw_commit(tr_file_writer *w, char *err, size_t errlen)
{
    if (!w) return tr_errorf(err, errlen, TR_EINVAL, "tr_fw_commit: writer is NULL");
    int rc;
    tr_buf h;
    tr_buf_init(&h);
    if (w->status) {
        rc = tr_errorf(err, errlen, w->status, "%s", w->msg);
        goto fail;
    }
    uint64_t pos = table_end(w->n);
    /* Offsets first: bodies start 8-byte aligned, no padding after the last. */
    for (size_t i = 0; i < w->n; i++) pos = align8(pos) + w->secs[i].len;
    tr_buf_put(&h, TR_FILE_MAGIC, 8);
    tr_buf_u32(&h, TR_FILE_VERSION);
    tr_buf_u32(&h, (uint32_t)w->n);
    tr_buf_u64(&h, pos);
    pos = table_end(w->n);
    for (size_t i = 0; i < w->n; i++) {
        pos = align8(pos);
        tr_buf_u32(&h, w->secs[i].tag);
        tr_buf_u32(&h, 0);
        tr_buf_u64(&h, pos);
        tr_buf_u64(&h, w->secs[i].len);
        tr_buf_u32(&h, tr_crc32(0, w->secs[i].data, w->secs[i].len));
        tr_buf_u32(&h, 0);
        pos += w->secs[i].len;
    }
    if (tr_buf_ok(&h)) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory for the section table", w->path);
        goto fail;
    }
    tr_buf_u32(&h, tr_crc32(0, h.data, h.len));
    if (tr_buf_ok(&h)) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory for the section table", w->path);
        goto fail;
    }
    static const unsigned char zeros[8];
    pos = h.len;
    int bad = write_all(w->fd, h.data, h.len);
    for (size_t i = 0; i < w->n && !bad; i++) {
        uint64_t a = align8(pos);
        bad = write_all(w->fd, zeros, (size_t)(a - pos)) || write_all(w->fd, w->secs[i].data, w->secs[i].len);
        pos = a + w->secs[i].len;
    }
    if (bad) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: writing %s failed: %s", w->path, w->tmp, strerror(errno));
        goto fail;
    }
    if (fsync(w->fd) != 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: fsync of %s failed: %s", w->path, w->tmp, strerror(errno));
        goto fail;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: closing %s failed: %s", w->path, w->tmp, strerror(errno));
        goto fail;
    }
    if (rename(w->tmp, w->path) != 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot rename %s into place: %s", w->path, w->tmp,
                       strerror(errno));
        goto fail;
    }
    /* The rename is durable only once the directory is synced.  Past the
     * rename the new file is in place, so a failure here is reported but
     * cannot restore the old file.  EINVAL: the file system cannot sync a
     * directory (nothing more can be done). */
    rc = TR_OK;
    int dfd = open(w->dir, O_RDONLY | O_CLOEXEC);
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL))
        rc = tr_errorf(err, errlen, TR_EIO, "%s: written, but syncing directory %s failed: %s", w->path, w->dir,
                       strerror(errno));
    if (dfd >= 0) close(dfd);
    tr_buf_free(&h);
    writer_free(w);
    return rc;
fail:
    tr_buf_free(&h);
    tr_fw_abort(w);
    return rc;
}
