/* RMSNorm with an optional weight (the weightless form is Llama 4's QK norm). */
#include "herd/ops.h"

#include <math.h>

void herd_rmsnorm(const float *x, const float *w, float *y, int64_t n, float eps)
{
    double ss = 0; /* double: the mean of squares of a long row loses nothing */
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    if (w)
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * r * w[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * r;
}

void herd_rmsnorm_rows(const float *x, size_t ldx, const float *w, float *y, size_t ldy,
                       int64_t rows, int64_t n, float eps)
{
    for (int64_t r = 0; r < rows; r++)
        herd_rmsnorm(x + (size_t)r * ldx, w, y + (size_t)r * ldy, n, eps);
}
