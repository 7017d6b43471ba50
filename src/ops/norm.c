/* RMSNorm with an optional weight (the weightless form is Llama 4's QK norm). */
#include "herd/ops.h"
#include "norm_simd.h"

#include <math.h>

void herd_rmsnorm(const float *x, const float *w, float *y, int64_t n, float eps)
{
    /* double: the mean of squares of a long row loses nothing. Eight independent partial sums
     * (the compiler vectorizes them) instead of one chain of n dependent adds. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += (double)x[i] * x[i];
        s1 += (double)x[i + 1] * x[i + 1];
        s2 += (double)x[i + 2] * x[i + 2];
        s3 += (double)x[i + 3] * x[i + 3];
        s4 += (double)x[i + 4] * x[i + 4];
        s5 += (double)x[i + 5] * x[i + 5];
        s6 += (double)x[i + 6] * x[i + 6];
        s7 += (double)x[i + 7] * x[i + 7];
    }
    double ss = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    for (; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    if (w)
        for (int64_t j = 0; j < n; j++)
            y[j] = x[j] * r * w[j];
    else
        for (int64_t j = 0; j < n; j++)
            y[j] = x[j] * r;
}

void herd_rmsnorm_rows(const float *x, size_t ldx, const float *w, float *y, size_t ldy,
                       int64_t rows, int64_t n, float eps)
{
    if (herd_isa() >= HERD_ISA_AVX512) {
        herd_rmsnorm_rows_avx512(x, ldx, w, y, ldy, rows, n, eps);
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        herd_rmsnorm(x + (size_t)r * ldx, w, y + (size_t)r * ldy, n, eps);
}
