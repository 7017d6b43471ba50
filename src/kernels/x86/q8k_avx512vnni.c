/* AVX512-VNNI tile of the Q8_K family (math and layout in q8k.h): per super-block, 64
 * VPDPBUSD per row (one 64-byte load of 16 rows × a k-quad against the row's s8 quad of A
 * broadcast from memory) into an int32 sum that starts at −128·Σqa, then one FMA per row. Up
 * to 8 rows per tile; with 1 or 2 rows the quads alternate between two accumulators so
 * VPDPBUSD's latency overlaps. */
#include "kernels/q8k.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 8, PF = 8192 };

#define INLINE static inline __attribute__((always_inline))

INLINE void tile_body(const ktile *t, const int m)
{
    const int ch = m <= 2 ? 2 : 1;
    const uint8_t *panel = t->b, *codes = panel + k8_d_section(t->k);
    __m512 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < t->k / K8_ELEMS; b++) {
        const uint8_t *c = codes + (size_t)b * K8_CODES, *arec[MR];
        __m512i isum[MR][2];
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            int32_t corr;
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * K8_AREC;
            memcpy(&corr, arec[i] + K8_ELEMS + 4, 4);
            isum[i][0] = _mm512_set1_epi32(corr);
            isum[i][1] = _mm512_setzero_si512();
        }
        for (int g = 0; g < K8_ELEMS / 4; g += 2) {
            _mm_prefetch((const char *)(c + PF + 64 * g), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + PF + 64 * g + 64), _MM_HINT_T0);
            const __m512i w0 = _mm512_load_si512(c + 64 * g),
                          w1 = _mm512_load_si512(c + 64 * g + 64);
#pragma GCC unroll 8
            for (int i = 0; i < m; i++) {
                int32_t q0, q1;
                memcpy(&q0, arec[i] + 4 * g, 4);
                memcpy(&q1, arec[i] + 4 * g + 4, 4);
                isum[i][0] = _mm512_dpbusd_epi32(isum[i][0], w0, _mm512_set1_epi32(q0));
                isum[i][ch - 1] = _mm512_dpbusd_epi32(isum[i][ch - 1], w1, _mm512_set1_epi32(q1));
            }
        }
        const __m512 d = _mm512_loadu_ps(panel + (size_t)b * K8_NR * 4);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            float da;
            memcpy(&da, arec[i] + K8_ELEMS, 4);
            __m512i v = ch == 2 ? _mm512_add_epi32(isum[i][0], isum[i][1]) : isum[i][0];
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(d, _mm512_set1_ps(da)),
                                     acc[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
        _mm512_storeu_ps(t->c + i * K8_NR, acc[i]);
}

static void tile(const ktile *t)
{
    KTILE_ROWS_8(t->m, tile_body, t);
}

static void tile_exact(const ktile *t)
{
    kk_tile_decoded_avx512(k8_decode_f32, HERD_TYPE_Q8_K, K8_ELEMS, t);
}

const kfamily kfam_q8_k_avx512vnni = {
    .name = "q8_k.avx512vnni",
    .type = HERD_TYPE_Q8_K,
    .isa = HERD_ISA_AVX512VNNI,
    .mr = MR,
    .nr = K8_NR,
    .panel_bytes = k8_panel_bytes,
    .pack = k8_pack,
    .unpack = k8_unpack,
    .a_row_bytes = k8_aprep_bytes,
    .a_prep = k8_aprep,
    .a_desc = "int8 per super-block",
    .tile = tile,
    .tile_exact = tile_exact,
    .epilogue = kepi_avx512,
};
