/* Rows with one f32 scale each, amax over the format's largest value:
 * - INT8 rows (scale amax/127, codes round-even), herd's per-row int8 activations;
 * - FP8 E4M3 rows (scale amax/448): the weight layout of fbgemm's FP8 rowwise GEMM, in which
 *   Meta released Llama 4 Maverick (quant_method "fbgemm_fp8"). The codes are OCP E4M3
 *   (float8_e4m3fn: no Inf, 0x7F/0xFF NaN, max 448), the same elements as MXFP8 E4M3, so the
 *   MX element codec does the rounding.
 * A row holding an Inf or NaN gets a NaN scale and zero codes. */
#include "herd/formats.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static float e4m3_value[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
    for (int c = 0; c < 256; c++)
        e4m3_value[c] = herd_mx_decode(HERD_MX_FP8_E4M3, (uint8_t)c);
}

/* The largest |x| of the row, NaN if any element is not finite. */
static float row_amax(const float *src, size_t n)
{
    float amax = 0;
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(src[j]))
            return NAN;
        amax = fmaxf(amax, fabsf(src[j]));
    }
    return amax;
}

void herd_int8_row_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float scale = row_amax(src, n) / 127.0f;
    memcpy(out, &scale, 4);
    for (size_t j = 0; j < n; j++)
        out[4 + j] =
            scale > 0 ? (uint8_t)(int8_t)fminf(fmaxf(nearbyintf(src[j] / scale), -127), 127) : 0;
}

void herd_int8_row_dequantize(const void *src, float *dst, size_t n)
{
    const uint8_t *in = src;
    float scale;
    memcpy(&scale, in, 4);
    for (size_t j = 0; j < n; j++)
        dst[j] = (float)(int8_t)in[4 + j] * scale;
}

void herd_fp8_row_quantize(const float *src, void *dst, size_t n)
{
    uint8_t *out = dst;
    float scale = row_amax(src, n) / 448.0f;
    memcpy(out, &scale, 4);
    for (size_t j = 0; j < n; j++)
        out[4 + j] =
            scale > 0 ? herd_mx_encode(HERD_MX_FP8_E4M3, src[j] / scale, HERD_MX_ROUND_EVEN) : 0;
}

void herd_fp8_row_dequantize(const void *src, float *dst, size_t n)
{
    pthread_once(&table_once, build_table);
    const uint8_t *in = src;
    float scale;
    memcpy(&scale, in, 4);
    for (size_t j = 0; j < n; j++)
        dst[j] = e4m3_value[in[4 + j]] * scale;
}
