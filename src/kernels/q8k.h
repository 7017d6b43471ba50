/* Kernel family of ggml's Q8_K (block_q8_K: f32 d, int8 qs[256], int16 bsums[16]; value d·q),
 * shared by q8k_pack.c, ref/q8k_ref.c and x86/q8k_avx512vnni.c. llama-quantize never writes
 * Q8_K (it is ggml's activation type for K-quant dot products) but a GGUF may hold it.
 *
 * Why a family of its own: d is an arbitrary f32 per 256 values (ggml's quantizer sets
 * d = −max/127, any sign), so no existing exact type holds Q8_K without loss: Q8_0's scale is
 * fp16, MXINT8's a power of two, INT8's one f32 per row (exact only if every super-block of the
 * row had the same d), and the K-quant panels keep fp16 scales.
 *
 * Math (AUTO). A is quantized per 256 to int8 as for the K-quants (kk_arec_fill: da =
 * 1/(127/max|a|), qa = round-even: ggml's own Q8_K rounding). Weights enter VPDPBUSD as u = q +
 * 128, so per row and super-block isum = Σ u·qa − 128·Σqa = Σ q·qa exactly (|isum| ≤ 256·128·127 <
 * 2^24, exact as a float), then acc = fma((float)isum, d·da, acc) super-block by super-block in K
 * order. EXACT: weights decoded to f32 exactly (d·q, ggml's dequantize_row_q8_K), one fma chain.
 *
 * Packed panel (16 weight rows; rows past N are zero):
 *   [d: nsb super-blocks × f32[16], the section padded to 64]
 *   [codes: nsb × 64 quads × 64 bytes]: byte 4·j + t of quad g is u = q + 128 of row j at
 *   k = 4g + t, so one 64-byte load is one VPDPBUSD operand.
 * The packed size is the file's minus the bsums (260 bytes per 256 values against 292). */
#ifndef HERD_KERNELS_Q8K_H
#define HERD_KERNELS_Q8K_H

#include "kernels/family.h"
#include "kernels/kquant.h" /* kk_arec_fill, kk_tile_decoded_*: shared with the K-quants */

enum { K8_NR = 16, K8_ELEMS = 256, K8_CODES = K8_ELEMS * K8_NR, K8_AREC = K8_ELEMS + 8 };
_Static_assert((int)K8_NR == (int)KK_NR, "the shared EXACT tiles are 16 wide");

static inline size_t k8_d_section(int64_t k)
{
    return ((size_t)(k / K8_ELEMS) * K8_NR * 4u + 63) & ~(size_t)63;
}
size_t k8_panel_bytes(int64_t k);
herd_status k8_pack(const kpack_src *s, void *panel);
/* Super-block b of a panel as f32 [256][16] (k-major): d·q, ggml's values. The ty argument is
 * the kk_decoder signature's and is ignored. */
void k8_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w);
void k8_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd);
/* A per super-block: {int8 qa[256]; f32 da; int32 corr (= −128·Σqa)}. */
size_t k8_aprep_bytes(int64_t k);
void k8_aprep(const float *a, int64_t k, void *dst);

void k8_tile_int_ref(const ktile *t);

#endif
