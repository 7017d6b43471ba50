/* AVX512-BF16 tiles of the fp family (MXFP8 E4M3, E5M2, MXFP6 E3M2; math in quant.h).
 *
 * A is rounded to bf16 once per call (kaprep_bf16). Each 64 codes of a block (16 rows × two
 * k-pairs, one 64-byte group of the payload) become two registers of bf16 weights, exactly
 * (at most 4 significant bits, no denormals): with AVX512-VBMI by table lookups, VPERMI2B on
 * the 7-bit magnitude of an 8-bit code (two 128-byte tables, the bf16's low and high byte; the
 * sign is OR-ed into the high byte) or VPERMB on the whole 6-bit E3M2 code (64-byte tables),
 * then VPUNPCKL/HBW interleave low and high bytes into words — the payload stores each group
 * in the order those unpacks consume (quant.h). Without VBMI the same words come from the
 * fp16 bit trick (VCVTPH2PS, VCVTNE2PS2BF16). VDPBF16PS adds both products of the pair to the
 * row's block sum, with A's bf16 pair broadcast from memory; after the block, VSCALEFPS
 * applies the block scale to the sum (exact) and one add puts it into the row's accumulator.
 * A GEMV row sums its block in four chains (two rows in two), so VDPBF16PS's latency does not
 * bound it. Up to 12 rows per tile. */
#include "kernels/quant.h"

#include <immintrin.h>
#include <string.h>

/* The lookups need VBMI, which this file's -m flags (AVX512-BF16) do not imply; it is enabled
 * here for the whole file and used only behind herd_cpu_has_vbmi(). The other path is written with
 * intrinsics that map to one instruction each (unpacks, VCVTPH2PS), so the compiler has no
 * reason to pick a VBMI instruction for it (objdump of the no-VBMI tiles shows none). */
#if defined(__clang__) /* clang ignores GCC's target pragma */
#pragma clang attribute push(__attribute__((target("avx512vbmi"))), apply_to = function)
#else
#pragma GCC target("avx512vbmi")
#endif

enum { MR = 12, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

/* bf16 bits of every code's value, split into low and high bytes: 8-bit types by magnitude
 * (code & 0x7F; E4M3 0x7F and E5M2 Inf/NaN are refused at pack time), E3M2 by the whole
 * code. Generated from kq_fp_value; the tests compare every code against it. */
static const uint8_t e4m3_lo[128] __attribute__((aligned(64))) = {
    0x00, 0x00, 0x80, 0xC0, 0x00, 0x20, 0x40, 0x60, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0x00,
};
static const uint8_t e4m3_hi[128] __attribute__((aligned(64))) = {
    0x00, 0x3B, 0x3B, 0x3B, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C,
    0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D,
    0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E,
    0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F,
    0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x00,
};
static const uint8_t e5m2_lo[128] __attribute__((aligned(64))) = {
    0x00, 0x80, 0x00, 0x40, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t e5m2_hi[128] __attribute__((aligned(64))) = {
    0x00, 0x37, 0x38, 0x38, 0x38, 0x38, 0x38, 0x38, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
    0x3A, 0x3A, 0x3A, 0x3A, 0x3A, 0x3A, 0x3A, 0x3A, 0x3B, 0x3B, 0x3B, 0x3B, 0x3B, 0x3B, 0x3B, 0x3B,
    0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3C, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D, 0x3D,
    0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F,
    0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43,
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
    0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x47, 0x47, 0x47, 0x47, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t e3m2_lo[64] __attribute__((aligned(64))) = {
    0x00, 0x80, 0x00, 0x40, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x80, 0x00, 0x40, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
    0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0,
};
static const uint8_t e3m2_hi[64] __attribute__((aligned(64))) = {
    0x00, 0x3D, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F,
    0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x80, 0xBD, 0xBE, 0xBE, 0xBE, 0xBE, 0xBE, 0xBE, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF,
    0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1,
};

/* Power of two that turns the fp16 reading of a code into the element value (no-VBMI path). */
INLINE float ty_adjust(herd_type ty)
{
    return ty == HERD_TYPE_MXFP8_E4M3 ? 8.0f : ty == HERD_TYPE_MXFP6_E3M2 ? 12.0f : 0.0f;
}

/* The 64 codes of group g (pairs 2g, 2g+1) as bytes in payload order. 6-bit codes are
 * assembled from their nibble (bits 0..3) and 2-bit plane (bits 4..5); bits 6, 7 are left
 * as they come (VPERMB ignores them, the fp16 path shifts them out). */
INLINE __m512i group_codes(herd_type ty, const uint8_t *pl, int g)
{
    if (ty != HERD_TYPE_MXFP6_E3M2)
        return _mm512_loadu_si512(pl + 64 * g);
    __m512i lo = _mm512_loadu_si512(pl + 64 * (g & 3));
    __m512i hi = _mm512_loadu_si512(pl + 256 + 64 * (g >> 2));
    if (g >= 4)
        lo = _mm512_srli_epi16(lo, 4);
    int s = 2 * (g & 3); /* the plane's bits s, s+1 go to bits 4, 5 */
    if (s < 4)
        hi = _mm512_slli_epi16(hi, 4 - s);
    else if (s > 4)
        hi = _mm512_srli_epi16(hi, s - 4);
    return _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi8(0x0F), 0xE4); /* c ? lo : hi */
}

/* Codes (zero-extended to words) as fp16 bit patterns holding value · 2^-adjust: shift the
 * sign to bit 15, then an arithmetic shift right copies it over the bits that must be 0,
 * which the mask clears. */
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

INLINE __m512bh f16_to_bf16(herd_type ty, __m512i w)
{
    __m512i h = codes_to_f16(ty, w);
    __m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    __m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
    return _mm512_cvtne2ps_pbh(hi, lo);
}

/* The tables of a type in registers (VBMI path). */
typedef struct tabs {
    __m512i lo0, lo1, hi0, hi1;
} tabs;

INLINE tabs load_tabs(herd_type ty)
{
    const uint8_t *lo = ty == HERD_TYPE_MXFP8_E4M3   ? e4m3_lo
                        : ty == HERD_TYPE_MXFP8_E5M2 ? e5m2_lo
                                                     : e3m2_lo;
    const uint8_t *hi = ty == HERD_TYPE_MXFP8_E4M3   ? e4m3_hi
                        : ty == HERD_TYPE_MXFP8_E5M2 ? e5m2_hi
                                                     : e3m2_hi;
    tabs t = {_mm512_load_si512(lo), _mm512_setzero_si512(), _mm512_load_si512(hi),
              _mm512_setzero_si512()};
    if (ty != HERD_TYPE_MXFP6_E3M2) {
        t.lo1 = _mm512_load_si512(lo + 64);
        t.hi1 = _mm512_load_si512(hi + 64);
    }
    return t;
}

/* 64 codes of group g -> bf16 weights of pair 2g (w[0]) and 2g+1 (w[1]). */
INLINE void group_bf16(herd_type ty, bool vbmi, const tabs *tb, const uint8_t *pl, int g,
                       __m512bh w[2])
{
    __m512i c = group_codes(ty, pl, g);
    if (vbmi) {
        __m512i lo, hi;
        if (ty == HERD_TYPE_MXFP6_E3M2) {
            lo = _mm512_permutexvar_epi8(c, tb->lo0);
            hi = _mm512_permutexvar_epi8(c, tb->hi0);
        } else {
            lo = _mm512_permutex2var_epi8(tb->lo0, c, tb->lo1);
            hi = _mm512_permutex2var_epi8(tb->hi0, c, tb->hi1);
            hi = _mm512_ternarylogic_epi32(hi, c, _mm512_set1_epi8((char)0x80), 0xF8); /* | sign */
        }
        w[0] = (__m512bh)_mm512_unpacklo_epi8(lo, hi);
        w[1] = (__m512bh)_mm512_unpackhi_epi8(lo, hi);
    } else {
        __m512i z = _mm512_setzero_si512();
        w[0] = f16_to_bf16(ty, _mm512_unpacklo_epi8(c, z));
        w[1] = f16_to_bf16(ty, _mm512_unpackhi_epi8(c, z));
    }
}

/* Chains per row: a GEMV spreads a block over 4 accumulators, two rows over 2 each. */
INLINE int chains(int m)
{
    return m == 1 ? 4 : m <= 3 ? 2 : 1;
}

INLINE void tile_body(herd_type ty, bool vbmi, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const int nc = chains(m);
    const uint8_t *panel = t->b;
    const uint8_t *payload = panel + ((size_t)nb * KQ_NR + 63) / 64 * 64;
    const size_t pb = kq_payload_bytes(ty == HERD_TYPE_MXFP6_E3M2 ? 6 : 8), bpb = pb + KQ_NR;
    const uint8_t *pf = panel + PF;
    const float adjust = vbmi ? 0.0f : ty_adjust(ty);
    tabs tb = {0};
    if (vbmi)
        tb = load_tabs(ty);
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
         * the rate a block consumes bytes (as in quant_avx512vnni.c). */
        for (const uint8_t *pf_end = panel + PF + (size_t)(b + 1) * bpb; pf < pf_end; pf += 64)
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
        __m512 blk[MR * 4];
#pragma GCC unroll 16
        for (int i = 0; i < m * nc; i++)
            blk[i] = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512bh w[2];
            group_bf16(ty, vbmi, &tb, pl, g, w);
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const int64_t kp = b * KQ_BLOCK + 4 * g + 2 * h;
                const int ch = (2 * g + h) % nc;
#pragma GCC unroll 16
                for (int i = 0; i < m; i++)
                    blk[i * nc + ch] =
                        _mm512_dpbf16_ps(blk[i * nc + ch], w[h],
                                         (__m512bh)_mm512_set1_epi32(kq_load_i32(a[i] + kp)));
            }
        }
        /* acc += block sum × 2^(e - 127) (and the fp16 reading's missing 2^adjust), exactly */
        __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(panel + b * 16)));
        __m512 x = _mm512_sub_ps(_mm512_cvtepi32_ps(e), _mm512_set1_ps(127.0f - adjust));
#pragma GCC unroll 16
        for (int i = 0; i < m; i++) {
            __m512 s = blk[i * nc];
            if (nc == 2)
                s = _mm512_add_ps(s, blk[i * nc + 1]);
            else if (nc == 4)
                s = _mm512_add_ps(_mm512_add_ps(s, blk[i * nc + 1]),
                                  _mm512_add_ps(blk[i * nc + 2], blk[i * nc + 3]));
            acc[i] = _mm512_add_ps(acc[i], _mm512_scalef_ps(s, x));
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * KQ_NR, acc[i]);
}

INLINE void tile_m(herd_type ty, bool vbmi, const ktile *t)
{
    KTILE_ROWS_12(t->m, tile_body, ty, vbmi, t);
}

INLINE void tile_bf16(herd_type ty, const ktile *t)
{
    if (herd_cpu_has_vbmi())
        tile_m(ty, true, t);
    else
        tile_m(ty, false, t);
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

#if defined(__clang__)
#pragma clang attribute pop
#endif
