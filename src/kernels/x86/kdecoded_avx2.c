/* The EXACT tile of the 16-wide super-block families (K/i-quants, grid i-quants, Q8_K) on
 * AVX2: each super-block decoded to f32 by the shared C decoder (exactly ggml's values), then
 * one FMA chain per output in K order, 16 columns as two ymm: kk_tile_decoded_ref's bits. */
#include "kernels/kquant.h"

#include <immintrin.h>

void kk_tile_decoded_avx2(kk_decoder decode, herd_type ty, int elems, const ktile *t)
{
    float w[256 * KK_NR] __attribute__((aligned(32)));
    __m256 acc[KMAX_MR][2];
    for (int i = 0; i < t->m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < t->k / elems; b++) {
        decode(ty, t->b, t->k, b, w);
        for (int i = 0; i < t->m; i++) {
            const float *x =
                (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride) + b * elems;
            __m256 s0 = acc[i][0], s1 = acc[i][1];
            for (int e = 0; e < elems; e++) {
                const __m256 a = _mm256_set1_ps(x[e]);
                s0 = _mm256_fmadd_ps(a, _mm256_load_ps(w + e * KK_NR), s0);
                s1 = _mm256_fmadd_ps(a, _mm256_load_ps(w + e * KK_NR + 8), s1);
            }
            acc[i][0] = s0, acc[i][1] = s1;
        }
    }
    for (int i = 0; i < t->m; i++) {
        _mm256_storeu_ps(t->c + i * KK_NR, acc[i][0]);
        _mm256_storeu_ps(t->c + i * KK_NR + 8, acc[i][1]);
    }
}
