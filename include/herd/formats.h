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
    HERD_TYPE_INT8,       /* int8 rows, one f32 scale per row (symmetric, fbgemm per-channel):
                           * a row is the f32 scale, then n int8 (n + 4 bytes) */
    HERD_TYPE_FP8_E4M3,   /* FP8 E4M3 rows, one f32 scale per row (fbgemm_fp8, Meta's FP8
                           * checkpoints): a row is the f32 scale, then n E4M3 codes (n + 4) */
    HERD_TYPE_MXFP8_E4M3, /* MX blocks: E8M0 scale + 32 elements (spec/mx.md section 8) */
    HERD_TYPE_MXFP8_E5M2,
    HERD_TYPE_MXFP6_E3M2,
    HERD_TYPE_MXFP6_E2M3,
    HERD_TYPE_MXFP4, /* byte-identical to ggml block_mxfp4 (17 bytes) */
    HERD_TYPE_MXINT8,
    /* ggml's K-quants and i-quants (super-blocks of 256 values, IQ4_NL blocks of 32): the
     * layouts are ggml's byte for byte (src/formats/kblocks.h) */
    HERD_TYPE_Q2_K,
    HERD_TYPE_Q3_K,
    HERD_TYPE_Q4_K,
    HERD_TYPE_Q5_K,
    HERD_TYPE_Q6_K,
    HERD_TYPE_IQ4_NL,
    HERD_TYPE_IQ4_XS,
    /* ggml's grid i-quants (src/formats/iqblocks.h): computed with, not written */
    HERD_TYPE_IQ3_S,
    HERD_TYPE_IQ3_XXS,
    HERD_TYPE_IQ2_XXS,
    HERD_TYPE_IQ2_XS,
    HERD_TYPE_IQ2_S,
    HERD_TYPE_IQ1_S,
    HERD_TYPE_IQ1_M,
    /* ggml's ternary types: value d·t, t in {−1, 0, 1} (TQ2_0 codes also allow 2) */
    HERD_TYPE_TQ1_0,
    HERD_TYPE_TQ2_0,
    /* ggml's block_q8_K: f32 d, int8 qs[256], int16 bsums[16] (292 bytes), value d·q: the
     * activation type of ggml's K-quant dot products, computed with where a file holds it */
    HERD_TYPE_Q8_K,
    HERD_TYPE_COUNT
} herd_type;

typedef struct herd_type_info {
    const char *name; /* "f32", "bf16", "q8_0", "mxfp4", ... */
    int block_elems;  /* elements per block along a row (1 for plain types) */
    int block_bytes;  /* bytes per block */
} herd_type_info;
const herd_type_info *herd_type_get(herd_type t);
const char *herd_type_name(herd_type t);
/* Case-insensitive; also takes the MX format names ("mxfp4_e2m1" for mxfp4). */
bool herd_type_parse(const char *name, herd_type *out);
/* Every type name, space-separated, for "valid: ..." in error messages. */
const char *herd_type_names(void);
/* Bytes of one row of n elements. A partial last block takes a whole (zero-padded) block;
 * HERD_TYPE_INT8 and HERD_TYPE_FP8_E4M3 rows carry their f32 scale first (n + 4 bytes). */
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
/* Quantizes one row of n float32 to type t (even rounding for MX types); writes
 * herd_type_row_bytes(t, n) bytes. */
herd_status herd_row_from_f32(herd_type t, const float *src, void *dst, size_t n);

/* ---- MX (OCP Microscaling v1.0), docs/formats.md ------------------------------------------
 * A block is one E8M0 scale byte X followed by 32 element codes P_i; value_i = 2^(X-127) * P_i.
 * Blocks run along a row (the last axis); a partial last block is padded with zeros. Records
 * (spec/mx.md section 8): FP8/INT8 33 bytes (code i at byte 1+i); FP6 25 bytes (each 4 codes
 * c0..c3 as the little-endian 24-bit word c0|c1<<6|c2<<12|c3<<18); FP4 17 bytes, ggml
 * block_mxfp4 order (byte 1+j = code j | code j+16 << 4).
 * Quantization is exact OCP arithmetic (scale = floor(log2 amax) - emax_elem, clamped to
 * -127; elements rounded, then saturated to max normal) with microxcaling's conventions: an
 * all-zero block gets scale 2^-127 (2^-126 for INT8), a block holding Inf or NaN gets the NaN
 * scale 0xFF (all 32 values decode to NaN), -0.0 quantizes to +0. */
enum { HERD_MX_BLOCK = 32, HERD_E8M0_NAN = 0xFF };

typedef enum herd_mx_format {
    HERD_MX_FP8_E4M3 = 0,
    HERD_MX_FP8_E5M2,
    HERD_MX_FP6_E3M2,
    HERD_MX_FP6_E2M3,
    HERD_MX_FP4_E2M1,
    HERD_MX_INT8,
    HERD_MX_FORMAT_COUNT
} herd_mx_format;

typedef enum herd_mx_rounding {
    HERD_MX_ROUND_EVEN = 0, /* round half to even: OCP, the default */
    HERD_MX_ROUND_AWAY,     /* round half away from zero: microxcaling's "nearest" */
} herd_mx_rounding;

/* "mxfp8_e4m3" "mxfp8_e5m2" "mxfp6_e3m2" "mxfp6_e2m3" "mxfp4_e2m1" "mxint8" */
const char *herd_mx_format_name(herd_mx_format f);
/* Case-insensitive; also takes the type names ("mxfp4" for mxfp4_e2m1). */
bool herd_mx_format_parse(const char *name, herd_mx_format *out);
herd_type herd_mx_format_type(herd_mx_format f);               /* HERD_TYPE_MXFP8_E4M3, ... */
bool herd_mx_format_of_type(herd_type t, herd_mx_format *out); /* false if t is not MX */
int herd_mx_block_bytes(herd_mx_format f);                     /* 33, 25 or 17 */
size_t herd_mx_row_bytes(herd_mx_format f, size_t n);          /* ceil(n/32) records */
float herd_mx_max_normal(herd_mx_format f);                    /* 448, 57344, 28, 7.5, 6, 127/64 */

/* E8M0: 2^(e-127), e = 0..254 (e = 0 is the float32 denormal 2^-127); 0xFF is NaN. */
float herd_e8m0_to_f32(uint8_t e);
/* The scale byte OCP/microxcaling choose for n (<= 32) values; 0xFF if any is Inf or NaN. */
uint8_t herd_mx_block_scale(herd_mx_format f, const float *x, size_t n);
/* One element: v is already divided by the block scale. Rounds, saturates to +-max normal
 * (Inf too); NaN gives the NaN code of FP8 and code 0 for the formats that have none. The
 * result of a negative v that rounds to zero is -0 (FP) or 0 (INT8). */
uint8_t herd_mx_encode(herd_mx_format f, float v, herd_mx_rounding r);
float herd_mx_decode(herd_mx_format f, uint8_t code); /* INT8 0x80 decodes to -2.0 */

/* A row of n floats -> herd_mx_row_bytes(f, n) bytes of records, and back. Runs the AVX-512
 * path when herd_isa() allows it; both paths give identical bytes. */
void herd_mx_quantize(herd_mx_format f, herd_mx_rounding r, const float *src, void *dst, size_t n);
void herd_mx_dequantize(herd_mx_format f, const void *src, float *dst, size_t n);
/* Quantize and dequantize in one go (what microxcaling's _quantize_mx returns): like
 * dequantize(quantize(x)), except that an INT8 element of a negative input that rounds to
 * zero is -0.0, as in microxcaling. */
void herd_mx_cast(herd_mx_format f, herd_mx_rounding r, const float *src, float *dst, size_t n);

/* One record <-> its scale byte and 32 right-aligned element codes. */
void herd_mx_pack_block(herd_mx_format f, uint8_t scale, const uint8_t codes[HERD_MX_BLOCK],
                        void *record);
void herd_mx_unpack_block(herd_mx_format f, const void *record, uint8_t *scale,
                          uint8_t codes[HERD_MX_BLOCK]);

/* OCP Dot of two records: X_a * X_b * sum_i P_a[i] * P_b[i], summed exactly in integers and
 * rounded once to double (NaN if either scale is NaN). */
double herd_mx_block_dot(herd_mx_format f, const void *a, const void *b);
/* OCP DotGeneral of two rows of n elements: the exact block dots added in block order in
 * double. */
double herd_mx_dot(herd_mx_format f, const void *a, const void *b, size_t n);

/* ---- ggml blocks and int8 rows ------------------------------------------------------------
 * Q8_0: fp16 d = amax/127, q = round(x/d). Q4_0: d = m/-8 where m is the value of largest
 * magnitude, q = clamp(trunc(x/d + 8.5), 0, 15), value (q-8)*d, nibbles in j/j+16 order.
 * Both match ggml's reference quantizers. INT8 rows: scale = amax/127 (f32), q = round-even
 * (x/scale) in [-127, 127]; a row with Inf/NaN gets a NaN scale. Rows may end in a partial
 * block (zero-padded). */
void herd_q8_0_quantize(const float *src, void *dst, size_t n);
void herd_q8_0_dequantize(const void *src, float *dst, size_t n);
void herd_q4_0_quantize(const float *src, void *dst, size_t n);
void herd_q4_0_dequantize(const void *src, float *dst, size_t n);
void herd_int8_row_quantize(const float *src, void *dst, size_t n); /* n + 4 bytes */
void herd_int8_row_dequantize(const void *src, float *dst, size_t n);
/* FP8 E4M3 rows as fbgemm's quantize_fp8_per_row writes them: scale = amax/448 (f32), codes =
 * round-even(x/scale) saturated to +-448 (OCP E4M3, the MX element codec); a row with Inf/NaN
 * gets a NaN scale, an all-zero row scale 0 and zero codes. Dequantization is code × scale. */
void herd_fp8_row_quantize(const float *src, void *dst, size_t n); /* n + 4 bytes */
void herd_fp8_row_dequantize(const void *src, float *dst, size_t n);
/* Q8_K rows (ggml's block_q8_K): the quantizer is ggml's reference one (d = −max/127 with the
 * sign of the value of largest magnitude, q = round-even(x/d) ≤ 127, bsums the sums of 16 q);
 * dequantization is d·q, ggml's dequantize_row_q8_K. */
void herd_q8_k_quantize(const float *src, void *dst, size_t n);
void herd_q8_k_dequantize(const void *src, float *dst, size_t n);
/* K/i-quant rows (t = HERD_TYPE_Q2_K .. HERD_TYPE_IQ4_XS, TQ1_0, TQ2_0): dequantization gives
 * ggml's floats bit for bit; the quantizer is ours (sub-block scale search, weighted least
 * squares). */
void herd_kq_quantize(herd_type t, const float *src, void *dst, size_t n);
void herd_kq_dequantize(herd_type t, const void *src, float *dst, size_t n);
/* Grid i-quant rows (HERD_TYPE_IQ3_S .. HERD_TYPE_IQ1_M): ggml's floats bit for bit. herd has
 * no quantizer for them: herd_row_from_f32 fails with HERD_ERR_UNSUPPORTED. */
void herd_iq_dequantize(herd_type t, const void *src, float *dst, size_t n);
/* False for the types herd reads and computes with but does not write (the grid i-quants). */
bool herd_type_can_quantize(herd_type t);

#ifdef __cplusplus
}
#endif
#endif
