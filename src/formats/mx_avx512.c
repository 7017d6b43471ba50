/* AVX-512 (F, BW, VL) twins of the MX row codecs in mx.c: one block of 32 floats is two zmm
 * registers. The arithmetic is the reference's, lane by lane (see mx_internal.h): private
 * exponent from the float bits, mantissa scaled to an integer grid (exact), rounded, code =
 * ((pe - emin) << m) + q saturated with an integer min. Tests compare every byte. */
#include "mx_internal.h"

#include <immintrin.h>

/* ---- quantize ----------------------------------------------------------------------------- */

/* Element codes (int32 lanes, sign included, low `bits` bits significant) of v = x / X. */
static inline __m512i encode16(const mx_params *p, herd_mx_rounding r, __m512 v)
{
    __m512 a = _mm512_abs_ps(v);
    __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512i pe = _mm512_setzero_si512();
    __m512 k;
    if (p->is_int) {
        k = _mm512_mul_ps(a, _mm512_set1_ps(64.0f));
    } else {
        __m512i eb = _mm512_srli_epi32(_mm512_castps_si512(a), 23);
        pe = _mm512_max_epi32(_mm512_sub_epi32(eb, _mm512_set1_epi32(127)),
                              _mm512_set1_epi32(p->emin));
        __m512i m2 = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127 + p->mbits), pe), 23);
        k = _mm512_mul_ps(a, _mm512_castsi512_ps(m2)); /* |v| * 2^(m - pe), exact */
    }
    __m512 q;
    if (r == HERD_MX_ROUND_EVEN) {
        q = _mm512_roundscale_ps(k, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {
        __m512 t = _mm512_roundscale_ps(k, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(k, t), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
        q = _mm512_mask_add_ps(t, up, t, _mm512_set1_ps(1.0f));
    }
    __m512i qi = _mm512_cvttps_epi32(q);
    if (p->is_int) {
        qi = _mm512_min_epi32(qi, _mm512_set1_epi32(127));
        return _mm512_mask_sub_epi32(qi, neg, _mm512_setzero_si512(), qi);
    }
    __m512i mag = _mm512_add_epi32(
        _mm512_slli_epi32(_mm512_sub_epi32(pe, _mm512_set1_epi32(p->emin)), (unsigned)p->mbits),
        qi);
    mag = _mm512_min_epi32(mag, _mm512_set1_epi32((int)p->max_mag));
    return _mm512_mask_or_epi32(mag, neg, mag, _mm512_set1_epi32(1 << (p->bits - 1)));
}

/* Writes 32 codes (two halves of 16) as the record payload at out. */
static inline void store_payload(const mx_params *p, __m512i c0, __m512i c1, uint8_t *out)
{
    __m128i b0 = _mm512_cvtepi32_epi8(c0), b1 = _mm512_cvtepi32_epi8(c1);
    if (p->bits == 8) {
        _mm_storeu_si128((__m128i *)out, b0);
        _mm_storeu_si128((__m128i *)(out + 16), b1);
    } else if (p->bits == 4) { /* ggml order: byte j = code j | code j+16 << 4 */
        _mm_storeu_si128((__m128i *)out, _mm_or_si128(b0, _mm_slli_epi16(b1, 4)));
    } else { /* FP6: 4 codes -> the 24-bit word c0 | c1<<6 | c2<<12 | c3<<18, 3 bytes */
        __m256i c = _mm256_set_m128i(b1, b0);
        __m256i w16 = _mm256_maddubs_epi16(c, _mm256_set1_epi16(64 << 8 | 1));
        __m256i w32 = _mm256_madd_epi16(w16, _mm256_set1_epi32(4096 << 16 | 1));
        __m256i packed = _mm256_shuffle_epi8(
            w32, _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2,
                                  4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
        _mm_mask_storeu_epi8(out, 0x0fff, _mm256_castsi256_si128(packed));
        _mm_mask_storeu_epi8(out + 12, 0x0fff, _mm256_extracti128_si256(packed, 1));
    }
}

void herd_mx_quantize_avx512(const mx_params *p, herd_mx_rounding r, const float *src, uint8_t *dst,
                             size_t nblocks)
{
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    for (size_t b = 0; b < nblocks; b++, src += HERD_MX_BLOCK, dst += p->block_bytes) {
        __m512 x0 = _mm512_loadu_ps(src), x1 = _mm512_loadu_ps(src + 16);
        __m512i a = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x0), absmask),
                                     _mm512_and_si512(_mm512_castps_si512(x1), absmask));
        uint32_t amax = _mm512_reduce_max_epu32(a);
        if (amax >= 0x7f800000u) { /* Inf or NaN: NaN scale, codes 0 */
            memset(dst, 0, (size_t)p->block_bytes);
            dst[0] = HERD_E8M0_NAN;
            continue;
        }
        uint8_t scale = mx_scale_of_amax(p, amax);
        __m512 inv = _mm512_set1_ps(mx_pow2f(127 - (int)scale));
        __m512i c0 = encode16(p, r, _mm512_mul_ps(x0, inv));
        __m512i c1 = encode16(p, r, _mm512_mul_ps(x1, inv));
        dst[0] = scale;
        store_payload(p, c0, c1, dst + 1);
    }
}

/* ---- dequantize --------------------------------------------------------------------------- */

/* FP8 codes (int32 lanes) -> element values: the magnitude bits shifted into a float32 and
 * rebiased by one exact multiply (subnormals land on float32 denormals); Inf/NaN patched. */
static inline __m512 decode_fp8(const mx_params *p, __m512i code)
{
    __m512i mag = _mm512_and_si512(code, _mm512_set1_epi32(0x7f));
    __m512 v = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(mag, 23 - p->mbits)),
                             _mm512_set1_ps(mx_pow2f(127 - p->bias)));
    if (p->fmt == HERD_MX_FP8_E4M3) {
        __mmask16 nan = _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7f));
        v = _mm512_mask_mov_ps(v, nan, _mm512_castsi512_ps(_mm512_set1_epi32(0x7fc00000)));
    } else {
        __mmask16 inf = _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7c));
        __mmask16 nan = _mm512_cmpgt_epi32_mask(mag, _mm512_set1_epi32(0x7c));
        v = _mm512_mask_mov_ps(v, inf, _mm512_castsi512_ps(_mm512_set1_epi32(0x7f800000)));
        v = _mm512_mask_mov_ps(v, nan, _mm512_castsi512_ps(_mm512_set1_epi32(0x7fc00000)));
    }
    __m512i sign = _mm512_slli_epi32(_mm512_and_si512(code, _mm512_set1_epi32(0x80)), 24);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign));
}

/* FP6 codes of 16 elements (4 groups of 3 bytes at in) as int32 lanes. */
static inline __m512i unpack_fp6(const uint8_t *in)
{
    __m512i bytes = _mm512_broadcast_i32x4(_mm_maskz_loadu_epi8(0x0fff, in));
    /* 128-bit lane L holds group L: every dword gets the group's 3 bytes, then its shift. */
    const __m512i pick =
        _mm512_set_epi8(-1, 11, 10, 9, -1, 11, 10, 9, -1, 11, 10, 9, -1, 11, 10, 9, -1, 8, 7, 6, -1,
                        8, 7, 6, -1, 8, 7, 6, -1, 8, 7, 6, -1, 5, 4, 3, -1, 5, 4, 3, -1, 5, 4, 3,
                        -1, 5, 4, 3, -1, 2, 1, 0, -1, 2, 1, 0, -1, 2, 1, 0, -1, 2, 1, 0);
    const __m512i shifts = _mm512_set_epi32(18, 12, 6, 0, 18, 12, 6, 0, 18, 12, 6, 0, 18, 12, 6, 0);
    __m512i w = _mm512_srlv_epi32(_mm512_shuffle_epi8(bytes, pick), shifts);
    return _mm512_and_si512(w, _mm512_set1_epi32(63));
}

void herd_mx_dequantize_avx512(const mx_params *p, const uint8_t *src, float *dst, size_t nblocks)
{
    /* Looked up with permutes: FP4 all 16 codes, FP6 the 32 magnitudes (sign added apart). */
    float tab[32];
    for (int i = 0; i < 32; i++)
        tab[i] = herd_mx_decode(p->fmt, (uint8_t)(p->bits == 4 ? i & 15 : i));
    const __m512 tab_lo = _mm512_loadu_ps(tab), tab_hi = _mm512_loadu_ps(tab + 16);
    for (size_t b = 0; b < nblocks; b++, src += p->block_bytes, dst += HERD_MX_BLOCK) {
        uint8_t scale = src[0];
        if (scale == HERD_E8M0_NAN) {
            __m512 nan = _mm512_castsi512_ps(_mm512_set1_epi32((int)MX_NAN_BITS));
            _mm512_storeu_ps(dst, nan);
            _mm512_storeu_ps(dst + 16, nan);
            continue;
        }
        __m512 x = _mm512_set1_ps(mx_pow2f((int)scale - 127));
        __m512 v0, v1;
        if (p->is_int) {
            /* q * (X * 2^-6): X * 2^-6 >= 2^-133 is exact, and so is every product. */
            x = _mm512_mul_ps(x, _mm512_set1_ps(0x1p-6f));
            v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(src + 1))));
            v1 =
                _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(src + 17))));
        } else if (p->bits == 8) {
            v0 = decode_fp8(p, _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(src + 1))));
            v1 = decode_fp8(p, _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(src + 17))));
        } else if (p->bits == 4) {
            __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(src + 1)));
            v0 = _mm512_permutexvar_ps(_mm512_and_si512(c, _mm512_set1_epi32(15)), tab_lo);
            v1 = _mm512_permutexvar_ps(_mm512_srli_epi32(c, 4), tab_lo);
        } else {
            __m512i c0 = unpack_fp6(src + 1), c1 = unpack_fp6(src + 13);
            __m512i s0 = _mm512_slli_epi32(_mm512_srli_epi32(c0, 5), 31);
            __m512i s1 = _mm512_slli_epi32(_mm512_srli_epi32(c1, 5), 31);
            v0 = _mm512_permutex2var_ps(tab_lo, c0, tab_hi); /* index bits 0..4: magnitude */
            v1 = _mm512_permutex2var_ps(tab_lo, c1, tab_hi);
            v0 = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v0), s0));
            v1 = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v1), s1));
        }
        _mm512_storeu_ps(dst, _mm512_mul_ps(v0, x));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(v1, x));
    }
}
