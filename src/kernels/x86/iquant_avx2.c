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
 * 1 or 2 A rows both halves go through K together, with 4 each half makes its own pass
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

KK_AVX2_TILE_OF(iq4_tile, iq4_body, 2)

#define IQ4_AVX2_FAMILY(id, TY) KK_AVX2_FAMILY_OF(id, TY, iq4_tile)
IQ4_AVX2_FAMILY(iq4_nl, HERD_TYPE_IQ4_NL)
IQ4_AVX2_FAMILY(iq4_xs, HERD_TYPE_IQ4_XS)

/* ---- grid i-quants: IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M ---------------------
 * As the VNNI tile: weights enter as u = q + 64 (2..126), so VPMADDUBSW against A's s8 quad
 * never saturates (2·126·127 < 2^15), VPMADDWD with ones makes the int32 sums, which start at
 * the A record's −64·bsum, so they are Σ q·qa; one VPMULLD by the sub-block scales per
 * sub-block. Per 8 values of 8 rows: IQ3 gathers 8 dwords twice (4 values each), IQ2/IQ1
 * gather 4 qwords twice (rows 0,1,4,5 and 2,3,6,7) and split them into the two 8-row × 4-value
 * operands with VSHUFPS. Signs: the panel's 32 mask bits of the half become a byte mask
 * (VPSHUFB, VPAND, VPCMPEQB), then u = 64 ± g by VPSIGNB; IQ1 maps −1/0/1 to 56/64/72 by
 * VPSHUFB and adds the row's ±1 delta. With 1 A row both halves go together; from 2 rows each
 * half makes its own pass. */

/* The 8 grid indices of group g of a chunk for rows 8·hf.., as int32 lanes. */
INLINE __m256i gi_indices(herd_type ty, const uint8_t *chunk, int g, int hf, __m256i hiv)
{
    __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(chunk + 16 * g + 8 * hf)));
    if (KI_HB(ty)) {
        __m256i h = _mm256_srli_epi32(hiv, KI_HB(ty) * g);
        h = _mm256_and_si256(h, _mm256_set1_epi32((1 << KI_HB(ty)) - 1));
        idx = _mm256_or_si256(idx, _mm256_slli_epi32(h, 8));
    }
    return idx;
}

/* 32 sign bits (bit 4r + t: value t of row r) as a byte mask, −1 where set. */
INLINE __m256i gi_signs(uint32_t bits)
{
    const __m256i v =
        _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                             2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* The u8 operands of 8 values (group8 q of the chunk) for rows 8·hf..: *x values 0-3, *y 4-7. */
INLINE void gi_operands(herd_type ty, const uint8_t *chunk, int q, int hf, __m256i hiv, __m256i *x,
                        __m256i *y)
{
    if (KI_GVALS(ty) == 4) {
        const int *grid = (const int *)(ty == HERD_TYPE_IQ3_S ? iq_grid_iq3s : iq_grid_iq3xxs);
        *x = _mm256_i32gather_epi32(grid, gi_indices(ty, chunk, 2 * q, hf, hiv), 4);
        *y = _mm256_i32gather_epi32(grid, gi_indices(ty, chunk, 2 * q + 1, hf, hiv), 4);
    } else {
        const long long *grid = (const long long *)(ty == HERD_TYPE_IQ2_XXS  ? iq_grid_iq2xxs
                                                    : ty == HERD_TYPE_IQ2_XS ? iq_grid_iq2xs
                                                    : ty == HERD_TYPE_IQ2_S  ? iq_grid_iq2s
                                                                             : iq_grid_iq1s);
        /* rows 0,1,4,5 in the low 128 bits, 2,3,6,7 in the high */
        const __m256i idx = _mm256_permute4x64_epi64(gi_indices(ty, chunk, q, hf, hiv), 0xD8);
        const __m256 g0 =
            _mm256_castsi256_ps(_mm256_i32gather_epi64(grid, _mm256_castsi256_si128(idx), 8));
        const __m256 g1 =
            _mm256_castsi256_ps(_mm256_i32gather_epi64(grid, _mm256_extracti128_si256(idx, 1), 8));
        *x = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, 0x88));
        *y = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, 0xDD));
    }
    if (KI_IQ1(ty)) {
        /* −1 (0xff), 0, 1 -> 56, 64, 72 by the low nibble; then ± 1 per row */
        const __m256i lut = _mm256_setr_epi8(64, 72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56, 64,
                                             72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56);
        const __m256i bit = _mm256_set1_epi32(1 << (12 + q));
        const __m256i dv = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(hiv, bit), bit),
                                           _mm256_set1_epi8(1));
        const __m256i nib = _mm256_set1_epi8(15);
        *x = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(*x, nib)), dv);
        *y = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(*y, nib)), dv);
    } else {
        const uint8_t *sgn = chunk + 16 * KI_GPC(ty) + ki_hi_bytes(ty) + 16 * q + 4 * hf;
        uint32_t mx, my;
        memcpy(&mx, sgn, 4);
        memcpy(&my, sgn + 8, 4);
        const __m256i one = _mm256_set1_epi8(1), c64 = _mm256_set1_epi8(KI_QOFF);
        *x = _mm256_add_epi8(_mm256_sign_epi8(*x, _mm256_or_si256(gi_signs(mx), one)), c64);
        *y = _mm256_add_epi8(_mm256_sign_epi8(*y, _mm256_or_si256(gi_signs(my), one)), c64);
    }
}

/* Rows 8·h0.. of nh halves (2: both, from h0 = 0) of the panel, m A rows. */
INLINE void gi_body(herd_type ty, const ktile *t, const int m, const int nh, const int h0)
{
    const int sub = KI_SUB(ty);
    const int64_t nsb = t->k / 256;
    const uint8_t *panel = t->b, *codes = panel + ki_hdr_section(ty, t->k);
    const size_t hb = ki_hdr_bytes(ty), cb = ki_chunk_bytes(ty), ab = ki_arec_bytes(ty);
    const __m256 dscale = _mm256_set1_ps(1.0f / (float)(1 << KI_DSHIFT(ty)));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb;
        const uint8_t *arec[MR];
        __m256i tot[MR][2], isum[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            tot[i][0] = tot[i][1] = _mm256_setzero_si256();
        }
        for (int c = 0; c < 8; c++) {
            const uint8_t *chunk = codes + ((size_t)b * 8 + (size_t)c) * cb;
            if (h0 == 0) {
                _mm_prefetch((const char *)chunk + 8 * cb, _MM_HINT_T0);
                _mm_prefetch((const char *)chunk + 8 * cb + 64, _MM_HINT_T0);
            }
            __m256i hiv[2];
#pragma GCC unroll 2
            for (int x = 0; x < nh; x++) {
                const uint8_t *hi = chunk + 16 * KI_GPC(ty);
                hiv[x] = _mm256_setzero_si256();
                if (KI_IQ1(ty))
                    hiv[x] = _mm256_cvtepu16_epi32(
                        _mm_loadu_si128((const __m128i *)(hi + 16 * (h0 + x))));
                else if (KI_HB(ty))
                    hiv[x] =
                        _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(hi + 8 * (h0 + x))));
            }
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                const int s = (32 * c + 8 * q) / sub; /* sub-block of these 8 values */
                if ((8 * q) % sub == 0) {
#pragma GCC unroll 4
                    for (int i = 0; i < m; i++) {
                        int32_t corr;
                        memcpy(&corr, arec[i] + 260 + 4 * (size_t)s, 4);
                        isum[i][0] = isum[i][1] = _mm256_set1_epi32(corr);
                    }
                }
#pragma GCC unroll 2
                for (int x = 0; x < nh; x++) {
                    __m256i wx, wy;
                    gi_operands(ty, chunk, q, h0 + x, hiv[x], &wx, &wy);
#pragma GCC unroll 4
                    for (int i = 0; i < m; i++) {
                        int32_t a0, a1;
                        memcpy(&a0, arec[i] + 32 * (size_t)c + 8 * (size_t)q, 4);
                        memcpy(&a1, arec[i] + 32 * (size_t)c + 8 * (size_t)q + 4, 4);
                        const __m256i px = _mm256_maddubs_epi16(wx, _mm256_set1_epi32(a0));
                        const __m256i py = _mm256_maddubs_epi16(wy, _mm256_set1_epi32(a1));
                        isum[i][x] = _mm256_add_epi32(
                            isum[i][x], _mm256_add_epi32(_mm256_madd_epi16(px, ones),
                                                         _mm256_madd_epi16(py, ones)));
                    }
                }
                if ((8 * q + 8) % sub == 0) {
#pragma GCC unroll 2
                    for (int x = 0; x < nh; x++) {
                        const __m256i scv = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                            (const __m128i *)(h + 32 + 16 * (size_t)s + 8 * (h0 + x))));
#pragma GCC unroll 4
                        for (int i = 0; i < m; i++)
                            tot[i][x] =
                                _mm256_add_epi32(tot[i][x], _mm256_mullo_epi32(isum[i][x], scv));
                    }
                }
            }
        }
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++) {
            const __m256 d = _mm256_mul_ps(
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16 * (h0 + x)))), dscale);
#pragma GCC unroll 4
            for (int i = 0; i < m; i++) {
                float da;
                memcpy(&da, arec[i] + 256, 4);
                acc[i][x] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot[i][x]),
                                            _mm256_mul_ps(d, _mm256_set1_ps(da)), acc[i][x]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++)
            _mm256_storeu_ps(t->c + i * KI_NR + 8 * (h0 + x), acc[i][x]);
}

KK_AVX2_TILE_OF(gi_tile, gi_body, 1)

#define GI_AVX2_FAMILY(id, TY)                                                                     \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        gi_tile(TY, t);                                                                            \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        for (int64_t b = 0; b < k / 256; b++)                                                      \
            kk_arec_fill_avx2(a + b * 256, 256, KI_SUB(TY), KI_QOFF, false,                        \
                              (uint8_t *)dst + (size_t)b * ki_arec_bytes(TY));                     \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_avx2(ki_decode_f32, TY, 256, t);                                           \
    }                                                                                              \
    const kfamily kfam_##id##_avx2 = {                                                             \
        .name = #id ".avx2",                                                                       \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX2,                                                                      \
        .mr = 8,                                                                                   \
        .nr = KI_NR,                                                                               \
        .panel_bytes = ki_panel_bytes_##id,                                                        \
        .pack = ki_pack_##id,                                                                      \
        .unpack = ki_unpack_##id,                                                                  \
        .a_row_bytes = ki_a_bytes_##id,                                                            \
        .a_prep = a_prep_##id,                                                                     \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx2,                                                                     \
    };
KI_EACH_TYPE(GI_AVX2_FAMILY)
