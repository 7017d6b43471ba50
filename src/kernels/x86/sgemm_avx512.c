/* The training GEMM's AVX-512 tile: 8 rows × 32 columns in 16 accumulators, one broadcast of
 * A and two panel loads per k (twin: herd_sgemm_tile_ref in sgemm.c). */
#include <immintrin.h>

#include "kernels/sgemm_internal.h"

void herd_sgemm_tile_avx512(int64_t mr, int64_t nc, int64_t kc, const float *A, int64_t lda,
                            const float *P, float *C, int64_t ldc, bool acc)
{
    __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    __mmask16 m1 = nc <= 16 ? 0 : nc >= 32 ? 0xFFFF : (__mmask16)((1u << (nc - 16)) - 1);
    if (mr == 8) {
        __m512 c[8][2];
        for (int i = 0; i < 8; i++) {
            c[i][0] = acc ? _mm512_maskz_loadu_ps(m0, C + i * ldc) : _mm512_setzero_ps();
            c[i][1] = acc ? _mm512_maskz_loadu_ps(m1, C + i * ldc + 16) : _mm512_setzero_ps();
        }
        for (int64_t k = 0; k < kc; k++) {
            __m512 b0 = _mm512_loadu_ps(P + k * 32), b1 = _mm512_loadu_ps(P + k * 32 + 16);
            for (int i = 0; i < 8; i++) {
                __m512 a = _mm512_set1_ps(A[i * lda + k]);
                c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
                c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
            }
        }
        for (int i = 0; i < 8; i++) {
            _mm512_mask_storeu_ps(C + i * ldc, m0, c[i][0]);
            _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c[i][1]);
        }
        return;
    }
    for (int64_t i = 0; i < mr; i++) { /* the row tail: one row at a time */
        __m512 c0 = acc ? _mm512_maskz_loadu_ps(m0, C + i * ldc) : _mm512_setzero_ps();
        __m512 c1 = acc ? _mm512_maskz_loadu_ps(m1, C + i * ldc + 16) : _mm512_setzero_ps();
        for (int64_t k = 0; k < kc; k++) {
            __m512 a = _mm512_set1_ps(A[i * lda + k]);
            c0 = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + k * 32), c0);
            c1 = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + k * 32 + 16), c1);
        }
        _mm512_mask_storeu_ps(C + i * ldc, m0, c0);
        _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c1);
    }
}
