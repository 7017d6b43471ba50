/* Plain C twins of the block-quantized families (math in quant.h): the oracle of the tests and
 * the HERD_ISA=ref path. Each tile does exactly the arithmetic its fast twin defines, in the
 * same order, so integer and f32 paths match bit for bit and the bf16 path within rounding of
 * the hardware's internal order. */
#include "kernels/quant.h"

#include <math.h>

/* int family: per block, isum = -128·Σqa + Σ(w+128)·qa (exact), acc = fma(isum, dw·2^-j, acc);
 * the output is acc·s (s the row's A scale). */
void kq_tile_int_ref(const kq_type *T, const ktile *t)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b, *payload = panel + kq_scale_section(T, k);
    const size_t pb = kq_payload_bytes(T->bits);
    float acc[KMAX_MR][KQ_NR] = {{0}};
    int32_t w[KQ_NR][KQ_BLOCK];
    float dw[KQ_NR];
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pl = payload + (size_t)b * pb;
        for (int j = 0; j < KQ_NR; j++) {
            dw[j] = kq_scale(T, panel, b, j);
            for (int kk = 0; kk < KQ_BLOCK; kk++)
                w[j][kk] = kq_int_value(T, kq_code(pl, T->bits, kq_pos(T, j, kk))) + 128;
        }
        for (int i = 0; i < t->m; i++) {
            const uint8_t *row = (const uint8_t *)t->a + (size_t)i * t->a_stride;
            const int8_t *q = kq_a_q(row, b);
            float p2 = kq_a_p2(row, b);
            int32_t corr = kq_a_corr(row, b);
            for (int j = 0; j < KQ_NR; j++) {
                int32_t isum = corr;
                for (int kk = 0; kk < KQ_BLOCK; kk++)
                    isum += w[j][kk] * q[kk];
                acc[i][j] = fmaf((float)isum, dw[j] * p2, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < t->m; i++) {
        float s = kq_a_rowscale((const uint8_t *)t->a + (size_t)i * t->a_stride, k);
        for (int j = 0; j < KQ_NR; j++)
            t->c[i * KQ_NR + j] = acc[i][j] * s;
    }
}

/* EXACT: weights decoded to f32 exactly, acc = fma(a[k], w[k], acc) in K order. */
void kq_tile_f32_ref(const kq_type *T, const ktile *t)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    float acc[KMAX_MR][KQ_NR] = {{0}};
    float w[KQ_BLOCK * KQ_NR];
    for (int64_t b = 0; b < nb; b++) {
        kq_decode_f32(T, t->b, k, b, w);
        for (int i = 0; i < t->m; i++) {
            const float *a = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
            for (int kk = 0; kk < KQ_BLOCK; kk++)
                for (int j = 0; j < KQ_NR; j++)
                    acc[i][j] = fmaf(a[b * KQ_BLOCK + kk], w[kk * KQ_NR + j], acc[i][j]);
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < KQ_NR; j++)
            t->c[i * KQ_NR + j] = acc[i][j];
}

/* fp family AUTO with BF16: A rounded to bf16 (kaprep_bf16), the element values (unscaled,
 * exact in bf16); per block and pair (k, k+1) VDPBF16PS's order, blk += a[k+1]·w[k+1], then
 * blk += a[k]·w[k], from 0; then acc += blk · 2^(e-127) (exact scaling, one rounding). */
void kq_tile_bf16_ref(const kq_type *T, const ktile *t)
{
    const int64_t k = t->k, nb = k / KQ_BLOCK;
    const uint8_t *panel = t->b, *payload = panel + kq_scale_section(T, k);
    const size_t pb = kq_payload_bytes(T->bits);
    float acc[KMAX_MR][KQ_NR] = {{0}};
    float w[KQ_BLOCK][KQ_NR];
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pl = payload + (size_t)b * pb;
        for (int j = 0; j < KQ_NR; j++)
            for (int kk = 0; kk < KQ_BLOCK; kk++)
                w[kk][j] = kq_fp_value(T, kq_code(pl, T->bits, kq_pos(T, j, kk)));
        for (int i = 0; i < t->m; i++) {
            const uint16_t *a = (const uint16_t *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
            for (int j = 0; j < KQ_NR; j++) {
                float blk = 0;
                for (int kk = 0; kk < KQ_BLOCK; kk += 2) {
                    float s = blk + herd_bf16_to_f32(a[b * KQ_BLOCK + kk + 1]) * w[kk + 1][j];
                    blk = s + herd_bf16_to_f32(a[b * KQ_BLOCK + kk]) * w[kk][j];
                }
                acc[i][j] += ldexpf(blk, (int)panel[b * KQ_NR + j] - 127);
            }
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < KQ_NR; j++)
            t->c[i * KQ_NR + j] = acc[i][j];
}

#define KQ_REF_FAMILY(id, TY)                                                                      \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        const kq_type *T = kq_type_get(TY);                                                        \
        if (T->is_int)                                                                             \
            kq_tile_int_ref(T, t);                                                                 \
        else                                                                                       \
            kq_tile_bf16_ref(T, t);                                                                \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kq_tile_f32_ref(kq_type_get(TY), t);                                                       \
    }                                                                                              \
    static size_t a_bytes_##id(int64_t k)                                                          \
    {                                                                                              \
        return kq_type_get(TY)->is_int ? kq_aprep_i8_bytes(k) : kaprep_bf16_bytes(k);              \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        if (kq_type_get(TY)->is_int)                                                               \
            kq_aprep_i8(a, k, dst);                                                                \
        else                                                                                       \
            kaprep_bf16(a, k, dst);                                                                \
    }                                                                                              \
    const kfamily kfam_##id##_ref = {                                                              \
        .name = #id ".ref",                                                                        \
        .type = TY,                                                                                \
        .isa = HERD_ISA_REF,                                                                       \
        .mr = KMAX_MR,                                                                             \
        .nr = KQ_NR,                                                                               \
        .panel_bytes = kq_panel_bytes_##id,                                                        \
        .pack = kq_pack_##id,                                                                      \
        .unpack = kq_unpack_##id,                                                                  \
        .a_row_bytes = a_bytes_##id,                                                               \
        .a_prep = a_prep_##id,                                                                     \
        .a_desc = KQ_IS_FP(TY) ? "bf16" : "int8 per 32-block",                                     \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_ref,                                                                      \
    };
KQ_EACH_TYPE(KQ_REF_FAMILY)
