/* AVX2 + FMA attention kernels (see attn_simd.h), the AVX-512 ones at half width: an 8×8
 * transpose to gather key tiles, scores for 4 rows × 16 keys per pass over d, a vector exp,
 * and out += p·v for 4 rows × 16 components per value row read (16 registers in all). */
#include "attn_simd.h"

#include "kernels/x86/vexp.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>
#include <stdbool.h>

static __m256i lanes(int64_t lo, int64_t hi) /* all ones in lanes i with lo ≤ i < hi */
{
    lo = lo < 0 ? 0 : lo > 8 ? 8 : lo;
    hi = hi < 0 ? 0 : hi > 8 ? 8 : hi;
    __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), i),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), i));
}

static float hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* r[i][c] → r[c][i]: pairs of rows, quads, then 128-bit halves across the quads. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    /* u[4k + c] holds, in half L, rows 4k..4k+3 of column 4L + c */
#pragma GCC unroll 8
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

static void gather(float *kt, int64_t stride, const float *const *k, int64_t j0, int64_t j1,
                   int64_t dim)
{
    for (int64_t jb = j0 & ~(int64_t)7; jb < j1; jb += 8) {
        for (int64_t i = jb + 8; i < jb + 16 && i < j1; i++) /* the next block's rows */
            for (int64_t d = 0; d < dim; d += 16)
                _mm_prefetch((const char *)(k[i] + d), _MM_HINT_T0);
        for (int64_t d0 = 0; d0 < dim; d0 += 8) {
            __m256i dm = lanes(0, dim - d0);
            __m256 r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                r[i] = jb + i >= j0 && jb + i < j1 ? _mm256_maskload_ps(k[jb + i] + d0, dm)
                                                   : _mm256_setzero_ps();
            transpose8(r);
            int64_t nd = dim - d0 < 8 ? dim - d0 : 8;
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                if (i < nd)
                    _mm256_store_ps(kt + (d0 + i) * stride + jb, r[i]);
        }
    }
}

/* Scaled scores of the 4 rows for tile positions [j, j+16) into p[r·stride + j ..]. */
static inline void scores16(const attn_tile *t, const float *const q[ATTN_ROWS], int64_t j)
{
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00,
           s30 = s00, s31 = s00;
    const float *kt = t->kt + j, *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
    for (int64_t d = 0; d < t->dim; d++, kt += t->stride) {
        __m256 k0 = _mm256_load_ps(kt), k1 = _mm256_load_ps(kt + 8), w;
        w = _mm256_broadcast_ss(q0 + d);
        s00 = _mm256_fmadd_ps(w, k0, s00);
        s01 = _mm256_fmadd_ps(w, k1, s01);
        w = _mm256_broadcast_ss(q1 + d);
        s10 = _mm256_fmadd_ps(w, k0, s10);
        s11 = _mm256_fmadd_ps(w, k1, s11);
        w = _mm256_broadcast_ss(q2 + d);
        s20 = _mm256_fmadd_ps(w, k0, s20);
        s21 = _mm256_fmadd_ps(w, k1, s21);
        w = _mm256_broadcast_ss(q3 + d);
        s30 = _mm256_fmadd_ps(w, k0, s30);
        s31 = _mm256_fmadd_ps(w, k1, s31);
    }
    __m256 sc = _mm256_set1_ps(t->scale);
    float *p = t->p + j;
    int64_t KT = t->stride;
    _mm256_store_ps(p, _mm256_mul_ps(s00, sc));
    _mm256_store_ps(p + 8, _mm256_mul_ps(s01, sc));
    _mm256_store_ps(p + KT, _mm256_mul_ps(s10, sc));
    _mm256_store_ps(p + KT + 8, _mm256_mul_ps(s11, sc));
    _mm256_store_ps(p + 2 * KT, _mm256_mul_ps(s20, sc));
    _mm256_store_ps(p + 2 * KT + 8, _mm256_mul_ps(s21, sc));
    _mm256_store_ps(p + 3 * KT, _mm256_mul_ps(s30, sc));
    _mm256_store_ps(p + 3 * KT + 8, _mm256_mul_ps(s31, sc));
}

/* The online softmax of one row over its positions [a, b) of the tile (as in AVX-512). */
static void softmax_row(const attn_tile *t, float *p, float *st, int64_t a, int64_t b, int64_t j0,
                        int64_t j1)
{
    __m256 ninf = _mm256_set1_ps(-INFINITY), mx = ninf;
    for (int64_t j = j0; j < j1; j += 8) {
        __m256 s =
            _mm256_blendv_ps(ninf, _mm256_load_ps(p + j), _mm256_castsi256_ps(lanes(a - j, b - j)));
        mx = _mm256_max_ps(mx, s);
    }
    float m_new = hmax(mx);
    if (!(m_new > st[0])) /* also for an empty range (m_new = -inf) */
        m_new = st[0];
    if (m_new == -INFINITY) { /* nothing seen yet: no weights */
        for (int64_t j = j0; j < j1; j += 8)
            _mm256_store_ps(p + j, _mm256_setzero_ps());
        return;
    }
    if (m_new > st[0]) { /* rescale what was summed under the old maximum */
        __m256 c = herd_exp8(_mm256_set1_ps(st[0] - m_new));
        float *o = st + ATTN_STATE_HEAD;
        for (int64_t d = 0; d < t->dim; d += 8) /* the state is padded to 16 floats */
            _mm256_store_ps(o + d, _mm256_mul_ps(c, _mm256_load_ps(o + d)));
        st[1] *= _mm256_cvtss_f32(c);
        st[0] = m_new;
    }
    __m256 m = _mm256_set1_ps(m_new), sum = _mm256_setzero_ps();
    for (int64_t j = j0; j < j1; j += 8) {
        __m256 e = _mm256_and_ps(_mm256_castsi256_ps(lanes(a - j, b - j)),
                                 herd_exp8(_mm256_sub_ps(_mm256_load_ps(p + j), m)));
        _mm256_store_ps(p + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    st[1] += hsum(sum);
}

static void attend(const attn_tile *t, const attn_rows *rs)
{
    int64_t A = t->stride, B = 0, D = t->dim, KT = t->stride;
    for (int r = 0; r < ATTN_ROWS; r++)
        if (rs->a[r] < rs->b[r]) {
            A = rs->a[r] < A ? rs->a[r] : A;
            B = rs->b[r] > B ? rs->b[r] : B;
        }
    for (int64_t j = A & ~(int64_t)15; j < B; j += 16)
        scores16(t, rs->q, j);
    for (int r = 0; r < ATTN_ROWS; r++)
        softmax_row(t, t->p + r * KT, rs->st[r], rs->a[r], rs->b[r], A & ~(int64_t)7, B);
    const float *p0 = t->p, *p1 = p0 + KT, *p2 = p1 + KT, *p3 = p2 + KT;
    float *o0 = rs->st[0] + ATTN_STATE_HEAD, *o1 = rs->st[1] + ATTN_STATE_HEAD,
          *o2 = rs->st[2] + ATTN_STATE_HEAD, *o3 = rs->st[3] + ATTN_STATE_HEAD;
    /* 4 rows × 16 components in 8 registers; the states are padded to 16 floats, so only
     * the value rows need masked loads at the end */
    for (int64_t d = 0; d < D; d += 16) {
        __m256i m0 = lanes(0, D - d), m1 = lanes(0, D - d - 8);
        __m256 a00 = _mm256_load_ps(o0 + d), a01 = _mm256_load_ps(o0 + d + 8),
               a10 = _mm256_load_ps(o1 + d), a11 = _mm256_load_ps(o1 + d + 8),
               a20 = _mm256_load_ps(o2 + d), a21 = _mm256_load_ps(o2 + d + 8),
               a30 = _mm256_load_ps(o3 + d), a31 = _mm256_load_ps(o3 + d + 8);
        bool full = d + 16 <= D;
        for (int64_t j = A; j < B; j++) {
            const float *v = t->v[j] + d;
            if (d == 0)
                attn_prefetch_at(t, j);
            if (j + 8 < B) /* cold in decode: the row 8 ahead */
                _mm_prefetch((const char *)(t->v[j + 8] + d), _MM_HINT_T0);
            __m256 v0 = full ? _mm256_loadu_ps(v) : _mm256_maskload_ps(v, m0),
                   v1 = full ? _mm256_loadu_ps(v + 8) : _mm256_maskload_ps(v + 8, m1), w;
            w = _mm256_broadcast_ss(p0 + j);
            a00 = _mm256_fmadd_ps(w, v0, a00);
            a01 = _mm256_fmadd_ps(w, v1, a01);
            w = _mm256_broadcast_ss(p1 + j);
            a10 = _mm256_fmadd_ps(w, v0, a10);
            a11 = _mm256_fmadd_ps(w, v1, a11);
            w = _mm256_broadcast_ss(p2 + j);
            a20 = _mm256_fmadd_ps(w, v0, a20);
            a21 = _mm256_fmadd_ps(w, v1, a21);
            w = _mm256_broadcast_ss(p3 + j);
            a30 = _mm256_fmadd_ps(w, v0, a30);
            a31 = _mm256_fmadd_ps(w, v1, a31);
        }
        _mm256_store_ps(o0 + d, a00);
        _mm256_store_ps(o0 + d + 8, a01);
        _mm256_store_ps(o1 + d, a10);
        _mm256_store_ps(o1 + d + 8, a11);
        _mm256_store_ps(o2 + d, a20);
        _mm256_store_ps(o2 + d + 8, a21);
        _mm256_store_ps(o3 + d, a30);
        _mm256_store_ps(o3 + d + 8, a31);
    }
}

/* bf16: widen and shift; q8_0: per block of 32, int8 -> float times the fp16 scale (one
 * rounding, as the plain version). Tails of fewer than 8 go one by one. */
static void to_f32(herd_type t, const uint8_t *src, float *dst, int64_t dim)
{
    if (t == HERD_TYPE_BF16) {
        const uint16_t *h = (const uint16_t *)(const void *)src;
        int64_t d = 0;
        for (; d + 8 <= dim; d += 8) {
            __m256i w =
                _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(h + d)));
            _mm256_storeu_ps(dst + d, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
        for (; d < dim; d++)
            dst[d] = herd_bf16_to_f32(h[d]);
        return;
    }
    for (int64_t b = 0; b < dim; b += 32, src += 34) { /* Q8_0 */
        uint16_t h;
        memcpy(&h, src, 2);
        float sc = _cvtsh_ss(h);
        __m256 s = _mm256_set1_ps(sc);
        int64_t d = b, end = b + 32 < dim ? b + 32 : dim;
        for (; d + 8 <= end; d += 8) {
            int64_t q8;
            memcpy(&q8, src + 2 + (d - b), 8);
            __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(q8)));
            _mm256_storeu_ps(dst + d, _mm256_mul_ps(x, s));
        }
        for (; d < end; d++)
            dst[d] = (float)(int8_t)src[2 + (d - b)] * sc;
    }
}

static void scale(float *dst, const float *src, float s, int64_t n)
{
    __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(src + i), vs));
    for (; i < n; i++)
        dst[i] = src[i] * s;
}

const attn_kernels herd_attn_avx2 = {gather, attend, to_f32, scale};
