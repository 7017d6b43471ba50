/* RoPE rotation from an angle table with AVX-512, bit for bit the plain version: a pair
 * (x0, x1) becomes (x0·c + x1·(-s), x1·c + x0·s), each product rounded and then added as the
 * plain x0·c - x1·s and x0·s + x1·c are; 8 pairs a vector, the partner of each element
 * brought next to it by a swap within the pair. Pairs never straddle a vector (D is even). */
#include "rope_simd.h"

#include <immintrin.h>

void herd_rope_rotate_avx512(const float *cs, float *x, int64_t nheads, int64_t D)
{
    for (int64_t d = 0; d < D; d += 16) {
        __mmask16 m = D - d >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (D - d)) - 1);
        __m512 c = _mm512_maskz_loadu_ps(m, cs + d), s = _mm512_maskz_loadu_ps(m, cs + D + d);
        for (int64_t h = 0; h < nheads; h++) {
            float *p = x + h * D + d;
            __m512 v = _mm512_maskz_loadu_ps(m, p);
            __m512 w = _mm512_permute_ps(v, 0xb1); /* (x1, x0) in each pair */
            _mm512_mask_storeu_ps(p, m, _mm512_add_ps(_mm512_mul_ps(v, c), _mm512_mul_ps(w, s)));
        }
    }
}
