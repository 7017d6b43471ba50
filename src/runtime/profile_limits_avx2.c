/* Machine-limits loops for AVX2 + FMA: 12 independent FMA chains (enough to cover latency ×
 * throughput on current cores) and a streaming read. */
#include "runtime/profile_limits.h"

#include <immintrin.h>

static volatile float sink;

double herd_limits_fma_avx2(int64_t iters)
{
    __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    /* distinct starting values, or the compiler merges the identical chains into one */
    __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
           a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
           a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
           a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    sink = _mm256_cvtss_f32(s);
    return (double)iters * 12 * 8 * 2;
}

double herd_limits_read_avx2(const void *p, size_t n)
{
    const __m256i *v = p;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n / 32; i += 8) {
        s0 = _mm256_xor_si256(s0, _mm256_load_si256(v + i));
        s1 = _mm256_xor_si256(s1, _mm256_load_si256(v + i + 1));
        s2 = _mm256_xor_si256(s2, _mm256_load_si256(v + i + 2));
        s3 = _mm256_xor_si256(s3, _mm256_load_si256(v + i + 3));
        s0 = _mm256_xor_si256(s0, _mm256_load_si256(v + i + 4));
        s1 = _mm256_xor_si256(s1, _mm256_load_si256(v + i + 5));
        s2 = _mm256_xor_si256(s2, _mm256_load_si256(v + i + 6));
        s3 = _mm256_xor_si256(s3, _mm256_load_si256(v + i + 7));
    }
    __m256i s = _mm256_xor_si256(_mm256_xor_si256(s0, s1), _mm256_xor_si256(s2, s3));
    sink = (float)_mm256_extract_epi32(s, 0);
    return (double)n;
}
