/* AVX2 tiles of the block-quantized families (math in quant.h), for CPUs without AVX-512.
 *
 * int family: VPDPBUSD emulated exactly with VPMADDWD: the u8 weights of a k-quad split into
 * their even and odd bytes (16-bit lanes), A's s8 quad into (a0, a2) and (a1, a3), and two
 * VPMADDWD give the same int32 lane sums (no saturation: 255·127·2 < 2^31). The panel's 16
 * rows are done as two halves of 8 (one ymm), up to 4 A rows at a time.
 * fp family and EXACT mode: weights decoded exactly to f32 (shared scalar decoder), then one
 * fma chain per output in K order. */
#include "kernels/quant.h"

#include <immintrin.h>
#include <string.h>

enum { MR_INT = 4, MR_F32 = 6 };

#define INLINE static inline __attribute__((always_inline))

/* dw of rows 8h..8h+7 in block b: fp16, or 2^(e-127-shift) as a product of two normal powers
 * of two (exact, denormal results included). */
INLINE __m256 block_scales(herd_type ty, const uint8_t *sc, int64_t b, int h)
{
    if (ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sc + b * 32 + 16 * h)));
    __m128i e8 = _mm_loadl_epi64((const __m128i *)(sc + b * 16 + 8 * h));
    __m256i n =
        _mm256_sub_epi32(_mm256_cvtepu8_epi32(e8), _mm256_set1_epi32(127 + kq_int_shift(ty)));
    __m256i h1 = _mm256_srai_epi32(n, 1), h2 = _mm256_sub_epi32(n, h1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h1, bias), 23));
    __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h2, bias), 23));
    return _mm256_mul_ps(f1, f2);
}

/* Weights of quad g, rows 8h..8h+7, as u8 = w + 128 (32 bytes, position order). */
INLINE __m256i weight_quad(herd_type ty, const uint8_t *pl, int g, int h)
{
    const int bits = kq_int_bits(ty);
    if (bits == 8)
        return _mm256_loadu_si256((const __m256i *)(pl + 64 * g + 32 * h));
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i lo = _mm256_loadu_si256((const __m256i *)(pl + 64 * (g & 3) + 32 * h));
    lo = _mm256_and_si256(g < 4 ? lo : _mm256_srli_epi16(lo, 4), m4);
    if (ty == HERD_TYPE_Q4_0)
        return _mm256_add_epi8(lo, _mm256_set1_epi8(120));
    if (ty == HERD_TYPE_MXFP4) {
        const __m256i lut =
            _mm256_setr_epi8((char)128, (char)129, (char)130, (char)131, (char)132, (char)134,
                             (char)136, (char)140, (char)128, 127, 126, 125, 124, 122, 120, 116,
                             (char)128, (char)129, (char)130, (char)131, (char)132, (char)134,
                             (char)136, (char)140, (char)128, 127, 126, 125, 124, 122, 120, 116);
        return _mm256_shuffle_epi8(lut, lo);
    }
    __m256i hi = _mm256_loadu_si256((const __m256i *)(pl + 256 + 64 * (g >> 2) + 32 * h));
    hi = _mm256_srli_epi16(hi, 2 * (g & 3));
    const __m256i lut =
        _mm256_setr_epi8(16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60, 16, 18, 20,
                         22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60);
    const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2);
    __m256i big = _mm256_cmpeq_epi8(_mm256_and_si256(hi, one), one);
    __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(hi, two), two);
    __m256i v = _mm256_blendv_epi8(lo, _mm256_shuffle_epi8(lut, lo), big);
    const __m256i c128 = _mm256_set1_epi8((char)128);
    return _mm256_blendv_epi8(_mm256_add_epi8(c128, v), _mm256_sub_epi8(c128, v), neg);
}

INLINE void tile_int_body(herd_type ty, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b;
    const size_t sbytes = ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0 ? 2 : 1;
    const uint8_t *payload = panel + ((size_t)nb * KQ_NR * sbytes + 63) / 64 * 64;
    const size_t pb = kq_payload_bytes(kq_int_bits(ty));
    const uint8_t *a[MR_INT];
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        a[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride;
    const __m256i lo8 = _mm256_set1_epi16(0x00FF);
    for (int h = 0; h < 2; h++) {
        __m256 acc[MR_INT];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++)
            acc[i] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *pl = payload + (size_t)b * pb;
            const size_t ab = (size_t)b * KQ_AREC;
            __m256i isum[MR_INT];
#pragma GCC unroll 4
            for (int i = 0; i < m; i++)
                isum[i] = _mm256_set1_epi32(kq_load_i32(a[i] + ab + 36));
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                __m256i w = weight_quad(ty, pl, g, h);
                __m256i we = _mm256_and_si256(w, lo8), wo = _mm256_srli_epi16(w, 8);
#pragma GCC unroll 4
                for (int i = 0; i < m; i++) {
                    __m256i x = _mm256_set1_epi32(kq_load_i32(a[i] + ab + 4 * g));
                    __m256i ae = _mm256_srai_epi16(_mm256_slli_epi16(x, 8), 8);
                    __m256i ao = _mm256_srai_epi16(x, 8);
                    isum[i] =
                        _mm256_add_epi32(isum[i], _mm256_add_epi32(_mm256_madd_epi16(we, ae),
                                                                   _mm256_madd_epi16(wo, ao)));
                }
            }
            __m256 dw = block_scales(ty, panel, b, h);
#pragma GCC unroll 4
            for (int i = 0; i < m; i++)
                acc[i] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i]),
                                    _mm256_mul_ps(dw, _mm256_set1_ps(kq_a_p2(a[i], b))), acc[i]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < m; i++)
            _mm256_storeu_ps(t->c + i * KQ_NR + 8 * h,
                             _mm256_mul_ps(acc[i], _mm256_set1_ps(kq_a_rowscale(a[i], k))));
    }
}

INLINE void tile_int(herd_type ty, const ktile *t)
{
    for (int m0 = 0; m0 < t->m; m0 += MR_INT) {
        ktile s = *t;
        s.m = t->m - m0 < MR_INT ? t->m - m0 : MR_INT;
        s.a = (const uint8_t *)t->a + (size_t)m0 * t->a_stride;
        s.c = t->c + m0 * KQ_NR;
        KTILE_ROWS_4(s.m, tile_int_body, ty, &s);
    }
}

INLINE void tile_f32_body(const kq_type *T, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    float w[KQ_BLOCK * KQ_NR] __attribute__((aligned(32)));
    const float *a[MR_F32];
    __m256 acc[MR_F32][2];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        a[i] = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        kq_decode_f32(T, t->b, k, b, w);
        for (int kk = 0; kk < KQ_BLOCK; kk++) {
            __m256 w0 = _mm256_load_ps(w + kk * KQ_NR), w1 = _mm256_load_ps(w + kk * KQ_NR + 8);
#pragma GCC unroll 8
            for (int i = 0; i < m; i++) {
                __m256 av = _mm256_set1_ps(a[i][b * KQ_BLOCK + kk]);
                acc[i][0] = _mm256_fmadd_ps(av, w0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(av, w1, acc[i][1]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        _mm256_storeu_ps(t->c + i * KQ_NR, acc[i][0]);
        _mm256_storeu_ps(t->c + i * KQ_NR + 8, acc[i][1]);
    }
}

void kq_tile_f32_avx2(const kq_type *T, const ktile *t)
{
    for (int m0 = 0; m0 < t->m; m0 += MR_F32) {
        ktile s = *t;
        s.m = t->m - m0 < MR_F32 ? t->m - m0 : MR_F32;
        s.a = (const uint8_t *)t->a + (size_t)m0 * t->a_stride;
        s.c = t->c + m0 * KQ_NR;
        KTILE_ROWS_6(s.m, tile_f32_body, T, &s);
    }
}

#define KQ_AVX2_INT_FAMILY(id, TY)                                                                 \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        tile_int(TY, t);                                                                           \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kq_tile_f32_avx2(kq_type_get(TY), t);                                                      \
    }                                                                                              \
    const kfamily kfam_##id##_avx2 = {                                                             \
        .name = #id ".avx2",                                                                       \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX2,                                                                      \
        .mr = 12,                                                                                  \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_row_bytes = kq_aprep_i8_bytes,                                                          \
        .a_prep = kq_aprep_i8,                                                                     \
        .a_desc = "int8 per 32-block",                                                             \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx2,                                                                     \
    };
KQ_AVX2_INT_FAMILY(q8_0, HERD_TYPE_Q8_0)
KQ_AVX2_INT_FAMILY(q4_0, HERD_TYPE_Q4_0)
KQ_AVX2_INT_FAMILY(mxfp4, HERD_TYPE_MXFP4)
KQ_AVX2_INT_FAMILY(mxfp6_e2m3, HERD_TYPE_MXFP6_E2M3)
KQ_AVX2_INT_FAMILY(mxint8, HERD_TYPE_MXINT8)

#define KQ_AVX2_FP_FAMILY(id, TY)                                                                  \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        kq_tile_f32_avx2(kq_type_get(TY), t);                                                      \
    }                                                                                              \
    const kfamily kfam_##id##_avx2 = {                                                             \
        .name = #id ".avx2",                                                                       \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX2,                                                                      \
        .mr = 12,                                                                                  \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_desc = "f32",                                                                           \
        .tile = tile_##id,                                                                         \
        .epilogue = kepi_avx2,                                                                     \
    };
KQ_AVX2_FP_FAMILY(mxfp8_e4m3, HERD_TYPE_MXFP8_E4M3)
KQ_AVX2_FP_FAMILY(mxfp8_e5m2, HERD_TYPE_MXFP8_E5M2)
KQ_AVX2_FP_FAMILY(mxfp6_e3m2, HERD_TYPE_MXFP6_E3M2)
