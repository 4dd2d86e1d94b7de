/* Little-endian section buffers; see buf.h for the contracts. */
#include "base/buf.h"

#include <pthread.h>
#include <string.h>

#include "base/util.h"

/* 1 on a little-endian host, where the file's arrays are copied as they
 * are; the compiler folds it to a constant. */
static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void tr_buf_init(tr_buf *b) { memset(b, 0, sizeof *b); }
void tr_buf_free(tr_buf *b) { tr_free(b->data); memset(b, 0, sizeof *b); }
int tr_buf_ok(const tr_buf *b) { return b->oom ? TR_ENOMEM : TR_OK; }

void tr_buf_put(tr_buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *d = tr_realloc(b->data, cap);
        if (!d) { b->oom = 1; return; }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* The file is little-endian; these helpers are correct on any host. */
static void le_put(tr_buf *b, uint64_t v, int n)
{
    unsigned char t[8];
    for (int i = 0; i < n; i++) t[i] = (unsigned char)(v >> (8 * i));
    tr_buf_put(b, t, (size_t)n);
}

void tr_buf_u8(tr_buf *b, uint8_t v) { le_put(b, v, 1); }
void tr_buf_u32(tr_buf *b, uint32_t v) { le_put(b, v, 4); }
void tr_buf_u64(tr_buf *b, uint64_t v) { le_put(b, v, 8); }
void tr_buf_i32(tr_buf *b, int32_t v) { le_put(b, (uint32_t)v, 4); }
void tr_buf_f32(tr_buf *b, float v) { uint32_t u; memcpy(&u, &v, 4); le_put(b, u, 4); }
void tr_buf_f64(tr_buf *b, double v) { uint64_t u; memcpy(&u, &v, 8); le_put(b, u, 8); }
void tr_buf_f32s(tr_buf *b, const float *v, size_t n)
{
    if (host_is_le()) { tr_buf_put(b, v, n * sizeof *v); return; }
    for (size_t i = 0; i < n; i++) tr_buf_f32(b, v[i]);
}
void tr_buf_u16s(tr_buf *b, const uint16_t *v, size_t n)
{
    if (host_is_le()) { tr_buf_put(b, v, n * sizeof *v); return; }
    for (size_t i = 0; i < n; i++) le_put(b, v[i], 2);
}
void tr_buf_i32s(tr_buf *b, const int32_t *v, size_t n)
{
    if (host_is_le()) { tr_buf_put(b, v, n * sizeof *v); return; }
    for (size_t i = 0; i < n; i++) tr_buf_i32(b, v[i]);
}

void tr_buf_str(tr_buf *b, const char *s)
{
    if (!s) { tr_buf_u32(b, 0xFFFFFFFFu); return; }
    size_t n = strlen(s);
    tr_buf_u32(b, (uint32_t)n);
    tr_buf_put(b, s, n);
}

void tr_buf_bytes(tr_buf *b, const void *p, size_t n)
{
    tr_buf_u64(b, n);
    tr_buf_put(b, p, n);
}

void tr_cursor_init(tr_cursor *c, const void *data, size_t len)
{
    c->p = data;
    c->left = len;
    c->err = TR_OK;
    c->what = "";
}

static int take(tr_cursor *c, size_t n, const unsigned char **out)
{
    if (c->err) return c->err;
    if (n > c->left) { c->err = TR_ETRUNC; return c->err; }
    *out = c->p;
    c->p += n;
    c->left -= n;
    return TR_OK;
}

static int le_get(tr_cursor *c, int n, uint64_t *v)
{
    const unsigned char *p;
    if (take(c, (size_t)n, &p)) return c->err;
    uint64_t x = 0;
    for (int i = 0; i < n; i++) x |= (uint64_t)p[i] << (8 * i);
    *v = x;
    return TR_OK;
}

int tr_get_u8(tr_cursor *c, uint8_t *v) { uint64_t x = 0; int rc = le_get(c, 1, &x); *v = (uint8_t)x; return rc; }
int tr_get_u32(tr_cursor *c, uint32_t *v) { uint64_t x = 0; int rc = le_get(c, 4, &x); *v = (uint32_t)x; return rc; }
int tr_get_u64(tr_cursor *c, uint64_t *v) { uint64_t x = 0; int rc = le_get(c, 8, &x); *v = x; return rc; }
int tr_get_i32(tr_cursor *c, int32_t *v) { uint64_t x = 0; int rc = le_get(c, 4, &x); *v = (int32_t)(uint32_t)x; return rc; }
int tr_get_f32(tr_cursor *c, float *v)
{
    uint64_t x = 0; int rc = le_get(c, 4, &x); uint32_t u = (uint32_t)x; memcpy(v, &u, 4); return rc;
}
int tr_get_f64(tr_cursor *c, double *v) { uint64_t x = 0; int rc = le_get(c, 8, &x); memcpy(v, &x, 8); return rc; }

int tr_cursor_check_count(tr_cursor *c, uint64_t count, size_t each, const char *what)
{
    if (c->err) return c->err;
    if (each && count > c->left / each) {
        c->err = TR_EFORMAT;
        c->what = what;
    }
    return c->err;
}

int tr_get_f32s(tr_cursor *c, float *v, size_t n)
{
    if (tr_cursor_check_count(c, n, 4, c->what)) return c->err;
    if (host_is_le()) {   /* a router's projection is tens of millions of floats */
        const unsigned char *q = NULL;
        if (take(c, n * sizeof *v, &q)) return c->err;
        if (n) memcpy(v, q, n * sizeof *v);
        return TR_OK;
    }
    for (size_t i = 0; i < n; i++) tr_get_f32(c, &v[i]);
    return c->err;
}

int tr_get_i32s(tr_cursor *c, int32_t *v, size_t n)
{
    if (tr_cursor_check_count(c, n, 4, c->what)) return c->err;
    if (host_is_le()) {
        const unsigned char *q = NULL;
        if (take(c, n * sizeof *v, &q)) return c->err;
        if (n) memcpy(v, q, n * sizeof *v);
        return TR_OK;
    }
    for (size_t i = 0; i < n; i++) tr_get_i32(c, &v[i]);
    return c->err;
}

int tr_get_f32s_alloc(tr_cursor *c, size_t n, float **out)
{
    *out = NULL;
    if (tr_cursor_check_count(c, n, 4, c->what)) return c->err;
    float *v = n > SIZE_MAX / sizeof *v ? NULL : tr_malloc_big((n ? n : 1) * sizeof *v);
    if (!v) { c->err = TR_ENOMEM; return c->err; }
    if (tr_get_f32s(c, v, n)) { tr_free(v); return c->err; }
    *out = v;
    return TR_OK;
}

int tr_get_i32s_alloc(tr_cursor *c, size_t n, int32_t **out)
{
    *out = NULL;
    if (tr_cursor_check_count(c, n, 4, c->what)) return c->err;
    int32_t *v = n > SIZE_MAX / sizeof *v ? NULL : tr_malloc_big((n ? n : 1) * sizeof *v);
    if (!v) { c->err = TR_ENOMEM; return c->err; }
    if (tr_get_i32s(c, v, n)) { tr_free(v); return c->err; }
    *out = v;
    return TR_OK;
}

int tr_get_i8s_alloc(tr_cursor *c, size_t n, int8_t **out)
{
    *out = NULL;
    if (tr_cursor_check_count(c, n, 1, c->what)) return c->err;
    int8_t *v = tr_malloc_big(n ? n : 1);
    if (!v) { c->err = TR_ENOMEM; return c->err; }
    const unsigned char *q = NULL;
    if (take(c, n, &q)) { tr_free(v); return c->err; }
    if (n) memcpy(v, q, n);
    *out = v;
    return TR_OK;
}

int tr_get_u16s_alloc(tr_cursor *c, size_t n, uint16_t **out)
{
    *out = NULL;
    if (tr_cursor_check_count(c, n, 2, c->what)) return c->err;
    uint16_t *v = n > SIZE_MAX / sizeof *v ? NULL : tr_malloc_big((n ? n : 1) * sizeof *v);
    if (!v) { c->err = TR_ENOMEM; return c->err; }
    const unsigned char *q = NULL;
    if (take(c, n * sizeof *v, &q)) { tr_free(v); return c->err; }
    if (host_is_le()) {
        if (n) memcpy(v, q, n * sizeof *v);
    } else {
        for (size_t i = 0; i < n; i++) v[i] = (uint16_t)(q[2 * i] | q[2 * i + 1] << 8);
    }
    *out = v;
    return TR_OK;
}

int tr_get_str(tr_cursor *c, char **out)
{
    *out = NULL;
    uint32_t n;
    if (tr_get_u32(c, &n)) return c->err;
    if (n == 0xFFFFFFFFu) return TR_OK;
    const unsigned char *p;
    if (take(c, n, &p)) return c->err;
    char *s = tr_strndup((const char *)p, n);
    if (!s) { c->err = TR_ENOMEM; return c->err; }
    *out = s;
    return TR_OK;
}

int tr_get_bytes(tr_cursor *c, const void **p, size_t *n)
{
    uint64_t len;
    if (tr_get_u64(c, &len)) return c->err;
    if (len > c->left) { c->err = TR_ETRUNC; return c->err; }
    const unsigned char *q = NULL;
    if (take(c, (size_t)len, &q)) return c->err;
    *p = q;
    *n = (size_t)len;
    return TR_OK;
}

/* Table-driven CRC-32, reflected polynomial 0xEDB88320 (zlib-compatible);
 * the table is built at compile time by the generator below, so no global
 * mutable state. */
#define C1(c) (((c) & 1) ? (0xEDB88320u ^ ((c) >> 1)) : ((c) >> 1))
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R1(n) C8((uint32_t)(n))
#define R4(n) R1(n), R1(n + 1), R1(n + 2), R1(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)
static const uint32_t crc_table[256] = {R64(0), R64(64), R64(128), R64(192)};

/* Slicing-by-8 (Intel's method): eight bytes per step through seven more
 * tables derived from crc_table, built once; checking a 100 MB router file
 * byte by byte took a third of its load time. */
static uint32_t crc_slice[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_slice_init(void)
{
    for (int i = 0; i < 256; i++) crc_slice[0][i] = crc_table[i];
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++) {
            uint32_t c = crc_slice[k - 1][i];
            crc_slice[k][i] = (c >> 8) ^ crc_table[c & 0xFF];
        }
}

uint32_t tr_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    crc = ~crc;
    if (n >= 64 && host_is_le() && pthread_once(&crc_once, crc_slice_init) == 0) {
        while (n >= 8) {
            uint32_t lo, hi;
            memcpy(&lo, b, 4);
            memcpy(&hi, b + 4, 4);
            lo ^= crc;
            crc = crc_slice[7][lo & 0xFF] ^ crc_slice[6][(lo >> 8) & 0xFF] ^
                  crc_slice[5][(lo >> 16) & 0xFF] ^ crc_slice[4][lo >> 24] ^
                  crc_slice[3][hi & 0xFF] ^ crc_slice[2][(hi >> 8) & 0xFF] ^
                  crc_slice[1][(hi >> 16) & 0xFF] ^ crc_slice[0][hi >> 24];
            b += 8;
            n -= 8;
        }
    }
    while (n--) crc = crc_table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
