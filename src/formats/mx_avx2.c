/* AVX2 twins of the MX row codecs, for CPUs without AVX-512: a block of 32 floats is four ymm
 * registers. Same lane arithmetic as mx_avx512.c (see mx_internal.h), with compare vectors and
 * blends where AVX-512 has mask registers, and pack instructions to narrow the codes. */
#include "mx_internal.h"

#include <immintrin.h>

/* ---- quantize ----------------------------------------------------------------------------- */

static inline __m256i encode8(const mx_params *p, herd_mx_rounding r, __m256 v)
{
    __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    __m256i pe = _mm256_setzero_si256();
    __m256 k;
    if (p->is_int) {
        k = _mm256_mul_ps(a, _mm256_set1_ps(64.0f));
    } else {
        __m256i eb = _mm256_srli_epi32(_mm256_castps_si256(a), 23);
        pe = _mm256_max_epi32(_mm256_sub_epi32(eb, _mm256_set1_epi32(127)),
                              _mm256_set1_epi32(p->emin));
        __m256i m2 = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(127 + p->mbits), pe), 23);
        k = _mm256_mul_ps(a, _mm256_castsi256_ps(m2)); /* |v| * 2^(m - pe), exact */
    }
    __m256 q;
    if (r == HERD_MX_ROUND_EVEN) {
        q = _mm256_round_ps(k, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {
        __m256 t = _mm256_round_ps(k, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 up = _mm256_cmp_ps(_mm256_sub_ps(k, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
        q = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
    }
    __m256i qi = _mm256_cvttps_epi32(q);
    if (p->is_int) { /* two's complement negate where neg (all ones) */
        qi = _mm256_min_epi32(qi, _mm256_set1_epi32(127));
        return _mm256_sub_epi32(_mm256_xor_si256(qi, neg), neg);
    }
    __m256i mag = _mm256_add_epi32(
        _mm256_slli_epi32(_mm256_sub_epi32(pe, _mm256_set1_epi32(p->emin)), p->mbits), qi);
    mag = _mm256_min_epi32(mag, _mm256_set1_epi32((int)p->max_mag));
    return _mm256_or_si256(mag, _mm256_and_si256(neg, _mm256_set1_epi32(1 << (p->bits - 1))));
}

/* Four vectors of 8 int32 codes -> 32 bytes in element order. */
static inline __m256i narrow32(const mx_params *p, __m256i c0, __m256i c1, __m256i c2, __m256i c3)
{
    __m256i w01 = _mm256_packs_epi32(c0, c1), w23 = _mm256_packs_epi32(c2, c3);
    __m256i b = p->is_int ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    /* The packs work per 128-bit lane: dword j holds codes 4*(j/4).. of vector c(j%4). */
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline void store_payload(const mx_params *p, __m256i b, uint8_t *out)
{
    if (p->bits == 8) {
        _mm256_storeu_si256((__m256i *)out, b);
    } else if (p->bits == 4) { /* ggml order: byte j = code j | code j+16 << 4 */
        __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
        _mm_storeu_si128((__m128i *)out, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
    } else { /* FP6: 4 codes -> the 24-bit word c0 | c1<<6 | c2<<12 | c3<<18, 3 bytes */
        __m256i w16 = _mm256_maddubs_epi16(b, _mm256_set1_epi16(64 << 8 | 1));
        __m256i w32 = _mm256_madd_epi16(w16, _mm256_set1_epi32(4096 << 16 | 1));
        __m256i packed = _mm256_shuffle_epi8(
            w32, _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2,
                                  4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
        const __m128i three = _mm_setr_epi32(-1, -1, -1, 0); /* store 12 bytes */
        _mm_maskstore_epi32((int *)out, three, _mm256_castsi256_si128(packed));
        _mm_maskstore_epi32((int *)(out + 12), three, _mm256_extracti128_si256(packed, 1));
    }
}

void herd_mx_quantize_avx2(const mx_params *p, herd_mx_rounding r, const float *src, uint8_t *dst,
                           size_t nblocks)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    for (size_t b = 0; b < nblocks; b++, src += HERD_MX_BLOCK, dst += p->block_bytes) {
        __m256 x[4];
        __m256i m = _mm256_setzero_si256();
        for (int i = 0; i < 4; i++) {
            x[i] = _mm256_loadu_ps(src + 8 * i);
            m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(x[i]), absmask));
        }
        m = _mm256_max_epu32(m, _mm256_permute2x128_si256(m, m, 1));
        m = _mm256_max_epu32(m, _mm256_shuffle_epi32(m, 0x4e));
        m = _mm256_max_epu32(m, _mm256_shuffle_epi32(m, 0xb1));
        uint32_t amax = (uint32_t)_mm256_cvtsi256_si32(m);
        if (amax >= 0x7f800000u) { /* Inf or NaN: NaN scale, codes 0 */
            memset(dst, 0, (size_t)p->block_bytes);
            dst[0] = HERD_E8M0_NAN;
            continue;
        }
        uint8_t scale = mx_scale_of_amax(p, amax);
        __m256 inv = _mm256_set1_ps(mx_pow2f(127 - (int)scale));
        __m256i c[4];
        for (int i = 0; i < 4; i++)
            c[i] = encode8(p, r, _mm256_mul_ps(x[i], inv));
        dst[0] = scale;
        store_payload(p, narrow32(p, c[0], c[1], c[2], c[3]), dst + 1);
    }
}

/* ---- dequantize --------------------------------------------------------------------------- */

/* FP codes (int32 lanes) -> element values: magnitude shifted into a float32 and rebiased by one
 * exact multiply, FP8 Inf/NaN patched, sign or'ed in. */
static inline __m256 decode_fp8lanes(const mx_params *p, __m256i code)
{
    __m256i mag = _mm256_and_si256(code, _mm256_set1_epi32((1 << (p->bits - 1)) - 1));
    __m256 v = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(mag, 23 - p->mbits)),
                             _mm256_set1_ps(mx_pow2f(127 - p->bias)));
    if (p->fmt == HERD_MX_FP8_E4M3) {
        __m256i nan = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f));
        v = _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)),
                             _mm256_castsi256_ps(nan));
    } else if (p->fmt == HERD_MX_FP8_E5M2) {
        __m256i inf = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7c));
        __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7c));
        v = _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)),
                             _mm256_castsi256_ps(inf));
        v = _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)),
                             _mm256_castsi256_ps(nan));
    }
    __m256i sign = _mm256_slli_epi32(_mm256_srli_epi32(code, p->bits - 1), 31);
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(v), sign));
}

/* FP6: the codes of groups g, g+1 (6 bytes at offset o of the 16 bytes in s) as int32 lanes. */
static inline __m256i unpack_fp6(__m128i s, int o)
{
    const __m256i base =
        _mm256_setr_epi8(0, 1, 2, -128, 0, 1, 2, -128, 0, 1, 2, -128, 0, 1, 2, -128, 3, 4, 5, -128,
                         3, 4, 5, -128, 3, 4, 5, -128, 3, 4, 5, -128);
    __m256i pick = _mm256_add_epi8(base, _mm256_set1_epi8((char)o)); /* -128 + o stays < 0 */
    __m256i w = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(s), pick);
    w = _mm256_srlv_epi32(w, _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18));
    return _mm256_and_si256(w, _mm256_set1_epi32(63));
}

void herd_mx_dequantize_avx2(const mx_params *p, const uint8_t *src, float *dst, size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++, src += p->block_bytes, dst += HERD_MX_BLOCK) {
        uint8_t scale = src[0];
        if (scale == HERD_E8M0_NAN) {
            __m256 nan = _mm256_castsi256_ps(_mm256_set1_epi32((int)MX_NAN_BITS));
            for (int i = 0; i < 4; i++)
                _mm256_storeu_ps(dst + 8 * i, nan);
            continue;
        }
        __m256 x = _mm256_set1_ps(mx_pow2f((int)scale - 127));
        const uint8_t *q = src + 1;
        __m256 v[4];
        if (p->is_int) {
            x = _mm256_mul_ps(x, _mm256_set1_ps(0x1p-6f)); /* exact, see mx_avx512.c */
            for (int i = 0; i < 4; i++)
                v[i] = _mm256_cvtepi32_ps(
                    _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * i))));
        } else if (p->bits == 8) {
            for (int i = 0; i < 4; i++)
                v[i] = decode_fp8lanes(
                    p, _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * i))));
        } else if (p->bits == 4) {
            for (int i = 0; i < 2; i++) {
                __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * i)));
                v[i] = decode_fp8lanes(p, _mm256_and_si256(c, _mm256_set1_epi32(15)));
                v[i + 2] = decode_fp8lanes(p, _mm256_srli_epi32(c, 4));
            }
        } else { /* payload bytes 0..15 and 8..23: no read past the 25-byte record */
            __m128i s0 = _mm_loadu_si128((const __m128i *)q);
            __m128i s1 = _mm_loadu_si128((const __m128i *)(q + 8));
            v[0] = decode_fp8lanes(p, unpack_fp6(s0, 0));
            v[1] = decode_fp8lanes(p, unpack_fp6(s0, 6));
            v[2] = decode_fp8lanes(p, unpack_fp6(s1, 4));
            v[3] = decode_fp8lanes(p, unpack_fp6(s1, 10));
        }
        for (int i = 0; i < 4; i++)
            _mm256_storeu_ps(dst + 8 * i, _mm256_mul_ps(v[i], x));
    }
}
