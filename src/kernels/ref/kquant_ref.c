/* Plain C twins of the K/i-quant families (math in kquant.h): the oracle of the tests and the
 * HERD_ISA=ref path. The integer sums are exact and the float steps are the fast tiles' own,
 * in the same order, so every ISA returns these bits. */
#include "kernels/kquant.h"

#include <math.h>

static float f16_at(const uint8_t *p)
{
    return herd_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

void kk_tile_int_ref(herd_type ty, const ktile *t)
{
    const int elems = KK_ELEMS(ty), sub = KK_SUB(ty), ns = elems / sub;
    const int64_t nsb = t->k / elems;
    const uint8_t *panel = t->b, *codes = panel + kk_hdr_section(ty, t->k);
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty), ab = kk_arec_bytes(ty);
    float acc[KMAX_MR][KK_NR] = {{0}};
    int32_t u[KK_NR][256];
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *h = panel + (size_t)b * hb, *c = codes + (size_t)b * cb;
        for (int j = 0; j < KK_NR; j++)
            for (int e = 0; e < elems; e++) {
                unsigned code = kk_code(ty, c + (size_t)(e / 32) * 64 * KK_BITS(ty),
                                        64 * ((e % 32) / 4) + 4 * j + (e % 4));
                u[j][e] = kk_q(ty, code) + KK_QOFF(ty);
            }
        for (int i = 0; i < t->m; i++) {
            const uint8_t *rec = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * ab;
            const int8_t *qa = (const int8_t *)rec;
            float da;
            int32_t corr[16], bsum[16];
            memcpy(&da, rec + elems, 4);
            memcpy(corr, rec + elems + 4, 4 * (size_t)ns);
            memcpy(bsum, rec + elems + 4 + 4 * (size_t)ns, 4 * (size_t)ns);
            for (int j = 0; j < KK_NR; j++) {
                int32_t tot = 0, mt = 0;
                for (int s = 0; s < ns; s++) {
                    int32_t isum = corr[s];
                    for (int e = s * sub; e < (s + 1) * sub; e++)
                        isum += u[j][e] * qa[e];
                    int sc =
                        KK_HAS_SC(ty) ? (int8_t)h[kk_off_sc(ty) + 16 * (size_t)s + (size_t)j] : 1;
                    tot += sc * isum;
                    if (KK_HAS_MIN(ty))
                        mt += h[kk_off_m(ty) + 16 * (size_t)s + (size_t)j] * bsum[s];
                }
                acc[i][j] = fmaf((float)tot, f16_at(h + 2 * j) * da, acc[i][j]);
                if (KK_HAS_MIN(ty))
                    acc[i][j] =
                        fmaf(-(f16_at(h + kk_off_dmin(ty) + 2 * j) * da), (float)mt, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < KK_NR; j++)
            t->c[i * KK_NR + j] = acc[i][j];
}

/* EXACT: weights decoded to f32 exactly (ggml's values), acc = fma(a[k], w[k], acc) in K order. */
void kk_tile_decoded_ref(kk_decoder decode, herd_type ty, int elems, const ktile *t)
{
    float acc[KMAX_MR][KK_NR] = {{0}};
    float w[256 * KK_NR];
    for (int64_t b = 0; b < t->k / elems; b++) {
        decode(ty, t->b, t->k, b, w);
        for (int i = 0; i < t->m; i++) {
            const float *a = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
            for (int e = 0; e < elems; e++)
                for (int j = 0; j < KK_NR; j++)
                    acc[i][j] = fmaf(a[b * elems + e], w[e * KK_NR + j], acc[i][j]);
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < KK_NR; j++)
            t->c[i * KK_NR + j] = acc[i][j];
}

#define KK_REF_FAMILY(id, TY)                                                                      \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        kk_tile_int_ref(TY, t);                                                                    \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        kk_tile_decoded_ref(kk_decode_f32, TY, KK_ELEMS(TY), t);                                   \
    }                                                                                              \
    const kfamily kfam_##id##_ref = {                                                              \
        .name = #id ".ref",                                                                        \
        .type = TY,                                                                                \
        .isa = HERD_ISA_REF,                                                                       \
        .mr = KMAX_MR,                                                                             \
        .nr = KK_NR,                                                                               \
        .panel_bytes = kk_panel_bytes_##id,                                                        \
        .pack = kk_pack_##id,                                                                      \
        .unpack = kk_unpack_##id,                                                                  \
        .a_row_bytes = kk_a_bytes_##id,                                                            \
        .a_prep = kk_a_prep_##id,                                                                  \
        .a_desc = "int8 per super-block",                                                          \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = kepi_ref,                                                                      \
    };
KK_EACH_TYPE(KK_REF_FAMILY)
