/* Private to src/vision: the encoder's element-wise steps, a plain C twin and an AVX-512 form of
 * each, chosen once per model from herd_isa(). */
#ifndef HERD_VISION_INTERNAL_H
#define HERD_VISION_INTERNAL_H

#include "herd/vision.h"

typedef struct vision_act {
    void (*gelu)(float *x, size_t n);                    /* x·Φ(x) in place, the erf form */
    void (*softmax)(float *row, int64_t n, float scale); /* softmax(row·scale) in place */
} vision_act;

vision_act vision_act_for(herd_isa_level isa);

void vision_gelu_ref(float *x, size_t n);
void vision_softmax_ref(float *row, int64_t n, float scale);
void vision_gelu_avx512(float *x, size_t n);
void vision_softmax_avx512(float *row, int64_t n, float scale);

#endif
