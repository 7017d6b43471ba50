/* Packing, unpacking and scalar decoding of the block-quantized weight families (layout in
 * quant.h), and the per-block int8 quantization of A. Plain C, shared by every ISA. */
#include "kernels/quant.h"

#include <math.h>
#include <string.h>

static const kq_type kq_types[] = {
    {HERD_TYPE_Q8_0, true, 8, true, 0, 0, 0, 0},
    {HERD_TYPE_Q4_0, true, 4, true, 0, 0, 0, 0},
    {HERD_TYPE_MXFP4, true, 4, false, 1, 0, 0, 0},
    {HERD_TYPE_MXFP6_E2M3, true, 6, false, 3, 0, 0, 0},
    {HERD_TYPE_MXINT8, true, 8, false, 6, 0, 0, 0},
    {HERD_TYPE_MXFP8_E4M3, false, 8, false, 0, 4, 3, 7},
    {HERD_TYPE_MXFP8_E5M2, false, 8, false, 0, 5, 2, 15},
    {HERD_TYPE_MXFP6_E3M2, false, 6, false, 0, 3, 2, 3},
};

const kq_type *kq_type_get(herd_type t)
{
    for (size_t i = 0; i < sizeof kq_types / sizeof kq_types[0]; i++)
        if (kq_types[i].type == t)
            return &kq_types[i];
    return NULL;
}

size_t kq_panel_bytes(const kq_type *T, int64_t k)
{
    return kq_scale_section(T, k) + (size_t)(k / KQ_BLOCK) * kq_payload_bytes(T->bits);
}

/* 2 × E2M1, the integers MXFP4 codes stand for (ggml's kvalues_mxfp4). */
static const int8_t fp4_x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

int kq_int_value(const kq_type *T, unsigned code)
{
    switch (T->type) {
    case HERD_TYPE_Q4_0: return (int)code - 8;
    case HERD_TYPE_MXFP4: return fp4_x2[code & 15];
    case HERD_TYPE_MXFP6_E2M3: {
        /* 8 × E2M3: e = 0 gives m, e >= 1 gives (8 + m) << (e - 1). */
        unsigned mag = code & 31, e = mag >> 3, m = mag & 7;
        int v = e == 0 ? (int)m : (int)((8 + m) << (e - 1));
        return code & 32 ? -v : v;
    }
    default: return (int)code - 128; /* Q8_0, MXINT8: stored as int8 + 128 */
    }
}

float kq_fp_value(const kq_type *T, unsigned code)
{
    unsigned mb = (unsigned)T->mbits, eb = (unsigned)T->ebits;
    unsigned m = code & ((1u << mb) - 1), e = (code >> mb) & ((1u << eb) - 1);
    float v = e == 0 ? ldexpf((float)m, 1 - T->bias - (int)mb)
                     : ldexpf((float)(m + (1u << mb)), (int)e - T->bias - (int)mb);
    return (code >> (mb + eb)) & 1 ? -v : v;
}

float kq_scale(const kq_type *T, const uint8_t *scales, int64_t b, int j)
{
    size_t i = (size_t)b * KQ_NR + (size_t)j;
    if (T->fp16_scale)
        return herd_f16_to_f32((uint16_t)(scales[2 * i] | scales[2 * i + 1] << 8));
    return ldexpf(1.0f, (int)scales[i] - 127 - T->shift);
}

void kq_decode_f32(const kq_type *T, const uint8_t *panel, int64_t k, int64_t b, float *w)
{
    const uint8_t *pl = panel + kq_scale_section(T, k) + (size_t)b * kq_payload_bytes(T->bits);
    for (int j = 0; j < KQ_NR; j++) {
        float s = kq_scale(T, panel, b, j);
        for (int kk = 0; kk < KQ_BLOCK; kk++) {
            unsigned c = kq_code(pl, T->bits, kq_pos(T, j, kk));
            float v = T->is_int ? (float)kq_int_value(T, c) : kq_fp_value(T, c);
            if (v == 0 && (T->type == HERD_TYPE_MXFP4 ? c == 8 : T->bits == 6 && c == 32))
                v = -0.0f;             /* keep the sign of an FP4/FP6 -0 code */
            w[kk * KQ_NR + j] = v * s; /* exact: few significant bits times a power of two */
        }
    }
}

void kq_unpack(const kq_type *T, const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    float w[KQ_BLOCK * KQ_NR];
    for (int64_t b = 0; b < k / KQ_BLOCK; b++) {
        kq_decode_f32(T, panel, k, b, w);
        for (int j = 0; j < rows; j++)
            for (int kk = 0; kk < KQ_BLOCK; kk++)
                dst[(size_t)j * ldd + (size_t)b * KQ_BLOCK + (size_t)kk] = w[kk * KQ_NR + j];
    }
}

/* ---- packing ------------------------------------------------------------------------------ */

static void put_code(uint8_t *pl, int bits, int p, unsigned c)
{
    if (bits == 8) {
        pl[p] = (uint8_t)c;
        return;
    }
    int G = p >> 6, o = p & 63;
    pl[64 * (G & 3) + o] |= (uint8_t)((c & 15) << (G < 4 ? 0 : 4));
    if (bits == 6)
        pl[256 + 64 * (G >> 2) + o] |= (uint8_t)(((c >> 4) & 3) << (2 * (G & 3)));
}

/* Splits one source block (the type's own bytes) into scale bytes and 32 codes; returns a
 * static description of what is wrong with it, or NULL. */
static const char *parse_block(const kq_type *T, const uint8_t *src, uint8_t scale[2],
                               unsigned codes[KQ_BLOCK])
{
    const uint8_t *q = src + (T->fp16_scale ? 2 : 1);
    scale[0] = src[0];
    scale[1] = T->fp16_scale ? src[1] : 0;
    if (!T->fp16_scale && src[0] == 0xFF)
        return "NaN block scale (E8M0 0xFF)";
    switch (T->type) {
    case HERD_TYPE_Q8_0:
    case HERD_TYPE_MXINT8:
        for (int i = 0; i < KQ_BLOCK; i++)
            codes[i] = q[i] ^ 0x80u;
        return NULL;
    case HERD_TYPE_Q4_0:
    case HERD_TYPE_MXFP4:
        for (int i = 0; i < 16; i++) {
            codes[i] = q[i] & 15u;
            codes[i + 16] = q[i] >> 4;
        }
        return NULL;
    case HERD_TYPE_MXFP6_E2M3:
    case HERD_TYPE_MXFP6_E3M2:
        for (int g = 0; g < 8; g++) {
            uint32_t w = q[3 * g] | (uint32_t)q[3 * g + 1] << 8 | (uint32_t)q[3 * g + 2] << 16;
            for (int i = 0; i < 4; i++)
                codes[4 * g + i] = (w >> (6 * i)) & 63u;
        }
        return NULL;
    case HERD_TYPE_MXFP8_E4M3:
        for (int i = 0; i < KQ_BLOCK; i++) {
            codes[i] = q[i];
            if ((q[i] & 0x7F) == 0x7F)
                return "NaN element (E4M3 0x7F/0xFF)";
        }
        return NULL;
    case HERD_TYPE_MXFP8_E5M2:
        for (int i = 0; i < KQ_BLOCK; i++) {
            codes[i] = q[i];
            if ((q[i] & 0x7C) == 0x7C)
                return "Inf or NaN element (E5M2 exponent 31)";
        }
        return NULL;
    default: return "not a block-quantized type";
    }
}

herd_status kq_pack(const kq_type *T, const kpack_src *s, void *panel)
{
    const int64_t k = s->k, nb = k / KQ_BLOCK;
    const int bb = herd_type_get(T->type)->block_bytes, sb = T->fp16_scale ? 2 : 1;
    uint8_t *scales = panel, *payload = (uint8_t *)panel + kq_scale_section(T, k);
    const size_t pbytes = kq_payload_bytes(T->bits);
    uint8_t *native = NULL;
    if (s->src.type != T->type) {
        native = herd_alloc(herd_type_row_bytes(T->type, (size_t)k), "packing scratch");
        if (!native)
            return HERD_ERR_NOMEM;
    }
    herd_status st = HERD_OK;
    for (int r = 0; r < s->rows && !st; r++) {
        const uint8_t *row = native;
        if (native) {
            st = kpack_row_f32(s, r, s->row);
            if (!st)
                st = herd_row_from_f32(T->type, s->row, native, (size_t)k);
        } else {
            row = kpack_row_raw(s, r);
        }
        for (int64_t b = 0; b < nb && !st; b++) {
            uint8_t sc[2];
            unsigned codes[KQ_BLOCK];
            const char *bad = parse_block(T, row + (size_t)b * (size_t)bb, sc, codes);
            if (bad) {
                st =
                    herd_fail(HERD_ERR_FORMAT, "herd_pack: %s weight row %lld, block %lld: %s",
                              herd_type_name(T->type), (long long)(s->row0 + r), (long long)b, bad);
                break;
            }
            memcpy(scales + ((size_t)b * KQ_NR + (size_t)r) * (size_t)sb, sc, (size_t)sb);
            uint8_t *pl = payload + (size_t)b * pbytes;
            for (int kk = 0; kk < KQ_BLOCK; kk++)
                put_code(pl, T->bits, kq_pos(T, r, kk), codes[kk]);
        }
    }
    /* Rows past N stay zero bytes: whatever they decode to, the driver drops them. */
    herd_free(native);
    return st;
}

/* ---- A for the int family ----------------------------------------------------------------- */

size_t kq_aprep_i8_bytes(int64_t k)
{
    return (size_t)(k / KQ_BLOCK) * KQ_AREC + sizeof(float);
}

void kq_aprep_i8(const float *a, int64_t k, void *dst)
{
    const int64_t nb = k / KQ_BLOCK;
    float amax = 0;
    for (int64_t i = 0; i < nb * KQ_BLOCK; i++)
        amax = fmaxf(amax, fabsf(a[i]));
    const float inv = amax > 0 ? 127.0f / amax : 0.0f, s = amax / 127.0f;
    for (int64_t b = 0; b < nb; b++) {
        const float *x = a + b * KQ_BLOCK;
        uint8_t *rec = (uint8_t *)dst + b * KQ_AREC;
        float bmax = 0;
        for (int i = 0; i < KQ_BLOCK; i++)
            bmax = fmaxf(bmax, fabsf(x[i]));
        int j = kq_a_shift(bmax, amax);
        float f = inv * ldexpf(1.0f, j);
        int32_t sum = 0;
        for (int i = 0; i < KQ_BLOCK; i++) {
            float v = nearbyintf(x[i] * f);
            v = v > 127.0f ? 127.0f : v >= -127.0f ? v : -127.0f; /* NaN -> -127 */
            rec[i] = (uint8_t)(int8_t)v;
            sum += (int32_t)v;
        }
        int32_t jbits = -(j << 23), corr = -128 * sum;
        memcpy(rec + 32, &jbits, 4);
        memcpy(rec + 36, &corr, 4);
    }
    memcpy((uint8_t *)dst + nb * KQ_AREC, &s, sizeof s);
}

/* ---- the per-type entry points of the kfamily tables -------------------------------------- */
#define KQ_DEFINE_TYPE_FNS(id, TY)                                                                 \
    size_t kq_panel_bytes_##id(int64_t k)                                                          \
    {                                                                                              \
        return kq_panel_bytes(kq_type_get(TY), k);                                                 \
    }                                                                                              \
    herd_status kq_pack_##id(const kpack_src *s, void *panel)                                      \
    {                                                                                              \
        return kq_pack(kq_type_get(TY), s, panel);                                                 \
    }                                                                                              \
    void kq_unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd)            \
    {                                                                                              \
        kq_unpack(kq_type_get(TY), panel, k, rows, dst, ldd);                                      \
    }
KQ_EACH_TYPE(KQ_DEFINE_TYPE_FNS)
