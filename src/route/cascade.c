/* The cascade's chain of models (cascade.h). */
#include <math.h>

#include "route/cascade.h"

static int usable(const float *q, const float *c, const unsigned char *allowed, size_t m)
{
    return (!allowed || allowed[m]) && isfinite(q[m]) && isfinite(c[m]);
}

/* The cheapest usable model with q >= floor (strictly > when strict);
 * ties: the higher quality, then the lower index.  -1 when none. */
static int cheapest_above(const float *q, const float *c, const unsigned char *allowed, size_t n, double floor,
                          int strict)
{
    int best = -1;
    for (size_t m = 0; m < n; m++) {
        if (!usable(q, c, allowed, m)) continue;
        if (strict ? !(q[m] > floor) : !(q[m] >= floor)) continue;
        if (best < 0 || c[m] < c[best] || (c[m] == c[best] && q[m] > q[best])) best = (int)m;
    }
    return best;
}

size_t tr_cascade_chain(const float *q, const float *c, const unsigned char *allowed, size_t n, double tolerance,
                        int start, int *chain, size_t cap)
{
    double qmax = -INFINITY;
    for (size_t m = 0; m < n; m++)
        if (usable(q, c, allowed, m) && q[m] > qmax) qmax = q[m];
    if (!isfinite(qmax) || cap == 0) return 0;
    if (!(tolerance >= 0)) tolerance = 0;
    size_t k = 0;
    int m = start >= 0 && (size_t)start < n && usable(q, c, allowed, (size_t)start)
                ? start : cheapest_above(q, c, allowed, n, qmax - tolerance, 0);
    while (m >= 0 && k < cap) {
        chain[k++] = m;
        m = cheapest_above(q, c, allowed, n, q[m], 1);
    }
    return k;
}
