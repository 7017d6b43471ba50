/* Machine-limits loop for VDPBF16PS: 12 chains; each instruction is 16 lanes × 2 multiply-adds
 * = 64 FLOPs. */
#include "runtime/profile_limits.h"

#include <immintrin.h>

static volatile float sink;

double herd_limits_bf16_avx512bf16(int64_t iters)
{
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80); /* 1.0 */
    __m512bh b = (__m512bh)_mm512_set1_epi16(0x3380); /* ~6e-8: sums stay finite */
    /* distinct starting values, or the compiler merges the identical chains into one */
    __m512 a0 = _mm512_set1_ps(0.00f), a1 = _mm512_set1_ps(0.01f), a2 = _mm512_set1_ps(0.02f),
           a3 = _mm512_set1_ps(0.03f), a4 = _mm512_set1_ps(0.04f), a5 = _mm512_set1_ps(0.05f),
           a6 = _mm512_set1_ps(0.06f), a7 = _mm512_set1_ps(0.07f), a8 = _mm512_set1_ps(0.08f),
           a9 = _mm512_set1_ps(0.09f), a10 = _mm512_set1_ps(0.10f), a11 = _mm512_set1_ps(0.11f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm512_dpbf16_ps(a0, a, b);
        a1 = _mm512_dpbf16_ps(a1, a, b);
        a2 = _mm512_dpbf16_ps(a2, a, b);
        a3 = _mm512_dpbf16_ps(a3, a, b);
        a4 = _mm512_dpbf16_ps(a4, a, b);
        a5 = _mm512_dpbf16_ps(a5, a, b);
        a6 = _mm512_dpbf16_ps(a6, a, b);
        a7 = _mm512_dpbf16_ps(a7, a, b);
        a8 = _mm512_dpbf16_ps(a8, a, b);
        a9 = _mm512_dpbf16_ps(a9, a, b);
        a10 = _mm512_dpbf16_ps(a10, a, b);
        a11 = _mm512_dpbf16_ps(a11, a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    sink = _mm512_reduce_add_ps(s);
    return (double)iters * 12 * 16 * 2 * 2;
}
