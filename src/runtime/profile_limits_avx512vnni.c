/* Machine-limits loop for int8 VPDPBUSD: 12 chains; each instruction is 16 lanes × 4
 * multiply-adds = 128 ops. */
#include "runtime/profile_limits.h"

#include <immintrin.h>

static volatile int sink;

double herd_limits_vnni_avx512vnni(int64_t iters)
{
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    /* distinct starting values, or the compiler merges the identical chains into one */
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2),
            a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5),
            a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8),
            a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm512_dpbusd_epi32(a0, a, b);
        a1 = _mm512_dpbusd_epi32(a1, a, b);
        a2 = _mm512_dpbusd_epi32(a2, a, b);
        a3 = _mm512_dpbusd_epi32(a3, a, b);
        a4 = _mm512_dpbusd_epi32(a4, a, b);
        a5 = _mm512_dpbusd_epi32(a5, a, b);
        a6 = _mm512_dpbusd_epi32(a6, a, b);
        a7 = _mm512_dpbusd_epi32(a7, a, b);
        a8 = _mm512_dpbusd_epi32(a8, a, b);
        a9 = _mm512_dpbusd_epi32(a9, a, b);
        a10 = _mm512_dpbusd_epi32(a10, a, b);
        a11 = _mm512_dpbusd_epi32(a11, a, b);
    }
    __m512i s =
        _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                         _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    sink = _mm512_reduce_or_epi32(s); /* not add: the wrapped sums would overflow an int */
    return (double)iters * 12 * 16 * 4 * 2;
}
