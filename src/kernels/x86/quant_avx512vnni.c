/* AVX512-VNNI tiles of the int family (Q8_0, Q4_0, MXFP4, MXFP6 E2M3, MXINT8; math in quant.h).
 *
 * Weights are decoded in registers, 64 at a time (16 rows × one k-quad), to u8 = w + 128 and
 * fed to VPDPBUSD against the row's s8 quad of A broadcast from memory; the int32 block sums
 * start at -128·Σqa so they come out exact. Per block and row: acc = fma(isum, dw·2^-j, acc),
 * the product made by an integer add to dw's exponent (MX types: no FMA, the exact product by
 * a magic number and one add, see block_magic); per row at the end: × s.
 * Decoding: 8-bit codes are stored ready to use; 4-bit ones go through one VPSHUFB table, or
 * VPERMB with VBMI (Q4_0 feeds the nibble n = w + 8 and starts the sum at -8·Σqa instead); E2M3
 * through a table for magnitudes 16..31 and a sign flip. A tile of up to 12 rows keeps 12 f32 and
 * 12 int32 accumulators in registers. */
#include "kernels/quant.h"

#include "kernels/x86/vnni_rows.h"
#include <immintrin.h>
#include <string.h>

/* MXFP6 E2M3 and MXFP4 decode their codes with one VPERMB (VBMI) where the CPU has it; VBMI is
 * enabled for the whole file and used only behind herd_cpu_has_vbmi() (Cascade Lake has VNNI
 * without VBMI). The other tiles use intrinsics of one instruction each, so the compiler has no
 * reason to pick a VBMI instruction for them (objdump of the file: VPERMB only in tile_e2m3_vbmi
 * and tile_fp4_vbmi). */
#if defined(__clang__) /* clang ignores GCC's target pragma */
#pragma clang attribute push(__attribute__((target("avx512vbmi,gfni"))), apply_to = function)
#else
#pragma GCC target("avx512vbmi,gfni")
#endif

/* PF: how far ahead the software prefetch runs, at every row count. The T2 hint streamed faster
 * than T0 from 3 rows on (T1 the same as T2; docs/KERNELS.md, "Small M"): presumably it stops in
 * L2 and leaves L1's few miss buffers to the demand loads. 1-2-row streams once ran without it
 * (on a Zen 4 VM the hardware's L2 streamer alone kept up with them and the prefetch slowed
 * them); on the Zen 5 machines since, whose single core reads more, they fell well below the
 * read probe without it and reach it with it (docs/KERNELS.md, "Session 11"). */
enum { MR = 12, MR2 = 6, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

/* The 16 weight scales dw of block b. */
INLINE __m512 block_scales(herd_type ty, const uint8_t *sc, int64_t b)
{
    if (ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + b * 32)));
    __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + b * 16)));
    __m512 x =
        _mm512_sub_ps(_mm512_cvtepi32_ps(e), _mm512_set1_ps(127.0f + (float)kq_int_shift(ty)));
    return _mm512_scalef_ps(_mm512_set1_ps(1.0f), x); /* 2^x exactly, denormals included */
}

/* MX types: the bits of T = 1.5·2^23·dw for the 16 weight rows of block b. dw = 2^(e-127-shift)
 * is a power of two, so with T·2^-j (jbits added to the bits) as a magic number,
 * as_float(isum + bits(T·2^-j)) - T·2^-j is isum·dw·2^-j exactly (|isum| < 2^22, the sum lands
 * in T's binade): the product without a multiply (see tile_body). */
INLINE __m512i block_magic(herd_type ty, const uint8_t *sc, int64_t b)
{
    __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + b * 16)));
    return _mm512_add_epi32(_mm512_slli_epi32(e, 23),
                            _mm512_set1_epi32(((23 - kq_int_shift(ty)) << 23) + 0x400000));
}

/* u8 = 128 + 8·E2M3 value of every 6-bit code (sign in bit 5), for VPERMB. */
static const uint8_t e2m3_u8[64] __attribute__((aligned(64))) = {
    128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143,
    144, 146, 148, 150, 152, 154, 156, 158, 160, 164, 168, 172, 176, 180, 184, 188,
    128, 127, 126, 125, 124, 123, 122, 121, 120, 119, 118, 117, 116, 115, 114, 113,
    112, 110, 108, 106, 104, 102, 100, 98,  96,  92,  88,  84,  80,  76,  72,  68};

/* u8 = 128 + 2·E2M1 value of every nibble, repeated four times: VPERMB reads the low 6 bits
 * of each index byte, so the nibble needs no mask (bits 4-5 select an identical copy). */
static const uint8_t fp4_u8[64] __attribute__((aligned(64))) = {
    128, 129, 130, 131, 132, 134, 136, 140, 128, 127, 126, 125, 124, 122, 120, 116,
    128, 129, 130, 131, 132, 134, 136, 140, 128, 127, 126, 125, 124, 122, 120, 116,
    128, 129, 130, 131, 132, 134, 136, 140, 128, 127, 126, 125, 124, 122, 120, 116,
    128, 129, 130, 131, 132, 134, 136, 140, 128, 127, 126, 125, 124, 122, 120, 116};

/* The 64 weights of quad g (position order) as u8 = w + 128. */
INLINE __m512i weight_quad(herd_type ty, bool vbmi, const uint8_t *pl, int g)
{
    if (ty == HERD_TYPE_MXFP4 && vbmi) {
        /* one VPERMB per quad instead of a mask and a VPSHUFB (which needs bit 7 clear) */
        __m512i lo = _mm512_loadu_si512(pl + 64 * (g & 3));
        if (g >= 4)
            lo = _mm512_srli_epi16(lo, 4);
        return _mm512_permutexvar_epi8(lo, _mm512_load_si512(fp4_u8));
    }
    if (ty == HERD_TYPE_MXFP6_E2M3 && vbmi) {
        /* The code's low 4 bits from the nibble plane, bits 4-5 from the 2-bit plane shifted
         * into place (16-bit shifts: what crosses a byte lands in bits the select or VPERMB
         * ignores), joined by one bitwise select, looked up whole. */
        __m512i lo = _mm512_loadu_si512(pl + 64 * (g & 3));
        if (g >= 4)
            lo = _mm512_srli_epi16(lo, 4);
        __m512i hi = _mm512_loadu_si512(pl + 256 + 64 * (g >> 2));
        const int sh = 2 * (g & 3);
        hi = sh <= 4 ? _mm512_slli_epi16(hi, 4 - sh) : _mm512_srli_epi16(hi, sh - 4);
        __m512i code = _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi8(15), 0xE4);
        return _mm512_permutexvar_epi8(code, _mm512_load_si512(e2m3_u8));
    }
    const int bits = kq_int_bits(ty);
    if (bits == 8)
        return _mm512_loadu_si512(pl + 64 * g);
    if (ty == HERD_TYPE_Q4_0 && vbmi) {
        /* (vbmi stands for GFNI here) the high nibbles by one GF2P8AFFINEQB, a bit matrix that
         * shifts each byte right by 4, instead of a 16-bit shift and a mask */
        __m512i lo = _mm512_loadu_si512(pl + 64 * (g & 3));
        return g < 4 ? _mm512_and_si512(lo, _mm512_set1_epi8(15))
                     : _mm512_gf2p8affine_epi64_epi8(lo, _mm512_set1_epi64(0x1020408000000000), 0);
    }
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512i lo = _mm512_loadu_si512(pl + 64 * (g & 3));
    lo = _mm512_and_si512(g < 4 ? lo : _mm512_srli_epi16(lo, 4), m4);
    if (ty == HERD_TYPE_Q4_0) /* the nibble n itself: w = n - 8 is folded into the start sum */
        return lo;
    if (ty == HERD_TYPE_MXFP4) {
        const __m512i lut = _mm512_broadcast_i32x4(
            _mm_setr_epi8((char)128, (char)129, (char)130, (char)131, (char)132, (char)134,
                          (char)136, (char)140, (char)128, 127, 126, 125, 124, 122, 120, 116));
        return _mm512_shuffle_epi8(lut, lo);
    }
    /* E2M3 × 8: magnitude m < 16 is m itself; 16..31 from the table; bit 5 is the sign. */
    __m512i hi = _mm512_loadu_si512(pl + 256 + 64 * (g >> 2));
    hi = _mm512_srli_epi16(hi, 2 * (g & 3));
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60));
    __mmask64 big = _mm512_test_epi8_mask(hi, _mm512_set1_epi8(1));
    __mmask64 neg = _mm512_test_epi8_mask(hi, _mm512_set1_epi8(2));
    __m512i v = _mm512_mask_shuffle_epi8(lo, big, lut, lo);
    const __m512i c128 = _mm512_set1_epi8((char)128);
    return _mm512_mask_sub_epi8(_mm512_add_epi8(v, c128), neg, c128, v);
}

/* What a block's tail needs of its 16 weight scales: MX, block_magic's T; Q8_0/Q4_0, dw's bits. */
INLINE __m512i block_tail_scales(herd_type ty, const uint8_t *panel, int64_t b)
{
    if (ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0)
        return _mm512_castps_si512(block_scales(ty, panel, b));
    return block_magic(ty, panel, b);
}

/* acc + row i's int32 block sum × dw·2^-j_i, rounded once as the twin's FMA (v from
 * block_tail_scales).
 * MX: the product is exact (a power of two) and made by the magic number of block_magic, so
 * one VADDPS rounds as the twin's FMA does. On Zen 4 the FMA took a VPDPBUSD slot per row and
 * block (one in nine); the integer adds and FP adds here run beside them.
 * Q8_0/Q4_0: jbits_i = -(j_i << 23) added to dw's bits is dw·2^-j_i exactly (the panel passed
 * scales_safe); dw = 0 lanes (d = 0, rows past N) are masked to 0. The VPADDD takes its A
 * operand broadcast from memory ({1to16}), one instruction; the intrinsic became a separate
 * VPBROADCASTD and the tile ran slower (docs/KERNELS.md, "Session 4"). */
INLINE __m512 block_tail(herd_type ty, __m512 acc, __m512i sum, __m512i v, vnni_rows r, const int i)
{
    if (ty != HERD_TYPE_Q8_0 && ty != HERD_TYPE_Q4_0) {
        const __m512i T = vnni_add_row12(v, r, i, 32);
        const __m512 x = _mm512_castsi512_ps(_mm512_add_epi32(sum, T));
        return _mm512_add_ps(acc, _mm512_sub_ps(x, _mm512_castsi512_ps(T)));
    }
    const __m512 sc =
        _mm512_castsi512_ps(vnni_add_row12_z(v, _mm512_test_epi32_mask(v, v), r, i, 32));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), sc, acc);
}

/* The int32 sum of a block's CH chains. */
INLINE __m512i block_sum(const __m512i *c, const int ch)
{
    if (ch == 4)
        return _mm512_add_epi32(_mm512_add_epi32(c[0], c[1]), _mm512_add_epi32(c[2], c[3]));
    return ch == 2 ? _mm512_add_epi32(c[0], c[1]) : c[0];
}

/* Rows are independent dependency chains; with fewer than 4 rows the 8 quads of a block are
 * split over CH chains so VPDPBUSD's latency overlaps. */
INLINE void tile_body(herd_type ty, bool vbmi, const ktile *t, const int m)
{
    enum { CHMAX = 4 };
    const int ch = m == 1 ? 4 : m <= 3 ? 2 : 1;
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b;
    const size_t sbytes = ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0 ? 2 : 1;
    const uint8_t *payload = panel + ((size_t)nb * KQ_NR * sbytes + 63) / 64 * 64;
    const size_t pb = kq_payload_bytes(kq_int_bits(ty)), bpb = pb + KQ_NR * sbytes;
    const uint8_t *pf = panel + PF;
    const uint8_t *a0 = (const uint8_t *)t->a;
    const size_t st = t->a_stride;
    __m512 acc[MR];
#pragma GCC unroll 16
    for (int i = 0; i < m; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pl = payload + (size_t)b * pb;
        const vnni_rows r = {a0 + (size_t)b * KQ_AREC, a0 + (size_t)b * KQ_AREC + 3 * st, st,
                             3 * st, 5 * st};
        /* One linear prefetch cursor over the panel's bytes (scales and payload alike), at the
         * rate the block consumes them, so every line PF ahead is requested exactly once and the
         * stream runs on into the next panel. */
        for (const uint8_t *pf_end = panel + PF + (size_t)(b + 1) * bpb; pf < pf_end; pf += 64)
            _mm_prefetch((const char *)pf, _MM_HINT_T2);
        __m512i isum[MR][CHMAX];
#pragma GCC unroll 16
        for (int i = 0; i < m; i++) {
            /* -128·Σqa, or -8·Σqa for Q4_0 (u8 = w + 8 there; the shift is exact, the record
             * holds a multiple of 128) */
            isum[i][0] = vnni_bcast_row12(r, i, 36);
            if (ty == HERD_TYPE_Q4_0)
                isum[i][0] = _mm512_srai_epi32(isum[i][0], 4);
#pragma GCC unroll 4
            for (int c = 1; c < ch; c++)
                isum[i][c] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w = weight_quad(ty, vbmi, pl, g);
#pragma GCC unroll 16
            for (int i = 0; i < m; i++)
                isum[i][g % ch] = vnni_dp_row12(isum[i][g % ch], w, r, i, 4 * g);
        }
        const __m512i v = block_tail_scales(ty, panel, b);
#pragma GCC unroll 16
        for (int i = 0; i < m; i++)
            acc[i] = block_tail(ty, acc[i], block_sum(isum[i], ch), v, r, i);
    }
#pragma GCC unroll 16
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(
            t->c + i * KQ_NR,
            _mm512_mul_ps(acc[i], _mm512_set1_ps(kq_a_rowscale(a0 + (size_t)i * st, k))));
}

/* tile_body on two panels at once (t->b, and t->b2 = t->b + ps): each broadcast of A goes to
 * a register once and feeds a VPDPBUSD for each panel. Where a panel's rows are many (4 and
 * up), the tile above issues as many broadcast loads as dot products, and those loads with the
 * per-block float work, not the dot products, are what bound it. The same operations per
 * column as tile_body, so the same bits. Two prefetch cursors, one per panel, each PF ahead of
 * its panel's reads; past a panel's end each moves on to the panel it will read next, ps
 * further on (the pair after this one starts at t->b + 2·ps). */
INLINE void tile2_body(herd_type ty, bool vbmi, const ktile *t, const int m)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b, *panel2 = t->b2;
    const size_t sbytes = ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0 ? 2 : 1;
    const size_t head = ((size_t)nb * KQ_NR * sbytes + 63) / 64 * 64;
    const size_t pb = kq_payload_bytes(kq_int_bits(ty)), bpb = pb + KQ_NR * sbytes;
    const size_t ps = (size_t)(panel2 - panel);
    size_t pf = PF;
    const uint8_t *a0 = (const uint8_t *)t->a;
    const size_t st = t->a_stride;
    __m512 acc[2][MR2];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        acc[0][i] = acc[1][i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pl = panel + head + (size_t)b * pb, *pl2 = panel2 + head + (size_t)b * pb;
        const vnni_rows r = {a0 + (size_t)b * KQ_AREC, a0 + (size_t)b * KQ_AREC + 3 * st, st,
                             3 * st, 5 * st};
        for (const size_t pf_end = PF + (size_t)(b + 1) * bpb; pf < pf_end; pf += 64) {
            const size_t o = pf < ps ? pf : pf + ps;
            _mm_prefetch((const char *)panel + o, _MM_HINT_T2);
            _mm_prefetch((const char *)panel2 + o, _MM_HINT_T2);
        }
        __m512i isum[2][MR2];
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            isum[0][i] = vnni_bcast_row12(r, i, 36);
            if (ty == HERD_TYPE_Q4_0)
                isum[0][i] = _mm512_srai_epi32(isum[0][i], 4);
            isum[1][i] = isum[0][i];
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i w = weight_quad(ty, vbmi, pl, g), w2 = weight_quad(ty, vbmi, pl2, g);
#pragma GCC unroll 8
            for (int i = 0; i < m; i++) {
                const __m512i a = vnni_bcast_row12(r, i, 4 * g);
                isum[0][i] = _mm512_dpbusd_epi32(isum[0][i], w, a);
                isum[1][i] = _mm512_dpbusd_epi32(isum[1][i], w2, a);
            }
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i v = block_tail_scales(ty, h ? panel2 : panel, b);
#pragma GCC unroll 8
            for (int i = 0; i < m; i++)
                acc[h][i] = block_tail(ty, acc[h][i], isum[h][i], v, r, i);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        const __m512 s = _mm512_set1_ps(kq_a_rowscale(a0 + (size_t)i * st, k));
        _mm512_storeu_ps(t->c + i * KQ_NR, _mm512_mul_ps(acc[0][i], s));
        _mm512_storeu_ps(t->c2 + i * KQ_NR, _mm512_mul_ps(acc[1][i], s));
    }
}

/* Whether dw·2^-j is a normal float (so an add to dw's exponent field) for every nonzero dw
 * of the panel and every j <= KQ_JMAX: fp16 d is, unless Inf/NaN (an f32 exponent >= 103);
 * E8M0 needs e - shift >= KQ_JMAX + 1, and e - shift <= 231 so that block_magic's T is finite.
 * Real weights always pass; a panel that does not runs the C twin (the same bits). One pass
 * over the scale section, ahead of the tile's own. */
INLINE bool scales_safe(herd_type ty, const uint8_t *sc, int64_t nb)
{
    if (ty == HERD_TYPE_Q8_0 || ty == HERD_TYPE_Q4_0) {
        const __m512i em = _mm512_set1_epi16(0x7C00);
        __mmask32 bad = 0;
        int64_t i = 0, n = nb * KQ_NR;
        for (; i + 32 <= n; i += 32) {
            __m512i h = _mm512_and_si512(_mm512_loadu_si512(sc + 2 * i), em);
            bad |= _mm512_cmpeq_epi16_mask(h, em);
        }
        if (i < n) {
            __mmask32 mk = (__mmask32)((1ull << (n - i)) - 1);
            __m512i h = _mm512_and_si512(_mm512_maskz_loadu_epi16(mk, sc + 2 * i), em);
            bad |= _mm512_mask_cmpeq_epi16_mask(mk, h, em);
        }
        return bad == 0;
    }
    const __m512i lo = _mm512_set1_epi8((char)(KQ_JMAX + 1 + kq_int_shift(ty)));
    const __m512i hi = _mm512_set1_epi8((char)(231 + kq_int_shift(ty)));
    __mmask64 bad = 0;
    int64_t i = 0, n = nb * KQ_NR;
    for (; i + 64 <= n; i += 64) {
        const __m512i e = _mm512_loadu_si512(sc + i);
        bad |= _mm512_cmplt_epu8_mask(e, lo) | _mm512_cmpgt_epu8_mask(e, hi);
    }
    if (i < n) {
        __mmask64 mk = (__mmask64)((1ull << (n - i)) - 1);
        const __m512i e = _mm512_maskz_loadu_epi8(mk, sc + i);
        bad |= _mm512_mask_cmplt_epu8_mask(mk, e, lo) | _mm512_mask_cmpgt_epu8_mask(mk, e, hi);
    }
    return bad == 0;
}

/* The one-panel tile (two = false) or tile2, one kernel per row count. */
INLINE void tile_m(herd_type ty, bool vbmi, bool two, const ktile *t)
{
    if (two)
        KTILE_ROWS_6(t->m, tile2_body, ty, vbmi, t);
    else
        KTILE_ROWS_12(t->m, tile_body, ty, vbmi, t);
}

static __attribute__((noinline)) void tile_e2m3_vbmi(const ktile *t, bool two)
{
    tile_m(HERD_TYPE_MXFP6_E2M3, true, two, t);
}

static __attribute__((noinline)) void tile_q4_gfni(const ktile *t, bool two)
{
    tile_m(HERD_TYPE_Q4_0, true, two, t);
}

static __attribute__((noinline)) void tile_fp4_vbmi(const ktile *t, bool two)
{
    tile_m(HERD_TYPE_MXFP4, true, two, t);
}

/* Panels whose scales the fast path cannot take run the C twin (the same bits). */
INLINE void tile_int(herd_type ty, bool two, const ktile *t)
{
    const int64_t nb = t->k / KQ_BLOCK;
    if (!scales_safe(ty, t->b, nb) || (two && !scales_safe(ty, t->b2, nb))) {
        ktile u = *t;
        kq_tile_int_ref(kq_type_get(ty), &u);
        if (two) {
            u.b = t->b2;
            u.c = t->c2;
            kq_tile_int_ref(kq_type_get(ty), &u);
        }
        return;
    }
    if (ty == HERD_TYPE_MXFP6_E2M3 && herd_cpu_has_vbmi())
        tile_e2m3_vbmi(t, two);
    else if (ty == HERD_TYPE_Q4_0 && herd_cpu_has_gfni())
        tile_q4_gfni(t, two);
    else if (ty == HERD_TYPE_MXFP4 && herd_cpu_has_vbmi())
        tile_fp4_vbmi(t, two);
    else
        tile_m(ty, false, two, t);
}

/* kq_a_shift without libm calls (ilogbf, ldexpf: a call each per block and row cost the A
 * preparation of a decode GEMM as much as a sixth of its tile time). For normal bmax <= amax
 * the exponent fields give ilogbf, and ldexpf(bmax, j) > amax compares the mantissas (same
 * exponent, exact); zeros, subnormals, Inf and NaN take the C function. */
static inline int a_shift(float bmax, float amax)
{
    uint32_t ub, ua;
    memcpy(&ub, &bmax, 4);
    memcpy(&ua, &amax, 4);
    const uint32_t eb = ub >> 23, ea = ua >> 23; /* both >= 0: no sign bit */
    if (eb - 1u >= 254u || ea - 1u >= 254u || eb > ea)
        return kq_a_shift(bmax, amax);
    int j = (int)(ea - eb);
    if (j > 0 && (ub & 0x7FFFFF) > (ua & 0x7FFFFF))
        j--;
    return j > KQ_JMAX ? KQ_JMAX : j;
}

/* kq_aprep_i8 with AVX-512, bit for bit: max|a| ignores NaN like fmaxf (VMAXPS returns its
 * second operand when the first is NaN), VCVTPS2DQ rounds half to even like nearbyintf. */
static void aprep_i8(const float *a, int64_t k, void *dst)
{
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const int64_t nb = k / KQ_BLOCK;
    __m512 rm = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb * 2; i++)
        rm = _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(a + 16 * i), absmask), rm);
    const float amax = _mm512_reduce_max_ps(rm);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f, s = amax / 127.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *rec = (uint8_t *)dst + b * KQ_AREC;
        __m512 x0 = _mm512_loadu_ps(a + b * KQ_BLOCK), x1 = _mm512_loadu_ps(a + b * KQ_BLOCK + 16);
        __m512 m = _mm512_max_ps(_mm512_and_ps(x0, absmask), _mm512_setzero_ps());
        m = _mm512_max_ps(_mm512_and_ps(x1, absmask), m);
        const int j = a_shift(_mm512_reduce_max_ps(m), amax);
        const int32_t p2 = (127 + j) << 23; /* 2^j */
        float f2;
        memcpy(&f2, &p2, 4);
        __m512 vi = _mm512_set1_ps(inv * f2);
        /* clamped before the conversion: VMAXPS with the product first gives -127 for NaN, and
         * a product of ±Inf (a row whose max is subnormal: 127/amax overflows) clamps to ±127
         * as in the C code, where VCVTPS2DQ would give INT_MIN for both */
        __m512 y0 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x0, vi), lo), hi);
        __m512 y1 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x1, vi), lo), hi);
        __m512i q0 = _mm512_cvtps_epi32(y0), q1 = _mm512_cvtps_epi32(y1);
        _mm_storeu_si128((__m128i *)rec, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(rec + 16), _mm512_cvtepi32_epi8(q1));
        int32_t corr = -128 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        int32_t jbits = -(j << 23);
        memcpy(rec + 32, &jbits, 4);
        memcpy(rec + 36, &corr, 4);
    }
    memcpy((uint8_t *)dst + nb * KQ_AREC, &s, sizeof s);
}

#define KQ_VNNI_FAMILY(id, TY)                                                                     \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        tile_int(TY, false, t);                                                                    \
    }                                                                                              \
    static void tile2_##id(const ktile *t)                                                         \
    {                                                                                              \
        tile_int(TY, true, t);                                                                     \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kq_tile_f32_avx512(kq_type_get(TY), t);                                                    \
    }                                                                                              \
    const kfamily kfam_##id##_avx512vnni = {                                                       \
        .name = #id ".avx512vnni",                                                                 \
        .type = TY,                                                                                \
        .isa = HERD_ISA_AVX512VNNI,                                                                \
        .mr = MR,                                                                                  \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_row_bytes = kq_aprep_i8_bytes,                                                          \
        .a_prep = aprep_i8,                                                                        \
        .a_desc = "int8 per 32-block",                                                             \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .tile2 = tile2_##id,                                                                       \
        .mr2 = MR2,                                                                                \
        .epilogue = kepi_avx512,                                                                   \
    };
KQ_VNNI_FAMILY(q8_0, HERD_TYPE_Q8_0)
KQ_VNNI_FAMILY(q4_0, HERD_TYPE_Q4_0)
KQ_VNNI_FAMILY(mxfp4, HERD_TYPE_MXFP4)
KQ_VNNI_FAMILY(mxfp6_e2m3, HERD_TYPE_MXFP6_E2M3)
KQ_VNNI_FAMILY(mxint8, HERD_TYPE_MXINT8)

#if defined(__clang__)
#pragma clang attribute pop
#endif
