/* AVX-512 twins of the K-quant sub-block searches in kblocks.c (kb_fit_asym, kb_fit_sym,
 * kb_fit_grid): eight sub-blocks at once, one per lane. Each lane does the C search's arithmetic
 * in its order: the float products, the double sums value by value, the same candidate scales
 * and the same comparisons, so the results are the C twin's bits (tests/formats/test_kblocks.c
 * holds them to it). Lanes only differ in which updates they keep. */
#include "formats/kblocks.h"

#include <immintrin.h>
#include <math.h>

enum { LANES = 8, MAX_SUB = 32 };

/* The values and weights of 8 sub-blocks of n, value i of all eight in one register. */
static void transpose8(int n, const float *x, const float *w, __m256 *xt, __m256 *wt)
{
    for (int i = 0; i < n; i++) {
        xt[i] = _mm256_set_ps(x[7 * n + i], x[6 * n + i], x[5 * n + i], x[4 * n + i], x[3 * n + i],
                              x[2 * n + i], x[n + i], x[i]);
        wt[i] = _mm256_set_ps(w[7 * n + i], w[6 * n + i], w[5 * n + i], w[4 * n + i], w[3 * n + i],
                              w[2 * n + i], w[n + i], w[i]);
    }
}

/* round to nearest even after clamping to lo..hi; NaN goes to `nan` (as iround does) */
static inline __m256 iround8(__m256 v, float lo, float hi, float nan)
{
    __m256 ordered = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_blendv_ps(_mm256_set1_ps(nan), v, ordered);
}

void kb_fit_asym_avx512(int n, const float *x, const float *w, int nmax, float *s_out,
                        float *mn_out)
{
    __m256 xt[MAX_SUB], wt[MAX_SUB], L[MAX_SUB];
    transpose8(n, x, w, xt, wt);
    __m256 xmin = _mm256_setzero_ps(), xmax = xt[0];
    for (int i = 0; i < n; i++) {
        xmin = _mm256_min_ps(xt[i], xmin); /* x < xmin ? x : xmin */
        xmax = _mm256_max_ps(xt[i], xmax);
    }
    __mmask8 active = _mm256_cmp_ps_mask(xmax, xmin, _CMP_GT_OQ);
    __m256 s_best = _mm256_setzero_ps();
    __m256 mn_best = _mm256_xor_ps(xmin, _mm256_set1_ps(-0.0f)); /* -xmin, signed zero included */
    __m512d sw = _mm512_setzero_pd(), swx = _mm512_setzero_pd();
    for (int i = 0; i < n; i++) {
        sw = _mm512_add_pd(sw, _mm512_cvtps_pd(wt[i]));
        swx = _mm512_add_pd(swx, _mm512_cvtps_pd(_mm256_mul_ps(wt[i], xt[i])));
    }
    const __m512d inf = _mm512_set1_pd(INFINITY), zero = _mm512_setzero_pd();
    __m512d best = inf;
    for (int pass = 0; pass < 2; pass++) {
        __m512d pass_best = inf;
        __m256 lo = xmin;
        for (int step = -10; step <= 10; step++) {
            __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax + 0.1f * (float)step),
                                          _mm256_sub_ps(xmax, lo));
            __m512d swl = zero, swll = zero, swlx = zero;
            for (int i = 0; i < n; i++) {
                L[i] = iround8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo)), 0.0f, (float)nmax,
                               0.0f);
                __m256 wl = _mm256_mul_ps(wt[i], L[i]);
                swl = _mm512_add_pd(swl, _mm512_cvtps_pd(wl));
                swll = _mm512_add_pd(swll, _mm512_cvtps_pd(_mm256_mul_ps(wl, L[i])));
                swlx = _mm512_add_pd(swlx, _mm512_cvtps_pd(_mm256_mul_ps(wl, xt[i])));
            }
            __m512d det = _mm512_sub_pd(_mm512_mul_pd(sw, swll), _mm512_mul_pd(swl, swl));
            __mmask8 ok = active & _mm512_cmp_pd_mask(det, zero, _CMP_NLE_UQ); /* !(det <= 0) */
            if (!ok)
                continue;
            __m512d s =
                _mm512_div_pd(_mm512_sub_pd(_mm512_mul_pd(sw, swlx), _mm512_mul_pd(swl, swx)), det);
            __m512d off = _mm512_div_pd(
                _mm512_sub_pd(_mm512_mul_pd(swll, swx), _mm512_mul_pd(swl, swlx)), det);
            __mmask8 pos = _mm512_cmp_pd_mask(off, zero, _CMP_GT_OQ);
            off = _mm512_mask_mov_pd(off, pos, zero);
            s = _mm512_mask_div_pd(s, pos, swlx, swll);
            __m512d err = zero;
            for (int i = 0; i < n; i++) {
                __m512d d =
                    _mm512_sub_pd(_mm512_add_pd(_mm512_mul_pd(s, _mm512_cvtps_pd(L[i])), off),
                                  _mm512_cvtps_pd(xt[i]));
                err =
                    _mm512_add_pd(err, _mm512_mul_pd(_mm512_mul_pd(_mm512_cvtps_pd(wt[i]), d), d));
            }
            __mmask8 up = ok & _mm512_cmp_pd_mask(err, pass_best, _CMP_LT_OQ);
            pass_best = _mm512_mask_mov_pd(pass_best, up, err);
            if (pass == 1)
                lo = _mm256_mask_mov_ps(lo, up, _mm512_cvtpd_ps(off));
            __mmask8 win = ok & _mm512_cmp_pd_mask(err, best, _CMP_LT_OQ);
            best = _mm512_mask_mov_pd(best, win, err);
            s_best = _mm256_mask_mov_ps(s_best, win, _mm512_cvtpd_ps(s));
            mn_best = _mm256_mask_mov_ps(mn_best, win,
                                         _mm512_cvtpd_ps(_mm512_xor_pd(off, _mm512_set1_pd(-0.0))));
        }
    }
    _mm256_storeu_ps(s_out, s_best);
    _mm256_storeu_ps(mn_out, mn_best);
}

/* Per lane: the value of largest magnitude among the n values (the first wins ties) in *max;
 * the lanes whose sub-block is not all zero. */
static inline __mmask8 signed_max8(int n, const __m256 *xt, __m256 *max)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps(), m = _mm256_setzero_ps();
    for (int i = 0; i < n; i++) {
        __m256 a = _mm256_andnot_ps(sign, xt[i]);
        __mmask8 gt = _mm256_cmp_ps_mask(a, amax, _CMP_GT_OQ);
        amax = _mm256_mask_mov_ps(amax, gt, a);
        m = _mm256_mask_mov_ps(m, gt, xt[i]);
    }
    *max = m;
    return _mm256_cmp_ps_mask(amax, _mm256_setzero_ps(), _CMP_NEQ_UQ);
}

/* One step of a symmetric search: where the step's score swlx² / swll beats the best so far
 * (and the lane is active, with a positive weighted sum of squares), keep it and its scale
 * swlx / swll. The best score is kept as a float, as in the C search. */
static inline void keep_best(__mmask8 active, __m512d swlx, __m512d swll, __m512d *best,
                             __m256 *s_best)
{
    const __m512d score = _mm512_div_pd(_mm512_mul_pd(swlx, swlx), swll);
    __mmask8 win = active & _mm512_cmp_pd_mask(swll, _mm512_setzero_pd(), _CMP_GT_OQ) &
                   _mm512_cmp_pd_mask(score, *best, _CMP_GT_OQ);
    *best = _mm512_mask_mov_pd(*best, win, _mm512_cvtps_pd(_mm512_cvtpd_ps(score)));
    *s_best = _mm256_mask_mov_ps(*s_best, win, _mm512_cvtpd_ps(_mm512_div_pd(swlx, swll)));
}

/* swlx += w·q·x and swll += w·q·q, the products in float and the sums in double, as in the C
 * search */
static inline void add_wq(__m256 w, __m256 q, __m256 x, __m512d *swlx, __m512d *swll)
{
    const __m256 wq = _mm256_mul_ps(w, q);
    *swlx = _mm512_add_pd(*swlx, _mm512_cvtps_pd(_mm256_mul_ps(wq, x)));
    *swll = _mm512_add_pd(*swll, _mm512_cvtps_pd(_mm256_mul_ps(wq, q)));
}

void kb_fit_sym_avx512(int n, const float *x, const float *w, int nmax, float *s_out)
{
    __m256 xt[MAX_SUB], wt[MAX_SUB];
    transpose8(n, x, w, xt, wt);
    __m256 max;
    const __mmask8 active = signed_max8(n, xt, &max);
    const __m512d zero = _mm512_setzero_pd();
    __m512d best = _mm512_set1_pd(-1.0);
    __m256 s_best = _mm256_setzero_ps();
    for (int step = -9; step <= 9; step++) {
        __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-((float)nmax + 0.1f * (float)step)), max);
        __m512d swlx = zero, swll = zero;
        for (int i = 0; i < n; i++) {
            __m256 L = iround8(_mm256_mul_ps(iscale, xt[i]), (float)-nmax, (float)(nmax - 1), 0.0f);
            add_wq(wt[i], L, xt[i], &swlx, &swll);
        }
        keep_best(active, swlx, swll, &best, &s_best);
    }
    _mm256_storeu_ps(s_out, s_best);
}

void kb_fit_grid_avx512(int n, const float *x, const float *w, float *s_out)
{
    __m256 xt[MAX_SUB], wt[MAX_SUB];
    transpose8(n, x, w, xt, wt);
    __m256 max;
    const __mmask8 active = signed_max8(n, xt, &max);
    float g[16];
    for (int k = 0; k < 16; k++)
        g[k] = kb_iq4_grid[k];
    const __m256 glo = _mm256_loadu_ps(g), ghi = _mm256_loadu_ps(g + 8);
    const __m512d zero = _mm512_setzero_pd();
    __m512d best = _mm512_set1_pd(-1.0);
    __m256 s_best = _mm256_maskz_mov_ps(active, _mm256_div_ps(max, _mm256_set1_ps(g[0])));
    for (int step = -10; step <= 10; step++) {
        __m256 id = _mm256_div_ps(_mm256_set1_ps(g[0] + (float)step), max);
        __m512d swlx = zero, swll = zero;
        for (int i = 0; i < n; i++) {
            /* the index: how many midpoints lie below id·x (0 for NaN) */
            __m256 v = _mm256_mul_ps(id, xt[i]);
            __m256i idx = _mm256_setzero_si256();
            for (int k = 0; k < 15; k++)
                idx = _mm256_sub_epi32(idx, _mm256_castps_si256(_mm256_cmp_ps(
                                                v, _mm256_set1_ps(kb_iq4_mid[k]), _CMP_GT_OQ)));
            __m256 q = _mm256_permutex2var_ps(glo, idx, ghi);
            add_wq(wt[i], q, xt[i], &swlx, &swll);
        }
        keep_best(active, swlx, swll, &best, &s_best);
    }
    _mm256_storeu_ps(s_out, s_best);
}
