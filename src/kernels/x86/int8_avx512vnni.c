/* INT8 weights with AVX512-VNNI. A is quantized per row to u8 (q + 128, aprep.c) and each
 * VPDPBUSD adds 4 u8×s8 products per lane into int32, exactly; the offset is removed with
 * 128·Σw per column, precomputed at pack time. Then (float)acc · (s_A · s_W), as the ref does.
 * EXACT mode keeps A f32 and dequantizes the weights on load (one fmaf chain per lane in k
 * order, like the ref twin).
 * Panel layout: for each group of 4 k, the 32 columns × 4 int8 (64 bytes per 16 columns); then
 * 32 int32 128·Σw, then 32 f32 row scales. Micro-kernel: 12 rows × 32 columns. */
#include "kernels/family.h"

#include <immintrin.h>
#include <string.h>

enum { NR = 32, MR = 12, PF = 2048 };

#define AI static inline __attribute__((always_inline))

/* acc += u8 a · s8 b per 4 bytes. Inline asm because GCC 12 copies (and spills) the tied
 * accumulator of the intrinsic when many are live, which halved the kernel's speed. */
AI __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
}

static int64_t k4(int64_t k)
{
    return (k + 3) & ~(int64_t)3;
}

static size_t panel_bytes(int64_t k)
{
    return (size_t)k4(k) * NR + NR * 8;
}

AI void tile_auto(const ktile *t, int mr)
{
    __m512i acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    const uint8_t *b = t->b;
    const uint8_t *a = (const uint8_t *)t->a + KAPREP_I8_HDR;
    const int64_t kq = k4(t->k) / 4;
    for (int64_t q = 0; q < kq; q++, b += NR * 4) {
        _mm_prefetch((const char *)b + PF, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF + 64, _MM_HINT_T0);
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            int32_t v;
            memcpy(&v, a + (size_t)i * t->a_stride + (size_t)q * 4, 4);
            __m512i av = _mm512_set1_epi32(v);
            acc[i][0] = dpbusd(acc[i][0], av, b0);
            acc[i][1] = dpbusd(acc[i][1], av, b1);
        }
    }
    __m512i c0 = _mm512_loadu_si512(b), c1 = _mm512_loadu_si512(b + 64);
    __m512 s0 = _mm512_loadu_ps(b + 128), s1 = _mm512_loadu_ps(b + 192);
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        float sa;
        memcpy(&sa, (const uint8_t *)t->a + (size_t)i * t->a_stride, 4);
        __m512 vsa = _mm512_set1_ps(sa);
        __m512 f0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][0], c0));
        __m512 f1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][1], c1));
        _mm512_store_ps(t->c + i * NR, _mm512_mul_ps(f0, _mm512_mul_ps(vsa, s0)));
        _mm512_store_ps(t->c + i * NR + 16, _mm512_mul_ps(f1, _mm512_mul_ps(vsa, s1)));
    }
}

/* Byte j of every dword of v, sign-extended, as f32. */
AI __m512 byte_f32(__m512i v, int j)
{
    __m512i x = j == 3 ? v : _mm512_slli_epi32(v, 24 - 8 * j);
    return _mm512_cvtepi32_ps(_mm512_srai_epi32(x, 24));
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
    for (int64_t k = 0; k < t->k; k += 4, b += NR * 4) {
        __m512i v0 = _mm512_loadu_si512(b), v1 = _mm512_loadu_si512(b + 64);
        int nj = t->k - k < 4 ? (int)(t->k - k) : 4;
#pragma GCC unroll 16
        for (int j = 0; j < nj; j++) {
            __m512 w0 = byte_f32(v0, j), w1 = byte_f32(v1, j);
#pragma GCC unroll 16
            for (int i = 0; i < mr; i++) {
                __m512 av = _mm512_set1_ps(a[i][k + j]);
                acc[i][0] = _mm512_fmadd_ps(av, w0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, w1, acc[i][1]);
            }
        }
    }
    b = (const uint8_t *)t->b + (size_t)k4(t->k) * NR;
    __m512 s0 = _mm512_loadu_ps(b + 128), s1 = _mm512_loadu_ps(b + 192);
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(t->c + i * NR, _mm512_mul_ps(acc[i][0], s0));
        _mm512_store_ps(t->c + i * NR + 16, _mm512_mul_ps(acc[i][1], s1));
    }
}

#define TILE_SWITCH(fname, body)                                                                   \
    static void fname(const ktile *t)                                                              \
    {                                                                                              \
        KTILE_ROWS_12(t->m, body, t);                                                              \
    }
TILE_SWITCH(i8_tile, tile_auto)
TILE_SWITCH(i8_tile_exact, tile_exact)

static herd_status i8_pack(const kpack_src *s, void *panel)
{
    uint8_t *p = panel;
    int8_t *q = (int8_t *)(s->row + s->k);
    uint8_t *tail = p + (size_t)k4(s->k) * NR;
    for (int r = 0; r < s->rows; r++) {
        herd_status st = kpack_row_f32(s, r, s->row);
        if (st)
            return st;
        float sc = kquant_i8_row(s->row, s->k, q);
        int32_t sum = 0;
        for (int64_t k = 0; k < s->k; k++) {
            p[(size_t)(k / 4) * NR * 4 + (size_t)r * 4 + (size_t)(k % 4)] = (uint8_t)q[k];
            sum += q[k];
        }
        sum *= 128;
        memcpy(tail + (size_t)r * 4, &sum, 4);
        memcpy(tail + NR * 4 + (size_t)r * 4, &sc, 4);
    }
    return HERD_OK;
}

static void i8_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)
{
    const uint8_t *p = panel;
    const uint8_t *tail = p + (size_t)k4(k) * NR;
    for (int r = 0; r < rows; r++) {
        float sc;
        memcpy(&sc, tail + NR * 4 + (size_t)r * 4, 4);
        for (int64_t i = 0; i < k; i++)
            dst[r * ldd + (size_t)i] =
                (float)(int8_t)p[(size_t)(i / 4) * NR * 4 + (size_t)r * 4 + (size_t)(i % 4)] * sc;
    }
}

const kfamily kfam_int8_avx512vnni = {
    .name = "int8.avx512vnni",
    .type = HERD_TYPE_INT8,
    .isa = HERD_ISA_AVX512VNNI,
    .mr = MR,
    .nr = NR,
    .panel_bytes = panel_bytes,
    .pack = i8_pack,
    .unpack = i8_unpack,
    .a_row_bytes = kaprep_i8_bytes,
    .a_prep = kaprep_u8_avx512,
    .a_desc = "u8 per-row (q+128)",
    .tile = i8_tile,
    .tile_exact = i8_tile_exact,
    .epilogue = kepi_avx512,
};
