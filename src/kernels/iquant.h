/* Kernel families of ggml's grid i-quants (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S,
 * IQ1_M), shared by ref/iquant_ref.c and x86/iquant_avx512vnni.c. Block shape in
 * formats/iqblocks.h: value = (d'·sc)·q, q = ±grid value (IQ1: 8g ± 1), |q| ≤ 62.
 *
 * The panel keeps the file's grid indices (the tiles look the grid up per group of 8 or 4
 * values) so the packed weights stay about as small as the file's (docs/GGUF.md gives each
 * type's packed size), which is what a user of a 1-3 bit file chose them for.
 *
 * Math (AUTO). A is quantized per super-block of 256 to int8 as the K-quant families do (ggml's
 * Q8_K: qa = round-even(a·127/max|a|), da = 1/(127/max|a|)). Weights enter VPDPBUSD as u = q + 64
 * (2..126), so per row and sub-block the exact int32 isum_s = Σ u·qa − 64·bsum_s = Σ q·qa; then tot
 * = Σ_s sc_s·isum_s       (int32, exact: |tot| < 256·62·127·31 < 2^26) acc = fma((float)tot, d'·da,
 * acc)      super-block by super-block in K order. EXACT: the weights decoded to ggml's f32 values,
 * acc = fma(a[k], w[k], acc).
 *
 * Packed panel (16 weight rows; rows past N are zero):
 *   [headers: nsb × (d fp16[16] | sc u8[nsub][16]), the section padded to 64]
 *   [codes: nsb × 8 chunks of 32 k, each chunk:
 *      lo   u8[gpc][16]        low 8 bits of the grid index of group g (gpc = 32/gvals groups)
 *      hi   u8[16] or u16[16]  per row: the index bits above 8, hb = idx_bits − 8 bits per
 *                              group at bit hb·g; IQ1 (u16) also the delta signs at bit 12 + g
 *      sgn  u64[4][2]          (IQ2, IQ3) per 8 values and 16 rows two masks: bit 4r + t is
 *                              the sign of value t (first mask) or 4 + t (second) of row r]
 * so the tile turns 16 indices into 16 lanes of 4 values (one VPDPBUSD operand) with one
 * gather (IQ3) or two gathers and two lane shuffles per 8 values (IQ2, IQ1), and applies the
 * signs as a byte mask. */
#ifndef HERD_KERNELS_IQUANT_H
#define HERD_KERNELS_IQUANT_H

#include "formats/iqblocks.h"
#include "kernels/family.h"
#include "kernels/kquant.h" /* kk_tile_decoded_*: the EXACT tiles both share */

#include <string.h>

enum { KI_NR = 16, KI_QOFF = 64 };
_Static_assert((int)KI_NR == (int)KK_NR, "the shared EXACT tiles are 16 wide");

/* Compile-time facts per type, for tiles specialized per type. */
#define KI_SUB(TY)                                                                                 \
    ((TY) == HERD_TYPE_IQ2_XS || (TY) == HERD_TYPE_IQ2_S || (TY) == HERD_TYPE_IQ1_M ? 16 : 32)
#define KI_NSUB(TY)  (256 / KI_SUB(TY))
#define KI_GVALS(TY) ((TY) == HERD_TYPE_IQ3_S || (TY) == HERD_TYPE_IQ3_XXS ? 4 : 8)
#define KI_IQ1(TY)   ((TY) == HERD_TYPE_IQ1_S || (TY) == HERD_TYPE_IQ1_M)
#define KI_IDXBITS(TY)                                                                             \
    ((TY) == HERD_TYPE_IQ2_XS || (TY) == HERD_TYPE_IQ3_S ? 9                                       \
     : (TY) == HERD_TYPE_IQ2_S                           ? 10                                      \
     : KI_IQ1(TY)                                        ? 11                                      \
                                                         : 8)
#define KI_HB(TY)     (KI_IDXBITS(TY) - 8)
#define KI_GPC(TY)    (32 / KI_GVALS(TY))
#define KI_DSHIFT(TY) ((TY) == HERD_TYPE_IQ3_S ? 0 : (TY) == HERD_TYPE_IQ3_XXS ? 2 : 3)

static inline size_t ki_hdr_bytes(herd_type ty)
{
    return 32u + 16u * (size_t)KI_NSUB(ty);
}
static inline size_t ki_hi_bytes(herd_type ty)
{
    return KI_IQ1(ty) ? 32u : KI_HB(ty) ? 16u : 0u;
}
static inline size_t ki_chunk_bytes(herd_type ty)
{
    return 16u * (size_t)KI_GPC(ty) + ki_hi_bytes(ty) + (KI_IQ1(ty) ? 0u : 64u);
}
static inline size_t ki_hdr_section(herd_type ty, int64_t k)
{
    return ((size_t)(k / 256) * ki_hdr_bytes(ty) + 63) & ~(size_t)63;
}

/* A per super-block: {int8 qa[256]; f32 da; int32 corr[nsub] (= −64·bsum)}. */
static inline size_t ki_arec_bytes(herd_type ty)
{
    return 256u + 4u + 4u * (size_t)KI_NSUB(ty);
}

/* The integer q of value e (0..255) of row j in super-block chunk data c (its 8 chunks). */
int ki_q(herd_type ty, const uint8_t *codes_sb, int j, int e);

size_t ki_panel_bytes(herd_type ty, int64_t k);
herd_status ki_pack(herd_type ty, const kpack_src *s, void *panel);
/* Super-block b of a panel as f32 [256][16] (k-major), exactly ggml's values. */
void ki_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w);
void ki_unpack(herd_type ty, const void *panel, int64_t k, int rows, float *dst, size_t ldd);
size_t ki_aprep_bytes(herd_type ty, int64_t k);
void ki_aprep(herd_type ty, const float *a, int64_t k, void *dst);

void ki_tile_int_ref(herd_type ty, const ktile *t);

#define KI_EACH_TYPE(X)                                                                            \
    X(iq3_s, HERD_TYPE_IQ3_S)                                                                      \
    X(iq3_xxs, HERD_TYPE_IQ3_XXS)                                                                  \
    X(iq2_xxs, HERD_TYPE_IQ2_XXS)                                                                  \
    X(iq2_xs, HERD_TYPE_IQ2_XS)                                                                    \
    X(iq2_s, HERD_TYPE_IQ2_S)                                                                      \
    X(iq1_s, HERD_TYPE_IQ1_S)                                                                      \
    X(iq1_m, HERD_TYPE_IQ1_M)

#define KI_DECLARE_TYPE_FNS(id, TY)                                                                \
    size_t ki_panel_bytes_##id(int64_t k);                                                         \
    herd_status ki_pack_##id(const kpack_src *s, void *panel);                                     \
    void ki_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd);           \
    size_t ki_a_bytes_##id(int64_t k);                                                             \
    void ki_a_prep_##id(const float *a, int64_t k, void *dst);
KI_EACH_TYPE(KI_DECLARE_TYPE_FNS)

#endif
