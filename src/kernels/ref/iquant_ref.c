/* Plain C twins of the grid i-quant families (math in iquant.h): the oracle of the tests and
 * the HERD_ISA=ref path. The integer sums are exact and the float steps are the fast tiles'
 * own, in the same order, so every ISA returns these bits. */
#include "kernels/iquant.h"

#include <math.h>

static float f16_at(const uint8_t *p)
{
    return herd_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

void ki_tile_int_ref(herd_type ty, const ktile *t)
{
    const int sub = KI_SUB(ty), ns = 256 / sub;
    const uint8_t *panel = t->b, *codes = panel + ki_hdr_section(ty, t->k);
    const size_t hb = ki_hdr_bytes(ty), cb = 8u * ki_chunk_bytes(ty), ab = ki_arec_bytes(ty);
    const float scale = 1.0f / (float)(1 << KI_DSHIFT(ty));
    float acc[KMAX_MR][KI_NR] = {{0}};
    int32_t q[KI_NR][256];
    for (int64_t b = 0; b < t->k / 256; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *c = codes + (size_t)b * cb;
        for (int j = 0; j < KI_NR; j++)
            for (int e = 0; e < 256; e++)
                q[j][e] = ki_q(ty, c, j, e);
        for (int i = 0; i < t->m; i++) {
            const uint8_t *rec = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            const int8_t *qa = (const int8_t *)rec;
            float da;
            memcpy(&da, rec + 256, 4);
            for (int j = 0; j < KI_NR; j++) {
                int32_t tot = 0;
                for (int s = 0; s < ns; s++) {
                    int32_t isum = 0; /* = Σ (q + 64)·qa − 64·bsum, as the tiles add it */
                    for (int e = s * sub; e < (s + 1) * sub; e++)
                        isum += q[j][e] * qa[e];
                    tot += h[32 + 16 * s + j] * isum;
                }
                acc[i][j] = fmaf((float)tot, (f16_at(h + 2 * j) * scale) * da, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < KI_NR; j++)
            t->c[i * KI_NR + j] = acc[i][j];
}

#define KI_REF_FAMILY(id, TY)                                                                      \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        ki_tile_int_ref(TY, t);                                                                    \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_ref(ki_decode_f32, TY, 256, t);                                            \
    }                                                                                              \
    const kfamily kfam_##id##_ref = {                                                              \
        .name = #id ".ref",                                                                        \
        .type = TY,                                                                                \
        .isa = HERD_ISA_REF,                                                                       \
        .mr = KMAX_MR,                                                                             \
        .nr = KI_NR,                                                                               \
        .panel_bytes = ki_panel_bytes_##id,                                                        \
        .pack = ki_pack_##id,                                                                      \
        .unpack = ki_unpack_##id,                                                                  \
        .a_row_bytes = ki_a_bytes_##id,                                                            \
        .a_prep = ki_a_prep_##id,                                                                  \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_ref,                                                                      \
    };
KI_EACH_TYPE(KI_REF_FAMILY)
