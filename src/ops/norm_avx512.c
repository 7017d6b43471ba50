/* RMSNorm rows with AVX-512, bit for bit the plain herd_rmsnorm: one double vector holds the
 * plain code's eight partial sums (lane j sums the squares of elements j, j+8, ...), summed
 * in the same order and combined by the same tree; the scale is x·r then ·w per element. The
 * plain loop waits on its add latency; four rows side by side keep four chains in flight. */
#include "norm_simd.h"

#include <immintrin.h>
#include <math.h>

enum { ROWS = 4 };

static float inv_rms(__m512d acc, const float *x, int64_t i, int64_t n, float eps)
{
    double s[8];
    _mm512_storeu_pd(s, acc);
    double ss = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        ss += (double)x[i] * x[i];
    return (float)(1.0 / sqrt(ss / (double)n + eps));
}

static void scale_row(const float *x, const float *w, float *y, int64_t n, float r)
{
    __m512 vr = _mm512_set1_ps(r);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + j), vr);
        if (w)
            v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, w + j));
        _mm512_mask_storeu_ps(y + j, k, v);
    }
}

void herd_rmsnorm_rows_avx512(const float *x, size_t ldx, const float *w, float *y, size_t ldy,
                              int64_t rows, int64_t n, float eps)
{
    int64_t n8 = n / 8 * 8, r = 0;
    for (; r + ROWS <= rows; r += ROWS) {
        const float *x0 = x + (size_t)r * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n8; i += 8) {
            __m512d v0 = _mm512_cvtps_pd(_mm256_loadu_ps(x0 + i));
            __m512d v1 = _mm512_cvtps_pd(_mm256_loadu_ps(x1 + i));
            __m512d v2 = _mm512_cvtps_pd(_mm256_loadu_ps(x2 + i));
            __m512d v3 = _mm512_cvtps_pd(_mm256_loadu_ps(x3 + i));
            a0 = _mm512_add_pd(a0, _mm512_mul_pd(v0, v0));
            a1 = _mm512_add_pd(a1, _mm512_mul_pd(v1, v1));
            a2 = _mm512_add_pd(a2, _mm512_mul_pd(v2, v2));
            a3 = _mm512_add_pd(a3, _mm512_mul_pd(v3, v3));
        }
        float r0 = inv_rms(a0, x0, n8, n, eps), r1 = inv_rms(a1, x1, n8, n, eps);
        float r2 = inv_rms(a2, x2, n8, n, eps), r3 = inv_rms(a3, x3, n8, n, eps);
        float *y0 = y + (size_t)r * ldy;
        scale_row(x0, w, y0, n, r0);
        scale_row(x1, w, y0 + ldy, n, r1);
        scale_row(x2, w, y0 + 2 * ldy, n, r2);
        scale_row(x3, w, y0 + 3 * ldy, n, r3);
    }
    for (; r < rows; r++) {
        const float *x0 = x + (size_t)r * ldx;
        __m512d a0 = _mm512_setzero_pd();
        for (int64_t i = 0; i < n8; i += 8) {
            __m512d v0 = _mm512_cvtps_pd(_mm256_loadu_ps(x0 + i));
            a0 = _mm512_add_pd(a0, _mm512_mul_pd(v0, v0));
        }
        scale_row(x0, w, y + (size_t)r * ldy, n, inv_rms(a0, x0, n8, n, eps));
    }
}
