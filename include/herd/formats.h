/* herd number formats: fp16/bf16, the MX element codecs and block (de)quantization, int8, and
 * ggml-compatible blocks. One table (herd_type_info) describes every tensor type. */
#ifndef HERD_FORMATS_H
#define HERD_FORMATS_H

#include "herd/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor storage types. Names (herd_type_name) are the ones `herd quantize --type` takes. */
typedef enum herd_type {
    HERD_TYPE_F32 = 0,
    HERD_TYPE_F16,
    HERD_TYPE_BF16,
    HERD_TYPE_Q8_0,       /* ggml block_q8_0: fp16 scale + 32 int8 (34 bytes) */
    HERD_TYPE_Q4_0,       /* ggml block_q4_0: fp16 scale + 32 nibbles, offset 8 (18 bytes) */
    HERD_TYPE_INT8,       /* int8 rows, one f32 scale per row (symmetric, fbgemm per-channel) */
    HERD_TYPE_MXFP8_E4M3, /* MX blocks: E8M0 scale + 32 elements (spec/mx.md section 8) */
    HERD_TYPE_MXFP8_E5M2,
    HERD_TYPE_MXFP6_E3M2,
    HERD_TYPE_MXFP6_E2M3,
    HERD_TYPE_MXFP4, /* byte-identical to ggml block_mxfp4 (17 bytes) */
    HERD_TYPE_MXINT8,
    HERD_TYPE_COUNT
} herd_type;

typedef struct herd_type_info {
    const char *name; /* "f32", "bf16", "q8_0", "mxfp4", ... */
    int block_elems;  /* elements per block along a row (1 for plain types) */
    int block_bytes;  /* bytes per block */
} herd_type_info;
const herd_type_info *herd_type_get(herd_type t);
const char *herd_type_name(herd_type t);
bool herd_type_parse(const char *name, herd_type *out);
/* Bytes of one row of n elements (n a multiple of the block size for block types). */
size_t herd_type_row_bytes(herd_type t, size_t n);

/* ---- fp16 / bf16 (round to nearest even, NaN kept quiet) --------------------------------- */
static inline float herd_bf16_to_f32(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {.u = (uint32_t)h << 16};
    return v.f;
}
uint16_t herd_f32_to_bf16(float f);
float herd_f16_to_f32(uint16_t h);
uint16_t herd_f32_to_f16(float f);
void herd_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void herd_f16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void herd_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);

/* Converts one row of n elements of type t to float32 (every type in the table). */
herd_status herd_row_to_f32(herd_type t, const void *src, float *dst, size_t n);
/* Quantizes one row of n float32 to type t (even rounding for MX types). */
herd_status herd_row_from_f32(herd_type t, const float *src, void *dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif
