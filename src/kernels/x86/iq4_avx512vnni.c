/* AVX512-VNNI tiles of IQ4_NL and IQ4_XS (math and layout in kquant.h; the other K-quant
 * families are in kquant_avx512vnni.c).
 *
 * Per octet (32 k × 16 rows, one IQ4_XS sub-block or one IQ4_NL block): the nibble plane gives
 * 8 × 64 codes, each turned into grid + 128 by one VPERMB of a 64-byte table that holds the
 * grid four times (VPERMB reads the low 6 bits of an index, so a nibble needs no mask: the junk
 * above it picks an identical copy), or without VBMI a mask and a VPSHUFB. They feed VPDPBUSD
 * against each row's s8 quad of A broadcast from memory; the sum starts at −128·Σqa, so it is
 * Σ q·qa exactly. IQ4_XS scales it by the sub-block's integer scale (VPMULLD) into one exact
 * int32 per row and super-block; one FMA per row and (super-)block finishes it: the C twin's
 * bits. Up to 12 rows per tile (their addresses from five registers), so one decoded operand
 * serves 12 VPDPBUSD; the f32 accumulators live in the tile's output rows in L1 (touched once
 * per super-block), which leaves the 32 vector registers to the int32 sums. */
#include "kernels/kquant.h"

#include "kernels/x86/vnni_rows.h"
#include <immintrin.h>
#include <string.h>

/* VBMI is enabled for the whole file and used only behind herd_cpu_has_vbmi() (Cascade Lake has
 * VNNI without VBMI); the other paths use intrinsics of one instruction each. */
#if defined(__clang__) /* clang ignores GCC's target pragma */
#pragma clang attribute push(__attribute__((target("avx512vbmi"))), apply_to = function)
#else
#pragma GCC target("avx512vbmi")
#endif

enum { MR = 12, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

/* grid + 128, four times */
#define GRID_U8 1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241
static const uint8_t grid_u8[64]
    __attribute__((aligned(64))) = {GRID_U8, GRID_U8, GRID_U8, GRID_U8};

/* The 64 codes of group G (0..7) of an octet as grid + 128. */
INLINE __m512i codes64(bool vbmi, const uint8_t *oct, int G, __m512i table)
{
    __m512i c = _mm512_load_si512(oct + 64 * (G & 3));
    if (G >= 4)
        c = _mm512_srli_epi16(c, 4);
    if (vbmi)
        return _mm512_permutexvar_epi8(c, table);
    return _mm512_shuffle_epi8(table, _mm512_and_si512(c, _mm512_set1_epi8(15)));
}

/* Rows are independent chains; with fewer than 4 rows an octet's 8 quads are split over CH
 * chains so VPDPBUSD's latency overlaps. */
INLINE void tile_body(herd_type ty, bool vbmi, const ktile *t, const int m)
{
    enum { CHMAX = 4 };
    const int ch = m == 1 ? 4 : m <= 3 ? 2 : 1;
    const bool xs = ty == HERD_TYPE_IQ4_XS;
    const int elems = KK_ELEMS(ty), noct = elems / 32;
    const int64_t nsb = t->k / elems;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    const uint8_t *a0 = (const uint8_t *)t->a;
    const size_t st = t->a_stride;
    const __m512i table = vbmi ? _mm512_load_si512(grid_u8)
                               : _mm512_broadcast_i32x4(_mm_load_si128((const void *)grid_u8));
    float *c = t->c;
#pragma GCC unroll 12
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(c + i * KK_NR, _mm512_setzero_ps());
    /* One linear prefetch cursor over the whole panel (headers and codes), PF ahead: each
     * super-block counts as consuming its header's bytes, then each octet's, so the cursor ends
     * PF past the panel where the next panel's starts and every line is requested once. */
    const uint8_t *pf = panel + PF;
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *cd = codes + (size_t)b * cb;
        const uint8_t *ab0 = a0 + (size_t)b * ab;
        __m512i tot[MR];
#pragma GCC unroll 12
        for (int i = 0; i < m; i++)
            tot[i] = _mm512_setzero_si512();
        for (int oc = 0; oc < noct; oc++) {
            const uint8_t *oct = cd + (size_t)oc * 256;
            for (const uint8_t *pf_end =
                     panel + PF + (size_t)b * (hb + cb) + hb + (size_t)(oc + 1) * 256;
                 pf < pf_end; pf += 64)
                _mm_prefetch((const char *)pf, _MM_HINT_T0);
            /* the octet's quads, and its start sum, at constant offsets from two bases */
            const uint8_t *aq = ab0 + 32 * (size_t)oc, *as = ab0 + 4 * (size_t)oc;
            const vnni_rows r = {aq, aq + 3 * st, st, 3 * st, 5 * st};
            const vnni_rows rs = {as, as + 3 * st, st, 3 * st, 5 * st};
            __m512i isum[MR][CHMAX];
#pragma GCC unroll 12
            for (int i = 0; i < m; i++) {
                isum[i][0] = vnni_bcast_row12(rs, i, elems + 4); /* −128·Σqa of the octet */
#pragma GCC unroll 4
                for (int j = 1; j < ch; j++)
                    isum[i][j] = _mm512_setzero_si512();
            }
#pragma GCC unroll 8
            for (int G = 0; G < 8; G++) {
                const __m512i w = codes64(vbmi, oct, G, table);
#pragma GCC unroll 12
                for (int i = 0; i < m; i++)
                    isum[i][G % ch] = vnni_dp_row12(isum[i][G % ch], w, r, i, 4 * G);
            }
            const __m512i scv = xs ? _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                         (const __m128i *)(h + kk_off_sc(ty) + 16 * (size_t)oc)))
                                   : _mm512_setzero_si512();
#pragma GCC unroll 12
            for (int i = 0; i < m; i++) {
                __m512i v = isum[i][0];
                if (ch == 4)
                    v = _mm512_add_epi32(_mm512_add_epi32(v, isum[i][1]),
                                         _mm512_add_epi32(isum[i][2], isum[i][3]));
                else if (ch == 2)
                    v = _mm512_add_epi32(v, isum[i][1]);
                tot[i] = _mm512_add_epi32(tot[i], xs ? _mm512_mullo_epi32(v, scv) : v);
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
#pragma GCC unroll 12
        for (int i = 0; i < m; i++) {
            float da;
            memcpy(&da, a0 + (size_t)i * st + (size_t)b * ab + (size_t)elems, 4);
            const __m512 s = _mm512_mul_ps(d, _mm512_set1_ps(da));
            _mm512_storeu_ps(c + i * KK_NR, _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot[i]), s,
                                                            _mm512_loadu_ps(c + i * KK_NR)));
        }
    }
}

INLINE void tile_m(herd_type ty, bool vbmi, const ktile *t)
{
    KTILE_ROWS_12(t->m, tile_body, ty, vbmi, t);
}

static __attribute__((noinline)) void tile_xs_vbmi(const ktile *t)
{
    tile_m(HERD_TYPE_IQ4_XS, true, t);
}
static __attribute__((noinline)) void tile_xs(const ktile *t)
{
    tile_m(HERD_TYPE_IQ4_XS, false, t);
}
static __attribute__((noinline)) void tile_nl_vbmi(const ktile *t)
{
    tile_m(HERD_TYPE_IQ4_NL, true, t);
}
static __attribute__((noinline)) void tile_nl(const ktile *t)
{
    tile_m(HERD_TYPE_IQ4_NL, false, t);
}

#define IQ4_VNNI_FAMILY(id, TY, TILE_VBMI, TILE)                                                   \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        if (herd_cpu_has_vbmi())                                                                   \
            TILE_VBMI(t);                                                                          \
        else                                                                                       \
            TILE(t);                                                                               \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        for (int64_t b = 0; b < k / KK_ELEMS(TY); b++)                                             \
            kk_arec_fill_avx512(a + b * KK_ELEMS(TY), KK_ELEMS(TY), KK_SUB(TY), KK_QOFF(TY), true, \
                                (uint8_t *)dst + (size_t)b * kk_arec_bytes(TY));                   \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_avx512(kk_decode_f32, TY, KK_ELEMS(TY), t);                                \
    }                                                                                              \
    const kfamily kfam_##id##_avx512vnni = {                                                       \
        .name = #id ".avx512vnni",                                                                 \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX512VNNI,                                                                \
        .mr = MR,                                                                                  \
        .nr = KK_NR,                                                                               \
        .panel_bytes = kk_panel_bytes_##id,                                                        \
        .pack = kk_pack_##id,                                                                      \
        .unpack = kk_unpack_##id,                                                                  \
        .a_row_bytes = kk_a_bytes_##id,                                                            \
        .a_prep = a_prep_##id,                                                                     \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx512,                                                                   \
    };
IQ4_VNNI_FAMILY(iq4_nl, HERD_TYPE_IQ4_NL, tile_nl_vbmi, tile_nl)
IQ4_VNNI_FAMILY(iq4_xs, HERD_TYPE_IQ4_XS, tile_xs_vbmi, tile_xs)

#if defined(__clang__)
#pragma clang attribute pop
#endif
