/* BF16 weights with AVX512-BF16. AUTO converts A to bf16 (aprep.c) and each VDPBF16PS adds
 * the two products of a k-pair per lane into f32 (products exact, its own summation rounding:
 * see tests/kernels/test_gemm.c for the bound). EXACT keeps A f32 and widens the weights on
 * load (one fmaf chain per lane in k order, like the ref twin).
 * Panel layout: for each pair of k, the 32 columns × 2 bf16 (64 bytes per 16 columns).
 * Micro-kernel: 12 rows × 32 columns. */
#include "kernels/family.h"

#include <immintrin.h>
#include <string.h>

enum { NR = 32, MR = 12, PF = 2048 };

#define AI static inline __attribute__((always_inline))

static int64_t k2(int64_t k)
{
    return (k + 1) & ~(int64_t)1;
}

static size_t panel_bytes(int64_t k)
{
    return (size_t)k2(k) * NR * 2;
}

AI void tile_auto(const ktile *t, int mr)
{
    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const uint8_t *b = t->b;
    const uint8_t *a = t->a;
    const int64_t kp = k2(t->k) / 2;
    for (int64_t q = 0; q < kp; q++, b += NR * 4) {
        _mm_prefetch((const char *)b + PF, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF + 64, _MM_HINT_T0);
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 64);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            int32_t v;
            memcpy(&v, a + (size_t)i * t->a_stride + (size_t)q * 4, 4);
            __m512bh av = (__m512bh)_mm512_set1_epi32(v);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(t->c + i * NR, acc[i][0]);
        _mm512_store_ps(t->c + i * NR + 16, acc[i][1]);
    }
}

AI void tile_exact(const ktile *t, int mr)
{
    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const uint8_t *b = t->b;
    const float *a[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        a[i] = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (int64_t k = 0; k < t->k; k += 2, b += NR * 4) {
        _mm_prefetch((const char *)b + PF, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF + 64, _MM_HINT_T0);
        __m512i v0 = _mm512_loadu_si512(b), v1 = _mm512_loadu_si512(b + 64);
        __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16));
        __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16));
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i][k]);
            acc[i][0] = _mm512_fmadd_ps(av, e0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, e1, acc[i][1]);
        }
        if (k + 1 < t->k) {
            __m512 o0 = _mm512_castsi512_ps(_mm512_and_si512(v0, hi));
            __m512 o1 = _mm512_castsi512_ps(_mm512_and_si512(v1, hi));
#pragma GCC unroll 16
            for (int i = 0; i < mr; i++) {
                __m512 av = _mm512_set1_ps(a[i][k + 1]);
                acc[i][0] = _mm512_fmadd_ps(av, o0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, o1, acc[i][1]);
            }
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(t->c + i * NR, acc[i][0]);
        _mm512_store_ps(t->c + i * NR + 16, acc[i][1]);
    }
}

#define TILE_SWITCH(fname, body)                                                                   \
    static void fname(const ktile *t)                                                              \
    {                                                                                              \
        KTILE_ROWS_12(t->m, body, t);                                                              \
    }
TILE_SWITCH(bf16_tile, tile_auto)
TILE_SWITCH(bf16_tile_exact, tile_exact)

static herd_status bf16_pack(const kpack_src *s, void *panel)
{
    uint16_t *p = panel;
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        for (int64_t k = 0; k < s->k; k++)
            p[(size_t)(k / 2) * NR * 2 + (size_t)r * 2 + (size_t)(k % 2)] =
                herd_f32_to_bf16(s->row[k]);
    }
    return HERD_OK;
}

static void bf16_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    const uint16_t *p = panel;
    for (int r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++)
            dst[r * ldd + (size_t)i] =
                herd_bf16_to_f32(p[(size_t)(i / 2) * NR * 2 + (size_t)r * 2 + (size_t)(i % 2)]);
}

const kfamily kfam_bf16_avx512bf16 = {
    .name = "bf16.avx512bf16",
    .type = HERD_TYPE_BF16,
    .isa = HERD_ISA_AVX512BF16,
    .mr = MR,
    .nr = NR,
    .panel_bytes = panel_bytes,
    .pack = bf16_pack,
    .unpack = bf16_unpack,
    .a_row_bytes = kaprep_bf16_bytes,
    .a_prep = kaprep_bf16,
    .a_desc = "bf16 (round to nearest even)",
    .tile = bf16_tile,
    .tile_exact = bf16_tile_exact,
    .epilogue = kepi_avx512,
};
