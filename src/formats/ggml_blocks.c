/* ggml's Q8_0, Q4_0 and Q8_K blocks, so GGUF files interoperate (herd's int8 rows: scaled_rows.c).
 *
 * block_q8_0: fp16 d, int8 qs[32]          (34 bytes); value = qs[j] * d
 * block_q4_0: fp16 d, uint8 qs[16]         (18 bytes); value = (nibble - 8) * d, element j
 *             in the low nibble of qs[j], element j+16 in the high nibble
 * block_q8_K: f32 d, int8 qs[256], int16 bsums[16] (292 bytes); value = qs[j] * d, bsums the
 *             sums of 16 consecutive qs (ggml's dot products use them; herd recomputes them)
 * The quantizers follow ggml's reference ones (same d, same rounding), written so that NaN or
 * Inf input cannot reach an undefined float-to-int conversion. */
#include "herd/formats.h"

#include <math.h>
#include <string.h>

enum { QK = 32, Q8_0_BYTES = 34, Q4_0_BYTES = 18, QKK = 256, Q8_K_BYTES = 292 };

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

/* ggml's quantize_row_q8_K_ref: d = -max/127 where max is the value of largest magnitude (so d
 * takes the opposite sign), q = round-even(x · (-127/max)) capped at 127. A block with a NaN
 * or Inf gets d = NaN and zero codes (ggml's would convert NaN to int). */
void herd_q8_k_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float x[QKK];
    for (size_t b = 0; b * QKK < n; b++, out += Q8_K_BYTES) {
        size_t len = n - b * QKK < QKK ? n - b * QKK : QKK;
        memset(x, 0, sizeof x);
        memcpy(x, src + b * QKK, len * sizeof(float));
        float amax = 0, max = 0;
        bool finite = true;
        for (int j = 0; j < QKK; j++) {
            finite = finite && isfinite(x[j]);
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        float iscale = finite && amax > 0 ? -127.0f / max : 0.0f;
        float d = !finite ? NAN : amax > 0 ? 1.0f / iscale : 0.0f;
        memcpy(out, &d, 4);
        int8_t *q = (int8_t *)(out + 4);
        for (int j = 0; j < QKK; j++)
            q[j] = (int8_t)clamp_int(nearbyintf(iscale * x[j]), -128, 127);
        for (int g = 0; g < QKK / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += q[16 * g + j];
            out[4 + QKK + 2 * g] = (uint8_t)(sum & 255);
            out[4 + QKK + 2 * g + 1] = (uint8_t)((sum >> 8) & 255);
        }
    }
}

void herd_q8_k_dequantize(const void *src, float *dst, size_t n)
{
    const uint8_t *in = src;
    for (size_t b = 0; b * QKK < n; b++, in += Q8_K_BYTES) {
        float d;
        memcpy(&d, in, 4);
        for (size_t j = 0; j < QKK && b * QKK + j < n; j++)
            dst[b * QKK + j] = d * (float)(int8_t)in[4 + j];
    }
}
