/* AVX-512 dense families: F32, F16, BF16 and INT8 weights with A kept f32. Panel layout: k-major,
 * for each k the nr = 32 weights of the panel's columns (INT8: int8, then 32 f32 row scales).
 * Micro-kernel: mr = 12 rows × 2 zmm of columns = 24 accumulators; per k two weight vectors
 * (converted to f32 on load) and 12 broadcast FMAs. One FMA chain per output lane, in k order,
 * exactly like the ref twin. M tails are compiled as their own unrolled kernels (m = 1..12). */
#include "kernels/dense.h"

#include <immintrin.h>

enum { NR = 32, MR = 12, PF = 1024 };

#define AI static inline __attribute__((always_inline))

AI size_t esize(int type)
{
    return type == KD_F32 ? 4 : type == KD_I8 ? 1 : 2;
}

/* 16 weights at p as f32. */
AI __m512 ldw(int type, const uint8_t *p)
{
    switch (type) {
    case KD_F32: return _mm512_loadu_ps(p);
    case KD_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    case KD_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
    default: return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
    }
}

AI void body(int type, const ktile *t, int mr)
{
    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const size_t es = esize(type), rowb = NR * es;
    const uint8_t *b = t->b;
    const float *a[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        a[i] = (const float *)((const uint8_t *)t->a + (size_t)i * t->a_stride);
    for (int64_t k = 0; k < t->k; k++, b += rowb) {
        _mm_prefetch((const char *)b + PF, _MM_HINT_T0);
        if (rowb > 64)
            _mm_prefetch((const char *)b + PF + 64, _MM_HINT_T0);
        __m512 b0 = ldw(type, b), b1 = ldw(type, b + 16 * es);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i][k]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    if (type == KD_I8) {
        __m512 s0 = _mm512_loadu_ps(b), s1 = _mm512_loadu_ps(b + 64);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm512_mul_ps(acc[i][0], s0);
            acc[i][1] = _mm512_mul_ps(acc[i][1], s1);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(t->c + i * NR, acc[i][0]);
        _mm512_store_ps(t->c + i * NR + 16, acc[i][1]);
    }
}

#define TILE_FN(fname, type)                                                                       \
    static void fname(const ktile *t)                                                              \
    {                                                                                              \
        KTILE_ROWS_12(t->m, body, type, t);                                                        \
    }
TILE_FN(f32_tile, KD_F32)
TILE_FN(f16_tile, KD_F16)
TILE_FN(bf16_tile, KD_BF16)
TILE_FN(i8_tile, KD_I8)

KDENSE_PACK_FNS(f32, KD_F32, NR)
KDENSE_PACK_FNS(f16, KD_F16, NR)
KDENSE_PACK_FNS(bf16, KD_BF16, NR)
KDENSE_PACK_FNS(i8, KD_I8, NR)

const kfamily kfam_f32_avx512 = {
    .name = "f32.avx512",
    .type = HERD_TYPE_F32,
    .isa = HERD_ISA_AVX512,
    .mr = MR,
    .nr = NR,
    .panel_bytes = f32_bytes,
    .pack = f32_pack,
    .unpack = f32_unpack,
    .a_desc = "f32",
    .tile = f32_tile,
    .epilogue = kepi_avx512,
};
const kfamily kfam_f16_avx512 = {
    .name = "f16.avx512",
    .type = HERD_TYPE_F16,
    .isa = HERD_ISA_AVX512,
    .mr = MR,
    .nr = NR,
    .panel_bytes = f16_bytes,
    .pack = f16_pack,
    .unpack = f16_unpack,
    .a_desc = "f32",
    .tile = f16_tile,
    .epilogue = kepi_avx512,
};
const kfamily kfam_bf16_avx512 = {
    .name = "bf16.avx512",
    .type = HERD_TYPE_BF16,
    .isa = HERD_ISA_AVX512,
    .mr = MR,
    .nr = NR,
    .panel_bytes = bf16_bytes,
    .pack = bf16_pack,
    .unpack = bf16_unpack,
    .a_desc = "f32",
    .tile = bf16_tile,
    .epilogue = kepi_avx512,
};
const kfamily kfam_int8_avx512 = {
    .name = "int8.avx512",
    .type = HERD_TYPE_INT8,
    .isa = HERD_ISA_AVX512,
    .mr = MR,
    .nr = NR,
    .panel_bytes = i8_bytes,
    .pack = i8_pack,
    .unpack = i8_unpack,
    .a_desc = "f32",
    .tile = i8_tile,
    .epilogue = kepi_avx512,
};
