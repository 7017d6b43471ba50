/* A preparation shared by the ref and fast families (plain C, so a quantized A is the same bit
 * for bit whichever kernel consumes it; it costs O(M·K) against the GEMM's O(M·N·K)). */
#include "kernels/family.h"

#include <math.h>
#include <string.h>

/* max |x| (NaN ignored, like fmaxf) and round-to-nearest-even for |x| < 2^22 by the magic
 * constant 1.5·2^23, both written so the compiler inlines them (fmaxf and nearbyintf are
 * library calls on the baseline ISA, and were a fifth of an int8 GEMM's time). */
static float absmax(const float *a, int64_t k)
{
    float m = 0;
    for (int64_t i = 0; i < k; i++) {
        float v = fabsf(a[i]);
        m = v > m ? v : m;
    }
    return m;
}

static inline float round_even(float x)
{
    return (x + 12582912.0f) - 12582912.0f;
}

size_t kaprep_bf16_bytes(int64_t k)
{
    return (size_t)((k + 1) & ~(int64_t)1) * sizeof(uint16_t);
}

void kaprep_bf16(const float *a, int64_t k, void *dst)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < k; i++)
        d[i] = herd_f32_to_bf16(a[i]);
    if (k & 1)
        d[k] = 0;
}

size_t kaprep_i8_bytes(int64_t k)
{
    return KAPREP_I8_HDR + (size_t)((k + 3) & ~(int64_t)3);
}

/* Symmetric per-row quantization: s = max|a| / 127, q = round_even(a · 127/max|a|), stored
 * as q + 128 so VPDPBUSD (unsigned × signed) can use it; the kernels subtract 128·Σw. */
void kaprep_u8(const float *a, int64_t k, void *dst)
{
    float amax = absmax(a, k);
    float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    memset(dst, 0, KAPREP_I8_HDR);
    memcpy(dst, &s, sizeof s);
    uint8_t *q = (uint8_t *)dst + KAPREP_I8_HDR;
    for (int64_t i = 0; i < k; i++) {
        float v = round_even(a[i] * inv);
        v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f; /* NaN: 0 */
        q[i] = (uint8_t)((int)v + 128);
    }
    for (int64_t i = k; i < ((k + 3) & ~(int64_t)3); i++)
        q[i] = 128;
}

float kquant_i8_row(const float *w, int64_t k, int8_t *q)
{
    float amax = absmax(w, k);
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int64_t i = 0; i < k; i++) {
        float v = round_even(w[i] * inv);
        q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v == v ? (int)v : 0);
    }
    return amax / 127.0f;
}
