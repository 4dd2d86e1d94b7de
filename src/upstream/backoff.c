/* Retry delays and Retry-After (see backoff.h for the schedule and why). */
#include "upstream/backoff.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void tr_retry_policy_default(tr_retry_policy *p)
{
    p->max_retries = 2;
    p->base_ms = 250;
    p->max_ms = 4000;
    p->retry_after_max_ms = 10000;
}

/* splitmix64: one 64-bit state is all a caller has to keep */
static uint64_t next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return tr_mix64(*s);
}

long tr_backoff_delay_ms(const tr_retry_policy *p, int k, uint64_t *rng)
{
    if (k < 1) k = 1;
    long d = p->base_ms > 0 ? p->base_ms : 0;
    for (int i = 1; i < k && d < p->max_ms; i++) d *= 2;
    if (d > p->max_ms) d = p->max_ms;
    if (d <= 1) return d;
    long half = d / 2;
    return half + (long)(next(rng) % (uint64_t)(d - half + 1));
}

static int month_of(const char *s)
{
    static const char *const m[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (!strncmp(s, m[i], 3)) return i;
    return -1;
}

long tr_retry_after_ms(const char *v, time_t now)
{
    if (!v) return -1;
    while (*v == ' ' || *v == '\t') v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (errno || *end) return -1;
        return s > 86400ULL * 365 ? 86400L * 365 * 1000 : (long)s * 1000;
    }
    /* IMF-fixdate, the one form senders must use: "Sun, 06 Nov 1994 08:49:37 GMT" */
    int day, year, hh, mm, ss;
    char mon[4], gmt[4];
    const char *comma = strchr(v, ',');
    if (!comma) return -1;
    if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d %3s", &day, mon, &year, &hh, &mm, &ss, gmt) != 7) return -1;
    int mo = month_of(mon);
    if (mo < 0 || strcmp(gmt, "GMT") || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = day;
    tm.tm_mon = mo;
    tm.tm_year = year - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    if (t <= now) return 0;
    double d = difftime(t, now);
    return d > 86400.0 * 365 ? 86400L * 365 * 1000 : (long)d * 1000;
}

long tr_retry_wait_ms(const tr_retry_policy *p, int k, long retry_after_ms, uint64_t *rng)
{
    if (retry_after_ms >= 0) return retry_after_ms <= p->retry_after_max_ms ? retry_after_ms : -1;
    return tr_backoff_delay_ms(p, k, rng);
}
