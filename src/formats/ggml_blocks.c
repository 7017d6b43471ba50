/* ggml's Q8_0 and Q4_0 blocks (so GGUF files interoperate) and herd's symmetric int8 rows.
 *
 * block_q8_0: fp16 d, int8 qs[32]          (34 bytes); value = qs[j] * d
 * block_q4_0: fp16 d, uint8 qs[16]         (18 bytes); value = (nibble - 8) * d, element j
 *             in the low nibble of qs[j], element j+16 in the high nibble
 * int8 row:   f32 scale, int8 q[n]         (n + 4 bytes); value = q[j] * scale
 * The quantizers follow ggml's reference ones (same d, same rounding), written so that NaN or
 * Inf input cannot reach an undefined float-to-int conversion. */
#include "herd/formats.h"

#include <math.h>
#include <string.h>

enum { QK = 32, Q8_0_BYTES = 34, Q4_0_BYTES = 18 };

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

/* Copies block b of a row of n into a zero-padded buffer of 32. */
static const float *block_in(const float *src, size_t n, size_t b, float pad[QK])
{
    if ((b + 1) * QK <= n)
        return src + b * QK;
    memset(pad, 0, QK * sizeof(float));
    memcpy(pad, src + b * QK, (n - b * QK) * sizeof(float));
    return pad;
}

/* float -> int in [lo, hi], NaN -> 0; v is rounded by the caller. */
static int clamp_int(float v, int lo, int hi)
{
    if (!(v == v))
        return 0;
    return v <= (float)lo ? lo : v >= (float)hi ? hi : (int)v;
}

void herd_q8_0_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float pad[QK];
    for (size_t b = 0; b * QK < n; b++, out += Q8_0_BYTES) {
        const float *x = block_in(src, n, b, pad);
        float amax = 0;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(out, d);
        for (int j = 0; j < QK; j++)
            out[2 + j] = (uint8_t)(int8_t)clamp_int(roundf(x[j] * id), -127, 127);
    }
}

void herd_q8_0_dequantize(const void *src, float *dst, size_t n)
{
    const uint8_t *in = src;
    for (size_t b = 0; b * QK < n; b++, in += Q8_0_BYTES) {
        float d = get_f16(in);
        for (size_t j = 0; j < QK && b * QK + j < n; j++)
            dst[b * QK + j] = (float)(int8_t)in[2 + j] * d;
    }
}

void herd_q4_0_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float pad[QK];
    for (size_t b = 0; b * QK < n; b++, out += Q4_0_BYTES) {
        const float *x = block_in(src, n, b, pad);
        float amax = 0, max = 0; /* the value of largest magnitude, with its sign */
        for (int j = 0; j < QK; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(out, d);
        for (int j = 0; j < QK / 2; j++) {
            int lo = clamp_int(x[j] * id + 8.5f, 0, 15);
            int hi = clamp_int(x[j + 16] * id + 8.5f, 0, 15);
            out[2 + j] = (uint8_t)(lo | hi << 4);
        }
    }
}

void herd_q4_0_dequantize(const void *src, float *dst, size_t n)
{
    const uint8_t *in = src;
    for (size_t b = 0; b * QK < n; b++, in += Q4_0_BYTES) {
        float d = get_f16(in);
        for (size_t j = 0; j < QK / 2; j++) {
            if (b * QK + j < n)
                dst[b * QK + j] = (float)((in[2 + j] & 15) - 8) * d;
            if (b * QK + j + 16 < n)
                dst[b * QK + j + 16] = (float)((in[2 + j] >> 4) - 8) * d;
        }
    }
}

void herd_int8_row_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float amax = 0;
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(src[j])) {
            amax = NAN;
            break;
        }
        amax = fmaxf(amax, fabsf(src[j]));
    }
    float scale = amax / 127.0f;
    memcpy(out, &scale, 4);
    for (size_t j = 0; j < n; j++)
        out[4 + j] =
            scale > 0 ? (uint8_t)(int8_t)clamp_int(nearbyintf(src[j] / scale), -127, 127) : 0;
}

void herd_int8_row_dequantize(const void *src, float *dst, size_t n)
{
    const uint8_t *in = src;
    float scale;
    memcpy(&scale, in, 4);
    for (size_t j = 0; j < n; j++)
        dst[j] = (float)(int8_t)in[4 + j] * scale;
}
