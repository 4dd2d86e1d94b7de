/* JSON text without printf; see json_out.h for why. */
#include "server/json_out.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

void tr_jout_put(tr_jout *o, const char *s, size_t n)
{
    if (!o->ok) return;
    if (n >= o->cap - o->len) { o->ok = 0; return; }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

void tr_jout_raw(tr_jout *o, const char *s) { tr_jout_put(o, s, strlen(s)); }

void tr_jout_int(tr_jout *o, long long v)
{
    char s[24];
    size_t n = sizeof s;
    /* through the magnitude as unsigned, so LLONG_MIN has one too */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do { s[--n] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) s[--n] = '-';
    tr_jout_put(o, s + n, sizeof s - n);
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

/* llround for v >= 0 without the library call: v - (double)r is exact
 * for v < 2^53, so halves round up as llround rounds them. */
static long long round_half_up(double v)
{
    long long r = (long long)v;
    return r + (v - (double)r >= 0.5);
}

/* round(ax * 10^(5 - e)): the six leading digits of ax when its decimal
 * exponent is e.  Two steps keep 10^k finite for the extreme exponents. */
static long long six_digits(double ax, int e)
{
    int k = 5 - e;
    double t = ax;
    if (k > 300) { t *= 1e300; k -= 300; }
    if (k < -300) { t *= 1e-300; k += 300; }
    return round_half_up(t * pow10i(k));
}

/* floor(k log10 2) for |k| < 1700: 78913 / 2^18 is log10 2 to enough
 * places (Ryu's constant); integer arithmetic, no floor() call. */
static int floor_log10_pow2(int k)
{
    if (k >= 0) return (int)(((unsigned)k * 78913u) >> 18);
    return -(int)(((unsigned)-k * 78913u + (1u << 18) - 1) >> 18);
}

void tr_jout_num(tr_jout *o, double x)
{
    if (!isfinite(x)) { tr_jout_put(o, "null", 4); return; }
    if (x == 0) { tr_jout_put(o, "0", 1); return; }
    char s[32];
    size_t n = 0;
    if (x < 0) s[n++] = '-';
    double ax = fabs(x);
    /* the decimal exponent from the binary one: ax in [2^(b-1), 2^b), so
     * floor((b-1) log10 2) is the exponent or one below it; b from the
     * exponent bits, frexp only for subnormals */
    uint64_t bits;
    memcpy(&bits, &ax, sizeof bits);
    int b = (int)(bits >> 52 & 0x7ff) - 1022;
    if (b == -1022) frexp(ax, &b);
    int e = floor_log10_pow2(b - 1);
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
    tr_jout_put(o, s, n);
}
