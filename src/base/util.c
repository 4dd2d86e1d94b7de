/* Error messages, counted allocation, RNG and clock shared by all modules. */
#include "base/util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tr_version(void) { return TR_VERSION_STRING; }

const char *tr_strerror(int code)
{
    switch (code) {
#define TR_X_(name, c, msg) case c: return msg;
    TR_ERROR_TABLE(TR_X_)
#undef TR_X_
    }
    return "unknown error code";
}

const char *tr_strerror_name(int code)
{
    switch (code) {
#define TR_X_(name, c, msg) case c: return #name;
    TR_ERROR_TABLE(TR_X_)
#undef TR_X_
    }
    return "TR_E?";
}

int tr_errorf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int tr_error_prefix(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (!err || !errlen) return code;
    char old[1024];
    snprintf(old, sizeof old, "%s", err);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ": %s", old[0] ? old : tr_strerror(code));
    return code;
}

/* Fault injection: a countdown shared by all threads; only tests set it. */
static _Atomic long fail_countdown = -1;
static _Atomic long fail_count = 0;

long tr_alloc_fail_after(long n)
{
    long failed = atomic_exchange(&fail_count, 0);
    atomic_store(&fail_countdown, n);
    return failed;
}

static int alloc_should_fail(void)
{
    long c = atomic_load(&fail_countdown);
    if (c < 0) return 0;
    if (c == 0) { atomic_fetch_add(&fail_count, 1); return 1; }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void *tr_malloc(size_t n) { return alloc_should_fail() ? NULL : malloc(n ? n : 1); }
void *tr_calloc(size_t n, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}
void *tr_realloc(void *p, size_t n) { return alloc_should_fail() ? NULL : realloc(p, n ? n : 1); }
void tr_free(void *p) { free(p); }

void *tr_mallocarray(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return tr_malloc(n * size);
}

/* A route touches a few hundred rows scattered over a 50 MB projection and a
 * 10 MB kNN store.  On 4 KB pages nearly every row costs a TLB miss and a
 * page walk; Debian's kernels give huge pages only to memory that asks
 * (transparent_hugepage = madvise).  Where the call is refused the array
 * simply stays on small pages. */
void *tr_malloc_big(size_t n)
{
    enum { HUGE = 2u << 20, LINE = 64 };
    if (n > SIZE_MAX - HUGE) return NULL;
    if (alloc_should_fail()) return NULL;
    void *p = NULL;
    if (n < TR_BIG_ALLOC)   /* rows of 2^k bytes then start on a cache line */
        return posix_memalign(&p, LINE, n ? n : 1) ? NULL : p;
    size_t len = (n + HUGE - 1) & ~((size_t)HUGE - 1);
    if (posix_memalign(&p, HUGE, len)) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

char *tr_strndup(const char *s, size_t n)
{
    char *d = tr_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *tr_strdup(const char *s) { return tr_strndup(s, strlen(s)); }

static uint64_t splitmix64(uint64_t *x)
{
    return tr_mix64(*x += 0x9e3779b97f4a7c15ULL);
}

void tr_rng_seed(tr_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tr_rng_next(tr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

double tr_rng_uniform(tr_rng *r) { return (double)(tr_rng_next(r) >> 11) * 0x1.0p-53; }

double tr_rng_normal(tr_rng *r)
{
    /* Box-Muller; one of the pair is dropped to keep the state simple. */
    double u1 = tr_rng_uniform(r), u2 = tr_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint64_t tr_rng_below(tr_rng *r, uint64_t n)
{
    /* Lemire's unbiased bounded random. */
    uint64_t x = tr_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) { x = tr_rng_next(r); m = (__uint128_t)x * n; l = (uint64_t)m; }
    }
    return (uint64_t)(m >> 64);
}

double tr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tr_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int tr_workers(int threads, size_t jobs)
{
    if (threads <= 0) threads = tr_ncpu();
    if (threads > TR_RUN_MAX_THREADS) threads = TR_RUN_MAX_THREADS;
    if ((size_t)threads > jobs) threads = jobs ? (int)jobs : 1;
    return threads;
}

void tr_run_workers(int nth, void *(*fn)(void *), void *arg, size_t size)
{
    pthread_t tid[TR_RUN_MAX_THREADS];
    int started = 0;
    if (nth > TR_RUN_MAX_THREADS) nth = TR_RUN_MAX_THREADS;
    for (int t = 1; t < nth; t++) {
        if (pthread_create(&tid[t], NULL, fn, (char *)arg + (size_t)t * size) != 0) break;
        started = t;
    }
    fn(arg);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    for (int t = started + 1; t < nth; t++) fn((char *)arg + (size_t)t * size);
}

/* Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or len when the bytes are valid. */
size_t tr_utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time: prompts are mostly ASCII */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return i;
        if (i + need >= len) return i; /* cut short */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}
