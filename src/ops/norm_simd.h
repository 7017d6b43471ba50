/* The vector RMSNorm (norm_avx512.c), picked by herd_rmsnorm_rows from herd_isa(); it gives
 * the plain herd_rmsnorm's results bit for bit. */
#ifndef HERD_OPS_NORM_SIMD_H
#define HERD_OPS_NORM_SIMD_H

#include <stddef.h>
#include <stdint.h>

void herd_rmsnorm_rows_avx512(const float *x, size_t ldx, const float *w, float *y, size_t ldy,
                              int64_t rows, int64_t n, float eps);

#endif
