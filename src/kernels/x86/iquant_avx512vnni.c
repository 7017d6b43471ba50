/* AVX512-VNNI tiles of the grid i-quant families (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ1_S, IQ1_M; math and layout in iquant.h).
 *
 * Per 8 values of 16 rows: the 16 grid indices come from one 16-byte load (plus the high bits,
 * shifted out of one per-chunk vector); IQ3 gathers 16 dwords twice (4 values each), IQ2/IQ1
 * gather 8 qwords twice and split them into the same two 16-lane × 4-value operands with two
 * VPERMT2D. Signs (IQ2, IQ3) are a 64-bit byte mask from the panel: u = 64 ± g in one masked
 * subtract; IQ1 maps −1/0/1 to 56/64/72 with one VPSHUFB and adds the row's ±1 delta. Then one
 * VPDPBUSD per operand and A row; sub-block sums start at −64·bsum and are scaled by the
 * integer sub-block scales (VPMULLD) into one exact int32 per row and super-block. */
#include "kernels/iquant.h"
#include "kernels/x86/vnni_rows.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 8 };

#define INLINE static inline __attribute__((always_inline))

/* The 16 grid indices of group g of a chunk, as int32 lanes (rows). */
INLINE __m512i indices(herd_type ty, const uint8_t *chunk, int g, __m512i hiv)
{
    __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(chunk + 16 * g)));
    if (KI_HB(ty)) {
        __m512i h = _mm512_srli_epi32(hiv, KI_HB(ty) * g);
        h = _mm512_and_si512(h, _mm512_set1_epi32((1 << KI_HB(ty)) - 1));
        idx = _mm512_or_si512(idx, _mm512_slli_epi32(h, 8));
    }
    return idx;
}

/* The u8 operands of 8 values (group8 q of the chunk) for 16 rows: *x values 0-3, *y 4-7. */
INLINE void operands(herd_type ty, const uint8_t *chunk, int q, __m512i hiv, __m512i *x, __m512i *y)
{
    if (KI_GVALS(ty) == 4) {
        const int *grid = (const int *)(ty == HERD_TYPE_IQ3_S ? iq_grid_iq3s : iq_grid_iq3xxs);
        *x = _mm512_i32gather_epi32(indices(ty, chunk, 2 * q, hiv), grid, 4);
        *y = _mm512_i32gather_epi32(indices(ty, chunk, 2 * q + 1, hiv), grid, 4);
    } else {
        const long long *grid = (const long long *)(ty == HERD_TYPE_IQ2_XXS  ? iq_grid_iq2xxs
                                                    : ty == HERD_TYPE_IQ2_XS ? iq_grid_iq2xs
                                                    : ty == HERD_TYPE_IQ2_S  ? iq_grid_iq2s
                                                                             : iq_grid_iq1s);
        const __m512i idx = indices(ty, chunk, q, hiv);
        const __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), grid, 8);
        const __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), grid, 8);
        const __m512i ev =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        *x = _mm512_permutex2var_epi32(g0, ev, g1);
        *y = _mm512_permutex2var_epi32(g0, _mm512_add_epi32(ev, _mm512_set1_epi32(1)), g1);
    }
    const __m512i c64 = _mm512_set1_epi8(KI_QOFF);
    if (KI_IQ1(ty)) {
        /* −1 (0xff), 0, 1 -> 56, 64, 72 by the low nibble; then ± 1 per row */
        const __m512i lut = _mm512_broadcast_i32x4(
            _mm_setr_epi8(64, 72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56));
        const __m512i dv = _mm512_mask_mov_epi32(
            _mm512_set1_epi8(1), _mm512_test_epi32_mask(hiv, _mm512_set1_epi32(1 << (12 + q))),
            _mm512_set1_epi8(-1));
        const __m512i nib = _mm512_set1_epi8(15);
        *x = _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(*x, nib)), dv);
        *y = _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(*y, nib)), dv);
    } else {
        const uint8_t *sgn = chunk + 16 * KI_GPC(ty) + ki_hi_bytes(ty) + 16 * q;
        uint64_t mx, my;
        memcpy(&mx, sgn, 8);
        memcpy(&my, sgn + 8, 8);
        *x = _mm512_mask_sub_epi8(_mm512_add_epi8(*x, c64), (__mmask64)mx, c64, *x);
        *y = _mm512_mask_sub_epi8(_mm512_add_epi8(*y, c64), (__mmask64)my, c64, *y);
    }
}

INLINE void tile_body(herd_type ty, const ktile *t, const int m)
{
    const int sub = KI_SUB(ty);
    const int64_t nsb = t->k / 256;
    const uint8_t *panel = t->b, *codes = panel + ki_hdr_section(ty, t->k);
    const size_t hb = ki_hdr_bytes(ty), cb = ki_chunk_bytes(ty), ab = ki_arec_bytes(ty);
    const __m512 dscale = _mm512_set1_ps(1.0f / (float)(1 << KI_DSHIFT(ty)));
    __m512 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb;
        const uint8_t *arec[MR];
        __m512i tot[MR], isum[MR];
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            tot[i] = _mm512_setzero_si512();
            isum[i] = _mm512_setzero_si512();
        }
        for (int c = 0; c < 8; c++) {
            const uint8_t *chunk = codes + ((size_t)b * 8 + (size_t)c) * cb;
            /* A's quads of this chunk: the rows from four registers (vnni_rows.h) */
            const vnni_rows ro = vnni_rows_at(arec[0] + 32 * (size_t)c, t->a_stride);
            _mm_prefetch((const char *)chunk + 8 * cb, _MM_HINT_T0);
            _mm_prefetch((const char *)chunk + 8 * cb + 64, _MM_HINT_T0);
            __m512i hiv = _mm512_setzero_si512();
            if (KI_IQ1(ty))
                hiv = _mm512_cvtepu16_epi32(
                    _mm256_loadu_si256((const __m256i *)(chunk + 16 * KI_GPC(ty))));
            else if (KI_HB(ty))
                hiv = _mm512_cvtepu8_epi32(
                    _mm_loadu_si128((const __m128i *)(chunk + 16 * KI_GPC(ty))));
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                const int s = (32 * c + 8 * q) / sub; /* sub-block of these 8 values */
                if ((8 * q) % sub == 0) {
#pragma GCC unroll 8
                    for (int i = 0; i < m; i++) {
                        int32_t corr;
                        memcpy(&corr, arec[i] + 260 + 4 * (size_t)s, 4);
                        isum[i] = _mm512_set1_epi32(corr);
                    }
                }
                __m512i x, y;
                operands(ty, chunk, q, hiv, &x, &y);
#pragma GCC unroll 8
                for (int i = 0; i < m; i++) {
                    isum[i] = vnni_dp_row(isum[i], x, ro, i, 8 * q);
                    isum[i] = vnni_dp_row(isum[i], y, ro, i, 8 * q + 4);
                }
                if ((8 * q + 8) % sub == 0) {
                    const __m512i scv = _mm512_cvtepu8_epi32(
                        _mm_loadu_si128((const __m128i *)(h + 32 + 16 * (size_t)s)));
#pragma GCC unroll 8
                    for (int i = 0; i < m; i++)
                        tot[i] = _mm512_add_epi32(tot[i], _mm512_mullo_epi32(isum[i], scv));
                }
            }
        }
        const __m512 d =
            _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)), dscale);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            float da;
            memcpy(&da, arec[i] + 256, 4);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot[i]),
                                     _mm512_mul_ps(d, _mm512_set1_ps(da)), acc[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * KI_NR, acc[i]);
}

/* Rows 1, 2, 4 and 8 have their own kernels; the rest run as a sum of those (fewer
 * instantiations, so the file compiles in reasonable time under the sanitizers). */
INLINE void tile_int(herd_type ty, const ktile *t)
{
    ktile part = *t;
    int done = 0;
    while (done < t->m) {
        int left = t->m - done, m = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        part.m = m;
        part.a = (const uint8_t *)t->a + (size_t)done * t->a_stride;
        part.c = t->c + done * KI_NR;
        switch (m) {
        case 1: tile_body(ty, &part, 1); break;
        case 2: tile_body(ty, &part, 2); break;
        case 4: tile_body(ty, &part, 4); break;
        default: tile_body(ty, &part, 8); break;
        }
        done += m;
    }
}

#define KI_VNNI_FAMILY(id, TY)                                                                     \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        tile_int(TY, t);                                                                           \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        for (int64_t b = 0; b < k / 256; b++)                                                      \
            kk_arec_fill_avx512(a + b * 256, 256, KI_SUB(TY), KI_QOFF, false,                      \
                                (uint8_t *)dst + (size_t)b * ki_arec_bytes(TY));                   \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_avx512(ki_decode_f32, TY, 256, t);                                         \
    }                                                                                              \
    const kfamily kfam_##id##_avx512vnni = {                                                       \
        .name = #id ".avx512vnni",                                                                 \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX512VNNI,                                                                \
        .mr = MR,                                                                                  \
        .nr = KI_NR,                                                                               \
        .panel_bytes = ki_panel_bytes_##id,                                                        \
        .pack = ki_pack_##id,                                                                      \
        .unpack = ki_unpack_##id,                                                                  \
        .a_row_bytes = ki_a_bytes_##id,                                                            \
        .a_prep = a_prep_##id,                                                                     \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx512,                                                                   \
    };
KI_EACH_TYPE(KI_VNNI_FAMILY)
