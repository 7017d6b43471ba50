/* AVX-512 f32 tile for every block-quantized type: the EXACT mode of the fast families, and the
 * AUTO mode of the fp family (MXFP8, MXFP6 E3M2) on CPUs without AVX512-BF16.
 * Per block the 16×32 weights are decoded exactly to f32, then acc = fma(a[k], w[k], acc) in K
 * order, as kq_tile_f32_ref does. MXFP8 E4M3 (and so FP8 rowwise, which wraps it) decodes in
 * vector registers (decode_e4m3); the other types use the shared scalar decoder. */
#include "kernels/quant.h"

#include <immintrin.h>

enum { MR = 14 };

#define INLINE static inline __attribute__((always_inline))

/* kq_decode_f32 for MXFP8 E4M3, the same bits: an E4M3 code s.eeee.mmm placed as the fp16
 * s.0eeee.mmm0000000 is its value · 2^-8, for normal codes (fp16's exponent bias is 8 more
 * than E4M3's) and subnormal ones (fp16 subnormal m·2^7·2^-24 against E4M3's m·2^-9), so
 * value = cvtph(that) · 256 exactly; then one multiply by the block scale 2^(e-127), as the
 * scalar decoder does. The 64 codes of a k-quad (fp layout in quant.h) are
 * widened to 16 bits and put in k-major order by two VPERMT2W. */
static void decode_e4m3(const uint8_t *panel, int64_t k, int64_t b, float *w)
{
    const kq_type *T = kq_type_get(HERD_TYPE_MXFP8_E4M3);
    const uint8_t *pl = panel + kq_scale_section(T, k) + (size_t)b * kq_payload_bytes(8);
    /* lane L: k = L/16 (+2 for ib), row j = L%16: byte 16(j/4) + 8h + 2(j%4) + t of the quad */
    static const uint16_t ia[32] = {0, 2, 4, 6, 16, 18, 20, 22, 32, 34, 36, 38, 48, 50, 52, 54,
                                    1, 3, 5, 7, 17, 19, 21, 23, 33, 35, 37, 39, 49, 51, 53, 55};
    static const uint16_t ib[32] = {8, 10, 12, 14, 24, 26, 28, 30, 40, 42, 44, 46, 56, 58, 60, 62,
                                    9, 11, 13, 15, 25, 27, 29, 31, 41, 43, 45, 47, 57, 59, 61, 63};
    const __m512i idx_a = _mm512_loadu_si512(ia), idx_b = _mm512_loadu_si512(ib);
    const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(panel + b * KQ_NR)));
    /* 2^(e-127) with e = 0 the subnormal 2^-127 */
    const __m512 s = _mm512_castsi512_ps(
        _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()),
                                _mm512_slli_epi32(e, 23), _mm512_set1_epi32(0x00400000)));
    const __m512 two8 = _mm512_set1_ps(256.0f);
    for (int g = 0; g < KQ_BLOCK / 4; g++) {
        __m512i lo = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(pl + 64 * g)));
        __m512i hi = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(pl + 64 * g + 32)));
        __m512i half[2] = {_mm512_permutex2var_epi16(lo, idx_a, hi),
                           _mm512_permutex2var_epi16(lo, idx_b, hi)};
        for (int h = 0; h < 2; h++) {
            __m512i u = half[h];
            __m512i f16 =
                _mm512_or_si512(_mm512_slli_epi16(_mm512_and_si512(u, _mm512_set1_epi16(0x80)), 8),
                                _mm512_slli_epi16(_mm512_and_si512(u, _mm512_set1_epi16(0x7F)), 7));
            __m512 v0 = _mm512_cvtph_ps(_mm512_castsi512_si256(f16));
            __m512 v1 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(f16, 1));
            _mm512_store_ps(w + (4 * g + 2 * h) * KQ_NR, _mm512_mul_ps(_mm512_mul_ps(v0, two8), s));
            _mm512_store_ps(w + (4 * g + 2 * h + 1) * KQ_NR,
                            _mm512_mul_ps(_mm512_mul_ps(v1, two8), s));
        }
    }
}

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
        if (T->type == HERD_TYPE_MXFP8_E4M3)
            decode_e4m3(t->b, k, b, w);
        else
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
        KTILE_ROWS_14(s.m, tile_body, T, &s);
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
