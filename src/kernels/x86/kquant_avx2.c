/* AVX2 tiles of the K-quant families Q2_K..Q6_K and the ternary TQ1_0/TQ2_0 (math and packed
 * layout in kquant.h, the same panels as the AVX-512 VNNI tile), for CPUs without AVX-512. The
 * ternary types have no sub-block scales: scale 1.
 *
 * Without VPDPBUSD the u8 codes meet A's s8 quads in VPMADDUBSW, which saturates its int16 pair
 * sums; the codes are small (at most 63), so a pair sum is at most 2·63·127 and never does.
 * Several quads' int16 sums add up before they would overflow (KQ2_FLUSH: 8 quads of 4-bit codes,
 * 4 of 5-bit, 2 of 6-bit), then one VPMADDWD against the sub-block scale (each row's int8 scale
 * in both int16 lanes of its pair) turns them into int32 and scales them at once. The offset of
 * the unsigned codes (Q3_K 4, Q6_K 32) and the mins then need Σ_s sc_s·bsum_s and Σ_s m_s·bsum_s
 * per row and super-block: VPMADDWD again, on two sub-blocks' scales interleaved against the
 * pair (bsum_s, bsum_s+1) of A. All integer sums are exact and the two FMAs per super-block are
 * the C twin's, so the results are its bits.
 *
 * The panel's 16 rows are two ymm halves of 8 (one 32-byte half of each 64-byte code load). For
 * 1 or 2 A rows both halves go through K together (A's quads are broadcast once); from 4 rows
 * on, each half makes its own pass so the accumulators fit the 16 registers. */
#include "kernels/kquant.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 4, PF = 4096 };

#define INLINE static inline __attribute__((always_inline))

/* quads of int16 VPMADDUBSW sums that fit before the VPMADDWD: 2·(max code)·127 per quad */
#define KQ2_FLUSH(TY)                                                                              \
    (KK_BITS(TY) == 6 ? 2 : KK_BITS(TY) == 5 ? 4 : KK_BITS(TY) == 4 ? 8 : KK_SUB(TY) / 4)

/* x shifted left by s bits (right when s < 0) in 16-bit lanes; s is a constant. */
INLINE __m256i shift16(__m256i x, int s)
{
    return s >= 0 ? _mm256_slli_epi16(x, s) : _mm256_srli_epi16(x, -s);
}

/* The codes of quad G (0..7) of an octet for rows 8·hf..8·hf+7: u8 = q + qoff. The high bits
 * are moved straight to their place and masked (one shift, one mask): a 16-bit lane shift of at
 * most 4 never carries a bit that the mask keeps across the byte boundary. */
INLINE __m256i codes32(herd_type ty, const uint8_t *oct, int G, int hf)
{
    const int bits = KK_BITS(ty);
    const uint8_t *o = oct + 32 * hf;
    __m256i c;
    if (bits == 2 || bits == 3) {
        c = _mm256_load_si256((const __m256i *)(o + 64 * (G >> 2)));
        c = _mm256_and_si256(_mm256_srli_epi16(c, 2 * (G & 3)), _mm256_set1_epi8(3));
        if (bits == 3) { /* bit G of the 1-bit plane to bit 2 */
            __m256i h = shift16(_mm256_load_si256((const __m256i *)(o + 128)), 2 - G);
            c = _mm256_or_si256(c, _mm256_and_si256(h, _mm256_set1_epi8(4)));
        }
        return c;
    }
    c = _mm256_load_si256((const __m256i *)(o + 64 * (G & 3)));
    if (G >= 4)
        c = _mm256_srli_epi16(c, 4);
    c = _mm256_and_si256(c, _mm256_set1_epi8(15));
    if (bits == 5) { /* bit G of the 1-bit plane to bit 4 */
        __m256i h = shift16(_mm256_load_si256((const __m256i *)(o + 256)), 4 - G);
        c = _mm256_or_si256(c, _mm256_and_si256(h, _mm256_set1_epi8(16)));
    } else if (bits == 6) { /* bits 2(G mod 4) of the 2-bit plane to bits 4-5 */
        __m256i h =
            shift16(_mm256_load_si256((const __m256i *)(o + 256 + 64 * (G >> 2))), 4 - 2 * (G & 3));
        c = _mm256_or_si256(c, _mm256_and_si256(h, _mm256_set1_epi8(0x30)));
    }
    return c;
}

/* 16 int8 values v[0..15] (one per panel row) of half hf as int16 pairs (v[j], v[j]). */
INLINE __m256i dup_pairs(const uint8_t *v, int hf)
{
    __m128i x = _mm_loadu_si128((const __m128i *)v);
    return _mm256_cvtepi8_epi16(hf ? _mm_unpackhi_epi8(x, x) : _mm_unpacklo_epi8(x, x));
}

/* Two sub-blocks' per-row values u[16], v[16] of half hf as int16 pairs (u[j], v[j]):
 * signed (scales) or unsigned (mins). */
INLINE __m256i two_pairs(const uint8_t *u, const uint8_t *v, int hf, bool is_signed)
{
    __m128i x = _mm_loadu_si128((const __m128i *)u), y = _mm_loadu_si128((const __m128i *)v);
    __m128i p = hf ? _mm_unpackhi_epi8(x, y) : _mm_unpacklo_epi8(x, y);
    return is_signed ? _mm256_cvtepi8_epi16(p) : _mm256_cvtepu8_epi16(p);
}

/* The int32 bsums of one A record as int16 pairs: lane bs_lane(p) holds (bsum[2p], bsum[2p+1])
 * (|bsum| <= 127·32 fits int16, so the saturating pack is exact). */
INLINE __m256i bsum_pairs(const uint8_t *bsum, int ns)
{
    __m256i lo = _mm256_loadu_si256((const __m256i *)bsum);
    __m256i hi = ns == 16 ? _mm256_loadu_si256((const __m256i *)(bsum + 32)) : lo;
    return _mm256_packs_epi32(lo, hi);
}
/* VPACKSSDW works per 128-bit lane: pairs 0,1 | 4,5 of the low source, 2,3 | 6,7 the high */
INLINE int bs_lane(int p)
{
    return (p & 1) | ((p >> 1) & 1) << 2 | ((p >> 2) & 1) << 1;
}

/* Sub-block hs (0, or 0/1 when two share an octet) of octet oc, halves h0..h0+nh−1:
 * tot[i][x] += sc · Σ u·qa (a separate call per sub-block keeps every shift an immediate). */
INLINE void sub_block(herd_type ty, const int m, const int nh, const int h0,
                      const uint8_t *const *arec, const uint8_t *oct, const uint8_t *h, int oc,
                      const int hs, __m256i (*tot)[2])
{
    const int sub = KK_SUB(ty), flush = KQ2_FLUSH(ty);
    const int s = oc * (32 / sub) + hs;
    __m256i sc[2], p16[MR][2];
#pragma GCC unroll 2
    for (int x = 0; x < nh; x++)
        sc[x] = KK_HAS_SC(ty) ? dup_pairs(h + kk_off_sc(ty) + 16 * (size_t)s, h0 + x)
                              : _mm256_set1_epi16(1);
#pragma GCC unroll 8
    for (int g = 0; g < sub / 4; g++) {
        const int G = hs * (sub / 4) + g;
        __m256i w[2];
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++)
            w[x] = codes32(ty, oct, G, h0 + x);
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            int32_t qa;
            memcpy(&qa, arec[i] + 32 * (size_t)oc + 4 * (size_t)G, 4);
            const __m256i va = _mm256_set1_epi32(qa);
#pragma GCC unroll 2
            for (int x = 0; x < nh; x++) {
                __m256i pr = _mm256_maddubs_epi16(w[x], va);
                p16[i][x] = g % flush ? _mm256_add_epi16(p16[i][x], pr) : pr;
            }
        }
        if ((g + 1) % flush == 0)
#pragma GCC unroll 4
            for (int i = 0; i < m; i++)
#pragma GCC unroll 2
                for (int x = 0; x < nh; x++)
                    tot[i][x] = _mm256_add_epi32(tot[i][x], _mm256_madd_epi16(p16[i][x], sc[x]));
    }
}

/* Rows 8·h0.. of nh halves (2: both, from h0 = 0) of the panel, m A rows. */
INLINE void tile_body(herd_type ty, const ktile *t, const int m, const int nh, const int h0)
{
    const int elems = KK_ELEMS(ty), sub = KK_SUB(ty), ns = KK_NSUB(ty), bits = KK_BITS(ty);
    const int qoff = KK_QOFF(ty), qshift = qoff == 1 ? 0 : qoff == 4 ? 2 : 5; /* log2 qoff */
    const int64_t nsb = t->k / elems;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    /* one prefetch cursor over the whole panel, PF ahead of the octet being read (the headers
     * ahead of their super-block); on the second half's pass the panel is in cache */
    const uint8_t *pf = panel + PF;
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *c = codes + (size_t)b * cb;
        const uint8_t *arec[MR];
        __m256i tot[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            tot[i][0] = tot[i][1] = _mm256_setzero_si256();
        }
        for (int oc = 0; oc < elems / 32; oc++) {
            const uint8_t *oct = c + (size_t)oc * 64 * (size_t)bits;
            if (h0 == 0)
                for (const uint8_t *pf_end = panel + PF + (size_t)b * (hb + cb) + hb +
                                             (size_t)(oc + 1) * 64 * (size_t)bits;
                     pf < pf_end; pf += 64)
                    _mm_prefetch((const char *)pf, _MM_HINT_T0);
            sub_block(ty, m, nh, h0, arec, oct, h, oc, 0, tot);
            if (sub == 16)
                sub_block(ty, m, nh, h0, arec, oct, h, oc, 1, tot);
        }
        /* Σ_s v_s·bsum_s per row: v = sc for the offset codes (Q3_K, Q6_K), v = m for the mins */
        __m256i bsp[MR], vb[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            bsp[i] = bsum_pairs(arec[i] + (size_t)elems + 4 + 4 * (size_t)ns, ns);
            vb[i][0] = vb[i][1] = _mm256_setzero_si256();
        }
        const bool mins = KK_HAS_MIN(ty);
        const size_t off = mins ? kk_off_m(ty) : kk_off_sc(ty);
        if (mins || qoff) {
#pragma GCC unroll 8
            for (int p = 0; p < ns / 2; p++) {
                const __m256i idx = _mm256_set1_epi32(bs_lane(p));
                __m256i v[2];
#pragma GCC unroll 2
                for (int x = 0; x < nh; x++)
                    v[x] = !KK_HAS_SC(ty) ? _mm256_set1_epi16(1)
                                          : two_pairs(h + off + 32 * (size_t)p,
                                                      h + off + 32 * (size_t)p + 16, h0 + x, !mins);
#pragma GCC unroll 4
                for (int i = 0; i < m; i++) {
                    const __m256i bs = _mm256_permutevar8x32_epi32(bsp[i], idx);
#pragma GCC unroll 2
                    for (int x = 0; x < nh; x++)
                        vb[i][x] = _mm256_add_epi32(vb[i][x], _mm256_madd_epi16(v[x], bs));
                }
            }
        }
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++) {
            const __m256 d =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16 * (size_t)(h0 + x))));
            const __m256 dm = mins ? _mm256_cvtph_ps(_mm_loadu_si128(
                                         (const __m128i *)(h + kk_off_dmin(ty) + 16 * (h0 + x))))
                                   : d;
#pragma GCC unroll 4
            for (int i = 0; i < m; i++) {
                float da;
                memcpy(&da, arec[i] + (size_t)elems, 4);
                const __m256 vda = _mm256_set1_ps(da);
                __m256i tt = tot[i][x];
                if (!mins && qoff) /* tot −= qoff·Σ sc·bsum */
                    tt = _mm256_sub_epi32(tt, _mm256_slli_epi32(vb[i][x], qshift));
                acc[i][x] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(tt), _mm256_mul_ps(d, vda), acc[i][x]);
                if (mins)
                    acc[i][x] = _mm256_fnmadd_ps(_mm256_mul_ps(dm, vda),
                                                 _mm256_cvtepi32_ps(vb[i][x]), acc[i][x]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
#pragma GCC unroll 2
        for (int x = 0; x < nh; x++)
            _mm256_storeu_ps(t->c + i * KK_NR + 8 * (h0 + x), acc[i][x]);
}

KK_AVX2_TILE_OF(tile_int, tile_body, 2)

/* kk_arec_fill's bytes, 16 values per step: the same max (a NaN never wins, as in fmaxf), the
 * same product x·(127/amax) rounded to nearest even, the same clamp (NaN to −127: the compare
 * is false for it). elems and sub are multiples of 16. */
void kk_arec_fill_avx2(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec)
{
    const int ns = elems / sub;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 vmax = _mm256_setzero_ps();
    for (int i = 0; i < elems; i += 8) /* max(|x|, vmax) keeps vmax when x is NaN */
        vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absmask), vmax);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f, da = kk_arec_scale(amax, inv, elems);
    memcpy(rec + elems, &da, 4);
    const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.0f),
                 lo = _mm256_set1_ps(-127.0f);
    for (int s = 0; s < ns; s++) {
        __m256i vsum = _mm256_setzero_si256();
        for (int i = s * sub; i < (s + 1) * sub; i += 16) {
            __m256i q[2];
            for (int u = 0; u < 2; u++) {
                __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * u), vinv),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                __m256 in = _mm256_cmp_ps(v, lo, _CMP_GE_OQ);
                q[u] = _mm256_cvtps_epi32(_mm256_blendv_ps(lo, _mm256_min_ps(v, hi), in));
                vsum = _mm256_add_epi32(vsum, q[u]);
            }
            __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
            __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            _mm_storeu_si128((__m128i *)(rec + i), b8);
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(vsum), _mm256_extracti128_si256(vsum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        int32_t sum = _mm_cvtsi128_si32(s4), corr = -qoff * sum;
        memcpy(rec + elems + 4 + 4 * s, &corr, 4);
        if (sums)
            memcpy(rec + elems + 4 + 4 * (ns + s), &sum, 4);
    }
}

#define KK_AVX2_FAMILY(id, TY) KK_AVX2_FAMILY_OF(id, TY, tile_int)
KK_AVX2_FAMILY(q2_k, HERD_TYPE_Q2_K)
KK_AVX2_FAMILY(q3_k, HERD_TYPE_Q3_K)
KK_AVX2_FAMILY(q4_k, HERD_TYPE_Q4_K)
KK_AVX2_FAMILY(q5_k, HERD_TYPE_Q5_K)
KK_AVX2_FAMILY(q6_k, HERD_TYPE_Q6_K)
KK_AVX2_FAMILY(tq1_0, HERD_TYPE_TQ1_0)
KK_AVX2_FAMILY(tq2_0, HERD_TYPE_TQ2_0)
