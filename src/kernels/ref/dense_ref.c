/* Plain C twins of the dense families (F32, F16, BF16, INT8): the oracle for the tests and
 * the kernels of HERD_ISA=ref. Panel layout: nr weight rows of K elements, row after row (INT8:
 * then nr f32 scales). Each output is one sequential fmaf chain over k, the order the vector
 * kernels use per lane, so float results match them bit for bit. */
#include "kernels/family.h"

#include <math.h>
#include <string.h>

enum { NR = 8, MR = 4 };

static size_t f32_bytes(int64_t k)
{
    return (size_t)k * NR * sizeof(float);
}
static size_t h16_bytes(int64_t k)
{
    return (size_t)k * NR * sizeof(uint16_t);
}
static size_t i8_bytes(int64_t k)
{
    return (size_t)k * NR + NR * sizeof(float);
}

static herd_status f32_pack(const kpack_src *s, void *panel)
{
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, (float *)panel + (size_t)r * (size_t)s->k);
        if (st)
            return st;
    }
    return HERD_OK;
}

static herd_status h16_pack(const kpack_src *s, void *panel, bool bf16)
{
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        uint16_t *d = (uint16_t *)panel + (size_t)r * (size_t)s->k;
        for (int64_t i = 0; i < s->k; i++)
            d[i] = bf16 ? herd_f32_to_bf16(s->row[i]) : herd_f32_to_f16(s->row[i]);
    }
    return HERD_OK;
}
static herd_status f16_pack(const kpack_src *s, void *panel)
{
    return h16_pack(s, panel, false);
}
static herd_status bf16_pack(const kpack_src *s, void *panel)
{
    return h16_pack(s, panel, true);
}

static herd_status i8_pack(const kpack_src *s, void *panel)
{
    float *scale = (float *)((int8_t *)panel + (size_t)s->k * NR);
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        scale[r] = kquant_i8_row(s->row, s->k, (int8_t *)panel + (size_t)r * (size_t)s->k);
    }
    return HERD_OK;
}

static void f32_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + r * ldd, (const float *)panel + (size_t)r * (size_t)k,
               (size_t)k * sizeof(float));
}
static void f16_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    for (int r = 0; r < rows; r++)
        herd_f16_to_f32_row((const uint16_t *)panel + (size_t)r * (size_t)k, dst + r * ldd,
                            (size_t)k);
}
static void bf16_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    for (int r = 0; r < rows; r++)
        herd_bf16_to_f32_row((const uint16_t *)panel + (size_t)r * (size_t)k, dst + r * ldd,
                             (size_t)k);
}
static void i8_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    const float *scale = (const float *)((const int8_t *)panel + (size_t)k * NR);
    for (int r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++)
            dst[r * ldd + (size_t)i] =
                (float)((const int8_t *)panel)[(size_t)r * (size_t)k + (size_t)i] * scale[r];
}

/* Weight element i of a panel row as f32. */
static float w_f32(const void *row, int64_t i)
{
    return ((const float *)row)[i];
}
static float w_f16(const void *row, int64_t i)
{
    return herd_f16_to_f32(((const uint16_t *)row)[i]);
}
static float w_bf16(const void *row, int64_t i)
{
    return herd_bf16_to_f32(((const uint16_t *)row)[i]);
}
static float w_i8(const void *row, int64_t i)
{
    return (float)((const int8_t *)row)[i];
}

static void tile_float(const ktile *t, size_t esize, float (*w)(const void *, int64_t),
                       const float *scale)
{
    for (int m = 0; m < t->m; m++) {
        const float *a = (const float *)((const uint8_t *)t->a + (size_t)m * t->a_stride);
        for (int n = 0; n < NR; n++) {
            const void *row = (const uint8_t *)t->b + (size_t)n * (size_t)t->k * esize;
            float s = 0;
            for (int64_t i = 0; i < t->k; i++)
                s = fmaf(a[i], w(row, i), s);
            t->c[m * NR + n] = scale ? s * scale[n] : s;
        }
    }
}

static void f32_tile(const ktile *t)
{
    tile_float(t, 4, w_f32, NULL);
}
static void f16_tile(const ktile *t)
{
    tile_float(t, 2, w_f16, NULL);
}
static void bf16_tile(const ktile *t)
{
    tile_float(t, 2, w_bf16, NULL);
}
static void i8_tile_exact(const ktile *t)
{
    tile_float(t, 1, w_i8, (const float *)((const int8_t *)t->b + (size_t)t->k * NR));
}

/* AUTO int8: A quantized per row (kaprep_u8), exact int32 dot, then (float)acc · (sa · sw). */
static void i8_tile(const ktile *t)
{
    const float *scale = (const float *)((const int8_t *)t->b + (size_t)t->k * NR);
    for (int m = 0; m < t->m; m++) {
        const uint8_t *arow = (const uint8_t *)t->a + (size_t)m * t->a_stride;
        float sa;
        memcpy(&sa, arow, sizeof sa);
        const uint8_t *q = arow + KAPREP_I8_HDR;
        for (int n = 0; n < NR; n++) {
            const int8_t *wr = (const int8_t *)t->b + (size_t)n * (size_t)t->k;
            int32_t acc = 0;
            for (int64_t i = 0; i < t->k; i++)
                acc += ((int32_t)q[i] - 128) * wr[i];
            t->c[m * NR + n] = (float)acc * (sa * scale[n]);
        }
    }
}

const kfamily kfam_f32_ref = {
    .name = "f32.ref",
    .type = HERD_TYPE_F32,
    .isa = HERD_ISA_REF,
    .mr = MR,
    .nr = NR,
    .panel_bytes = f32_bytes,
    .pack = f32_pack,
    .unpack = f32_unpack,
    .a_desc = "f32",
    .tile = f32_tile,
    .epilogue = kepi_ref,
};
const kfamily kfam_f16_ref = {
    .name = "f16.ref",
    .type = HERD_TYPE_F16,
    .isa = HERD_ISA_REF,
    .mr = MR,
    .nr = NR,
    .panel_bytes = h16_bytes,
    .pack = f16_pack,
    .unpack = f16_unpack,
    .a_desc = "f32",
    .tile = f16_tile,
    .epilogue = kepi_ref,
};
const kfamily kfam_bf16_ref = {
    .name = "bf16.ref",
    .type = HERD_TYPE_BF16,
    .isa = HERD_ISA_REF,
    .mr = MR,
    .nr = NR,
    .panel_bytes = h16_bytes,
    .pack = bf16_pack,
    .unpack = bf16_unpack,
    .a_desc = "f32",
    .tile = bf16_tile,
    .epilogue = kepi_ref,
};
const kfamily kfam_int8_ref = {
    .name = "int8.ref",
    .type = HERD_TYPE_INT8,
    .isa = HERD_ISA_REF,
    .mr = MR,
    .nr = NR,
    .panel_bytes = i8_bytes,
    .pack = i8_pack,
    .unpack = i8_unpack,
    .a_row_bytes = kaprep_i8_bytes,
    .a_prep = kaprep_u8,
    .a_desc = "u8 per-row (q+128)",
    .tile = i8_tile,
    .tile_exact = i8_tile_exact,
    .epilogue = kepi_ref,
};
