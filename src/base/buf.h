/* Byte buffers for the router file's sections: a growable little-endian
 * writer, and a bounds-checked reader that never trusts a count it reads
 * (GGUF's rule: check every count against the bytes that remain before
 * allocating).  Floats are stored as their IEEE-754 bits, so values
 * round-trip exactly. */
#ifndef TR_BUF_H
#define TR_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_buf {
    unsigned char *data;
    size_t len, cap;
    int oom;              /* sticky: set when a write could not grow the buffer */
} tr_buf;

/* Writers never fail individually; check tr_buf_ok() (or oom) once at the end. */
void tr_buf_init(tr_buf *b);
void tr_buf_free(tr_buf *b);
int tr_buf_ok(const tr_buf *b);     /* TR_OK or TR_ENOMEM */
void tr_buf_put(tr_buf *b, const void *p, size_t n);
void tr_buf_u8(tr_buf *b, uint8_t v);
void tr_buf_u32(tr_buf *b, uint32_t v);
void tr_buf_u64(tr_buf *b, uint64_t v);
void tr_buf_i32(tr_buf *b, int32_t v);
void tr_buf_f32(tr_buf *b, float v);
void tr_buf_f64(tr_buf *b, double v);
void tr_buf_f32s(tr_buf *b, const float *v, size_t n);   /* n values, no count */
void tr_buf_i32s(tr_buf *b, const int32_t *v, size_t n);
/* n 16-bit values (IEEE binary16 bits, half.h), no count */
void tr_buf_u16s(tr_buf *b, const uint16_t *v, size_t n);
/* A string as u32 length + bytes (no NUL). NULL is stored as length 0xFFFFFFFF. */
void tr_buf_str(tr_buf *b, const char *s);
void tr_buf_bytes(tr_buf *b, const void *p, size_t n);  /* u64 length + bytes */

/* A reader over borrowed bytes.  Every get returns TR_OK or TR_ETRUNC (and
 * records the first failure in 'err'), so a parser can read many fields and
 * test once. */
typedef struct tr_cursor {
    const unsigned char *p;
    size_t left;
    int err;              /* sticky first failure: TR_OK, TR_ETRUNC, TR_EFORMAT, TR_ENOMEM */
    const char *what;     /* the field that failed, for the message */
} tr_cursor;

void tr_cursor_init(tr_cursor *c, const void *data, size_t len);
int tr_get_u8(tr_cursor *c, uint8_t *v);
int tr_get_u32(tr_cursor *c, uint32_t *v);
int tr_get_u64(tr_cursor *c, uint64_t *v);
int tr_get_i32(tr_cursor *c, int32_t *v);
int tr_get_f32(tr_cursor *c, float *v);
int tr_get_f64(tr_cursor *c, double *v);
/* Copy n values into caller memory (n checked against what remains first). */
int tr_get_f32s(tr_cursor *c, float *v, size_t n);
int tr_get_i32s(tr_cursor *c, int32_t *v, size_t n);
/* Allocate (tr_malloc) and read n floats / ints; *out owned by the caller. */
int tr_get_f32s_alloc(tr_cursor *c, size_t n, float **out);
int tr_get_i32s_alloc(tr_cursor *c, size_t n, int32_t **out);
int tr_get_u16s_alloc(tr_cursor *c, size_t n, uint16_t **out);
int tr_get_i8s_alloc(tr_cursor *c, size_t n, int8_t **out);
/* Read a string written by tr_buf_str; *out is tr_malloc'ed and NUL-ended
 * (NULL for a stored NULL).  Owned by the caller. */
int tr_get_str(tr_cursor *c, char **out);
/* Borrow the next n bytes (u64 length prefix, as tr_buf_bytes). */
int tr_get_bytes(tr_cursor *c, const void **p, size_t *n);
/* Check that a count read from the file fits in what remains, given that each
 * item takes at least 'each' bytes; sets err = TR_EFORMAT if not. */
int tr_cursor_check_count(tr_cursor *c, uint64_t count, size_t each, const char *what);
/* Label the field being read next, for error messages. */
static inline void tr_cursor_field(tr_cursor *c, const char *what) { if (!c->err) c->what = what; }

/* CRC-32 (IEEE, as zlib's crc32) of n bytes, continuing from crc (0 to start). */
uint32_t tr_crc32(uint32_t crc, const void *p, size_t n);

#endif
