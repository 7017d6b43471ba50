/* kaprep_u8 with AVX-512: the same operations in the same order (max of |a|, a·(127/max),
 * rounding by the 1.5·2^23 constant, clamp, NaN to 0), so the prepared rows are bit-identical
 * to the plain C version (the tests compare the int8 families bit for bit through it). */
#include "kernels/family.h"

#include <immintrin.h>
#include <string.h>

void kaprep_u8_avx512(const float *a, int64_t k, void *dst)
{
    __m512 vmax = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(mk, a + i));
        vmax = _mm512_max_ps(v, vmax); /* a NaN lane keeps vmax, like the C loop */
    }
    float amax = _mm512_reduce_max_ps(vmax);
    float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    memset(dst, 0, KAPREP_I8_HDR);
    memcpy(dst, &s, sizeof s);
    uint8_t *q = (uint8_t *)dst + KAPREP_I8_HDR;
    const __m512 vinv = _mm512_set1_ps(inv), magic = _mm512_set1_ps(12582912.0f);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (int64_t i = 0; i < k; i += 16) {
        __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a + i), vinv);
        v = _mm512_sub_ps(_mm512_add_ps(v, magic), magic);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); /* NaN: 0 */
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        __m512i u = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(128));
        _mm_mask_storeu_epi8(q + i, mk, _mm512_cvtepi32_epi8(u));
    }
    for (int64_t i = k; i < ((k + 3) & ~(int64_t)3); i++)
        q[i] = 128;
}
