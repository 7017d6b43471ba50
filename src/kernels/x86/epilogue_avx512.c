/* The epilogue with AVX-512: the same IEEE operations as kepi_ref, 16 columns at a time (masked
 * tail), and the same exp polynomial, so results are bit-identical to the plain C version. */
#include "kernels/family.h"

#include "kernels/x86/vexp.h"

#include <immintrin.h>

static inline __m512 silu16(__m512 v)
{
    __m512 e = herd_exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* Round to nearest even like herd_f32_to_bf16, NaN kept quiet. */
static inline __m256i to_bf16(__m512 v)
{
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    __mmask16 nan = _mm512_cmp_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                          _mm512_set1_epi32(0x7f800000), _MM_CMPINT_NLE);
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

void kepi_avx512(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u)
{
    const float *res = e->residual ? e->residual + (size_t)row * e->ldr + col : NULL;
    const float *bias = e->bias ? e->bias + col : NULL;
    size_t at = (size_t)row * e->ldc + (size_t)col;
    for (int j = 0; j < n; j += 16) {
        __mmask16 mk = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(mk, g + j);
        if (bias)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, bias + j));
        if (e->act == HERD_ACT_SILU)
            v = silu16(v);
        else if (e->act == HERD_ACT_SWIGLU)
            v = _mm512_mul_ps(silu16(v), _mm512_maskz_loadu_ps(mk, u + j));
        if (res)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, res + j));
        if (e->out_bf16)
            _mm256_mask_storeu_epi16((uint16_t *)e->c + at + (size_t)j, mk, to_bf16(v));
        else
            _mm512_mask_storeu_ps((float *)e->c + at + (size_t)j, mk, v);
    }
}
