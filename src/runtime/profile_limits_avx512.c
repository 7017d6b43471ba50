/* Machine-limits loop for AVX-512 FP32 FMA: 12 independent chains of 16 lanes. */
#include "runtime/profile_limits.h"

#include <immintrin.h>

static volatile float sink;

double herd_limits_fma_avx512(int64_t iters)
{
    __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    /* distinct starting values, or the compiler merges the identical chains into one */
    __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
           a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
           a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
           a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, c);
        a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c);
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c);
        a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c);
        a11 = _mm512_fmadd_ps(a11, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    sink = _mm512_reduce_add_ps(s);
    return (double)iters * 12 * 16 * 2;
}

static volatile long long read_sink;

/* Reads n bytes the way the GEMV tiles stream their weights: 64-byte loads, with a software
 * prefetch a fixed distance ahead that runs on across the 4 KiB page boundaries where the
 * hardware prefetchers stop. Both ways are measured and the faster is the bound, so a tile that
 * streams this way is not measured against a slower probe. */
double herd_limits_read_pf_avx512(const void *p, size_t n)
{
    enum { AHEAD = 8192 };
    const char *c = p;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 256) {
        /* prefetches past the end are harmless: a prefetch never faults */
        _mm_prefetch(c + i + AHEAD, _MM_HINT_T0);
        _mm_prefetch(c + i + AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch(c + i + AHEAD + 128, _MM_HINT_T0);
        _mm_prefetch(c + i + AHEAD + 192, _MM_HINT_T0);
        s0 = _mm512_xor_si512(s0, _mm512_load_si512(c + i));
        s1 = _mm512_xor_si512(s1, _mm512_load_si512(c + i + 64));
        s2 = _mm512_xor_si512(s2, _mm512_load_si512(c + i + 128));
        s3 = _mm512_xor_si512(s3, _mm512_load_si512(c + i + 192));
    }
    __m512i s = _mm512_xor_si512(_mm512_xor_si512(s0, s1), _mm512_xor_si512(s2, s3));
    read_sink = _mm_cvtsi128_si64(_mm512_castsi512_si128(s));
    return (double)n;
}
