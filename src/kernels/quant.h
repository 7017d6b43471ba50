/* Block-quantized weight families: Q8_0, Q4_0 (ggml) and the MX types (MXFP8 E4M3/E5M2,
 * MXFP6 E3M2/E2M3, MXFP4, MXINT8). Shared by ref/quant_ref.c and the x86/quant_*.c kernels.
 *
 * Two families of math, chosen by whether the element values are small integers:
 *
 *  int  (Q8_0, Q4_0, MXFP4, MXFP6 E2M3, MXINT8): every element is an integer in [-128, 127]
 *       times a per-block weight scale dw (Q4_0: nibble-8; MXFP4: 2·E2M1; E2M3: 8·E2M3;
 *       MXINT8: the int8 code; the constant 2^-c is folded into dw). AUTO quantizes A per
 *       32-block to int8 with the scale s·2^-j (s = max|a|/127 of the row, j >= 0 per block,
 *       round half even; see kq_aprep_i8), and each block's dot product is exact in int32
 *       (VPDPBUSD on u8 = w+128 times s8 = qa, minus 128·Σqa); then
 *       acc = fma((float)isum, dw·2^-j, acc), block by block in K order, and the output is
 *       acc·s. dw·2^-j is an exact product whenever it is a normal float (the fast tiles add
 *       jbits to dw's bits then, and multiply otherwise). Every ISA gives the ref's bits.
 *  fp   (MXFP8 E4M3/E5M2, MXFP6 E3M2): element values have up to 4 significant bits but a wide
 *       exponent range (E4M3 2^-9..448), so they do not fit int8. AUTO on AVX512-BF16 rounds A
 *       to bf16 and decodes the element values (exact) to bf16 for VDPBF16PS; each block sum
 *       is then scaled by 2^(e-127) (exact) and added to the row's f32 accumulator; elsewhere
 *       (and in EXACT mode) A stays f32 and weights are decoded to f32 exactly.
 *
 * EXACT mode (every type): weights decoded to f32 exactly (value × scale is exact in f32 for
 * every code and scale, spec/mx.md §3), acc = fma(a[k], w[k], acc) in K order from 0.
 *
 * Packed panel (nr = 16 weight rows; rows past N are zero):
 *   [scales: nb blocks × 16 rows × (2 bytes fp16 | 1 byte E8M0), padded to 64 bytes]
 *   [payload: nb blocks × KQ_PAYLOAD(bits) bytes]
 * A block's payload holds its 512 codes (16 rows × 32) in "position order":
 *   int family: p = 64·g + 4·j + t  <->  row j, k = 4g + t   (g = 0..7: VPDPBUSD quads)
 *   fp family:  p = 64·g + 16·q + 8·h + w  <->  row j, k = 4g + 2h + t, with 2j + t = 8q + w
 *               (g = 0..7: two VDPBF16PS pairs h = 0, 1, each 16 rows × t = 0, 1; the order
 *               in which VPUNPCKLBW / VPUNPCKHBW of a 64-byte group give pair 2g and 2g+1)
 * stored by code width:
 *   8 bits: byte p (int types store the code + 128, i.e. xor 0x80, so it is VPDPBUSD's u8)
 *   4 bits: byte 64·(G mod 4) + (p mod 64), low nibble for G = p/64 < 4, high nibble else
 *   6 bits: the low 4 bits as 4-bit codes (bytes 0..255), the high 2 bits at byte
 *           256 + 64·(G/4) + (p mod 64), bits 2·(G mod 4)
 * so one 64-byte load and a shift give 64 codes in position order. Packed bytes equal the
 * source bytes (plus N padding); herd_unpack restores values exactly. */
#ifndef HERD_KERNELS_QUANT_H
#define HERD_KERNELS_QUANT_H

#include "kernels/family.h"

#include <math.h>
#include <string.h>

enum { KQ_NR = 16, KQ_BLOCK = 32, KQ_CODES = KQ_NR * KQ_BLOCK };

typedef struct kq_type {
    herd_type type;
    bool is_int;            /* int family (else fp family) */
    int bits;               /* code width in the payload: 4, 6 or 8 */
    bool fp16_scale;        /* Q8_0 / Q4_0: fp16 d; else E8M0 */
    int shift;              /* int family: dw = scale · 2^-shift */
    int ebits, mbits, bias; /* fp family element format */
} kq_type;

const kq_type *kq_type_get(herd_type t); /* NULL if t is not one of ours */

static inline size_t kq_payload_bytes(int bits)
{
    return (size_t)KQ_CODES * (size_t)bits / 8;
}
static inline size_t kq_scale_section(const kq_type *T, int64_t k)
{
    size_t b = (size_t)(k / KQ_BLOCK) * KQ_NR * (T->fp16_scale ? 2u : 1u);
    return (b + 63) & ~(size_t)63;
}
size_t kq_panel_bytes(const kq_type *T, int64_t k);

/* pack / unpack for the families (layout above). */
herd_status kq_pack(const kq_type *T, const kpack_src *s, void *panel);
void kq_unpack(const kq_type *T, const void *panel, int64_t k, int rows, float *dst, size_t ldd);

/* Compile-time facts of the int-family types, for tiles specialized per type (the kq_type
 * table holds the same, looked up at run time). */
static inline __attribute__((always_inline)) int kq_int_bits(herd_type ty)
{
    return ty == HERD_TYPE_Q4_0 || ty == HERD_TYPE_MXFP4 ? 4 : ty == HERD_TYPE_MXFP6_E2M3 ? 6 : 8;
}
static inline __attribute__((always_inline)) int kq_int_shift(herd_type ty)
{
    return ty == HERD_TYPE_MXFP4        ? 1
           : ty == HERD_TYPE_MXFP6_E2M3 ? 3
           : ty == HERD_TYPE_MXINT8     ? 6
                                        : 0;
}
/* 4 bytes at p as an int32 (any alignment), e.g. a quad of A to broadcast. */
static inline __attribute__((always_inline)) int32_t kq_load_i32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Scalar decoding, shared by every ISA so all of them see the same numbers. */
/* The code at position p of a block payload. */
static inline unsigned kq_code(const uint8_t *pl, int bits, int p)
{
    if (bits == 8)
        return pl[p];
    int G = p >> 6, o = p & 63;
    unsigned c = (pl[64 * (G & 3) + o] >> (G < 4 ? 0 : 4)) & 15;
    if (bits == 6)
        c |= ((pl[256 + 64 * (G >> 2) + o] >> (2 * (G & 3))) & 3) << 4;
    return c;
}
/* Position of (row j, element kk of the block) in the payload. */
static inline int kq_pos(const kq_type *T, int j, int kk)
{
    if (T->is_int)
        return 64 * (kk >> 2) + 4 * j + (kk & 3);
    int i = 2 * j + (kk & 1); /* word of the pair's register */
    return 64 * (kk >> 2) + 16 * (i >> 3) + 8 * ((kk >> 1) & 1) + (i & 7);
}
int kq_int_value(const kq_type *T, unsigned code);  /* int family: the integer element */
float kq_fp_value(const kq_type *T, unsigned code); /* fp family: the element value */
/* The weight scale of row j in block b: dw (int family) or 2^(e-127) (fp family). */
float kq_scale(const kq_type *T, const uint8_t *scales, int64_t b, int j);
/* Block b of a panel as f32 [32][16] (k-major, scaled, exact). */
void kq_decode_f32(const kq_type *T, const uint8_t *panel, int64_t k, int64_t b, float *w);

/* A for the int family. Per row one f32 scale s = max|a|/127 (over the whole row); per
 * 32-block a power of two 2^-j, j in 0..KQ_JMAX the largest with max|a_block|·2^j <= max|a_row|
 * (KQ_JMAX when the block is zero), so the block's scale is s·2^-j and its codes still span
 * [64, 127] of the int8 range. One 40-byte record per block {int8 qa[32]; int32 jbits =
 * -(j << 23); int32 corr = -128·Σqa}, then the row's f32 s after the last record.
 * Why the power of two: the tile needs the product of the block's weight scales and its A
 * scale per row and block; dw·2^-j is an integer add of jbits to dw's bits (exact while
 * normal), which costs no multiply next to the VPDPBUSD, and s leaves the K loop. */
enum { KQ_AREC = 40, KQ_JMAX = 30 };
size_t kq_aprep_i8_bytes(int64_t k);
void kq_aprep_i8(const float *a, int64_t k, void *dst);
/* j of a block whose max|a| is bmax in a row whose max|a| is amax (both finite, >= 0). */
static inline int kq_a_shift(float bmax, float amax)
{
    if (!(bmax > 0) || !(amax > 0) || !isfinite(amax))
        return bmax > 0 ? 0 : KQ_JMAX;
    int j = ilogbf(amax) - ilogbf(bmax);
    if (j > 0 && ldexpf(bmax, j) > amax)
        j--;
    return j < 0 ? 0 : j > KQ_JMAX ? KQ_JMAX : j;
}
static inline const int8_t *kq_a_q(const void *row, int64_t b)
{
    return (const int8_t *)row + b * KQ_AREC;
}
static inline int32_t kq_a_jbits(const void *row, int64_t b)
{
    int32_t v;
    memcpy(&v, (const uint8_t *)row + b * KQ_AREC + 32, sizeof v);
    return v;
}
/* 2^-j of block b as a float. */
static inline float kq_a_p2(const void *row, int64_t b)
{
    int32_t v = kq_a_jbits(row, b) + 0x3F800000;
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}
static inline int32_t kq_a_corr(const void *row, int64_t b)
{
    int32_t v;
    memcpy(&v, (const uint8_t *)row + b * KQ_AREC + 36, sizeof v);
    return v;
}
/* The row's scale s (k / 32 records precede it). */
static inline float kq_a_rowscale(const void *row, int64_t k)
{
    float v;
    memcpy(&v, (const uint8_t *)row + (k / KQ_BLOCK) * KQ_AREC, sizeof v);
    return v;
}

/* Plain C tiles (ref family, and fallbacks of the fast ones). */
void kq_tile_int_ref(const kq_type *T, const ktile *t);
void kq_tile_f32_ref(const kq_type *T, const ktile *t);
void kq_tile_bf16_ref(const kq_type *T, const ktile *t);
/* AVX-512 f32 tile (EXACT mode of the fast families), in x86/quant_avx512.c. */
void kq_tile_f32_avx512(const kq_type *T, const ktile *t);
void kq_tile_f32_avx2(const kq_type *T, const ktile *t);

/* Declares the per-type tile wrapper `name_<type>` calling fn(&kq_types[..], t) and the kfamily
 * kfam_<type>_<isa>. Used by every quant_<isa>.c. */
#define KQ_EACH_TYPE(X)                                                                            \
    X(q8_0, HERD_TYPE_Q8_0)                                                                        \
    X(q4_0, HERD_TYPE_Q4_0)                                                                        \
    X(mxfp8_e4m3, HERD_TYPE_MXFP8_E4M3)                                                            \
    X(mxfp8_e5m2, HERD_TYPE_MXFP8_E5M2)                                                            \
    X(mxfp6_e3m2, HERD_TYPE_MXFP6_E3M2)                                                            \
    X(mxfp6_e2m3, HERD_TYPE_MXFP6_E2M3)                                                            \
    X(mxfp4, HERD_TYPE_MXFP4)                                                                      \
    X(mxint8, HERD_TYPE_MXINT8)

#define KQ_IS_FP(TY)                                                                               \
    ((TY) == HERD_TYPE_MXFP8_E4M3 || (TY) == HERD_TYPE_MXFP8_E5M2 || (TY) == HERD_TYPE_MXFP6_E3M2)

/* Per-type entry points of the kfamily table (quant_pack.c). */
#define KQ_DECLARE_TYPE_FNS(id, TY)                                                                \
    size_t kq_panel_bytes_##id(int64_t k);                                                         \
    herd_status kq_pack_##id(const kpack_src *s, void *panel);                                     \
    void kq_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd);
KQ_EACH_TYPE(KQ_DECLARE_TYPE_FNS)

#endif
