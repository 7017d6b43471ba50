/* MX block formats: the plain C reference of scale selection, element codecs, record packing,
 * row quantize/dequantize and exact block dot products. mx_avx512.c is the fast twin of the
 * row codecs; tests check that the two agree byte for byte. See docs/formats.md. */
#include "mx_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

static const mx_params mx_table[HERD_MX_FORMAT_COUNT] = {
    /* fmt, name, bits, mbits, emin, emax, bias, max_mag, block_bytes, is_int */
    {HERD_MX_FP8_E4M3, "mxfp8_e4m3", 8, 3, -6, 8, 7, 0x7e, 33, false},
    {HERD_MX_FP8_E5M2, "mxfp8_e5m2", 8, 2, -14, 15, 15, 0x7b, 33, false},
    {HERD_MX_FP6_E3M2, "mxfp6_e3m2", 6, 2, -2, 4, 3, 0x1f, 25, false},
    {HERD_MX_FP6_E2M3, "mxfp6_e2m3", 6, 3, 0, 2, 1, 0x1f, 25, false},
    {HERD_MX_FP4_E2M1, "mxfp4_e2m1", 4, 1, 0, 2, 1, 0x7, 17, false},
    {HERD_MX_INT8, "mxint8", 8, 6, 0, 0, 0, 127, 33, true},
};

const mx_params *herd_mx_params(herd_mx_format f)
{
    return &mx_table[(unsigned)f < HERD_MX_FORMAT_COUNT ? f : 0];
}

const char *herd_mx_format_name(herd_mx_format f)
{
    return (unsigned)f < HERD_MX_FORMAT_COUNT ? mx_table[f].name : "?";
}

bool herd_mx_format_parse(const char *name, herd_mx_format *out)
{
    for (int i = 0; i < HERD_MX_FORMAT_COUNT; i++)
        if (strcasecmp(name, mx_table[i].name) == 0) {
            *out = (herd_mx_format)i;
            return true;
        }
    herd_type t;
    return herd_type_parse(name, &t) && herd_mx_format_of_type(t, out);
}

herd_type herd_mx_format_type(herd_mx_format f)
{
    return (herd_type)(HERD_TYPE_MXFP8_E4M3 + (int)f);
}

bool herd_mx_format_of_type(herd_type t, herd_mx_format *out)
{
    if (t < HERD_TYPE_MXFP8_E4M3 || t > HERD_TYPE_MXINT8)
        return false;
    *out = (herd_mx_format)(t - HERD_TYPE_MXFP8_E4M3);
    return true;
}

int herd_mx_block_bytes(herd_mx_format f)
{
    return herd_mx_params(f)->block_bytes;
}

size_t herd_mx_row_bytes(herd_mx_format f, size_t n)
{
    return (n + HERD_MX_BLOCK - 1) / HERD_MX_BLOCK * (size_t)herd_mx_block_bytes(f);
}

float herd_mx_max_normal(herd_mx_format f)
{
    return herd_mx_decode(f, (uint8_t)herd_mx_params(f)->max_mag);
}

/* ---- scale and elements ------------------------------------------------------------------- */

float herd_e8m0_to_f32(uint8_t e)
{
    return e == HERD_E8M0_NAN ? mx_bits_f32(MX_NAN_BITS) : mx_pow2f((int)e - 127);
}

uint8_t herd_mx_block_scale(herd_mx_format f, const float *x, size_t n)
{
    uint32_t amax = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = mx_f32_bits(x[i]) & 0x7fffffffu;
        if (a >= 0x7f800000u)
            return HERD_E8M0_NAN; /* Inf or NaN anywhere: the whole block is NaN */
        if (a > amax)
            amax = a;
    }
    return mx_scale_of_amax(herd_mx_params(f), amax);
}

/* Rounds k >= 0 (exact, < 2^24) to an integer: half to even or half away from zero. */
static inline uint32_t round_mode(float k, herd_mx_rounding r)
{
    uint32_t t = (uint32_t)k;
    float frac = k - (float)t; /* exact */
    /* Bitwise, not ||: the ties and halves of random data would defeat a branch predictor. */
    uint32_t up = (uint32_t)(frac > 0.5f) |
                  ((uint32_t)(frac == 0.5f) & ((uint32_t)(r == HERD_MX_ROUND_AWAY) | (t & 1)));
    return t + up;
}

/* One finite element v (already divided by the block scale). Inf saturates too. */
static inline uint8_t encode_elem(const mx_params *p, float v, herd_mx_rounding r)
{
    float a = fabsf(v);
    bool neg = v < 0; /* -0.0 gives +0, as microxcaling's sign(v) does */
    if (p->is_int) {
        uint32_t q = a >= 2.0f ? 127 : round_mode(a * 64.0f, r);
        if (q > 127)
            q = 127;
        return (uint8_t)(neg ? -(int32_t)q : (int32_t)q);
    }
    uint32_t sign = neg ? 1u << (p->bits - 1) : 0;
    int pe = (int)(mx_f32_bits(a) >> 23) - 127;
    if (pe > p->emax) /* |v| >= 2^(emax+1) > max normal: saturate */
        return (uint8_t)(sign | p->max_mag);
    if (pe < p->emin)
        pe = p->emin;
    uint32_t q = round_mode(a * mx_pow2f(p->mbits - pe), r);
    uint32_t mag = ((uint32_t)(pe - p->emin) << p->mbits) + q;
    if (mag > p->max_mag)
        mag = p->max_mag;
    return (uint8_t)(sign | mag);
}

uint8_t herd_mx_encode(herd_mx_format f, float v, herd_mx_rounding r)
{
    const mx_params *p = herd_mx_params(f);
    if (isnan(v)) /* E4M3 S.1111.111, E5M2 S.11111.11; FP6, FP4 and INT8 have no NaN */
        return p->bits == 8 && !p->is_int ? 0x7f : 0;
    return encode_elem(p, v, r);
}

static inline float decode_elem(const mx_params *p, uint8_t code)
{
    if (p->is_int)
        return (float)(int8_t)code * 0x1p-6f;
    unsigned mag = code & ((1u << (p->bits - 1)) - 1);
    bool neg = (code >> (p->bits - 1)) & 1;
    float v;
    if (p->fmt == HERD_MX_FP8_E4M3 && mag == 0x7f)
        v = NAN;
    else if (p->fmt == HERD_MX_FP8_E5M2 && mag >= 0x7c)
        v = mag == 0x7c ? INFINITY : NAN;
    else {
        unsigned e = mag >> p->mbits, m = mag & ((1u << p->mbits) - 1);
        /* In units of the smallest step 2^(emin - mbits), see mx_internal.h. */
        uint32_t units = e ? (m | 1u << p->mbits) << (e - 1) : m;
        v = (float)units * mx_pow2f(p->emin - p->mbits);
    }
    return neg ? -v : v;
}

float herd_mx_decode(herd_mx_format f, uint8_t code)
{
    return decode_elem(herd_mx_params(f), code);
}

/* ---- records ------------------------------------------------------------------------------ */

void herd_mx_pack_block(herd_mx_format f, uint8_t scale, const uint8_t codes[HERD_MX_BLOCK],
                        void *record)
{
    uint8_t *out = record;
    out[0] = scale;
    switch (herd_mx_params(f)->bits) {
    case 8: memcpy(out + 1, codes, HERD_MX_BLOCK); break;
    case 6:
        for (int g = 0; g < 8; g++) {
            const uint8_t *c = codes + 4 * g;
            uint32_t w = (uint32_t)(c[0] & 63) | (uint32_t)(c[1] & 63) << 6 |
                         (uint32_t)(c[2] & 63) << 12 | (uint32_t)(c[3] & 63) << 18;
            out[1 + 3 * g] = (uint8_t)w;
            out[2 + 3 * g] = (uint8_t)(w >> 8);
            out[3 + 3 * g] = (uint8_t)(w >> 16);
        }
        break;
    default:
        for (int j = 0; j < 16; j++)
            out[1 + j] = (uint8_t)((codes[j] & 15) | (codes[j + 16] & 15) << 4);
        break;
    }
}

void herd_mx_unpack_block(herd_mx_format f, const void *record, uint8_t *scale,
                          uint8_t codes[HERD_MX_BLOCK])
{
    const uint8_t *in = record;
    *scale = in[0];
    switch (herd_mx_params(f)->bits) {
    case 8: memcpy(codes, in + 1, HERD_MX_BLOCK); break;
    case 6:
        for (int g = 0; g < 8; g++) {
            const uint8_t *b = in + 1 + 3 * g;
            uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
            for (int i = 0; i < 4; i++)
                codes[4 * g + i] = (uint8_t)((w >> (6 * i)) & 63);
        }
        break;
    default:
        for (int j = 0; j < 16; j++) {
            codes[j] = in[1 + j] & 15;
            codes[j + 16] = in[1 + j] >> 4;
        }
        break;
    }
}

/* ---- rows: the reference path ------------------------------------------------------------- */

/* One block of n <= 32 values (the rest are zero padding) into its record. */
static void quantize_block(herd_mx_format f, herd_mx_rounding r, const float *x, size_t n,
                           uint8_t *record)
{
    const mx_params *p = herd_mx_params(f);
    uint8_t codes[HERD_MX_BLOCK] = {0};
    uint8_t scale = herd_mx_block_scale(f, x, n);
    if (scale != HERD_E8M0_NAN) {
        /* v = x / X in float32, as microxcaling divides: exact unless v underflows, and an
         * underflowed v is far below half the smallest element step (only its sign shows). */
        float inv = mx_pow2f(127 - (int)scale);
        for (size_t i = 0; i < n; i++)
            codes[i] = encode_elem(p, x[i] * inv, r);
    }
    herd_mx_pack_block(f, scale, codes, record);
}

/* decode_elem of every code, built once: the reference path's dequantizer looks values up. */
static float decode_tab[HERD_MX_FORMAT_COUNT][256];
static pthread_once_t decode_once = PTHREAD_ONCE_INIT;

static void build_decode_tab(void)
{
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        for (unsigned c = 0; c < 256; c++)
            decode_tab[f][c] =
                decode_elem(&mx_table[f], (uint8_t)(c & ((1u << mx_table[f].bits) - 1)));
}

static void dequantize_block(herd_mx_format f, const uint8_t *record, float *y, size_t n)
{
    uint8_t scale, codes[HERD_MX_BLOCK];
    herd_mx_unpack_block(f, record, &scale, codes);
    float x = herd_e8m0_to_f32(scale);
    if (scale == HERD_E8M0_NAN) {
        for (size_t i = 0; i < n; i++)
            y[i] = x;
        return;
    }
    const float *tab = decode_tab[f];
    for (size_t i = 0; i < n; i++)
        y[i] = tab[codes[i]] * x;
}

void herd_mx_quantize(herd_mx_format f, herd_mx_rounding r, const float *src, void *dst, size_t n)
{
    const mx_params *p = herd_mx_params(f);
    uint8_t *out = dst;
    size_t full = n / HERD_MX_BLOCK, b = 0;
    herd_isa_level isa = full ? herd_isa() : HERD_ISA_REF;
    if (isa >= HERD_ISA_AVX512) {
        herd_mx_quantize_avx512(p, r, src, out, full);
        b = full;
    } else if (isa >= HERD_ISA_AVX2) {
        herd_mx_quantize_avx2(p, r, src, out, full);
        b = full;
    }
    for (; b * HERD_MX_BLOCK < n; b++) {
        size_t len = n - b * HERD_MX_BLOCK < HERD_MX_BLOCK ? n - b * HERD_MX_BLOCK : HERD_MX_BLOCK;
        quantize_block(f, r, src + b * HERD_MX_BLOCK, len, out + b * (size_t)p->block_bytes);
    }
}

void herd_mx_dequantize(herd_mx_format f, const void *src, float *dst, size_t n)
{
    const mx_params *p = herd_mx_params(f);
    const uint8_t *in = src;
    size_t full = n / HERD_MX_BLOCK, b = 0;
    pthread_once(&decode_once, build_decode_tab);
    herd_isa_level isa = full ? herd_isa() : HERD_ISA_REF;
    if (isa >= HERD_ISA_AVX512) {
        herd_mx_dequantize_avx512(p, in, dst, full);
        b = full;
    } else if (isa >= HERD_ISA_AVX2) {
        herd_mx_dequantize_avx2(p, in, dst, full);
        b = full;
    }
    for (; b * HERD_MX_BLOCK < n; b++) {
        size_t len = n - b * HERD_MX_BLOCK < HERD_MX_BLOCK ? n - b * HERD_MX_BLOCK : HERD_MX_BLOCK;
        dequantize_block(f, in + b * (size_t)p->block_bytes, dst + b * HERD_MX_BLOCK, len);
    }
}

void herd_mx_cast(herd_mx_format f, herd_mx_rounding r, const float *src, float *dst, size_t n)
{
    enum { CHUNK = 64 * HERD_MX_BLOCK };
    uint8_t records[CHUNK / HERD_MX_BLOCK * 33];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t len = n - i < CHUNK ? n - i : CHUNK;
        herd_mx_quantize(f, r, src + i, records, len);
        herd_mx_dequantize(f, records, dst + i, len);
        if (f != HERD_MX_INT8)
            continue;
        /* INT8 codes have no -0; microxcaling keeps the sign of x/X on a zero result. */
        for (size_t j = 0; j < len; j++) {
            if (dst[i + j] != 0.0f)
                continue;
            float inv = mx_pow2f(127 - (int)records[j / HERD_MX_BLOCK * 33]);
            if (src[i + j] * inv < 0)
                dst[i + j] = -0.0f;
        }
    }
}

/* ---- exact dot products ------------------------------------------------------------------- */

/* Element value in units of the smallest step 2^(emin - mbits); false for Inf/NaN codes. */
static bool code_units(const mx_params *p, uint8_t code, int64_t *units)
{
    if (p->is_int) {
        *units = (int8_t)code;
        return true;
    }
    unsigned mag = code & ((1u << (p->bits - 1)) - 1);
    if ((p->fmt == HERD_MX_FP8_E4M3 && mag == 0x7f) || (p->fmt == HERD_MX_FP8_E5M2 && mag >= 0x7c))
        return false;
    unsigned e = mag >> p->mbits, m = mag & ((1u << p->mbits) - 1);
    int64_t u = e ? (int64_t)(m | 1u << p->mbits) << (e - 1) : (int64_t)m;
    *units = (code >> (p->bits - 1)) & 1 ? -u : u;
    return true;
}

double herd_mx_block_dot(herd_mx_format f, const void *a, const void *b)
{
    const mx_params *p = herd_mx_params(f);
    uint8_t sa, sb, ca[HERD_MX_BLOCK], cb[HERD_MX_BLOCK];
    herd_mx_unpack_block(f, a, &sa, ca);
    herd_mx_unpack_block(f, b, &sb, cb);
    if (sa == HERD_E8M0_NAN || sb == HERD_E8M0_NAN)
        return NAN;
    /* E5M2 products reach 2^63.6 units and 32 of them 2^68.6: sum in 128 bits. */
    __int128 sum = 0;
    for (int i = 0; i < HERD_MX_BLOCK; i++) {
        int64_t ua, ub;
        if (!code_units(p, ca[i], &ua) || !code_units(p, cb[i], &ub)) {
            /* Inf/NaN element codes (foreign data only): plain IEEE arithmetic. */
            double s = 0;
            for (int j = 0; j < HERD_MX_BLOCK; j++)
                s += (double)herd_mx_decode(f, ca[j]) * herd_mx_decode(f, cb[j]);
            return s * ldexp(1.0, (int)sa + (int)sb - 254);
        }
        sum += (__int128)ua * ub;
    }
    int shift = (int)sa + (int)sb - 254 + 2 * (p->emin - p->mbits);
    return ldexp((double)sum, shift);
}

double herd_mx_dot(herd_mx_format f, const void *a, const void *b, size_t n)
{
    size_t bytes = (size_t)herd_mx_block_bytes(f);
    double s = 0;
    for (size_t i = 0; i * HERD_MX_BLOCK < n; i++)
        s += herd_mx_block_dot(f, (const uint8_t *)a + i * bytes, (const uint8_t *)b + i * bytes);
    return s;
}
