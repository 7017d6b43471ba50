/* Packing, unpacking and decoding of the K/i-quant families (layout in kquant.h), and the
 * per-super-block int8 quantization of A. Plain C, shared by every ISA. */
#include "kernels/kquant.h"

#include <math.h>

size_t kk_panel_bytes(herd_type ty, int64_t k)
{
    return kk_hdr_section(ty, k) + (size_t)(k / KK_ELEMS(ty)) * kk_code_bytes(ty);
}

static void put_code(herd_type ty, uint8_t *oct, int p, unsigned c)
{
    const int G = p >> 6, o = p & 63, bits = KK_BITS(ty);
    if (bits == 2 || bits == 3) {
        oct[64 * (G >> 2) + o] |= (uint8_t)((c & 3) << (2 * (G & 3)));
        if (bits == 3)
            oct[128 + o] |= (uint8_t)(((c >> 2) & 1) << G);
        return;
    }
    oct[64 * (G & 3) + o] |= (uint8_t)((c & 15) << (G < 4 ? 0 : 4));
    if (bits == 5)
        oct[256 + o] |= (uint8_t)(((c >> 4) & 1) << G);
    if (bits == 6)
        oct[256 + 64 * (G >> 2) + o] |= (uint8_t)(((c >> 4) & 3) << (2 * (G & 3)));
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = herd_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}
static float get_f16(const uint8_t *p)
{
    return herd_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

herd_status kk_pack(herd_type ty, const kpack_src *s, void *panel)
{
    const kb_info *I = kb_info_get(ty);
    const int64_t k = s->k, nsb = k / I->elems;
    const size_t hb = kk_hdr_bytes(ty), cb = kk_code_bytes(ty);
    uint8_t *hdr = panel, *codes = (uint8_t *)panel + kk_hdr_section(ty, k);
    uint8_t *native = NULL;
    if (s->src.type != ty) {
        native = herd_alloc(herd_type_row_bytes(ty, (size_t)k), "packing scratch");
        if (!native)
            return HERD_ERR_NOMEM;
    }
    herd_status st = HERD_OK;
    kb_block b;
    for (int r = 0; r < s->rows && !st; r++) {
        const uint8_t *row = native;
        if (native) {
            st = kpack_row_f32(s, r, s->row);
            if (!st)
                herd_kq_quantize(ty, s->row, native, (size_t)k);
        } else {
            row = kpack_row_raw(s, r);
        }
        for (int64_t sb = 0; sb < nsb && !st; sb++) {
            kb_decode(I, row + (size_t)sb * (size_t)I->bytes, &b);
            uint8_t *h = hdr + (size_t)sb * hb;
            /* fp16 scales go through f32 and back: exact (they came from fp16) */
            put_f16(h + 2 * r, b.d);
            if (I->has_min)
                put_f16(h + kk_off_dmin(ty) + 2 * r, b.dmin);
            for (int j = 0; j < I->elems / I->sub; j++) {
                if (KK_HAS_SC(ty))
                    h[kk_off_sc(ty) + 16 * (size_t)j + (size_t)r] = (uint8_t)b.sc[j];
                if (I->has_min)
                    h[kk_off_m(ty) + 16 * (size_t)j + (size_t)r] = b.m[j];
            }
            uint8_t *c = codes + (size_t)sb * cb;
            for (int e = 0; e < I->elems; e++)
                put_code(ty, c + (size_t)(e / 32) * 64 * (size_t)I->bits,
                         64 * ((e % 32) / 4) + 4 * r + (e % 4), b.code[e]);
        }
    }
    herd_free(native);
    return st;
}

void kk_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w)
{
    const int elems = KK_ELEMS(ty), sub = KK_SUB(ty);
    const uint8_t *h = panel + (size_t)b * kk_hdr_bytes(ty);
    const uint8_t *c = panel + kk_hdr_section(ty, k) + (size_t)b * kk_code_bytes(ty);
    for (int j = 0; j < KK_NR; j++) {
        float d = get_f16(h + 2 * j),
              dmin = KK_HAS_MIN(ty) ? get_f16(h + kk_off_dmin(ty) + 2 * j) : 0;
        for (int e = 0; e < elems; e++) {
            int s = e / sub;
            int sc = KK_HAS_SC(ty) ? (int8_t)h[kk_off_sc(ty) + 16 * (size_t)s + (size_t)j] : 1;
            int m = KK_HAS_MIN(ty) ? h[kk_off_m(ty) + 16 * (size_t)s + (size_t)j] : 0;
            unsigned code = kk_code(ty, c + (size_t)(e / 32) * 64 * KK_BITS(ty),
                                    64 * ((e % 32) / 4) + 4 * j + (e % 4));
            /* ggml's order: (d·sc)·q − dmin·m, each product rounded (no contraction) */
            float dl = d * (float)sc, ml = dmin * (float)m;
            w[e * KK_NR + j] = dl * (float)kk_q(ty, code) - ml;
        }
    }
}

void kk_unpack(herd_type ty, const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    const int elems = KK_ELEMS(ty);
    float w[256 * KK_NR];
    for (int64_t b = 0; b < k / elems; b++) {
        kk_decode_f32(ty, panel, k, b, w);
        for (int j = 0; j < rows; j++)
            for (int e = 0; e < elems; e++)
                dst[(size_t)j * ldd + (size_t)b * (size_t)elems + (size_t)e] = w[e * KK_NR + j];
    }
}

/* ---- A ------------------------------------------------------------------------------------ */

size_t kk_aprep_bytes(herd_type ty, int64_t k)
{
    return (size_t)(k / KK_ELEMS(ty)) * kk_arec_bytes(ty);
}

void kk_arec_fill(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec)
{
    const int ns = elems / sub;
    float amax = 0;
    for (int i = 0; i < elems; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    /* ggml's Q8_K (Q8_0 for 32) to the bit: its iscale is −127/max (max = the value of largest
     * magnitude), so qa = round-even(x·127/amax) is its code times −sign(max) (Q8_0: equal) */
    float inv = amax > 0 ? 127.0f / amax : 0.0f, da = kk_arec_scale(amax, inv, elems);
    memcpy(rec + elems, &da, 4);
    for (int s = 0; s < ns; s++) {
        int32_t sum = 0;
        for (int i = s * sub; i < (s + 1) * sub; i++) {
            float v = nearbyintf(x[i] * inv);
            v = v > 127.0f ? 127.0f : v >= -127.0f ? v : -127.0f; /* NaN -> -127 */
            rec[i] = (uint8_t)(int8_t)v;
            sum += (int32_t)v;
        }
        int32_t corr = -qoff * sum;
        memcpy(rec + elems + 4 + 4 * s, &corr, 4);
        if (sums)
            memcpy(rec + elems + 4 + 4 * (ns + s), &sum, 4);
    }
}

void kk_aprep(herd_type ty, const float *a, int64_t k, void *dst)
{
    const int elems = KK_ELEMS(ty);
    for (int64_t b = 0; b < k / elems; b++)
        kk_arec_fill(a + b * elems, elems, KK_SUB(ty), KK_QOFF(ty), true,
                     (uint8_t *)dst + (size_t)b * kk_arec_bytes(ty));
}

/* ---- the per-type entry points of the kfamily tables -------------------------------------- */
#define KK_DEFINE_TYPE_FNS(id, TY)                                                                 \
    size_t kk_panel_bytes_##id(int64_t k)                                                          \
    {                                                                                              \
        return kk_panel_bytes(TY, k);                                                              \
    }                                                                                              \
    herd_status kk_pack_##id(const kpack_src *s, void *panel)                                      \
    {                                                                                              \
        return kk_pack(TY, s, panel);                                                              \
    }                                                                                              \
    void kk_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd)            \
    {                                                                                              \
        kk_unpack(TY, panel, k, rows, dst, ldd);                                                   \
    }                                                                                              \
    size_t kk_a_bytes_##id(int64_t k)                                                              \
    {                                                                                              \
        return kk_aprep_bytes(TY, k);                                                              \
    }                                                                                              \
    void kk_a_prep_##id(const float *a, int64_t k, void *dst)                                      \
    {                                                                                              \
        kk_aprep(TY, a, k, dst);                                                                   \
    }
KK_EACH_TYPE(KK_DEFINE_TYPE_FNS)
