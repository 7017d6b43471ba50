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
     * panel of a weight has the same K, so the next panel's cursor starts where this one ends.
     * The hint is T2, as the int tile's (quant_avx512vnni.c): Q6_K streamed faster with it than
     * with T0 (docs/KERNELS.md, "Session 11"). */
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
                _mm_prefetch((const char *)pf, _MM_HINT_T2);
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

/* ---- M = 1 (decode) of Q4_K, Q5_K and Q6_K, with VBMI and GFNI ------------------------------
 * One A row against a panel streamed from memory. What sets its speed is whether the hardware
 * prefetchers follow the stream (docs/KERNELS.md, "Sessions 8–9: one stream for M = 1"): they do
 * when the panel is read as one ascending run, so the header section is read first, in order (Q6_K:
 * copied to the stack, where the code pass finds it at a fixed place), then the codes octet by
 * octet, each octet's lines in ascending order, with tile_body's prefetch cursor running ahead
 * of it (in the whole model the stream without the cursor gained less on Q4_K and lost on Q6_K,
 * docs/KERNELS.md "Sessions 8–9"). Fewer instructions per octet than tile_body: a nibble plane
 * gives its low groups with one AND and its high groups with one GF2P8AFFINEQB (a bit matrix: shift
 * by 4), the 1- or 2-bit plane's bits go to bits 4-5 by one more and VPTERNLOGD or VPORD joins
 * them; the mins are four VPDPWSSD per super-block (m as word pairs by a zero-masking VPERMB,
 * A's sub-block sums as word pairs). Exact integers and the same two FMAs per super-block as
 * tile_body, so the same bits. Each chain of VPDPBUSD is four long (two chains per 32-wide
 * sub-block): longer and shorter chains both streamed slower. */
#define DECODE_FN static inline __attribute__((always_inline, target("avx512vbmi,gfni")))
/* GF2P8AFFINEQB matrix entry: output bit o is input bit i */
#define AFF(o, i) (1ull << (8 * (7 - (o)) + (i)))
#define AFF_SHR4  (AFF(0, 4) | AFF(1, 5) | AFF(2, 6) | AFF(3, 7))
enum { HBUF = 16384 };

/* VPERMB indices: dword j = (m[s][j], m[s+1][j]) as words (the odd bytes are zeroed by the
 * mask), for s = 0 and s = 2 of a 64-byte run of four sub-blocks' mins */
static const uint8_t min_pairs[2][64] __attribute__((aligned(64))) = {
    {0,  0, 16, 0, 1,  0, 17, 0, 2,  0, 18, 0, 3,  0, 19, 0, 4,  0, 20, 0, 5,  0,
     21, 0, 6,  0, 22, 0, 7,  0, 23, 0, 8,  0, 24, 0, 9,  0, 25, 0, 10, 0, 26, 0,
     11, 0, 27, 0, 12, 0, 28, 0, 13, 0, 29, 0, 14, 0, 30, 0, 15, 0, 31, 0},
    {32, 0, 48, 0, 33, 0, 49, 0, 34, 0, 50, 0, 35, 0, 51, 0, 36, 0, 52, 0, 37, 0,
     53, 0, 38, 0, 54, 0, 39, 0, 55, 0, 40, 0, 56, 0, 41, 0, 57, 0, 42, 0, 58, 0,
     43, 0, 59, 0, 44, 0, 60, 0, 45, 0, 61, 0, 46, 0, 62, 0, 47, 0, 63, 0}};

/* The 64 codes of group G of an octet (VPDPBUSD's u8) from its nibble lines nl and its high
 * plane lines hp (Q5_K: hp[0] the 1-bit plane; Q6_K: hp[0..1] the 2-bit plane). */
DECODE_FN __m512i codes_gfni(herd_type ty, const __m512i *nl, const __m512i *hp, int G)
{
    const __m512i n = nl[G & 3], m4 = _mm512_set1_epi8(15);
    const __m512i shr4 = _mm512_set1_epi64((long long)AFF_SHR4);
    if (KK_BITS(ty) == 4)
        return G < 4 ? _mm512_and_si512(n, m4) : _mm512_gf2p8affine_epi64_epi8(n, shr4, 0);
    const uint64_t hm =
        KK_BITS(ty) == 5 ? AFF(4, G) : AFF(4, 2 * (G & 3)) | AFF(5, 2 * (G & 3) + 1);
    const __m512i hb = _mm512_gf2p8affine_epi64_epi8(KK_BITS(ty) == 5 ? hp[0] : hp[G >> 2],
                                                     _mm512_set1_epi64((long long)hm), 0);
    if (G < 4) /* (n & 15) | hb */
        return _mm512_ternarylogic_epi32(n, m4, hb, 0xEA);
    return _mm512_or_si512(_mm512_gf2p8affine_epi64_epi8(n, shr4, 0), hb);
}

/* tot += sc·Σ q·qa of sub-block hs (0, or 0/1 when two share an octet) of octet oc; a separate
 * call per sub-block, so G and every shift count stay constants (a loop over hs with an unroll
 * pragma is refused by GCC under the sanitizers) */
DECODE_FN __m512i sub_gfni(herd_type ty, const __m512i *nl, const __m512i *hp, const uint8_t *h,
                           const uint8_t *arec, vnni_rows ro, int oc, const int hs, __m512i tot)
{
    const int sub = KK_SUB(ty), s = oc * (32 / sub) + hs;
    int32_t corr;
    memcpy(&corr, arec + 256 + 4 + 4 * (size_t)s, 4);
    __m512i is[2] = {KK_QOFF(ty) ? _mm512_set1_epi32(corr) : _mm512_setzero_si512(),
                     _mm512_setzero_si512()};
    const int ch = sub == 32 ? 2 : 1; /* chains of four */
#pragma GCC unroll 8
    for (int g = 0; g < sub / 4; g++) {
        const int G = hs * (sub / 4) + g;
        is[g % ch] = vnni_dp_row(is[g % ch], codes_gfni(ty, nl, hp, G), ro, 0, 4 * G);
    }
    const __m512i v = ch == 2 ? _mm512_add_epi32(is[0], is[1]) : is[0];
    const __m512i scv = _mm512_cvtepi8_epi32(
        _mm_loadu_si128((const __m128i *)(h + kk_off_sc(ty) + 16 * (size_t)s)));
    return _mm512_add_epi32(tot, _mm512_mullo_epi32(v, scv));
}

/* tot += Σ over the sub-blocks of octet oc: sc·Σ q·qa (one or two sub-blocks) */
DECODE_FN __m512i octet_gfni(herd_type ty, const uint8_t *oct, const uint8_t *h,
                             const uint8_t *arec, int oc, __m512i tot)
{
    const int bits = KK_BITS(ty);
    __m512i nl[4], hp[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
        nl[q] = _mm512_load_si512(oct + 64 * q);
    /* the high plane after the nibble lines: lines in ascending order */
    __asm__ volatile("" : "+v"(nl[0]), "+v"(nl[1]), "+v"(nl[2]), "+v"(nl[3]) : : "memory");
    if (bits >= 5)
        hp[0] = _mm512_load_si512(oct + 256);
    if (bits == 6)
        hp[1] = _mm512_load_si512(oct + 320);
    const vnni_rows ro = vnni_rows_at(arec + 32 * (size_t)oc, 0);
    tot = sub_gfni(ty, nl, hp, h, arec, ro, oc, 0, tot);
    if (KK_SUB(ty) == 16)
        tot = sub_gfni(ty, nl, hp, h, arec, ro, oc, 1, tot);
    return tot;
}

DECODE_FN void gemv_gfni(herd_type ty, const ktile *t)
{
    const int bits = KK_BITS(ty), ns = KK_NSUB(ty);
    const int64_t nsb = t->k / 256;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    const size_t hsec = kk_hdr_section(ty, t->k);
    /* Q6_K's code pass read its headers from the stack at the speed of the plain read; reading
     * them in place after the first pass streamed at that speed or at three quarters of it,
     * depending on where the code sat. Q4_K and Q5_K read them in place at full speed. */
    const bool copy = ty == HERD_TYPE_Q6_K && hsec <= HBUF;
    uint8_t hbuf[HBUF] __attribute__((aligned(64)));
    const uint8_t *hdr = panel;
    if (copy) {
        for (size_t o = 0; o < hsec; o += 64)
            _mm512_store_si512(hbuf + o, _mm512_load_si512(panel + o));
        hdr = hbuf;
    } else {
        __m512i x = _mm512_setzero_si512();
        for (size_t o = 0; o < hsec; o += 64)
            x = _mm512_or_si512(x, _mm512_load_si512(panel + o));
        __asm__ volatile("" : : "v"(x)); /* the loads are the point */
    }
    const __m512i pair01 = _mm512_load_si512(min_pairs[0]),
                  pair23 = _mm512_load_si512(min_pairs[1]);
    __m512 acc = _mm512_setzero_ps();
    const size_t lead = hsec + PF / 2 > PF ? hsec + PF / 2 : PF;
    const uint8_t *pf = panel + lead;
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = hdr + (size_t)b * hb, *c = codes + (size_t)b * cb;
        const uint8_t *arec = (const uint8_t *)t->a + (size_t)b * ab;
        __m512i tot = _mm512_setzero_si512();
        /* Q6_K: two octets per iteration; Q4_K, Q5_K: the whole super-block unrolled (what
         * streamed fastest for each) */
        enum { U6 = 2 };
        const int u = bits == 6 ? U6 : 8;
        for (int oc = 0; oc < 8; oc += u) {
#pragma GCC unroll 8
            for (int j = 0; j < u; j++) {
                for (const uint8_t *pf_end = panel + lead + (size_t)b * (hb + cb) + hb +
                                             (size_t)(oc + j + 1) * 64 * (size_t)bits;
                     pf < pf_end; pf += 64)
                    _mm_prefetch((const char *)pf, _MM_HINT_T2);
                tot =
                    octet_gfni(ty, c + (size_t)(oc + j) * 64 * (size_t)bits, h, arec, oc + j, tot);
            }
        }
        float da;
        memcpy(&da, arec + 256, 4);
        const __m512 vda = _mm512_set1_ps(da);
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot), _mm512_mul_ps(d, vda), acc);
        if (KK_HAS_MIN(ty)) {
            /* Σ_s m_s·bsum_s: |bsum| <= 32·127 fits a word, so pairs of sub-blocks by VPDPWSSD */
            const __m128i bs = _mm256_cvtepi32_epi16(
                _mm256_loadu_si256((const __m256i *)(arec + 256 + 4 + 4 * (size_t)ns)));
            const __mmask64 words = 0x5555555555555555ull;
            __m512i mt = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int q = 0; q < 2; q++) {
                const __m512i mv = _mm512_loadu_si512(h + kk_off_m(ty) + 64 * (size_t)q);
                const __m512i b0 = _mm512_broadcastd_epi32(q ? _mm_shuffle_epi32(bs, 0xAA) : bs);
                /* each shuffle's immediate a constant: clang requires one */
                const __m512i b1 = _mm512_broadcastd_epi32(q ? _mm_shuffle_epi32(bs, 0xFF)
                                                             : _mm_shuffle_epi32(bs, 0x55));
                mt = _mm512_dpwssd_epi32(mt, _mm512_maskz_permutexvar_epi8(words, pair01, mv), b0);
                mt = _mm512_dpwssd_epi32(mt, _mm512_maskz_permutexvar_epi8(words, pair23, mv), b1);
            }
            const __m512 dm =
                _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + kk_off_dmin(ty))));
            acc = _mm512_fnmadd_ps(_mm512_mul_ps(dm, vda), _mm512_cvtepi32_ps(mt), acc);
        }
    }
    _mm512_storeu_ps(t->c, acc);
}

static __attribute__((noinline, target("avx512vbmi,gfni"))) void gemv_q4_k(const ktile *t)
{
    gemv_gfni(HERD_TYPE_Q4_K, t);
}
static __attribute__((noinline, target("avx512vbmi,gfni"))) void gemv_q5_k(const ktile *t)
{
    gemv_gfni(HERD_TYPE_Q5_K, t);
}
static __attribute__((noinline, target("avx512vbmi,gfni"))) void gemv_q6_k(const ktile *t)
{
    gemv_gfni(HERD_TYPE_Q6_K, t);
}

/* The tile of a type: M = 1 of Q4_K, Q5_K and Q6_K by gemv_gfni where the CPU has VBMI and GFNI
 * (HERD_NO_VBMI / HERD_NO_GFNI test the other path), everything else by tile_body. */
INLINE void tile_of(herd_type ty, const ktile *t)
{
    if (t->m == 1 && (ty == HERD_TYPE_Q4_K || ty == HERD_TYPE_Q5_K || ty == HERD_TYPE_Q6_K) &&
        herd_cpu_has_vbmi() && herd_cpu_has_gfni()) {
        if (ty == HERD_TYPE_Q4_K)
            gemv_q4_k(t);
        else if (ty == HERD_TYPE_Q5_K)
            gemv_q5_k(t);
        else
            gemv_q6_k(t);
        return;
    }
    tile_int(ty, t);
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
        tile_of(TY, t);                                                                            \
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
