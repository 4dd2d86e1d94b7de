#include "base/vec.h"

#include <math.h>
#include <string.h>

double tr_vec_sumsq(const float *x, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
    return s;
}

double tr_vec_unit(float *dst, const float *src, size_t d)
{
    double s = tr_vec_sumsq(src, d);
    if (s > 0) {
        double n = sqrt(s);
        for (size_t j = 0; j < d; j++) dst[j] = (float)(src[j] / n);
    } else if (dst != src) {
        memmove(dst, src, d * sizeof *dst);
    }
    return s;
}

double tr_vec_unit_fast(float *dst, const float *src, size_t d)
{
    double s = tr_vec_sumsq(src, d);
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (size_t j = 0; j < d; j++) dst[j] = src[j] * inv;
    } else if (dst != src) {
        memmove(dst, src, d * sizeof *dst);
    }
    return s;
}

void tr_vec_unit_f64(double *x, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) s += x[j] * x[j];
    s = s > 0 ? 1 / sqrt(s) : 0;
    for (size_t j = 0; j < d; j++) x[j] *= s;
}
