/* AVX-512 attention primitives (see attn_simd.h); masked tails, no scalar loop. */
#include "attn_simd.h"

#include <immintrin.h>

static __mmask16 tail(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static float dot(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail(n - i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void axpy(float *acc, float e, const float *v, int64_t n)
{
    __m512 ev = _mm512_set1_ps(e);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail(n - i);
        __m512 r =
            _mm512_fmadd_ps(ev, _mm512_maskz_loadu_ps(k, v + i), _mm512_maskz_loadu_ps(k, acc + i));
        _mm512_mask_storeu_ps(acc + i, k, r);
    }
}

static void scale(float *acc, float c, int64_t n)
{
    __m512 cv = _mm512_set1_ps(c);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail(n - i);
        _mm512_mask_storeu_ps(acc + i, k, _mm512_mul_ps(cv, _mm512_maskz_loadu_ps(k, acc + i)));
    }
}

const attn_simd herd_attn_simd_avx512 = {dot, axpy, scale};
