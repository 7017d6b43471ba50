/* RoPE rotation from an angle table (herd_rope_table): the plain version and the AVX-512 one
 * (rope_avx512.c), which gives its results bit for bit. */
#ifndef HERD_OPS_ROPE_SIMD_H
#define HERD_OPS_ROPE_SIMD_H

#include <stdint.h>

/* rotates the pairs of nheads consecutive head vectors of D floats in x, in place */
void herd_rope_rotate_ref(const float *cs, float *x, int64_t nheads, int64_t D);
void herd_rope_rotate_avx512(const float *cs, float *x, int64_t nheads, int64_t D);

#endif
