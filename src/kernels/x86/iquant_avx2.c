/* AVX2 tiles of the i-quant families for CPUs without AVX-512: IQ4_NL and IQ4_XS (math and
 * layout in kquant.h, the VNNI tile's panels), and the grid i-quants (iquant.h).
 *
 * No VPDPBUSD; VPMADDUBSW multiplies u8 by s8 and saturates its int16 pair sums, so:
 * IQ4: the grid + 128 codes would saturate (2·241·127 > 2^15). The nibbles go through VPSHUFB
 *   to the signed grid value q (|q| ≤ 127); VPMADDUBSW takes |q| (VPABSB) against A's s8 quad
 *   with q's sign (VPSIGNB), so a pair is at most 2·127·127 < 2^15, and VPMADDWD against the
 *   sub-block scale (each row's int8 scale in both int16 lanes of its pair; IQ4_NL: ones) gives
 *   sc·Σ q·qa in int32 at once. The A record's −128·bsum correction is not needed.
 * The panel's 16 rows are two ymm halves of 8 (one 32-byte half of each 64-byte code load): for
 * 1 or 2 A rows both halves go through K together, from 3 rows on each half makes its own pass
 * so the accumulators fit the 16 registers. All integer sums are exact and the float steps are
 * the C twin's, so the results are its bits. */
#include "kernels/iquant.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 4, PF = 4096 };

#define INLINE static inline __attribute__((always_inline))

/* 16 int8 values v[0..15] (one per panel row) of half hf as int16 pairs (v[j], v[j]). */
INLINE __m256i dup_pairs(const uint8_t *v, int hf)
{
    __m128i x = _mm_loadu_si128((const __m128i *)v);
    return _mm256_cvtepi8_epi16(hf ? _mm_unpackhi_epi8(x, x) : _mm_unpacklo_epi8(x, x));
}

/* ---- IQ4_NL, IQ4_XS ----------------------------------------------------------------------- */

/* The signed grid values of quad G (0..7) of an octet for rows 8·hf..8·hf+7. */
INLINE __m256i iq4_quad(const uint8_t *oct, int G, int hf, __m256i grid)
{
    __m256i c = _mm256_load_si256((const __m256i *)(oct + 64 * (G & 3) + 32 * hf));
    if (G >= 4)
        c = _mm256_srli_epi16(c, 4);
    return _mm256_shuffle_epi8(grid, _mm256_and_si256(c, _mm256_set1_epi8(15)));
}

/* Rows 8·h0.. of nh halves (2: both, from h0 = 0) of the panel, m A rows. */
INLINE void iq4_body(herd_type ty, const ktile *t, const int m, const int nh, const int h0)
{
    const int elems = KK_ELEMS(ty);
    const int64_t nsb = t->k / elems;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    __m128i g16;
    memcpy(&g16, kb_iq4_grid, 16);
    const __m256i grid = _mm256_broadcastsi128_si256(g16), ones = _mm256_set1_epi16(1);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *c = codes + (size_t)b * cb;
        const uint8_t *arec[MR];
        __m256i tot[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            tot[i][0] = tot[i][1] = _mm256_setzero_si256();
        }
        for (int oc = 0; oc < elems / 32; oc++) { /* one octet = one sub-block */
            const uint8_t *oct = c + (size_t)oc * 256;
            if (h0 == 0)
                for (int l = 0; l < 4; l++)
                    _mm_prefetch((const char *)(oct + PF + 64 * l), _MM_HINT_T0);
            __m256i sc[2];
#pragma GCC unroll 2
            for (int x = 0; x < nh; x++)
                sc[x] =
                    KK_HAS_SC(ty) ? dup_pairs(h + kk_off_sc(ty) + 16 * (size_t)oc, h0 + x) : ones;
#pragma GCC unroll 8
            for (int G = 0; G < 8; G++) {
                __m256i w[2], aw[2];
#pragma GCC unroll 2
                for (int x = 0; x < nh; x++) {
                    w[x] = iq4_quad(oct, G, h0 + x, grid);
                    aw[x] = _mm256_abs_epi8(w[x]);
                }
#pragma GCC unroll 4
                for (int i = 0; i < m; i++) {
                    int32_t qa;
                    memcpy(&qa, arec[i] + 32 * (size_t)oc + 4 * (size_t)G, 4);
                    const __m256i va = _mm256_set1_epi32(qa);
#pragma GCC unroll 2
                    for (int x = 0; x < nh; x++) {
                        __m256i p = _mm256_maddubs_epi16(aw[x], _mm256_sign_epi8(va, w[x]));
                        tot[i][x] = _mm256_add_epi32(tot[i][x], _mm256_madd_epi16(p, sc[x]));
                    }
                }
            }
        }
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++) {
            const __m256 d =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16 * (size_t)(h0 + x))));
#pragma GCC unroll 4
            for (int i = 0; i < m; i++) {
                float da;
                memcpy(&da, arec[i] + (size_t)elems, 4);
                acc[i][x] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot[i][x]),
                                            _mm256_mul_ps(d, _mm256_set1_ps(da)), acc[i][x]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++)
            _mm256_storeu_ps(t->c + i * KK_NR + 8 * (h0 + x), acc[i][x]);
}

INLINE void iq4_rows(herd_type ty, const ktile *t, const int m)
{
    if (m <= 2) {
        iq4_body(ty, t, m, 2, 0);
    } else {
        iq4_body(ty, t, m, 1, 0);
        iq4_body(ty, t, m, 1, 1);
    }
}

INLINE void iq4_tile(herd_type ty, const ktile *t)
{
    for (int m0 = 0; m0 < t->m; m0 += MR) {
        ktile s = *t;
        s.m = t->m - m0 < MR ? t->m - m0 : MR;
        s.a = (const uint8_t *)t->a + (size_t)m0 * t->a_stride;
        s.c = t->c + m0 * KK_NR;
        switch (s.m) {
        case 1: iq4_rows(ty, &s, 1); break;
        case 2: iq4_rows(ty, &s, 2); break;
        case 3: iq4_rows(ty, &s, 3); break;
        default: iq4_rows(ty, &s, 4); break;
        }
    }
}

#define IQ4_AVX2_FAMILY(id, TY)                                                                    \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        iq4_tile(TY, t);                                                                           \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_avx2(kk_decode_f32, TY, KK_ELEMS(TY), t);                                  \
    }                                                                                              \
    const kfamily kfam_##id##_avx2 = {                                                             \
        .name = #id ".avx2",                                                                       \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX2,                                                                      \
        .mr = 8,                                                                                   \
        .nr = KK_NR,                                                                               \
        .panel_bytes = kk_panel_bytes_##id,                                                        \
        .pack = kk_pack_##id,                                                                      \
        .unpack = kk_unpack_##id,                                                                  \
        .a_row_bytes = kk_a_bytes_##id,                                                            \
        .a_prep = kk_a_prep_##id,                                                                  \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx2,                                                                     \
    };
IQ4_AVX2_FAMILY(iq4_nl, HERD_TYPE_IQ4_NL)
IQ4_AVX2_FAMILY(iq4_xs, HERD_TYPE_IQ4_XS)
