/* Private to src/formats: the parameters of each MX element type and the AVX-512 twins of the
 * row codecs in mx.c. */
#ifndef HERD_FORMATS_MX_INTERNAL_H
#define HERD_FORMATS_MX_INTERNAL_H

#include "herd/formats.h"

#include <string.h>

/* An FP element with m mantissa bits and minimum normal exponent emin is, in units of its
 * smallest step 2^(emin-m), the integer code*: ((E - 1) << m) + (2^m + M) for E > 0, M for
 * E = 0. So the magnitude code of a value with private exponent pe = max(floor(log2|v|), emin)
 * and rounded mantissa q = round(|v| * 2^(m-pe)) in [0, 2^(m+1)] is ((pe - emin) << m) + q,
 * and saturation is min(code, max_code). INT8 fits the same mould with m = 6, emin = emax = 0. */
typedef struct mx_params {
    herd_mx_format fmt;
    const char *name;
    int bits;         /* element bits: 8, 6 or 4 */
    int mbits;        /* explicit mantissa bits (INT8: 6 fraction bits) */
    int emin;         /* exponent of the smallest normal (1 - bias); INT8: 0 */
    int emax;         /* emax_elem: exponent of the largest normal */
    int bias;         /* exponent bias (INT8: unused) */
    unsigned max_mag; /* largest finite magnitude code (E4M3 0x7E, E5M2 0x7B, INT8 127) */
    int block_bytes;  /* 33, 25 or 17 */
    bool is_int;
} mx_params;

const mx_params *herd_mx_params(herd_mx_format f);

static inline uint32_t mx_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float mx_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* 2^e as float32 for e in [-149, 127], exactly (denormals included). */
static inline float mx_pow2f(int e)
{
    return e >= -126 ? mx_bits_f32((uint32_t)(e + 127) << 23) : mx_bits_f32(1u << (e + 149));
}

/* The E8M0 scale byte for a block whose largest |x| has float32 bits amax (finite):
 * floor(log2(amax)) - emax_elem, clamped to -127; an all-zero block takes log2(2^-126) as
 * microxcaling does (so 0x00 for FP types, 0x01 for INT8). */
static inline uint8_t mx_scale_of_amax(const mx_params *p, uint32_t amax)
{
    int e;
    if (amax == 0)
        e = -126;
    else if (amax >= 0x00800000u)
        e = (int)(amax >> 23) - 127;
    else
        e = (31 - __builtin_clz(amax)) - 149; /* float32 denormal */
    int se = e - p->emax;
    return (uint8_t)((se < -127 ? -127 : se) + 127); /* finite input never exceeds 127 */
}

#define MX_NAN_BITS 0x7fc00000u /* the quiet NaN microxcaling produces */

/* AVX-512 (mx_avx512.c) and AVX2 (mx_avx2.c) row codecs: whole blocks only; results identical
 * to mx.c byte for byte. */
void herd_mx_quantize_avx2(const mx_params *p, herd_mx_rounding r, const float *src, uint8_t *dst,
                           size_t nblocks);
void herd_mx_dequantize_avx2(const mx_params *p, const uint8_t *src, float *dst, size_t nblocks);
void herd_mx_quantize_avx512(const mx_params *p, herd_mx_rounding r, const float *src, uint8_t *dst,
                             size_t nblocks);
void herd_mx_dequantize_avx512(const mx_params *p, const uint8_t *src, float *dst, size_t nblocks);

#endif
