/* Packing, unpacking and decoding of the Q8_K family (layout in q8k.h), and its A
 * preparation. Plain C, shared by every ISA. */
#include "kernels/q8k.h"

enum { Q8K_BYTES = 292 };

size_t k8_panel_bytes(int64_t k)
{
    return k8_d_section(k) + (size_t)(k / K8_ELEMS) * K8_CODES;
}

herd_status k8_pack(const kpack_src *s, void *panel)
{
    const int64_t k = s->k, nsb = k / K8_ELEMS;
    uint8_t *dsec = panel, *codes = (uint8_t *)panel + k8_d_section(k);
    uint8_t *native = NULL;
    if (s->src.type != HERD_TYPE_Q8_K) {
        native = herd_alloc(herd_type_row_bytes(HERD_TYPE_Q8_K, (size_t)k), "packing scratch");
        if (!native)
            return HERD_ERR_NOMEM;
    }
    herd_status st = HERD_OK;
    for (int r = 0; r < s->rows && !st; r++) {
        const uint8_t *row = native;
        if (native) {
            st = kpack_row_f32(s, r, s->row);
            if (!st)
                herd_q8_k_quantize(s->row, native, (size_t)k);
        } else {
            row = kpack_row_raw(s, r);
        }
        for (int64_t sb = 0; sb < nsb && !st; sb++) {
            const uint8_t *blk = row + (size_t)sb * Q8K_BYTES;
            memcpy(dsec + ((size_t)sb * K8_NR + (size_t)r) * 4, blk, 4);
            uint8_t *c = codes + (size_t)sb * K8_CODES;
            for (int e = 0; e < K8_ELEMS; e++)
                c[64 * (e / 4) + 4 * r + e % 4] = blk[4 + e] ^ 0x80;
        }
    }
    herd_free(native);
    return st;
}

void k8_decode_f32(herd_type ty, const uint8_t *panel, int64_t k, int64_t b, float *w)
{
    (void)ty;
    const uint8_t *c = panel + k8_d_section(k) + (size_t)b * K8_CODES;
    float d[K8_NR];
    memcpy(d, panel + (size_t)b * K8_NR * 4, sizeof d);
    for (int e = 0; e < K8_ELEMS; e++)
        for (int j = 0; j < K8_NR; j++)
            w[e * K8_NR + j] = d[j] * (float)((int)c[64 * (e / 4) + 4 * j + e % 4] - 128);
}

void k8_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    float w[K8_ELEMS * K8_NR];
    for (int64_t b = 0; b < k / K8_ELEMS; b++) {
        k8_decode_f32(HERD_TYPE_Q8_K, panel, k, b, w);
        for (int j = 0; j < rows; j++)
            for (int e = 0; e < K8_ELEMS; e++)
                dst[(size_t)j * ldd + (size_t)b * K8_ELEMS + (size_t)e] = w[e * K8_NR + j];
    }
}

size_t k8_aprep_bytes(int64_t k)
{
    return (size_t)(k / K8_ELEMS) * K8_AREC;
}

void k8_aprep(const float *a, int64_t k, void *dst)
{
    for (int64_t b = 0; b < k / K8_ELEMS; b++)
        kk_arec_fill(a + b * K8_ELEMS, K8_ELEMS, K8_ELEMS, 128, false,
                     (uint8_t *)dst + (size_t)b * K8_AREC);
}
