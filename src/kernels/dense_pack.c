/* Packing for the x86 dense families (layout in dense.h). */
#include "kernels/dense.h"

#include <string.h>

size_t kdense_panel_bytes(kdense_type type, int nr, int64_t k)
{
    size_t per_k = type == KD_F32 ? 4 : type == KD_I8 ? 1 : 2;
    return (size_t)k * (size_t)nr * per_k + (type == KD_I8 ? (size_t)nr * 4 : 0);
}

herd_status kdense_pack(const kpack_src *s, void *panel, kdense_type type, int nr)
{
    uint8_t *p = panel;
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        const float *x = s->row;
        if (type == KD_I8) {
            int8_t *q = (int8_t *)(s->row + s->k);
            float sc = kquant_i8_row(x, s->k, q);
            memcpy(p + (size_t)s->k * (size_t)nr + (size_t)r * 4, &sc, 4);
            for (int64_t k = 0; k < s->k; k++)
                ((int8_t *)p)[(size_t)k * (size_t)nr + (size_t)r] = q[k];
            continue;
        }
        for (int64_t k = 0; k < s->k; k++) {
            size_t at = (size_t)k * (size_t)nr + (size_t)r;
            if (type == KD_F32)
                ((float *)p)[at] = x[k];
            else if (type == KD_F16)
                ((uint16_t *)p)[at] = herd_f32_to_f16(x[k]);
            else
                ((uint16_t *)p)[at] = herd_f32_to_bf16(x[k]);
        }
    }
    return HERD_OK;
}

void kdense_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd, kdense_type type,
                   int nr)
{
    const uint8_t *p = panel;
    for (int r = 0; r < rows; r++) {
        float sc = 1;
        if (type == KD_I8)
            memcpy(&sc, p + (size_t)k * (size_t)nr + (size_t)r * 4, 4);
        for (int64_t i = 0; i < k; i++) {
            size_t at = (size_t)i * (size_t)nr + (size_t)r;
            float v = type == KD_F32    ? ((const float *)p)[at]
                      : type == KD_F16  ? herd_f16_to_f32(((const uint16_t *)p)[at])
                      : type == KD_BF16 ? herd_bf16_to_f32(((const uint16_t *)p)[at])
                                        : (float)((const int8_t *)p)[at] * sc;
            dst[r * ldd + (size_t)i] = v;
        }
    }
}
