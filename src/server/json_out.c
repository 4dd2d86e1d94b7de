/* JSON text without printf; see json_out.h for why. */
#include "json_out.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void jout_put(tr_jout *o, const char *s, size_t n)
{
    if (!o->ok) return;
    if (n >= o->cap - o->len) { o->ok = 0; return; }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

void tr_jout_raw(tr_jout *o, const char *s) { jout_put(o, s, strlen(s)); }

void tr_jout_fmt(tr_jout *o, const char *fmt, ...)
{
    if (!o->ok) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) { o->ok = 0; return; }
    o->len += (size_t)n;
}

/* 10^k for the exponents an answer's numbers have (qualities, costs in
 * USD, probabilities): the literals are the correctly rounded values, as
 * pow() gives, without its cost (pow and log10 were two thirds of writing a
 * number, and an answer writes about sixty). */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const double NPOW10[] = {1e0,   1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

static double pow10i(int k)
{
    if (k >= 0 && k <= 22) return POW10[k];
    if (k < 0 && k >= -22) return NPOW10[-k];
    return pow(10.0, k);
}

/* round(ax * 10^(5 - e)): the six leading digits of ax when its decimal
 * exponent is e.  Two steps keep 10^k finite for the extreme exponents. */
static long long six_digits(double ax, int e)
{
    int k = 5 - e;
    double t = ax;
    if (k > 300) { t *= 1e300; k -= 300; }
    if (k < -300) { t *= 1e-300; k += 300; }
    return llround(t * pow10i(k));
}

void tr_jout_num(tr_jout *o, double x)
{
    if (!isfinite(x)) { jout_put(o, "null", 4); return; }
    if (x == 0) { jout_put(o, "0", 1); return; }
    char s[32];
    size_t n = 0;
    if (x < 0) s[n++] = '-';
    double ax = fabs(x);
    /* the decimal exponent from the binary one: ax in [2^(b-1), 2^b), so
     * floor((b-1) log10 2) is the exponent or one below it */
    int b;
    frexp(ax, &b);
    int e = (int)floor((b - 1) * 0.30102999566398120);
    long long m = six_digits(ax, e);
    /* the estimate may be one low, and rounding may carry */
    if (m >= 1000000) m = six_digits(ax, ++e);
    if (m < 100000) m = six_digits(ax, --e);
    if (m >= 1000000) { m /= 10; e++; }
    char d[6];
    for (int i = 5; i >= 0; i--) { d[i] = (char)('0' + m % 10); m /= 10; }
    int nd = 6;
    while (nd > 1 && d[nd - 1] == '0') nd--;   /* %g drops trailing zeros */
    if (e >= -4 && e < 6) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++) s[n++] = i < nd ? d[i] : '0';
            if (nd > e + 1) {
                s[n++] = '.';
                for (int i = e + 1; i < nd; i++) s[n++] = d[i];
            }
        } else {
            s[n++] = '0';
            s[n++] = '.';
            for (int i = 0; i < -e - 1; i++) s[n++] = '0';
            for (int i = 0; i < nd; i++) s[n++] = d[i];
        }
    } else {
        s[n++] = d[0];
        if (nd > 1) {
            s[n++] = '.';
            for (int i = 1; i < nd; i++) s[n++] = d[i];
        }
        s[n++] = 'e';
        s[n++] = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        if (ae >= 100) s[n++] = (char)('0' + ae / 100);
        s[n++] = (char)('0' + ae / 10 % 10);
        s[n++] = (char)('0' + ae % 10);
    }
    jout_put(o, s, n);
}
