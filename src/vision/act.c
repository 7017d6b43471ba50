/* The plain C twins of the encoder's element-wise steps, and the choice by ISA. */
#include "vision/vision_internal.h"

#include <math.h>

void vision_gelu_ref(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) /* the exact (erf) form */
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void vision_softmax_ref(float *row, int64_t n, float scale)
{
    float mx = row[0];
    for (int64_t j = 1; j < n; j++)
        mx = row[j] > mx ? row[j] : mx;
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        row[j] = expf((row[j] - mx) * scale);
        sum += row[j];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++)
        row[j] *= inv;
}

vision_act vision_act_for(herd_isa_level isa)
{
    if (isa >= HERD_ISA_AVX512)
        return (vision_act){vision_gelu_avx512, vision_softmax_avx512};
    return (vision_act){vision_gelu_ref, vision_softmax_ref};
}
