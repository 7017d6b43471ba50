/* AVX-512 attention kernels (see attn_simd.h): an in-register 16×16 transpose to gather key
 * tiles, scores for 4 rows × 32 keys per pass over d (8 independent FMA chains), a vector exp,
 * and out += p·v for 4 rows × 64 components per value row read. */
#include "attn_simd.h"

#include "kernels/x86/vexp.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static __mmask16 lanes(int64_t lo, int64_t hi) /* lanes i with lo ≤ i < hi, clamped to 0..16 */
{
    lo = lo < 0 ? 0 : lo > 16 ? 16 : lo;
    hi = hi < 0 ? 0 : hi > 16 ? 16 : hi;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* r[i][c] → r[c][i]: pairs of rows, then quads, then 128-bit quarters across the quads. */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]),
                c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* u[4k + c] holds, in quarter L, rows 4k..4k+3 of column 4L + c */
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44),
               x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee),
               x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44),
               x3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xdd);
        r[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xdd);
    }
}

static void gather(float *kt, int64_t stride, const float *const *k, int64_t j0, int64_t j1,
                   int64_t dim)
{
    for (int64_t jb = j0 & ~(int64_t)15; jb < j1; jb += 16) {
        for (int64_t i = jb + 16; i < jb + 32 && i < j1; i++) /* the next block's rows */
            for (int64_t d = 0; d < dim; d += 16)
                _mm_prefetch((const char *)(k[i] + d), _MM_HINT_T0);
        for (int64_t d0 = 0; d0 < dim; d0 += 16) {
            __mmask16 dm = lanes(0, dim - d0);
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = jb + i >= j0 && jb + i < j1 ? _mm512_maskz_loadu_ps(dm, k[jb + i] + d0)
                                                   : _mm512_setzero_ps();
            transpose16(r);
            int64_t nd = dim - d0 < 16 ? dim - d0 : 16;
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                if (i < nd)
                    _mm512_store_ps(kt + (d0 + i) * stride + jb, r[i]);
        }
    }
}

/* Scaled scores of the 4 rows for tile positions [j, j+32) into p[r·stride + j ..]. Written
 * out register by register: GCC keeps arrays of vectors in memory. */
static inline void scores32(const attn_tile *t, const float *const q[ATTN_ROWS], int64_t j)
{
    __m512 s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00,
           s30 = s00, s31 = s00;
    const float *kt = t->kt + j, *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
    for (int64_t d = 0; d < t->dim; d++, kt += t->stride) {
        __m512 k0 = _mm512_load_ps(kt), k1 = _mm512_load_ps(kt + 16), w;
        w = _mm512_set1_ps(q0[d]);
        s00 = _mm512_fmadd_ps(w, k0, s00);
        s01 = _mm512_fmadd_ps(w, k1, s01);
        w = _mm512_set1_ps(q1[d]);
        s10 = _mm512_fmadd_ps(w, k0, s10);
        s11 = _mm512_fmadd_ps(w, k1, s11);
        w = _mm512_set1_ps(q2[d]);
        s20 = _mm512_fmadd_ps(w, k0, s20);
        s21 = _mm512_fmadd_ps(w, k1, s21);
        w = _mm512_set1_ps(q3[d]);
        s30 = _mm512_fmadd_ps(w, k0, s30);
        s31 = _mm512_fmadd_ps(w, k1, s31);
    }
    __m512 sc = _mm512_set1_ps(t->scale);
    float *p = t->p + j;
    int64_t KT = t->stride;
    _mm512_store_ps(p, _mm512_mul_ps(s00, sc));
    _mm512_store_ps(p + 16, _mm512_mul_ps(s01, sc));
    _mm512_store_ps(p + KT, _mm512_mul_ps(s10, sc));
    _mm512_store_ps(p + KT + 16, _mm512_mul_ps(s11, sc));
    _mm512_store_ps(p + 2 * KT, _mm512_mul_ps(s20, sc));
    _mm512_store_ps(p + 2 * KT + 16, _mm512_mul_ps(s21, sc));
    _mm512_store_ps(p + 3 * KT, _mm512_mul_ps(s30, sc));
    _mm512_store_ps(p + 3 * KT + 16, _mm512_mul_ps(s31, sc));
}

/* The online softmax of one row over its positions [a, b) of the tile: scores in p become
 * weights (0 outside [a, b) within [j0, j1)), the state is rescaled if the maximum grew. */
static void softmax_row(const attn_tile *t, float *p, float *st, int64_t a, int64_t b, int64_t j0,
                        int64_t j1)
{
    __m512 ninf = _mm512_set1_ps(-INFINITY), mx = ninf;
    for (int64_t j = j0; j < j1; j += 16)
        mx = _mm512_mask_max_ps(mx, lanes(a - j, b - j), mx, _mm512_load_ps(p + j));
    float m_new = _mm512_reduce_max_ps(mx);
    if (!(m_new > st[0])) /* also for an empty range (m_new = -inf) */
        m_new = st[0];
    if (m_new == -INFINITY) { /* nothing seen yet: no weights */
        for (int64_t j = j0; j < j1; j += 16)
            _mm512_store_ps(p + j, _mm512_setzero_ps());
        return;
    }
    if (m_new > st[0]) { /* rescale what was summed under the old maximum */
        __m512 c = herd_exp16(_mm512_set1_ps(st[0] - m_new));
        float *o = st + ATTN_STATE_HEAD;
        for (int64_t d = 0; d < t->dim; d += 16) {
            __mmask16 dm = lanes(0, t->dim - d);
            _mm512_mask_store_ps(o + d, dm, _mm512_mul_ps(c, _mm512_load_ps(o + d)));
        }
        st[1] *= _mm512_cvtss_f32(c);
        st[0] = m_new;
    }
    __m512 m = _mm512_set1_ps(m_new), sum = _mm512_setzero_ps();
    for (int64_t j = j0; j < j1; j += 16) {
        __m512 e = _mm512_maskz_mov_ps(lanes(a - j, b - j),
                                       herd_exp16(_mm512_sub_ps(_mm512_load_ps(p + j), m)));
        _mm512_store_ps(p + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    st[1] += _mm512_reduce_add_ps(sum);
}

static void attend(const attn_tile *t, const attn_rows *rs)
{
    int64_t A = t->stride, B = 0, D = t->dim, KT = t->stride;
    for (int r = 0; r < ATTN_ROWS; r++)
        if (rs->a[r] < rs->b[r]) {
            A = rs->a[r] < A ? rs->a[r] : A;
            B = rs->b[r] > B ? rs->b[r] : B;
        }
    for (int64_t j = A & ~(int64_t)31; j < B; j += 32)
        scores32(t, rs->q, j);
    for (int r = 0; r < ATTN_ROWS; r++)
        softmax_row(t, t->p + r * KT, rs->st[r], rs->a[r], rs->b[r], A & ~(int64_t)15, B);
    const float *p0 = t->p, *p1 = p0 + KT, *p2 = p1 + KT, *p3 = p2 + KT;
    float *o0 = rs->st[0] + ATTN_STATE_HEAD, *o1 = rs->st[1] + ATTN_STATE_HEAD,
          *o2 = rs->st[2] + ATTN_STATE_HEAD, *o3 = rs->st[3] + ATTN_STATE_HEAD;
    int64_t d = 0;
    for (; d + 64 <= D; d += 64) { /* 4 rows × 64 components in 16 registers */
#define ROW_LOAD(r)                                                                                \
    __m512 a##r##0 = _mm512_load_ps(o##r + d), a##r##1 = _mm512_load_ps(o##r + d + 16),            \
           a##r##2 = _mm512_load_ps(o##r + d + 32), a##r##3 = _mm512_load_ps(o##r + d + 48)
#define ROW_FMA(r)                                                                                 \
    do {                                                                                           \
        __m512 w = _mm512_set1_ps(p##r[j]);                                                        \
        a##r##0 = _mm512_fmadd_ps(w, v0, a##r##0);                                                 \
        a##r##1 = _mm512_fmadd_ps(w, v1, a##r##1);                                                 \
        a##r##2 = _mm512_fmadd_ps(w, v2, a##r##2);                                                 \
        a##r##3 = _mm512_fmadd_ps(w, v3, a##r##3);                                                 \
    } while (0)
#define ROW_STORE(r)                                                                               \
    do {                                                                                           \
        _mm512_store_ps(o##r + d, a##r##0);                                                        \
        _mm512_store_ps(o##r + d + 16, a##r##1);                                                   \
        _mm512_store_ps(o##r + d + 32, a##r##2);                                                   \
        _mm512_store_ps(o##r + d + 48, a##r##3);                                                   \
    } while (0)
        ROW_LOAD(0);
        ROW_LOAD(1);
        ROW_LOAD(2);
        ROW_LOAD(3);
        for (int64_t j = A; j < B; j++) {
            const float *v = t->v[j] + d;
            if (d == 0)
                attn_prefetch_at(t, j);
            if (j + 8 < B) /* cold in decode: the row 8 ahead */
                for (int i = 0; i < 64; i += 16)
                    _mm_prefetch((const char *)(t->v[j + 8] + d + i), _MM_HINT_T0);
            __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16),
                   v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
            ROW_FMA(0);
            ROW_FMA(1);
            ROW_FMA(2);
            ROW_FMA(3);
        }
        ROW_STORE(0);
        ROW_STORE(1);
        ROW_STORE(2);
        ROW_STORE(3);
#undef ROW_LOAD
#undef ROW_FMA
#undef ROW_STORE
    }
    for (; d < D; d += 16) { /* the rest, 16 (or fewer) components at a time */
        __mmask16 dm = lanes(0, D - d);
        __m512 a0 = _mm512_load_ps(o0 + d), a1 = _mm512_load_ps(o1 + d),
               a2 = _mm512_load_ps(o2 + d), a3 = _mm512_load_ps(o3 + d);
        for (int64_t j = A; j < B; j++) {
            if (d == 0)
                attn_prefetch_at(t, j);
            __m512 vi = _mm512_maskz_loadu_ps(dm, t->v[j] + d);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(p0[j]), vi, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(p1[j]), vi, a1);
            a2 = _mm512_fmadd_ps(_mm512_set1_ps(p2[j]), vi, a2);
            a3 = _mm512_fmadd_ps(_mm512_set1_ps(p3[j]), vi, a3);
        }
        _mm512_mask_store_ps(o0 + d, dm, a0);
        _mm512_mask_store_ps(o1 + d, dm, a1);
        _mm512_mask_store_ps(o2 + d, dm, a2);
        _mm512_mask_store_ps(o3 + d, dm, a3);
    }
}

/* bf16: widen and shift; q8_0: per block of 32, int8 -> float times the fp16 scale (one
 * rounding, as the plain version). Tails are masked. */
static void to_f32(herd_type t, const uint8_t *src, float *dst, int64_t dim)
{
    if (t == HERD_TYPE_BF16) {
        const uint16_t *h = (const uint16_t *)(const void *)src;
        for (int64_t d = 0; d < dim; d += 16) {
            __mmask16 m = lanes(0, dim - d);
            __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h + d));
            _mm512_mask_storeu_ps(dst + d, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
        }
        return;
    }
    for (int64_t b = 0; b < dim; b += 32, src += 34) { /* Q8_0 */
        uint16_t h;
        memcpy(&h, src, 2);
        __m512 s = _mm512_set1_ps(_cvtsh_ss(h));
        for (int64_t d = b; d < b + 32 && d < dim; d += 16) {
            __mmask16 m = lanes(0, dim - d);
            __m128i q = _mm_maskz_loadu_epi8(m, src + 2 + (d - b));
            __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
            _mm512_mask_storeu_ps(dst + d, m, _mm512_mul_ps(x, s));
        }
    }
}

static void scale(float *dst, const float *src, float s, int64_t n)
{
    __m512 vs = _mm512_set1_ps(s);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(0, n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + i), vs));
    }
}

const attn_kernels herd_attn_avx512 = {gather, attend, to_f32, scale};
