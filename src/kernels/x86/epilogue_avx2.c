/* The epilogue with AVX2: the same IEEE operations as kepi_ref, 8 columns at a time (the tail
 * goes through the plain C version), and the same exp polynomial: bit-identical results. */
#include "kernels/family.h"

#include "kernels/x86/vexp.h"

#include <immintrin.h>

static inline __m256 silu8(__m256 v)
{
    __m256 e = herd_exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void kepi_avx2(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u)
{
    if (e->out_bf16 || n % 8) { /* rare: bf16 out or a ragged last panel */
        kepi_ref(e, row, col, n, g, u);
        return;
    }
    const float *res = e->residual ? e->residual + (size_t)row * e->ldr + col : NULL;
    float *c = (float *)e->c + (size_t)row * e->ldc + col;
    for (int j = 0; j < n; j += 8) {
        __m256 v = _mm256_loadu_ps(g + j);
        if (e->bias)
            v = _mm256_add_ps(v, _mm256_loadu_ps(e->bias + col + j));
        if (e->act == HERD_ACT_SILU)
            v = silu8(v);
        else if (e->act == HERD_ACT_SWIGLU)
            v = _mm256_mul_ps(silu8(v), _mm256_loadu_ps(u + j));
        if (res)
            v = _mm256_add_ps(v, _mm256_loadu_ps(res + j));
        _mm256_storeu_ps(c + j, v);
    }
}
