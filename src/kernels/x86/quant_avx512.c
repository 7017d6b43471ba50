/* AVX-512 f32 tile for every block-quantized type: the EXACT mode of the fast families, and the
 * AUTO mode of the fp family (MXFP8, MXFP6 E3M2) on CPUs without AVX512-BF16.
 * Per block the 16×32 weights are decoded exactly to f32 (the shared scalar decoder), then
 * acc = fma(a[k], w[k], acc) in K order, as kq_tile_f32_ref does. */
#include "kernels/quant.h"

#include <immintrin.h>

enum { MR = 14 };

#define INLINE static inline __attribute__((always_inline))

INLINE void tile_body(const kq_type *T, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    float w[KQ_BLOCK * KQ_NR] __attribute__((aligned(64)));
    const float *a[MR];
    __m512 acc[MR];
#pragma GCC unroll 16
    for (int i = 0; i < m; i++) {
        a[i] = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
        acc[i] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        kq_decode_f32(T, t->b, k, b, w);
        for (int kk = 0; kk < KQ_BLOCK; kk++) {
            __m512 wv = _mm512_load_ps(w + kk * KQ_NR);
#pragma GCC unroll 16
            for (int i = 0; i < m; i++)
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i][b * KQ_BLOCK + kk]), wv, acc[i]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * KQ_NR, acc[i]);
}

void kq_tile_f32_avx512(const kq_type *T, const ktile *t)
{
    for (int m0 = 0; m0 < t->m; m0 += MR) {
        ktile s = *t;
        s.m = t->m - m0 < MR ? t->m - m0 : MR;
        s.a = (const uint8_t *)t->a + (size_t)m0 * t->a_stride;
        s.c = t->c + m0 * KQ_NR;
        switch (s.m) {
        case 1: tile_body(T, &s, 1); break;
        case 2: tile_body(T, &s, 2); break;
        case 3: tile_body(T, &s, 3); break;
        case 4: tile_body(T, &s, 4); break;
        case 5: tile_body(T, &s, 5); break;
        case 6: tile_body(T, &s, 6); break;
        case 7: tile_body(T, &s, 7); break;
        case 8: tile_body(T, &s, 8); break;
        case 9: tile_body(T, &s, 9); break;
        case 10: tile_body(T, &s, 10); break;
        case 11: tile_body(T, &s, 11); break;
        case 12: tile_body(T, &s, 12); break;
        case 13: tile_body(T, &s, 13); break;
        default: tile_body(T, &s, 14); break;
        }
    }
}

#define KQ_AVX512_FAMILY(id, TY)                                                                   \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        kq_tile_f32_avx512(kq_type_get(TY), t);                                                    \
    }                                                                                              \
    const kfamily kfam_##id##_avx512 = {                                                           \
        .name = #id ".avx512",                                                                     \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX512,                                                                    \
        .mr = MR,                                                                                  \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_desc = "f32",                                                                           \
        .tile = tile_##id,                                                                         \
        .epilogue = kepi_avx512,                                                                   \
    };
KQ_AVX512_FAMILY(mxfp8_e4m3, HERD_TYPE_MXFP8_E4M3)
KQ_AVX512_FAMILY(mxfp8_e5m2, HERD_TYPE_MXFP8_E5M2)
KQ_AVX512_FAMILY(mxfp6_e3m2, HERD_TYPE_MXFP6_E3M2)
