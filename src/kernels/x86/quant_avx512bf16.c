/* AVX512-BF16 tiles of the fp family (MXFP8 E4M3, E5M2, MXFP6 E3M2; math in quant.h).
 *
 * A is rounded to bf16 once per call (kaprep_bf16). Each 32 codes of a block (16 rows × one
 * k-pair) become bf16 weights in registers: the code is moved into the bits of an fp16 with the
 * same mantissa (E5M2 is the top byte of an fp16; E4M3 and E3M2 land 2^8 and 2^12 too small,
 * subnormals included), VCVTPH2PS widens it and VCVTNE2PS2BF16 narrows it (both exact: at most
 * 4 significant bits, no denormals). VDPBF16PS adds both products of the pair to each row's
 * block sum, with A's bf16 pair broadcast from memory; after the block, VSCALEFPS applies the
 * block scale and the missing power of two to the sum (exact) and one add puts it into the
 * row's accumulator. Up to 12 rows per tile. */
#include "kernels/quant.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 12, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

/* Power of two that turns the fp16 reading of a code into the element value. */
INLINE float ty_adjust(herd_type ty)
{
    return ty == HERD_TYPE_MXFP8_E4M3 ? 8.0f : ty == HERD_TYPE_MXFP6_E3M2 ? 12.0f : 0.0f;
}

/* The 32 codes of pair c as 16-bit words in position order (row j, t at word 2j + t). */
INLINE __m512i pair_codes(herd_type ty, const uint8_t *pl, int c)
{
    if (ty != HERD_TYPE_MXFP6_E3M2)
        return _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(pl + 32 * c)));
    int G = c >> 1, o = 32 * (c & 1);
    __m256i lo = _mm256_loadu_si256((const __m256i *)(pl + 64 * (G & 3) + o));
    __m256i hi = _mm256_loadu_si256((const __m256i *)(pl + 256 + 64 * (G >> 2) + o));
    __m512i l = _mm512_cvtepu8_epi16(lo), h = _mm512_cvtepu8_epi16(hi);
    l = _mm512_and_si512(_mm512_srli_epi16(l, G < 4 ? 0 : 4), _mm512_set1_epi16(15));
    h = _mm512_and_si512(_mm512_srli_epi16(h, 2 * (G & 3)), _mm512_set1_epi16(3));
    return _mm512_or_si512(l, _mm512_slli_epi16(h, 4));
}

/* Codes as fp16 bit patterns holding value · 2^-adjust: shift the sign to bit 15, then an
 * arithmetic shift right copies it over the bits that must be 0, which the mask clears. */
INLINE __m512i codes_to_f16(herd_type ty, __m512i w)
{
    if (ty == HERD_TYPE_MXFP8_E5M2) /* s eeeee mm: the top byte of an fp16 */
        return _mm512_slli_epi16(w, 8);
    if (ty == HERD_TYPE_MXFP8_E4M3) /* s eeee mmm -> s 0 eeee mmm 0000000 */
        return _mm512_and_si512(_mm512_srai_epi16(_mm512_slli_epi16(w, 8), 1),
                                _mm512_set1_epi16((short)0xBFFF));
    /* E3M2: s eee mm -> s 00 eee mm 00000000 */
    return _mm512_and_si512(_mm512_srai_epi16(_mm512_slli_epi16(w, 10), 2),
                            _mm512_set1_epi16((short)0x9FFF));
}

INLINE void tile_body(herd_type ty, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b;
    const uint8_t *payload = panel + ((size_t)nb * KQ_NR + 63) / 64 * 64;
    const size_t pb = kq_payload_bytes(ty == HERD_TYPE_MXFP6_E3M2 ? 6 : 8), bpb = pb + KQ_NR;
    const uint8_t *pf = panel + PF;
    const uint16_t *a[MR];
    __m512 acc[MR];
#pragma GCC unroll 16
    for (int i = 0; i < m; i++) {
        a[i] = (const uint16_t *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
        acc[i] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pl = payload + (size_t)b * pb;
        /* One linear prefetch cursor over the panel (scales and payload), PF bytes ahead, at
         * the rate a block consumes bytes (as in quant_avx512vnni.c). One chain per row keeps a
         * row's sum independent of how many rows share its tile, at the price of VDPBF16PS's
         * latency in a GEMV. */
        for (const uint8_t *pf_end = panel + PF + (size_t)(b + 1) * bpb; pf < pf_end; pf += 64)
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
        __m512 blk[MR];
#pragma GCC unroll 16
        for (int i = 0; i < m; i++)
            blk[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
        for (int c = 0; c < 16; c++) {
            __m512i h = codes_to_f16(ty, pair_codes(ty, pl, c));
            __m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
            __m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
            __m512bh wb = _mm512_cvtne2ps_pbh(hi, lo);
            const int64_t kp = b * KQ_BLOCK + 2 * c;
#pragma GCC unroll 16
            for (int i = 0; i < m; i++)
                blk[i] = _mm512_dpbf16_ps(blk[i], wb,
                                          (__m512bh)_mm512_set1_epi32(kq_load_i32(a[i] + kp)));
        }
        /* acc += block sum × 2^(e - 127) (and the fp16 reading's missing 2^adjust), exactly */
        __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(panel + b * 16)));
        __m512 x = _mm512_sub_ps(_mm512_cvtepi32_ps(e), _mm512_set1_ps(127.0f - ty_adjust(ty)));
#pragma GCC unroll 16
        for (int i = 0; i < m; i++)
            acc[i] = _mm512_add_ps(acc[i], _mm512_scalef_ps(blk[i], x));
    }
#pragma GCC unroll 16
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * KQ_NR, acc[i]);
}

INLINE void tile_bf16(herd_type ty, const ktile *t)
{
    switch (t->m) {
    case 1: tile_body(ty, t, 1); break;
    case 2: tile_body(ty, t, 2); break;
    case 3: tile_body(ty, t, 3); break;
    case 4: tile_body(ty, t, 4); break;
    case 5: tile_body(ty, t, 5); break;
    case 6: tile_body(ty, t, 6); break;
    case 7: tile_body(ty, t, 7); break;
    case 8: tile_body(ty, t, 8); break;
    case 9: tile_body(ty, t, 9); break;
    case 10: tile_body(ty, t, 10); break;
    case 11: tile_body(ty, t, 11); break;
    default: tile_body(ty, t, 12); break;
    }
}

#define KQ_BF16_FAMILY(id, TY)                                                                     \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        tile_bf16(TY, t);                                                                          \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kq_tile_f32_avx512(kq_type_get(TY), t);                                                    \
    }                                                                                              \
    const kfamily kfam_##id##_avx512bf16 = {                                                       \
        .name = #id ".avx512bf16",                                                                 \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX512BF16,                                                                \
        .mr = MR,                                                                                  \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_row_bytes = kaprep_bf16_bytes,                                                          \
        .a_prep = kaprep_bf16,                                                                     \
        .a_desc = "bf16",                                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx512,                                                                   \
    };
KQ_BF16_FAMILY(mxfp8_e4m3, HERD_TYPE_MXFP8_E4M3)
KQ_BF16_FAMILY(mxfp8_e5m2, HERD_TYPE_MXFP8_E5M2)
KQ_BF16_FAMILY(mxfp6_e3m2, HERD_TYPE_MXFP6_E3M2)
