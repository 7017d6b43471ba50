/* Kernel families of ggml's K-quants and i-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
 * IQ4_XS), shared by ref/kquant_ref.c and x86/kquant_*.c. The block shape is in
 * formats/kblocks.h: value = (d·sc)·q − (dmin·m), q a small integer.
 *
 * Math (AUTO). A is quantized per super-block (the weights' own: 256 values, IQ4_NL 32) to int8:
 * da = 1/(127/max|a|), qa = round_half_even(a·127/max|a|), with per sub-block sums bsum. The
 * weights enter VPDPBUSD as unsigned codes u = q + qoff (IQ4: the grid value + 128), so per
 * row and sub-block s the exact int32 isum_s = Σ u·qa − qoff·bsum_s = Σ q·qa; then
 *     tot = Σ_s sc_s·isum_s            (int32, exact: |tot| < 2^29 for every type)
 *     mt  = Σ_s m_s·bsum_s             (types with mins)
 *     acc = fma((float)tot, d·da, acc);  acc = fma(−(dmin·da), (float)mt, acc)
 * super-block by super-block in K order. The integer sums are exact, so every ISA gives the
 * ref's bits. The A records are ggml's to the bit (kk_arec_scale; per 256 its Q8_K, codes
 * times −sign(max), da = |d|; IQ4_NL per 32 its Q8_0 with the fp16 d; tests/kernels/
 * test_act_q8k.c), so herd's products are llama.cpp's CPU ones. The error is bounded like the block
 * families' (docs/KERNELS.md) with one da per super-block.
 * EXACT: weights decoded to f32 exactly as ggml decodes them, acc = fma(a[k], w[k], acc).
 *
 * Packed panel (16 weight rows; rows past N are zero):
 *   [headers: nsb super-blocks × hdr bytes, the section padded to 64]
 *       header = d[16] fp16 | dmin[16] fp16 (mins) | sc[nsub][16] int8 (unless IQ4_NL)
 *                | m[nsub][16] u8 (mins)
 *   [codes: nsb × (elems/32) octets × 64·bits bytes]
 * An octet holds 32 k × 16 rows = 512 codes in position order p = 64·G + 4·j + t (row j,
 * k = 4G + t, G = 0..7: one VPDPBUSD quad each), as bit planes so one 64-byte load, a shift
 * and a mask give 64 codes:
 *   nibble plane (256 bytes): G < 4 low nibble of byte 64G + o, G ≥ 4 high nibble of
 *                             byte 64(G−4) + o   (o = p mod 64)
 *   2-bit plane (128 bytes):  bits 2(G mod 4) of byte 64(G/4) + o
 *   1-bit plane (64 bytes):   bit G of byte o
 * Q2_K: 2-bit; Q3_K: 2-bit + 1-bit (bit 2); Q4_K, IQ4: nibble; Q5_K: nibble + 1-bit (bit 4);
 * Q6_K: nibble + 2-bit (bits 4-5); TQ1_0, TQ2_0: 2-bit (TQ1_0's base-3 bytes unpacked to 2-bit
 * codes, 2.06 bits per weight packed against 1.69 in the file: cheaper than base-3 decoding in
 * the tile). The packed size is the source's plus the unpacked 6-bit /
 * 4-bit sub-block scales (Q4_K 148 bytes per 256 against 144; Q6_K 210 = 210; Q2_K 100 vs 84). */
#ifndef HERD_KERNELS_KQUANT_H
#define HERD_KERNELS_KQUANT_H

#include "formats/kblocks.h"
#include "herd/formats.h"
#include "kernels/family.h"

#include <string.h>

enum { KK_NR = 16 };

/* Compile-time facts per type, for tiles specialized per type. */
#define KK_ELEMS(TY) ((TY) == HERD_TYPE_IQ4_NL ? 32 : 256)
#define KK_SUB(TY)                                                                                 \
    ((TY) == HERD_TYPE_Q2_K || (TY) == HERD_TYPE_Q3_K || (TY) == HERD_TYPE_Q6_K ? 16 : 32)
#define KK_NSUB(TY)    (KK_ELEMS(TY) / KK_SUB(TY))
#define KK_HAS_MIN(TY) ((TY) == HERD_TYPE_Q2_K || (TY) == HERD_TYPE_Q4_K || (TY) == HERD_TYPE_Q5_K)
#define KK_TERNARY(TY) ((TY) == HERD_TYPE_TQ1_0 || (TY) == HERD_TYPE_TQ2_0)
#define KK_HAS_SC(TY)  ((TY) != HERD_TYPE_IQ4_NL && !KK_TERNARY(TY))
#define KK_TABLE(TY)   ((TY) == HERD_TYPE_IQ4_NL || (TY) == HERD_TYPE_IQ4_XS)
#define KK_BITS(TY)                                                                                \
    ((TY) == HERD_TYPE_Q2_K || KK_TERNARY(TY) ? 2                                                  \
     : (TY) == HERD_TYPE_Q3_K                 ? 3                                                  \
     : (TY) == HERD_TYPE_Q5_K                 ? 5                                                  \
     : (TY) == HERD_TYPE_Q6_K                 ? 6                                                  \
                                              : 4)
/* q + KK_QOFF = the unsigned code VPDPBUSD sees (table types: grid value + 128) */
#define KK_QOFF(TY)                                                                                \
    ((TY) == HERD_TYPE_Q3_K   ? 4                                                                  \
     : (TY) == HERD_TYPE_Q6_K ? 32                                                                 \
     : KK_TABLE(TY)           ? 128                                                                \
     : KK_TERNARY(TY)         ? 1                                                                  \
                              : 0)

static inline size_t kk_hdr_bytes(herd_type ty)
{
    int ns = KK_NSUB(ty);
    return 32u + (KK_HAS_MIN(ty) ? 32u + 16u * (size_t)ns : 0u) +
           (KK_HAS_SC(ty) ? 16u * (size_t)ns : 0u);
}
static inline size_t kk_code_bytes(herd_type ty)
{
    return (size_t)(KK_ELEMS(ty) / 32) * 64u * (size_t)KK_BITS(ty);
}
static inline size_t kk_hdr_section(herd_type ty, int64_t k)
{
    return ((size_t)(k / KK_ELEMS(ty)) * kk_hdr_bytes(ty) + 63) & ~(size_t)63;
}
/* Offsets inside one header. */
static inline size_t kk_off_dmin(herd_type ty)
{
    (void)ty;
    return 32;
}
static inline size_t kk_off_sc(herd_type ty)
{
    return KK_HAS_MIN(ty) ? 64 : 32;
}
static inline size_t kk_off_m(herd_type ty)
{
    return 64 + 16u * (size_t)KK_NSUB(ty);
}

/* The unsigned code at position p (0..511) of an octet. */
static inline unsigned kk_code(herd_type ty, const uint8_t *oct, int p)
{
    const int G = p >> 6, o = p & 63, bits = KK_BITS(ty);
    if (bits == 2 || bits == 3) {
        unsigned c = (oct[64 * (G >> 2) + o] >> (2 * (G & 3))) & 3;
        if (bits == 3)
            c |= ((oct[128 + o] >> G) & 1u) << 2;
        return c;
    }
    unsigned c = (oct[64 * (G & 3) + o] >> (G < 4 ? 0 : 4)) & 15;
    if (bits == 5)
        c |= ((oct[256 + o] >> G) & 1u) << 4;
    if (bits == 6)
        c |= ((oct[256 + 64 * (G >> 2) + o] >> (2 * (G & 3))) & 3u) << 4;
    return c;
}
/* The integer value q of a code (table types: the grid value). */
static inline int kk_q(herd_type ty, unsigned code)
{
    return KK_TABLE(ty) ? kb_iq4_grid[code & 15] : (int)code - KK_QOFF(ty);
}

/* A per super-block: {int8 qa[elems]; f32 da; int32 corr[nsub] (= −qoff·bsum);
 * int32 bsum[nsub]}. */
static inline size_t kk_arec_bytes(herd_type ty)
{
    return (size_t)KK_ELEMS(ty) + 4u + 8u * (size_t)KK_NSUB(ty);
}
/* The scale of an A record, as ggml's activation block of the same size carries it, so the
 * records are llama.cpp's CPU activations bit for bit: 256 values are its Q8_K (d = 1/iscale
 * with iscale = −127/max, so |d| = 1/(127/amax)), 32 values (IQ4_NL) its Q8_0 (d = amax/127
 * rounded to fp16). inv = 127/amax, or 0 for an all-zero block. */
static inline float kk_arec_scale(float amax, float inv, int elems)
{
    if (!(amax > 0))
        return 0.0f;
    return elems == 32 ? herd_f16_to_f32(herd_f32_to_f16(amax / 127.0f)) : 1.0f / inv;
}
size_t kk_aprep_bytes(herd_type ty, int64_t k);
void kk_aprep(herd_type ty, const float *a, int64_t k, void *dst);
/* One super-block x[elems] as an A record: int8 q = round-even(x·127/max|x|), da =
 * kk_arec_scale, then per sub-block corr = -qoff·Σq and, with sums, Σq itself (the grid
 * i-quants keep no sums). */
void kk_arec_fill(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec);
/* The same bytes with AVX-512 (x86/kquant_avx512vnni.c; elems and sub multiples of 16). */
void kk_arec_fill_avx512(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec);
/* The same bytes with AVX2 (x86/kquant_avx2.c; elems and sub multiples of 16). */
void kk_arec_fill_avx2(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec);

size_t kk_panel_bytes(herd_type ty, int64_t k);
herd_status kk_pack(herd_type ty, const kpack_src *s, void *panel);
/* Super-block b of a panel as f32 [elems][16] (k-major), exactly ggml's values. */
void kk_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w);
void kk_unpack(herd_type ty, const void *panel, int64_t k, int rows, float *dst, size_t ldd);

void kk_tile_int_ref(herd_type ty, const ktile *t);

/* The EXACT tile of any 16-wide super-block family (K-quants here, grid i-quants in iquant.h):
 * each super-block of `elems` decoded to f32 by `decode` (exactly ggml's values), then one FMA
 * chain per output in K order. The AVX-512 tile gives the plain C one's bits. */
typedef void (*kk_decoder)(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w);
void kk_tile_decoded_ref(kk_decoder decode, herd_type ty, int elems, const ktile *t);
void kk_tile_decoded_avx512(kk_decoder decode, herd_type ty, int elems, const ktile *t);
/* The same bits on AVX2 (x86/kdecoded_avx2.c). */
void kk_tile_decoded_avx2(kk_decoder decode, herd_type ty, int elems, const ktile *t);

/* The AVX2 super-block tiles' row split, shared by the K-quant, IQ4 and grid i-quant tiles:
 * A's rows go in blocks of 4, 2 and 1 (a tail of 3 runs as 2 + 1, so each body is compiled
 * for three row counts only). Up to WIDE rows run BODY over both 8-row ymm halves of the
 * 16-row panel in one pass; more rows take one pass per half, so that their accumulators fit
 * the sixteen ymm registers. BODY(ty, t, m, nh, h0) computes m rows on nh halves from half h0;
 * NAME(ty, t) is the tile. */
#define KK_AVX2_TILE_OF(NAME, BODY, WIDE)                                                          \
    static inline                                                                                  \
        __attribute__((always_inline)) void NAME##_rows(herd_type ty, const ktile *t, const int m) \
    {                                                                                              \
        if (m <= (WIDE)) {                                                                         \
            BODY(ty, t, m, 2, 0);                                                                  \
        } else {                                                                                   \
            BODY(ty, t, m, 1, 0);                                                                  \
            BODY(ty, t, m, 1, 1);                                                                  \
        }                                                                                          \
    }                                                                                              \
    static inline __attribute__((always_inline)) void NAME(herd_type ty, const ktile *t)           \
    {                                                                                              \
        ktile part = *t;                                                                           \
        for (int done = 0; done < t->m;) {                                                         \
            const int left = t->m - done, m = left >= 4 ? 4 : left >= 2 ? 2 : 1;                   \
            part.m = m;                                                                            \
            part.a = (const uint8_t *)t->a + (size_t)done * t->a_stride;                           \
            part.c = t->c + done * KK_NR;                                                          \
            switch (m) {                                                                           \
            case 1: NAME##_rows(ty, &part, 1); break;                                              \
            case 2: NAME##_rows(ty, &part, 2); break;                                              \
            default: NAME##_rows(ty, &part, 4); break;                                             \
            }                                                                                      \
            done += m;                                                                             \
        }                                                                                          \
    }

/* The AVX2 family `kfam_<id>_avx2` of a super-block type whose int tile is TILE(ty, t): A as
 * kk_arec_fill_avx2 records, EXACT mode by kk_tile_decoded_avx2 (the K-quants, IQ4_NL, IQ4_XS). */
#define KK_AVX2_FAMILY_OF(id, TY, TILE)                                                            \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        TILE(TY, t);                                                                               \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        for (int64_t b = 0; b < k / KK_ELEMS(TY); b++)                                             \
            kk_arec_fill_avx2(a + b * KK_ELEMS(TY), KK_ELEMS(TY), KK_SUB(TY), KK_QOFF(TY), true,   \
                              (uint8_t *)dst + (size_t)b * kk_arec_bytes(TY));                     \
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
        .a_prep = a_prep_##id,                                                                     \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_avx2,                                                                     \
    };

#define KK_EACH_TYPE(X)                                                                            \
    X(q2_k, HERD_TYPE_Q2_K)                                                                        \
    X(q3_k, HERD_TYPE_Q3_K)                                                                        \
    X(q4_k, HERD_TYPE_Q4_K)                                                                        \
    X(q5_k, HERD_TYPE_Q5_K)                                                                        \
    X(q6_k, HERD_TYPE_Q6_K)                                                                        \
    X(iq4_nl, HERD_TYPE_IQ4_NL)                                                                    \
    X(iq4_xs, HERD_TYPE_IQ4_XS)                                                                    \
    X(tq1_0, HERD_TYPE_TQ1_0)                                                                      \
    X(tq2_0, HERD_TYPE_TQ2_0)

#define KK_DECLARE_TYPE_FNS(id, TY)                                                                \
    size_t kk_panel_bytes_##id(int64_t k);                                                         \
    herd_status kk_pack_##id(const kpack_src *s, void *panel);                                     \
    void kk_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd);           \
    size_t kk_a_bytes_##id(int64_t k);                                                             \
    void kk_a_prep_##id(const float *a, int64_t k, void *dst);
KK_EACH_TYPE(KK_DECLARE_TYPE_FNS)

#endif
