/* AVX2 tile of the Q8_K family (math and layout in q8k.h), for CPUs without AVX-512.
 *
 * No VPDPBUSD: a k-quad of 8 rows (32 bytes of the panel's 64) is turned back into the signed
 * q (u XOR 0x80) and multiplied with the row's s8 quad of A by VPMADDUBSW on |q| and A with
 * q's sign (VPSIGNB), then VPMADDWD with ones sums the pairs to one int32 per row. Exact: a
 * pair is at most 2·128·127 < 2^15, so VPMADDUBSW never saturates, and the int32 sum is
 * Σ q·qa itself (the A record's −128·Σqa correction is not needed). Then, like the VNNI tile,
 * acc = fma((float)isum, d·da, acc) per super-block: the C twin's bits.
 * With 1 or 2 A rows both halves of the panel (rows 0-7, 8-15) go in one pass over K; with
 * 3 or 4 rows one half per pass (16 ymm registers), A's records read twice. */
#include "kernels/q8k.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 4, PF = 4096 };

#define INLINE static inline __attribute__((always_inline))

INLINE void tile_body(const ktile *t, const int m, const int h0, const int nh)
{
    const uint8_t *panel = t->b, *codes = panel + k8_d_section(t->k);
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < t->k / K8_ELEMS; b++) {
        const uint8_t *c = codes + (size_t)b * K8_CODES, *arec[MR];
        __m256i isum[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < m; i++) {
            arec[i] = (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * K8_AREC;
            isum[i][0] = isum[i][1] = _mm256_setzero_si256();
        }
        for (int g = 0; g < K8_ELEMS / 4; g++) {
            _mm_prefetch((const char *)(c + PF + 64 * g), _MM_HINT_T0);
#pragma GCC unroll 2
            for (int h = 0; h < nh; h++) {
                const __m256i w = _mm256_xor_si256(
                    _mm256_load_si256((const __m256i *)(c + 64 * g + 32 * (h0 + h))), flip);
                const __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 4
                for (int i = 0; i < m; i++) {
                    int32_t q;
                    memcpy(&q, arec[i] + 4 * g, 4);
                    const __m256i p =
                        _mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_set1_epi32(q), w));
                    isum[i][h] = _mm256_add_epi32(isum[i][h], _mm256_madd_epi16(p, ones));
                }
            }
        }
#pragma GCC unroll 2
        for (int h = 0; h < nh; h++) {
            const __m256 d =
                _mm256_loadu_ps((const float *)(panel + (size_t)b * K8_NR * 4) + 8 * (h0 + h));
#pragma GCC unroll 4
            for (int i = 0; i < m; i++) {
                float da;
                memcpy(&da, arec[i] + K8_ELEMS, 4);
                acc[i][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][h]),
                                            _mm256_mul_ps(d, _mm256_set1_ps(da)), acc[i][h]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < m; i++)
        for (int h = 0; h < nh; h++)
            _mm256_storeu_ps(t->c + i * K8_NR + 8 * (h0 + h), acc[i][h]);
}

static void tile(const ktile *t)
{
    for (int m0 = 0; m0 < t->m; m0 += MR) {
        ktile s = *t;
        s.m = t->m - m0 < MR ? t->m - m0 : MR;
        s.a = (const uint8_t *)t->a + (size_t)m0 * t->a_stride;
        s.c = t->c + m0 * K8_NR;
        switch (s.m) {
        case 1: tile_body(&s, 1, 0, 2); break;
        case 2: tile_body(&s, 2, 0, 2); break;
        case 3:
            tile_body(&s, 3, 0, 1);
            tile_body(&s, 3, 1, 1);
            break;
        default:
            tile_body(&s, 4, 0, 1);
            tile_body(&s, 4, 1, 1);
            break;
        }
    }
}

static void tile_exact(const ktile *t)
{
    kk_tile_decoded_avx2(k8_decode_f32, HERD_TYPE_Q8_K, K8_ELEMS, t);
}

const kfamily kfam_q8_k_avx2 = {
    .name = "q8_k.avx2",
    .type = HERD_TYPE_Q8_K,
    .isa = HERD_ISA_AVX2,
    .mr = 12,
    .nr = K8_NR,
    .panel_bytes = k8_panel_bytes,
    .pack = k8_pack,
    .unpack = k8_unpack,
    .a_row_bytes = k8_aprep_bytes,
    .a_prep = k8_aprep,
    .a_desc = "int8 per super-block",
    .tile = tile,
    .tile_exact = tile_exact,
    .epilogue = kepi_avx2,
};
