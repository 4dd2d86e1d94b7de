/* Appending JSON text to a fixed-size buffer without printf.
 *
 * A /v1/route answer carries two numbers per model: formatted with
 * snprintf("%.6g") they cost as much CPU as the routing decision itself
 * (callgrind: 240k of 570k instructions per request on mmlu-pro's 29
 * models).  These helpers write the same text, six significant digits,
 * with a few dozen instructions per number. */
#ifndef TR_JSON_OUT_H
#define TR_JSON_OUT_H

#include <stddef.h>

/* The output: buf[0..cap), *len bytes used; ok latches to 0 on overflow
 * (nothing more is written), so a caller checks once at the end. */
typedef struct tr_jout {
    char *buf;
    size_t cap, len;
    int ok;
} tr_jout;

/* Append the NUL-terminated s (borrowed) as it is. */
void tr_jout_raw(tr_jout *o, const char *s);
/* Append n bytes of s (borrowed) as they are. */
void tr_jout_put(tr_jout *o, const char *s, size_t n);
/* Append a string literal, its length known at compile time. */
#define TR_JOUT_LIT(o, lit) tr_jout_put((o), "" lit, sizeof(lit) - 1)
/* Append v in decimal. */
void tr_jout_int(tr_jout *o, long long v);
/* Append x as a JSON number with six significant digits, like printf's
 * "%.6g" (trailing zeros dropped, exponent form outside 1e-5 .. 1e6);
 * "null" when x is NaN or infinite. */
void tr_jout_num(tr_jout *o, double x);

#endif
