/* SVG text helpers; see svg_text.h. */
#include "eval/svg_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void tr_svg_put(tr_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    tr_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void tr_svg_num(tr_buf *b, double v, int dec)
{
    long long scale = 1;
    for (int i = 0; i < dec; i++) scale *= 10;
    long long r = llround(v * (double)scale);
    const char *sign = r < 0 ? "-" : "";
    if (r < 0) r = -r;
    if (dec == 0)
        tr_svg_put(b, "%s%lld", sign, r);
    else
        tr_svg_put(b, "%s%lld.%0*lld", sign, r / scale, dec, r % scale);
}

void tr_svg_esc(tr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': tr_buf_put(b, "&amp;", 5); break;
        case '<': tr_buf_put(b, "&lt;", 4); break;
        case '>': tr_buf_put(b, "&gt;", 4); break;
        case '"': tr_buf_put(b, "&quot;", 6); break;
        case '\'': tr_buf_put(b, "&apos;", 6); break;
        default: tr_buf_u8(b, c < 0x20 ? '?' : c);
        }
    }
}

int tr_svg_write_file(const char *svg, size_t n, const char *path, char *err, size_t errlen)
{
    size_t tl = strlen(path) + 32;
    char *tmp = tr_malloc(tl);
    if (!tmp) return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        tr_free(tmp);
        return rc;
    }
    int bad = fwrite(svg, 1, n, f) != n;
    bad |= fclose(f) != 0;
    int rc = TR_OK;
    if (bad || rename(tmp, path) != 0) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: writing failed: %s", path, strerror(errno));
        unlink(tmp);
    }
    tr_free(tmp);
    return rc;
}

int tr_svg_finish(tr_buf *b, char **out, size_t *len, const char *what, char *err, size_t errlen)
{
    tr_svg_put(b, "</g>\n</svg>\n");
    tr_buf_u8(b, 0);
    if (tr_buf_ok(b)) {
        tr_buf_free(b);
        return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", what);
    }
    *out = (char *)b->data;
    if (len) *len = b->len - 1;
    return TR_OK;
}
