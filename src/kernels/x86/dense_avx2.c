/* AVX2 dense families: F32, F16, BF16 and INT8 weights with A kept f32 (INT8 at this level is
 * dequantized on load: decode is bandwidth-bound and VPMADDUBSW would saturate). Panel layout:
 * k-major, for each k the nr = 16 weights of the panel's columns (INT8: then 16 f32 scales).
 * Micro-kernel: mr = 6 rows × 2 ymm = 12 accumulators, one FMA chain per output lane in k
 * order like the ref twin; M tails are their own unrolled kernels (m = 1..6). */
#include "kernels/family.h"

#include <immintrin.h>
#include <string.h>

enum { NR = 16, MR = 6, PF = 1024 };
enum { T_F32, T_F16, T_BF16, T_I8 };

#define AI static inline __attribute__((always_inline))

AI size_t esize(int type)
{
    return type == T_F32 ? 4 : type == T_I8 ? 1 : 2;
}

/* 8 weights at p as f32. */
AI __m256 ldw(int type, const uint8_t *p)
{
    switch (type) {
    case T_F32: return _mm256_loadu_ps((const float *)p);
    case T_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    case T_BF16:
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
    default: return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
    }
}

AI void body(int type, int mr, const ktile *t)
{
    __m256 acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
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
        __m256 b0 = ldw(type, b), b1 = ldw(type, b + 8 * es);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m256 av = _mm256_set1_ps(a[i][k]);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    if (type == T_I8) {
        __m256 s0 = _mm256_loadu_ps((const float *)b), s1 = _mm256_loadu_ps((const float *)b + 8);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm256_mul_ps(acc[i][0], s0);
            acc[i][1] = _mm256_mul_ps(acc[i][1], s1);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        _mm256_store_ps(t->c + i * NR, acc[i][0]);
        _mm256_store_ps(t->c + i * NR + 8, acc[i][1]);
    }
}

#define TILE_FN(fname, type)                                                                       \
    static void fname(const ktile *t)                                                              \
    {                                                                                              \
        switch (t->m) {                                                                            \
        case 1: body(type, 1, t); break;                                                           \
        case 2: body(type, 2, t); break;                                                           \
        case 3: body(type, 3, t); break;                                                           \
        case 4: body(type, 4, t); break;                                                           \
        case 5: body(type, 5, t); break;                                                           \
        default: body(type, 6, t); break;                                                          \
        }                                                                                          \
    }
TILE_FN(f32_tile, T_F32)
TILE_FN(f16_tile, T_F16)
TILE_FN(bf16_tile, T_BF16)
TILE_FN(i8_tile, T_I8)

/* ---- packing (plain C: runs once per weight) -------------------------------------------- */

static size_t f32_bytes(int64_t k)
{
    return (size_t)k * NR * 4;
}
static size_t h16_bytes(int64_t k)
{
    return (size_t)k * NR * 2;
}
static size_t i8_bytes(int64_t k)
{
    return (size_t)k * NR + NR * 4;
}

static herd_status pack_generic(const kpack_src *s, void *panel, int type)
{
    uint8_t *p = panel;
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        const float *x = s->row;
        if (type == T_I8) {
            int8_t *q = (int8_t *)(s->row + s->k);
            float sc = kquant_i8_row(x, s->k, q);
            memcpy(p + (size_t)s->k * NR + (size_t)r * 4, &sc, 4);
            for (int64_t k = 0; k < s->k; k++)
                ((int8_t *)p)[(size_t)k * NR + (size_t)r] = q[k];
            continue;
        }
        for (int64_t k = 0; k < s->k; k++) {
            size_t at = (size_t)k * NR + (size_t)r;
            if (type == T_F32)
                ((float *)p)[at] = x[k];
            else if (type == T_F16)
                ((uint16_t *)p)[at] = herd_f32_to_f16(x[k]);
            else
                ((uint16_t *)p)[at] = herd_f32_to_bf16(x[k]);
        }
    }
    return HERD_OK;
}

static void unpack_generic(const void *panel, int64_t k, int rows, float *dst, size_t ldd, int type)
{
    const uint8_t *p = panel;
    for (int r = 0; r < rows; r++) {
        float sc = 1;
        if (type == T_I8)
            memcpy(&sc, p + (size_t)k * NR + (size_t)r * 4, 4);
        for (int64_t i = 0; i < k; i++) {
            size_t at = (size_t)i * NR + (size_t)r;
            float v = type == T_F32    ? ((const float *)p)[at]
                      : type == T_F16  ? herd_f16_to_f32(((const uint16_t *)p)[at])
                      : type == T_BF16 ? herd_bf16_to_f32(((const uint16_t *)p)[at])
                                       : (float)((const int8_t *)p)[at] * sc;
            dst[r * ldd + (size_t)i] = v;
        }
    }
}

#define PACK_FNS(prefix, type)                                                                     \
    static herd_status prefix##_pack(const kpack_src *s, void *panel)                              \
    {                                                                                              \
        return pack_generic(s, panel, type);                                                       \
    }                                                                                              \
    static void prefix##_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)    \
    {                                                                                              \
        unpack_generic(panel, k, rows, dst, ldd, type);                                            \
    }
PACK_FNS(f32, T_F32)
PACK_FNS(f16, T_F16)
PACK_FNS(bf16, T_BF16)
PACK_FNS(i8, T_I8)

const kfamily kfam_f32_avx2 = {
    .name = "f32.avx2",
    .type = HERD_TYPE_F32,
    .isa = HERD_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .panel_bytes = f32_bytes,
    .pack = f32_pack,
    .unpack = f32_unpack,
    .a_desc = "f32",
    .tile = f32_tile,
    .epilogue = kepi_avx2,
};
const kfamily kfam_f16_avx2 = {
    .name = "f16.avx2",
    .type = HERD_TYPE_F16,
    .isa = HERD_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .panel_bytes = h16_bytes,
    .pack = f16_pack,
    .unpack = f16_unpack,
    .a_desc = "f32",
    .tile = f16_tile,
    .epilogue = kepi_avx2,
};
const kfamily kfam_bf16_avx2 = {
    .name = "bf16.avx2",
    .type = HERD_TYPE_BF16,
    .isa = HERD_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .panel_bytes = h16_bytes,
    .pack = bf16_pack,
    .unpack = bf16_unpack,
    .a_desc = "f32",
    .tile = bf16_tile,
    .epilogue = kepi_avx2,
};
const kfamily kfam_int8_avx2 = {
    .name = "int8.avx2",
    .type = HERD_TYPE_INT8,
    .isa = HERD_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .panel_bytes = i8_bytes,
    .pack = i8_pack,
    .unpack = i8_unpack,
    .a_desc = "f32",
    .tile = i8_tile,
    .epilogue = kepi_avx2,
};
