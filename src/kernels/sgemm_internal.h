/* The float32 training GEMM's tile (src/kernels/sgemm.c): 8 rows of A against one packed
 * 32-column panel of op(B). */
#ifndef HERD_KERNELS_SGEMM_INTERNAL_H
#define HERD_KERNELS_SGEMM_INTERNAL_H

#include "herd/base.h"

enum { HERD_SGEMM_NR = 32 };

/* C[0..mr)[0..nc) = (acc ? C : 0) + A[0..mr)[0..kc) · P[0..kc)[0..32), mr <= 8, nc <= 32. */
typedef void (*herd_sgemm_tile_fn)(int64_t mr, int64_t nc, int64_t kc, const float *A, int64_t lda,
                                   const float *P, float *C, int64_t ldc, bool acc);
void herd_sgemm_tile_ref(int64_t mr, int64_t nc, int64_t kc, const float *A, int64_t lda,
                         const float *P, float *C, int64_t ldc, bool acc);
void herd_sgemm_tile_avx512(int64_t mr, int64_t nc, int64_t kc, const float *A, int64_t lda,
                            const float *P, float *C, int64_t ldc, bool acc);

#endif
