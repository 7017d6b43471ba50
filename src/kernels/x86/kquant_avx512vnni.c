/* AVX512-VNNI tiles of the K/i-quant families (Q2_K..Q6_K, IQ4_NL, IQ4_XS; math and layout in
 * kquant.h).
 *
 * Per super-block and sub-block: the codes of 16 rows × one k-quad come out of the bit planes
 * with one or two 64-byte loads, shifts and masks (the i-quants then go through one VPSHUFB
 * table to grid + 128), and feed VPDPBUSD against the row's s8 quad of A broadcast from memory;
 * the int32 sum starts at −qoff·bsum so it is Σ q·qa exactly. Sub-block sums are scaled by the
 * integer sub-block scales (VPMULLD) into one exact int32 per row and super-block, and the mins
 * likewise; two FMAs per row and super-block finish it. Up to 8 rows per tile; with 1 or 2 rows
 * the quads of a sub-block alternate between two accumulators so VPDPBUSD's latency overlaps. */
#include "kernels/kquant.h"
#include "kernels/x86/vnni_rows.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 8, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

/* The 64 codes of group G (0..7) of an octet, as VPDPBUSD's u8 = q + qoff. */
INLINE __m512i codes64(herd_type ty, const uint8_t *oct, int G, __m512i grid)
{
    const int bits = KK_BITS(ty);
    __m512i c;
    if (bits == 2 || bits == 3) {
        c = _mm512_load_si512(oct + 64 * (G >> 2));
        c = _mm512_and_si512(_mm512_srli_epi16(c, 2 * (G & 3)), _mm512_set1_epi8(3));
        if (bits == 3) {
            __m512i h = _mm512_srli_epi16(_mm512_load_si512(oct + 128), G);
            c = _mm512_or_si512(c, _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(1)), 2));
        }
        return c;
    }
    c = _mm512_load_si512(oct + 64 * (G & 3));
    if (G >= 4)
        c = _mm512_srli_epi16(c, 4);
    c = _mm512_and_si512(c, _mm512_set1_epi8(15));
    if (bits == 5) {
        __m512i h = _mm512_srli_epi16(_mm512_load_si512(oct + 256), G);
        c = _mm512_or_si512(c, _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(1)), 4));
    } else if (bits == 6) {
        __m512i h = _mm512_srli_epi16(_mm512_load_si512(oct + 256 + 64 * (G >> 2)), 2 * (G & 3));
        c = _mm512_or_si512(c, _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(3)), 4));
    }
    if (KK_TABLE(ty))
        c = _mm512_shuffle_epi8(grid, c);
    return c;
}

/* Sub-block hs (0, or 0/1 when two share an octet) of octet oc: tot[i] += sc · Σ q·qa. */
INLINE void sub_block(herd_type ty, const int m, const uint8_t *const *arec, vnni_rows ro,
                      const uint8_t *oct, const uint8_t *h, int oc, const int hs, __m512i grid,
                      __m512i *tot)
{
    const int elems = KK_ELEMS(ty), sub = KK_SUB(ty), ch = m <= 2 ? 2 : 1;
    const int s = oc * (32 / sub) + hs;
    __m512i isum[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        int32_t corr;
        memcpy(&corr, arec[i] + (size_t)elems + 4 + 4 * (size_t)s, 4);
        isum[i][0] = _mm512_set1_epi32(corr);
        isum[i][1] = _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int g = 0; g < sub / 4; g++) {
        const int G = hs * (sub / 4) + g; /* quad within the octet: a constant */
        __m512i w = codes64(ty, oct, G, grid);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            isum[i][g % ch] = vnni_dp_row(isum[i][g % ch], w, ro, i, 4 * G);
        }
    }
    __m512i scv = _mm512_setzero_si512();
    if (KK_HAS_SC(ty))
        scv = _mm512_cvtepi8_epi32(
            _mm_loadu_si128((const __m128i *)(h + kk_off_sc(ty) + 16 * (size_t)s)));
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        __m512i v = ch == 2 ? _mm512_add_epi32(isum[i][0], isum[i][1]) : isum[i][0];
        tot[i] = _mm512_add_epi32(tot[i], KK_HAS_SC(ty) ? _mm512_mullo_epi32(v, scv) : v);
    }
}

INLINE void tile_body(herd_type ty, const ktile *t, const int m)
{
    const int elems = KK_ELEMS(ty), sub = KK_SUB(ty), ns = KK_NSUB(ty), bits = KK_BITS(ty);
    const int64_t nsb = t->k / elems;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    const __m512i grid = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166,
                      (char)181, (char)197, (char)217, (char)241));
    __m512 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        acc[i] = _mm512_setzero_ps();
    /* One linear prefetch cursor over the whole panel (headers and codes), `lead` ahead: each
     * super-block counts as consuming its header's bytes, then each octet's, so the cursor
     * ends `lead` past the panel where the next panel's starts and every line is requested
     * once (the headers ahead of time, in small steps between the code loads). The codes are
     * read from behind the whole header section, so with a long K (headers over PF / 2) a
     * lead of PF would leave the cursor behind the codes for the panel's first super-blocks;
     * the lead grows with the section so the codes always have PF / 2 or more ahead. Every
     * panel of a weight has the same K, so the next panel's cursor starts where this one ends. */
    const size_t hsec = kk_hdr_section(ty, t->k);
    const size_t lead = hsec + PF / 2 > PF ? hsec + PF / 2 : PF;
    const uint8_t *pf = panel + lead;
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *c = codes + (size_t)b * cb;
        const uint8_t *arec[MR];
        __m512i tot[MR];
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            tot[i] = _mm512_setzero_si512();
        }
        /* octets as a loop; the one or two sub-blocks of an octet are separate calls so every
         * shift count is an immediate while the code stays small */
        for (int oc = 0; oc < elems / 32; oc++) {
            const uint8_t *oct = c + (size_t)oc * 64 * (size_t)bits;
            for (const uint8_t *pf_end = panel + lead + (size_t)b * (hb + cb) + hb +
                                         (size_t)(oc + 1) * 64 * (size_t)bits;
                 pf < pf_end; pf += 64)
                _mm_prefetch((const char *)pf, _MM_HINT_T0);
            /* A's quads of this octet: the rows from four registers (vnni_rows.h) */
            const vnni_rows ro = vnni_rows_at(arec[0] + 32 * (size_t)oc, t->a_stride);
            sub_block(ty, m, arec, ro, oct, h, oc, 0, grid, tot);
            if (sub == 16)
                sub_block(ty, m, arec, ro, oct, h, oc, 1, grid, tot);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
        const __m512 dm =
            KK_HAS_MIN(ty)
                ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + kk_off_dmin(ty))))
                : d;
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            float da;
            memcpy(&da, arec[i] + (size_t)elems, 4);
            const __m512 vda = _mm512_set1_ps(da);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot[i]), _mm512_mul_ps(d, vda), acc[i]);
            if (KK_HAS_MIN(ty)) {
                const uint8_t *bsum = arec[i] + (size_t)elems + 4 + 4 * (size_t)ns;
                __m512i mt = _mm512_setzero_si512();
                for (int s = 0; s < ns; s++) {
                    int32_t bs;
                    memcpy(&bs, bsum + 4 * s, 4);
                    __m512i mv = _mm512_cvtepu8_epi32(
                        _mm_loadu_si128((const __m128i *)(h + kk_off_m(ty) + 16 * (size_t)s)));
                    mt = _mm512_add_epi32(mt, _mm512_mullo_epi32(mv, _mm512_set1_epi32(bs)));
                }
                acc[i] = _mm512_fnmadd_ps(_mm512_mul_ps(dm, vda), _mm512_cvtepi32_ps(mt), acc[i]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * KK_NR, acc[i]);
}

/* Rows 1-4 and 8 have their own kernels; 5-7 run as 4 + the rest (fewer instantiations, so
 * the file compiles in reasonable time under the sanitizers). */
INLINE void tile_int(herd_type ty, const ktile *t)
{
    switch (t->m) {
    case 1: tile_body(ty, t, 1); break;
    case 2: tile_body(ty, t, 2); break;
    case 3: tile_body(ty, t, 3); break;
    case 4: tile_body(ty, t, 4); break;
    case 5:
    case 6:
    case 7: {
        ktile lo = *t, hi = *t;
        lo.m = 4;
        hi.m = t->m - 4;
        hi.a = (const uint8_t *)t->a + 4 * t->a_stride;
        hi.c = t->c + 4 * KK_NR;
        tile_body(ty, &lo, 4);
        if (hi.m == 3)
            tile_body(ty, &hi, 3);
        else if (hi.m == 2)
            tile_body(ty, &hi, 2);
        else
            tile_body(ty, &hi, 1);
        break;
    }
    default: tile_body(ty, t, 8); break;
    }
}

/* kk_arec_fill's bytes, 16 values per op: the same max, the same product x·(127/amax) rounded
 * to nearest even, the same clamp (NaN to −127: the compare is false for it), so the A records
 * and with them the results equal the C twin's. elems and sub are multiples of 16. */
void kk_arec_fill_avx512(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec)
{
    const int ns = elems / sub;
    __m512 vmax = _mm512_setzero_ps();
    for (int i = 0; i < elems; i += 16) /* max(|x|, vmax) keeps vmax when x is NaN, as fmaxf */
        vmax = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), vmax);
    const float amax = _mm512_reduce_max_ps(vmax);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f, da = kk_arec_scale(amax, inv, elems);
    memcpy(rec + elems, &da, 4);
    const __m512 vinv = _mm512_set1_ps(inv), hi = _mm512_set1_ps(127.0f),
                 lo = _mm512_set1_ps(-127.0f);
    for (int s = 0; s < ns; s++) {
        __m512i vsum = _mm512_setzero_si512();
        for (int i = s * sub; i < (s + 1) * sub; i += 16) {
            __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __mmask16 in = _mm512_cmp_ps_mask(v, lo, _CMP_GE_OQ);
            __m512i q = _mm512_cvtps_epi32(_mm512_mask_min_ps(lo, in, v, hi));
            _mm_storeu_si128((__m128i *)(rec + i), _mm512_cvtepi32_epi8(q));
            vsum = _mm512_add_epi32(vsum, q);
        }
        int32_t sum = _mm512_reduce_add_epi32(vsum), corr = -qoff * sum;
        memcpy(rec + elems + 4 + 4 * s, &corr, 4);
        if (sums)
            memcpy(rec + elems + 4 + 4 * (ns + s), &sum, 4);
    }
}

/* EXACT: the super-block decoded to f32 (the shared C decoder, ggml's values), then one FMA
 * chain per output in K order: kk_tile_decoded_ref's bits. */
void kk_tile_decoded_avx512(kk_decoder decode, herd_type ty, int elems, const ktile *t)
{
    float w[256 * KK_NR] __attribute__((aligned(64)));
    __m512 acc[KMAX_MR];
    for (int i = 0; i < t->m; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < t->k / elems; b++) {
        decode(ty, t->b, t->k, b, w);
        for (int i = 0; i < t->m; i++) {
            const float *x =
                (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride) + b * elems;
            __m512 s = acc[i];
            for (int e = 0; e < elems; e++)
                s = _mm512_fmadd_ps(_mm512_set1_ps(x[e]), _mm512_load_ps(w + e * KK_NR), s);
            acc[i] = s;
        }
    }
    for (int i = 0; i < t->m; i++)
        _mm512_storeu_ps(t->c + i * KK_NR, acc[i]);
}

#define KK_VNNI_FAMILY(id, TY)                                                                     \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        tile_int(TY, t);                                                                           \
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
/* IQ4_NL and IQ4_XS have their own tiles (iq4_avx512vnni.c). */
KK_VNNI_FAMILY(q2_k, HERD_TYPE_Q2_K)
KK_VNNI_FAMILY(q3_k, HERD_TYPE_Q3_K)
KK_VNNI_FAMILY(q4_k, HERD_TYPE_Q4_K)
KK_VNNI_FAMILY(q5_k, HERD_TYPE_Q5_K)
KK_VNNI_FAMILY(q6_k, HERD_TYPE_Q6_K)
KK_VNNI_FAMILY(tq1_0, HERD_TYPE_TQ1_0)
KK_VNNI_FAMILY(tq2_0, HERD_TYPE_TQ2_0)
