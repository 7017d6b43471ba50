/* The weight GEMMs of training and the precision of their operands. Each operand is rounded
 * along the reduction axis of the GEMM it enters: rows of X and W in the forward, rows of dY
 * and columns of W for dX, columns of dY and X for dW (an operand used transposed is
 * transposed first, then quantized, because MX blocks do not commute with transposition).
 * The rounded values are held as float32 and multiplied by the float32 GEMM: emulation, with
 * the same numbers an MX dot product of these operands gives up to float32 accumulation. */
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void herd_train_precision_default(herd_train_precision *p)
{
    *p = (herd_train_precision){.mode = HERD_TRAIN_F32,
                                .weights = HERD_MX_FP8_E4M3,
                                .acts = HERD_MX_FP8_E4M3,
                                .grads = HERD_MX_FP8_E4M3,
                                .hp_head = true,
                                .hp_router = true};
}

void herd_train_precision_describe(const herd_train_precision *p, char *out, size_t n)
{
    if (p->mode == HERD_TRAIN_F32)
        snprintf(out, n, "f32");
    else if (p->mode == HERD_TRAIN_BF16)
        snprintf(out, n, "bf16%s%s", p->hp_head ? " hp:head" : "",
                 p->hp_router ? " hp:router" : "");
    else
        snprintf(out, n, "mx w=%s a=%s g=%s scale=%s%s%s", herd_mx_format_name(p->weights),
                 herd_mx_format_name(p->acts), herd_mx_format_name(p->grads),
                 p->scale_ceil ? "ceil" : "floor", p->hp_head ? " hp:head" : "",
                 p->hp_router ? " hp:router" : "");
}

void tprec_free(tprec_ctx *c)
{
    for (int i = 0; i < 4; i++) {
        herd_free(c->buf[i]);
        c->buf[i] = NULL;
        c->cap[i] = 0;
    }
}

static float *buf(tprec_ctx *c, int i, size_t n)
{
    if (c->cap[i] < n) {
        herd_free(c->buf[i]);
        c->buf[i] = herd_alloc(n * sizeof(float), "training GEMM operands");
        c->cap[i] = c->buf[i] ? n : 0;
    }
    return c->buf[i];
}

/* One MX block with the scale rounded up: the smallest power of two 2^X with
 * amax / 2^X <= the format's largest normal (nothing saturates). */
static void mx_cast_ceil(herd_mx_format f, const float *x, float *y, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    if (!(amax > 0) || !isfinite(amax)) {
        herd_mx_cast(f, HERD_MX_ROUND_EVEN, x, y, n);
        return;
    }
    int e = (int)ceil(log2((double)amax / (double)herd_mx_max_normal(f)));
    if (ldexpf(herd_mx_max_normal(f), e - 1) >= amax) /* log2 rounding at exact powers */
        e--;
    e = e < -127 ? -127 : e > 127 ? 127 : e;
    for (size_t i = 0; i < n; i++) {
        float v = ldexpf(x[i], -e);
        y[i] = ldexpf(herd_mx_decode(f, herd_mx_encode(f, v, HERD_MX_ROUND_EVEN)), e);
    }
}

/* Rounds rows×cols (contiguous) to the role's format along rows; src may equal dst. */
static void cast_rows(const herd_train_precision *p, herd_mx_format f, const float *src, float *dst,
                      int64_t rows, int64_t cols)
{
    size_t n = (size_t)(rows * cols);
    if (p->mode == HERD_TRAIN_BF16) {
        for (size_t i = 0; i < n; i++)
            dst[i] = herd_bf16_to_f32(herd_f32_to_bf16(src[i]));
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *s = src + r * cols;
        float *d = dst + r * cols;
        if (!p->scale_ceil) {
            herd_mx_cast(f, HERD_MX_ROUND_EVEN, s, d, (size_t)cols);
            continue;
        }
        for (int64_t c = 0; c < cols; c += HERD_MX_BLOCK)
            mx_cast_ceil(f, s + c, d + c,
                         (size_t)(cols - c < HERD_MX_BLOCK ? cols - c : HERD_MX_BLOCK));
    }
}

static void transpose(const float *src, float *dst, int64_t rows, int64_t cols)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 32)
        for (int64_t c0 = 0; c0 < cols; c0 += 32)
            for (int64_t r = r0; r < rows && r < r0 + 32; r++)
                for (int64_t c = c0; c < cols && c < c0 + 32; c++)
                    dst[c * rows + r] = src[r * cols + c];
}

herd_status tprec_lin_fwd(tprec_ctx *c, float *Y, const float *X, const float *W, int64_t N,
                          int64_t K, int64_t M, bool hp)
{
    if (N <= 0)
        return HERD_OK;
    if (c->p.mode == HERD_TRAIN_F32 || hp)
        return herd_sgemm(false, true, N, M, K, X, K, W, K, Y, M, false, c->pool);
    float *xq = buf(c, 0, (size_t)(N * K)), *wq = buf(c, 1, (size_t)(M * K));
    if (!xq || !wq)
        return HERD_ERR_NOMEM;
    cast_rows(&c->p, c->p.acts, X, xq, N, K);
    cast_rows(&c->p, c->p.weights, W, wq, M, K);
    return herd_sgemm(false, true, N, M, K, xq, K, wq, K, Y, M, false, c->pool);
}

herd_status tprec_lin_bwd(tprec_ctx *c, float *dX, bool acc_dx, float *dW, const float *dY,
                          const float *X, const float *W, int64_t N, int64_t K, int64_t M, bool hp)
{
    if (N <= 0)
        return HERD_OK;
    herd_status st = HERD_OK;
    if (c->p.mode == HERD_TRAIN_F32 || hp) {
        if (dX)
            st = herd_sgemm(false, false, N, K, M, dY, M, W, K, dX, K, acc_dx, c->pool);
        if (!st)
            st = herd_sgemm(true, false, M, K, N, dY, M, X, K, dW, K, true, c->pool);
        return st;
    }
    /* dX = dY·W: reduction over M — rows of dY, columns of W (rows of Wᵀ) */
    size_t big = (size_t)(N * M) > (size_t)(M * K) ? (size_t)(N * M) : (size_t)(M * K);
    float *a = buf(c, 0, big), *b = buf(c, 1, (size_t)(K * (N > M ? N : M)));
    if (!a || !b)
        return HERD_ERR_NOMEM;
    if (dX) {
        cast_rows(&c->p, c->p.grads, dY, a, N, M);
        transpose(W, b, M, K);
        cast_rows(&c->p, c->p.weights, b, b, K, M);
        st = herd_sgemm(false, true, N, K, M, a, M, b, M, dX, K, acc_dx, c->pool);
        if (st)
            return st;
    }
    /* dW = dYᵀ·X: reduction over N — columns of dY and of X */
    transpose(dY, a, N, M);
    cast_rows(&c->p, c->p.grads, a, a, M, N);
    transpose(X, b, N, K);
    cast_rows(&c->p, c->p.acts, b, b, K, N);
    return herd_sgemm(false, true, M, K, N, a, N, b, N, dW, K, true, c->pool);
}
