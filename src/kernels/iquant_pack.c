/* Packing, unpacking and decoding of the grid i-quant families (layout in iquant.h), and the
 * per-super-block int8 quantization of A. Plain C, shared by every ISA. */
#include "kernels/iquant.h"

#include <math.h>

size_t ki_panel_bytes(herd_type ty, int64_t k)
{
    return ki_hdr_section(ty, k) + (size_t)(k / 256) * 8u * ki_chunk_bytes(ty);
}

static unsigned hi_of(herd_type ty, const uint8_t *chunk, int j)
{
    const uint8_t *hi = chunk + 16 * KI_GPC(ty);
    if (KI_IQ1(ty))
        return (unsigned)hi[2 * j] | (unsigned)hi[2 * j + 1] << 8;
    return KI_HB(ty) ? hi[j] : 0u;
}

int ki_q(herd_type ty, const uint8_t *codes_sb, int j, int e)
{
    const iq_info *I = iq_info_get(ty);
    const uint8_t *chunk = codes_sb + (size_t)(e / 32) * ki_chunk_bytes(ty);
    const int g = (e % 32) / KI_GVALS(ty), hb = KI_HB(ty);
    const unsigned hi = hi_of(ty, chunk, j);
    unsigned idx = chunk[16 * g + j] | ((hi >> (hb * g)) & ((1u << hb) - 1)) << 8;
    int v = iq_grid_value(I, idx, e % KI_GVALS(ty));
    if (KI_IQ1(ty))
        return 8 * v + ((hi >> (12 + g)) & 1 ? -1 : 1);
    const uint8_t *sgn = chunk + 16 * KI_GPC(ty) + ki_hi_bytes(ty);
    const int q = (e % 32) / 8, t = e % 8;
    uint64_t m;
    memcpy(&m, sgn + 16 * q + (t < 4 ? 0 : 8), 8);
    return (m >> (4 * j + t % 4)) & 1 ? -v : v;
}

herd_status ki_pack(herd_type ty, const kpack_src *s, void *panel)
{
    if (s->src.type != ty)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "cannot pack %s weights as %s: herd computes with %s blocks a file "
                         "holds but does not quantize to them",
                         herd_type_name(s->src.type), herd_type_name(ty), herd_type_name(ty));
    const iq_info *I = iq_info_get(ty);
    const int64_t nsb = s->k / 256;
    const int gpc = KI_GPC(ty), hb = KI_HB(ty);
    const size_t hb_bytes = ki_hdr_bytes(ty), cb = ki_chunk_bytes(ty);
    uint8_t *hdr = panel, *codes = (uint8_t *)panel + ki_hdr_section(ty, s->k);
    iq_block b;
    for (int r = 0; r < s->rows; r++) {
        const uint8_t *row = kpack_row_raw(s, r);
        for (int64_t sb = 0; sb < nsb; sb++) {
            iq_decode(I, row + (size_t)sb * (size_t)I->bytes, &b);
            uint8_t *h = hdr + (size_t)sb * hb_bytes;
            h[2 * r] = (uint8_t)b.d16;
            h[2 * r + 1] = (uint8_t)(b.d16 >> 8);
            for (int j = 0; j < KI_NSUB(ty); j++)
                h[32 + 16 * j + r] = b.sc[j];
            for (int c = 0; c < 8; c++) {
                uint8_t *chunk = codes + ((size_t)sb * 8 + (size_t)c) * cb;
                uint8_t *hi = chunk + 16 * gpc, *sgn = hi + ki_hi_bytes(ty);
                unsigned hv = 0;
                for (int g = 0; g < gpc; g++) {
                    unsigned idx = b.idx[c * gpc + g];
                    chunk[16 * g + r] = (uint8_t)idx;
                    hv |= (idx >> 8) << (hb * g);
                    if (KI_IQ1(ty))
                        hv |= (unsigned)b.dneg[c * gpc + g] << (12 + g);
                }
                if (KI_IQ1(ty)) {
                    hi[2 * r] = (uint8_t)hv;
                    hi[2 * r + 1] = (uint8_t)(hv >> 8);
                } else if (hb) {
                    hi[r] = (uint8_t)hv;
                }
                if (!KI_IQ1(ty))
                    for (int q = 0; q < 4; q++)
                        for (int t = 0; t < 8; t++)
                            if ((b.sign[4 * c + q] >> t) & 1) {
                                uint8_t *m = sgn + 16 * q + (t < 4 ? 0 : 8);
                                int bit = 4 * r + t % 4;
                                m[bit / 8] |= (uint8_t)(1u << (bit % 8));
                            }
            }
        }
    }
    return HERD_OK;
}

static float f16_at(const uint8_t *p)
{
    return herd_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

void ki_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w)
{
    const uint8_t *h = panel + (size_t)b * ki_hdr_bytes(ty);
    const uint8_t *c = panel + ki_hdr_section(ty, k) + (size_t)b * 8u * ki_chunk_bytes(ty);
    const float scale = 1.0f / (float)(1 << KI_DSHIFT(ty));
    for (int j = 0; j < KI_NR; j++) {
        const float d = f16_at(h + 2 * j) * scale; /* d' (exact) */
        for (int e = 0; e < 256; e++) {
            /* ggml's order: (d'·sc)·q, each product rounded (no contraction) */
            float dl = d * (float)h[32 + 16 * (e / KI_SUB(ty)) + j];
            w[e * KI_NR + j] = dl * (float)ki_q(ty, c, j, e);
        }
    }
}

void ki_unpack(herd_type ty, const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    float w[256 * KI_NR];
    for (int64_t b = 0; b < k / 256; b++) {
        ki_decode_f32(ty, panel, k, b, w);
        for (int j = 0; j < rows; j++)
            for (int e = 0; e < 256; e++)
                dst[(size_t)j * ldd + (size_t)b * 256 + (size_t)e] = w[e * KI_NR + j];
    }
}

/* ---- A ------------------------------------------------------------------------------------ */

size_t ki_aprep_bytes(herd_type ty, int64_t k)
{
    return (size_t)(k / 256) * ki_arec_bytes(ty);
}

void ki_aprep(herd_type ty, const float *a, int64_t k, void *dst)
{
    for (int64_t b = 0; b < k / 256; b++) /* the K-quant record without its raw sums */
        kk_arec_fill(a + b * 256, 256, KI_SUB(ty), KI_QOFF, false,
                     (uint8_t *)dst + (size_t)b * ki_arec_bytes(ty));
}

/* ---- the per-type entry points of the kfamily tables -------------------------------------- */
#define KI_DEFINE_TYPE_FNS(id, TY)                                                                 \
    size_t ki_panel_bytes_##id(int64_t k)                                                          \
    {                                                                                              \
        return ki_panel_bytes(TY, k);                                                              \
    }                                                                                              \
    herd_status ki_pack_##id(const kpack_src *s, void *panel)                                      \
    {                                                                                              \
        return ki_pack(TY, s, panel);                                                              \
    }                                                                                              \
    void ki_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd)            \
    {                                                                                              \
        ki_unpack(TY, panel, k, rows, dst, ldd);                                                   \
    }                                                                                              \
    size_t ki_a_bytes_##id(int64_t k)                                                              \
    {                                                                                              \
        return ki_aprep_bytes(TY, k);                                                              \
    }                                                                                              \
    void ki_a_prep_##id(const float *a, int64_t k, void *dst)                                      \
    {                                                                                              \
        ki_aprep(TY, a, k, dst);                                                                   \
    }
KI_EACH_TYPE(KI_DEFINE_TYPE_FNS)
