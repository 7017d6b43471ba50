/* The vector primitives of attention (a dot product, acc += e·v, acc *= c) in a plain C
 * version and per-ISA versions (attn_simd_avx2.c, attn_simd_avx512.c), picked at run time
 * from herd_isa(). Results differ from the plain ones only by summation order. */
#ifndef HERD_OPS_ATTN_SIMD_H
#define HERD_OPS_ATTN_SIMD_H

#include <stdint.h>

typedef struct attn_simd {
    float (*dot)(const float *a, const float *b, int64_t n);
    void (*axpy)(float *acc, float e, const float *v, int64_t n); /* acc += e·v */
    void (*scale)(float *acc, float c, int64_t n);                /* acc *= c */
} attn_simd;

extern const attn_simd herd_attn_simd_avx2, herd_attn_simd_avx512;

#endif
