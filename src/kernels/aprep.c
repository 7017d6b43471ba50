/* A preparation shared by the ref and fast families (plain C, so a quantized A is the same bit
 * for bit whichever kernel consumes it; it costs O(M·K) against the GEMM's O(M·N·K)). */
#include "kernels/family.h"

#include <math.h>
#include <string.h>

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
    float amax = 0;
    for (int64_t i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(a[i]));
    float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    memset(dst, 0, KAPREP_I8_HDR);
    memcpy(dst, &s, sizeof s);
    uint8_t *q = (uint8_t *)dst + KAPREP_I8_HDR;
    for (int64_t i = 0; i < k; i++) {
        float v = nearbyintf(a[i] * inv);
        v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
        q[i] = (uint8_t)((int)v + 128);
    }
    for (int64_t i = k; i < ((k + 3) & ~(int64_t)3); i++)
        q[i] = 128;
}

float kquant_i8_row(const float *w, int64_t k, int8_t *q)
{
    float amax = 0;
    for (int64_t i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(w[i]));
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int64_t i = 0; i < k; i++) {
        float v = nearbyintf(w[i] * inv);
        q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
    }
    return amax / 127.0f;
}
