/* The Llama 4 training graph: every op's forward (keeping what its backward needs, named in
 * tg_acts) and backward, in llm.c's style, written once for a real type R with suffix S.
 * graph_f32.c instantiates it in float for training (weight GEMMs through tprec, so precision
 * modes apply); graph_f64.c in double, the twin the gradient checks difference against.
 * Rows are tokens: row b·T + t is sequence b at position t. Backward functions add into their
 * gradient outputs. */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##_##b
#define CAT(a, b)  CAT_(a, b)
#define FN(name)   CAT(name, S)
#define ACTS       CAT(tg_acts, S)

/* ---- single ops ------------------------------------------------------------------------- */

void FN(tg_rmsnorm_fwd)(R *y, R *rstd, const R *x, const R *w, int64_t N, int64_t H, double eps)
{
    for (int64_t n = 0; n < N; n++) {
        const R *xr = x + n * H;
        double ss = 0;
        for (int64_t j = 0; j < H; j++)
            ss += (double)xr[j] * xr[j];
        R r = (R)(1.0 / sqrt(ss / (double)H + eps));
        rstd[n] = r;
        for (int64_t j = 0; j < H; j++)
            y[n * H + j] = xr[j] * r * w[j];
    }
}

/* y = x̂·w with x̂ = x·r: dx = r·(g − x̂·mean(g·x̂)) for g = dy·w; dw = Σ dy·x̂. */
void FN(tg_rmsnorm_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd, int64_t N,
                        int64_t H)
{
    for (int64_t n = 0; n < N; n++) {
        const R *xr = x + n * H, *g = dy + n * H;
        R r = rstd[n];
        double dot = 0;
        for (int64_t j = 0; j < H; j++) {
            dot += (double)g[j] * w[j] * xr[j] * r;
            dw[j] += g[j] * xr[j] * r;
        }
        R m = (R)(dot / (double)H);
        for (int64_t j = 0; j < H; j++)
            dx[n * H + j] += r * (g[j] * w[j] - xr[j] * r * m);
    }
}

/* QK norm: each D-vector divided by its RMS, no weight (in place; rstd per vector). */
void FN(tg_headnorm_fwd)(R *x, R *rstd, int64_t rows, int64_t D, double eps)
{
    for (int64_t n = 0; n < rows; n++) {
        R *v = x + n * D;
        double ss = 0;
        for (int64_t j = 0; j < D; j++)
            ss += (double)v[j] * v[j];
        R r = (R)(1.0 / sqrt(ss / (double)D + eps));
        rstd[n] = r;
        for (int64_t j = 0; j < D; j++)
            v[j] *= r;
    }
}

/* dx = r·(dy − y·mean(dy·y)), in place on dx (which holds dy). */
void FN(tg_headnorm_bwd)(R *dx, const R *y, const R *rstd, int64_t rows, int64_t D)
{
    for (int64_t n = 0; n < rows; n++) {
        R *g = dx + n * D;
        const R *yr = y + n * D;
        double dot = 0;
        for (int64_t j = 0; j < D; j++)
            dot += (double)g[j] * yr[j];
        R m = (R)(dot / (double)D);
        for (int64_t j = 0; j < D; j++)
            g[j] = rstd[n] * (g[j] - yr[j] * m);
    }
}

/* Interleaved-pair rotation by θ = t·inv_freq (inverse: by −θ, which is the backward of a
 * rotation). x is [B·T][nh·D]. */
void FN(tg_rope)(const tl_layout *lo, R *x, int64_t B, int64_t nh, bool inverse)
{
    int64_t T = lo->T, D = lo->D, half = D / 2;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const double *c = lo->cos + t * half, *s = lo->sin + t * half;
            R *row = x + (b * T + t) * nh * D;
            for (int64_t h = 0; h < nh; h++)
                for (int64_t i = 0; i < half; i++) {
                    R *p = row + h * D + 2 * i;
                    R cs = (R)c[i], sn = inverse ? (R)-s[i] : (R)s[i];
                    R a = p[0], bb = p[1];
                    p[0] = a * cs - bb * sn;
                    p[1] = a * sn + bb * cs;
                }
        }
}

void FN(tg_swiglu_fwd)(R *a, const R *g, const R *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        R s = 1 / (1 + TG_EXP(-g[i]));
        a[i] = g[i] * s * u[i];
    }
}

/* a = silu(g)·u: dg = da·u·σ(g)(1 + g(1 − σ(g))), du = da·silu(g). */
void FN(tg_swiglu_bwd)(R *dg, R *du, const R *da, const R *g, const R *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        R s = 1 / (1 + TG_EXP(-g[i]));
        dg[i] = da[i] * u[i] * s * (1 + g[i] * (1 - s));
        du[i] = da[i] * g[i] * s;
    }
}

/* Mean cross-entropy over rows with a target >= 0; logits become d(loss)/d(logits). */
double FN(tg_xent)(R *logits, const int32_t *targets, int64_t N, int64_t V)
{
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++)
        count += targets[n] >= 0;
    double loss = 0, inv = count ? 1.0 / (double)count : 0;
    for (int64_t n = 0; n < N; n++) {
        R *z = logits + n * V;
        if (targets[n] < 0) {
            memset(z, 0, (size_t)V * sizeof *z);
            continue;
        }
        R mx = z[0], zt = z[targets[n]];
        for (int64_t j = 1; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int64_t j = 0; j < V; j++) {
            z[j] = TG_EXP(z[j] - mx); /* once: exp is most of this op's time */
            sum += z[j];
        }
        loss += (double)mx + log(sum) - (double)zt;
        R scale = (R)(inv / sum);
        for (int64_t j = 0; j < V; j++)
            z[j] *= scale;
        z[targets[n]] -= (R)inv;
    }
    return loss * inv;
}

#define GEMM(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc)                                         \
    TG_GEMM(pc, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc)

/* Causal softmax attention per (sequence, query head), GQA (head h reads kv head
 * h / (nH/nKV)); chunked layers see only keys of the query's own chunk of C positions.
 * q [B·T][nH·D], k, v [B·T][nKV·D], o like q; P [B][nH][T][T] the probabilities. */
void FN(tg_attention_fwd)(const tl_layout *lo, R *o, R *P, const R *q, const R *k, const R *v,
                          int64_t B, bool chunked)
{
    tprec_ctx *pc = NULL;
    (void)pc;
    int64_t T = lo->T, D = lo->D, nH = lo->nH, nKV = lo->nKV, qd = nH * D, kd = nKV * D;
    double scale = 1 / sqrt((double)D);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < nH; h++) {
            int64_t g = h / (nH / nKV);
            R *S = P + (b * nH + h) * T * T;
            const R *qh = q + b * T * qd + h * D, *kh = k + b * T * kd + g * D;
            GEMM(false, true, T, T, D, qh, qd, kh, kd, S, T, false);
            for (int64_t t = 0; t < T; t++) {
                R *s = S + t * T;
                int64_t lo0 = chunked && lo->C > 0 ? t / lo->C * lo->C : 0;
                R mx = (R)-1e30;
                for (int64_t j = lo0; j <= t; j++)
                    mx = s[j] * (R)scale > mx ? s[j] * (R)scale : mx;
                double sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    s[j] = j < lo0 || j > t ? 0 : TG_EXP(s[j] * (R)scale - mx);
                    sum += s[j];
                }
                R inv = (R)(1 / sum);
                for (int64_t j = lo0; j <= t; j++)
                    s[j] *= inv;
            }
            GEMM(false, false, T, D, T, S, T, v + b * T * kd + g * D, kd, o + b * T * qd + h * D,
                 qd, false);
        }
}

/* dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = dS·K·scale, dK = dSᵀ·Q·scale.
 * dP is scratch [T][T]. */
void FN(tg_attention_bwd)(const tl_layout *lo, R *dq, R *dk, R *dv, R *dP, const R *dout,
                          const R *P, const R *q, const R *k, const R *v, int64_t B)
{
    tprec_ctx *pc = NULL;
    (void)pc;
    int64_t T = lo->T, D = lo->D, nH = lo->nH, nKV = lo->nKV, qd = nH * D, kd = nKV * D;
    R scale = (R)(1 / sqrt((double)D));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < nH; h++) {
            int64_t g = h / (nH / nKV);
            const R *Ph = P + (b * nH + h) * T * T, *doh = dout + b * T * qd + h * D;
            GEMM(true, false, T, D, T, Ph, T, doh, qd, dv + b * T * kd + g * D, kd, true);
            GEMM(false, true, T, T, D, doh, qd, v + b * T * kd + g * D, kd, dP, T, false);
            for (int64_t t = 0; t < T; t++) {
                const R *p = Ph + t * T;
                R *d = dP + t * T;
                double dot = 0;
                for (int64_t j = 0; j <= t; j++)
                    dot += (double)p[j] * d[j];
                for (int64_t j = 0; j < T; j++)
                    d[j] = j > t ? 0 : p[j] * (d[j] - (R)dot) * scale;
            }
            GEMM(false, false, T, D, T, dP, T, k + b * T * kd + g * D, kd, dq + b * T * qd + h * D,
                 qd, true);
            GEMM(true, false, T, D, T, dP, T, q + b * T * qd + h * D, qd, dk + b * T * kd + g * D,
                 kd, true);
        }
}

/* ---- activations ------------------------------------------------------------------------ */
typedef struct CAT(tg_layer_acts, S) {
    R *x;          /* [N][H] the residual stream entering the layer */
    R *h1, *rstd1; /* attention RMSNorm out and 1/rms */
    R *q, *k, *v;  /* after RoPE + QK norm (RoPE layers) or temperature (NoPE) */
    R *qr, *kr;    /* QK-norm 1/rms per head vector */
    R *P;          /* [B][nH][T][T] attention probabilities */
    R *o;          /* [N][nH·D] attention output before Wo */
    R *xm;         /* residual after attention */
    R *h2, *rstd2; /* FFN RMSNorm */
    /* dense MLP or shared expert: [N][I] */
    R *g, *u, *a;
    /* MoE routing: logits [N][E], chosen experts and their sigmoid scores [N][K] */
    R *r, *score;
    int32_t *sel;
    int32_t *cnt;         /* [E] tokens per expert */
    int32_t *slot;        /* [N·K] slots n·K + j, grouped by expert in token order */
    R *xe, *ge, *ue, *ae; /* [N·K][H or I] expert inputs (score·h2) and intermediates */
} CAT(tg_layer_acts, S);

struct ACTS {
    int64_t B, N;
    CAT(tg_layer_acts, S) * l;
    R *xf, *rstdf, *logits; /* final norm, head */
    int32_t *targets;
    double aux;
    /* backward scratch */
    R *dx, *dh, *dq, *dk, *dv, *do_, *dP, *dg, *du, *da, *dxe, *dr, *tmp;
    void **allocs;
    size_t n_allocs;
};

static R *FN(grab)(ACTS *a, size_t n, bool *ok)
{
    R *p = herd_calloc((n ? n : 1) * sizeof(R), "training activations");
    if (!p) {
        *ok = false;
        return NULL;
    }
    a->allocs[a->n_allocs++] = p;
    return p;
}

herd_status FN(tg_acts_create)(const tl_layout *lo, int64_t B, ACTS **out)
{
    ACTS *a = calloc(1, sizeof *a);
    if (!a)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for training activations");
    int64_t N = B * lo->T, H = lo->H, qd = lo->nH * lo->D, kd = lo->nKV * lo->D;
    int64_t F = lo->I > lo->Im ? lo->I : lo->Im, NK = N * lo->K, T = lo->T;
    a->B = B;
    a->N = N;
    a->l = calloc((size_t)lo->L, sizeof *a->l);
    a->allocs = calloc((size_t)(lo->L * 32 + 32), sizeof *a->allocs);
    bool ok = a->l && a->allocs;
    for (int64_t i = 0; ok && i < lo->L; i++) {
        CAT(tg_layer_acts, S) *l = &a->l[i];
        size_t n = (size_t)N;
        l->x = FN(grab)(a, n * H, &ok);
        l->h1 = FN(grab)(a, n * H, &ok);
        l->rstd1 = FN(grab)(a, n, &ok);
        l->q = FN(grab)(a, n * qd, &ok);
        l->k = FN(grab)(a, n * kd, &ok);
        l->v = FN(grab)(a, n * kd, &ok);
        l->qr = FN(grab)(a, n * lo->nH, &ok);
        l->kr = FN(grab)(a, n * lo->nKV, &ok);
        l->P = FN(grab)(a, (size_t)(B * lo->nH * T * T), &ok);
        l->o = FN(grab)(a, n * qd, &ok);
        l->xm = FN(grab)(a, n * H, &ok);
        l->h2 = FN(grab)(a, n * H, &ok);
        l->rstd2 = FN(grab)(a, n, &ok);
        int64_t w = lo->layers[i].moe ? lo->I : lo->Im;
        l->g = FN(grab)(a, n * w, &ok);
        l->u = FN(grab)(a, n * w, &ok);
        l->a = FN(grab)(a, n * w, &ok);
        if (lo->layers[i].moe) {
            l->r = FN(grab)(a, n * lo->E, &ok);
            l->score = FN(grab)(a, (size_t)NK, &ok);
            l->sel = ok ? herd_calloc((size_t)NK * 4, "routing") : NULL;
            l->cnt = ok ? herd_calloc((size_t)lo->E * 4, "routing") : NULL;
            l->slot = ok ? herd_calloc((size_t)NK * 4, "routing") : NULL;
            if (l->sel)
                a->allocs[a->n_allocs++] = l->sel;
            if (l->cnt)
                a->allocs[a->n_allocs++] = l->cnt;
            if (l->slot)
                a->allocs[a->n_allocs++] = l->slot;
            ok = ok && l->sel && l->cnt && l->slot;
            l->xe = FN(grab)(a, (size_t)NK * H, &ok);
            l->ge = FN(grab)(a, (size_t)NK * lo->I, &ok);
            l->ue = FN(grab)(a, (size_t)NK * lo->I, &ok);
            l->ae = FN(grab)(a, (size_t)NK * lo->I, &ok);
        }
    }
    size_t n = (size_t)N;
    if (ok) {
        a->xf = FN(grab)(a, n * H, &ok);
        a->rstdf = FN(grab)(a, n, &ok);
        a->logits = FN(grab)(a, n * lo->V, &ok);
        a->dx = FN(grab)(a, n * H, &ok);
        a->dh = FN(grab)(a, n * H, &ok);
        a->dq = FN(grab)(a, n * qd, &ok);
        a->dk = FN(grab)(a, n * kd, &ok);
        a->dv = FN(grab)(a, n * kd, &ok);
        a->do_ = FN(grab)(a, n * qd, &ok);
        a->dP = FN(grab)(a, (size_t)(T * T), &ok);
        a->dg = FN(grab)(a, (size_t)NK * F + n * F, &ok);
        a->du = FN(grab)(a, (size_t)NK * F + n * F, &ok);
        a->da = FN(grab)(a, (size_t)NK * F + n * F, &ok);
        a->dxe = FN(grab)(a, (size_t)NK * H, &ok);
        a->dr = FN(grab)(a, n * (size_t)(lo->E > 0 ? lo->E : 1), &ok);
        a->tmp = FN(grab)(a, (size_t)NK * H + n * H, &ok);
    }
    if (!ok) {
        FN(tg_acts_free)(a);
        return herd_fail(HERD_ERR_NOMEM, "out of memory for training activations");
    }
    *out = a;
    return HERD_OK;
}

void FN(tg_acts_free)(ACTS *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_allocs; i++)
        herd_free(a->allocs[i]);
    free(a->allocs);
    free(a->l);
    free(a);
}

const R *FN(tg_logits)(const ACTS *a)
{
    return a->logits;
}

/* ---- the model ---------------------------------------------------------------------------- */

/* Top-k of the router logits (ties to the lower index), sigmoid scores, and the slots grouped
 * by expert (counting sort: token order inside each expert, so results are deterministic). */
static void FN(route)(const tl_layout *lo, CAT(tg_layer_acts, S) * l, int64_t N)
{
    int64_t E = lo->E, K = lo->K;
    memset(l->cnt, 0, (size_t)E * sizeof *l->cnt);
    for (int64_t n = 0; n < N; n++) {
        const R *r = l->r + n * E;
        for (int64_t j = 0; j < K; j++) {
            int64_t best = -1;
            for (int64_t e = 0; e < E; e++) {
                bool taken = false;
                for (int64_t i = 0; i < j; i++)
                    taken |= l->sel[n * K + i] == e;
                if (!taken && (best < 0 || r[e] > r[best]))
                    best = e;
            }
            l->sel[n * K + j] = (int32_t)best;
            l->score[n * K + j] = (R)(1 / (1 + exp(-(double)r[best])));
            l->cnt[best]++;
        }
    }
    int64_t off[1024], pos = 0;
    for (int64_t e = 0; e < E; e++) {
        off[e] = pos;
        pos += l->cnt[e];
    }
    for (int64_t s = 0; s < N * K; s++)
        l->slot[off[l->sel[s]]++] = (int32_t)s;
}

static herd_status FN(mlp_fwd)(tprec_ctx *pc, R *y, const R *x, R *g, R *u, R *a, const R *Wg,
                               const R *Wu, const R *Wd, int64_t N, int64_t H, int64_t I)
{
    herd_status st = TG_LIN_FWD(pc, g, x, Wg, N, H, I, false);
    if (!st)
        st = TG_LIN_FWD(pc, u, x, Wu, N, H, I, false);
    if (st)
        return st;
    FN(tg_swiglu_fwd)(a, g, u, N * I);
    return TG_LIN_FWD(pc, y, a, Wd, N, I, H, false);
}

/* dx (+)= gradient through the MLP; weight gradients added. */
static herd_status FN(mlp_bwd)(tprec_ctx *pc, R *dx, bool acc, const R *dy, const R *x, const R *g,
                               const R *u, const R *a, const R *Wg, const R *Wu, const R *Wd,
                               R *dWg, R *dWu, R *dWd, R *dg, R *du, R *da, int64_t N, int64_t H,
                               int64_t I)
{
    herd_status st = TG_LIN_BWD(pc, da, false, dWd, dy, a, Wd, N, I, H, false);
    if (st)
        return st;
    FN(tg_swiglu_bwd)(dg, du, da, g, u, N * I);
    st = TG_LIN_BWD(pc, dx, acc, dWg, dg, x, Wg, N, H, I, false);
    if (!st)
        st = TG_LIN_BWD(pc, dx, true, dWu, du, x, Wu, N, H, I, false);
    return st;
}

herd_status FN(tg_forward)(const tl_layout *lo, tprec_ctx *pc, const R *W, ACTS *a,
                           const int32_t *ids, const int32_t *targets, int64_t B, double aux_coef,
                           double *loss, double *aux_out)
{
    if (B > a->B)
        return herd_fail(HERD_ERR_INTERNAL, "training batch larger than its activations");
    int64_t N = B * lo->T, H = lo->H, D = lo->D, nH = lo->nH, nKV = lo->nKV, E = lo->E, K = lo->K,
            I = lo->I;
    int64_t qd = nH * D, kd = nKV * D;
    herd_status st = HERD_OK;
    R *x = a->l[0].x;
    for (int64_t n = 0; n < N; n++)
        memcpy(x + n * H, W + lo->embed + (size_t)ids[n] * (size_t)H, (size_t)H * sizeof(R));
    double aux_total = 0;
    for (int64_t li = 0; li < lo->L && !st; li++) {
        const tl_layer *Lw = &lo->layers[li];
        CAT(tg_layer_acts, S) *l = &a->l[li];
        R *xnext = li + 1 < lo->L ? a->l[li + 1].x : a->tmp;
        FN(tg_rmsnorm_fwd)(l->h1, l->rstd1, l->x, W + Lw->attn_norm, N, H, lo->eps);
        st = TG_LIN_FWD(pc, l->q, l->h1, W + Lw->wq, N, H, qd, false);
        if (!st)
            st = TG_LIN_FWD(pc, l->k, l->h1, W + Lw->wk, N, H, kd, false);
        if (!st)
            st = TG_LIN_FWD(pc, l->v, l->h1, W + Lw->wv, N, H, kd, false);
        if (st)
            break;
        if (Lw->rope) {
            FN(tg_rope)(lo, l->q, B, nH, false);
            FN(tg_rope)(lo, l->k, B, nKV, false);
            if (lo->qk_norm) {
                FN(tg_headnorm_fwd)(l->q, l->qr, N * nH, D, lo->eps);
                FN(tg_headnorm_fwd)(l->k, l->kr, N * nKV, D, lo->eps);
            }
        } else if (lo->temp_tuning) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < qd; j++)
                    l->q[n * qd + j] *= (R)lo->temp[n % lo->T];
        }
        FN(tg_attention_fwd)(lo, l->o, l->P, l->q, l->k, l->v, B, Lw->rope);
        st = TG_LIN_FWD(pc, l->xm, l->o, W + Lw->wo, N, qd, H, false);
        if (st)
            break;
        for (int64_t i = 0; i < N * H; i++)
            l->xm[i] += l->x[i];
        FN(tg_rmsnorm_fwd)(l->h2, l->rstd2, l->xm, W + Lw->ffn_norm, N, H, lo->eps);
        if (!Lw->moe) {
            st = FN(mlp_fwd)(pc, xnext, l->h2, l->g, l->u, l->a, W + Lw->gate, W + Lw->up,
                             W + Lw->down, N, H, lo->Im);
        } else {
            st = TG_LIN_FWD(pc, l->r, l->h2, W + Lw->router, N, H, E, pc ? pc->p.hp_router : 0);
            if (!st)
                st = FN(mlp_fwd)(pc, xnext, l->h2, l->g, l->u, l->a, W + Lw->gate_sh, W + Lw->up_sh,
                                 W + Lw->down_sh, N, H, I);
            if (st)
                break;
            FN(route)(lo, l, N);
            /* load balancing (Switch): E·Σ_e f_e·P_e, f = routed fraction, P = mean softmax */
            double f[1024] = {0}, Pm[1024] = {0};
            for (int64_t e = 0; e < E; e++)
                f[e] = (double)l->cnt[e] / (double)(N * K);
            for (int64_t n = 0; n < N; n++) {
                const R *r = l->r + n * E;
                double mx = r[0], sum = 0;
                for (int64_t e = 1; e < E; e++)
                    mx = r[e] > mx ? r[e] : mx;
                for (int64_t e = 0; e < E; e++)
                    sum += exp((double)r[e] - mx);
                for (int64_t e = 0; e < E; e++)
                    Pm[e] += exp((double)r[e] - mx) / sum / (double)N;
            }
            for (int64_t e = 0; e < E; e++)
                aux_total += (double)E * f[e] * Pm[e];
            int64_t s0 = 0;
            for (int64_t e = 0; e < E && !st; e++) {
                int64_t c = l->cnt[e];
                for (int64_t i = 0; i < c; i++) {
                    int64_t s = l->slot[s0 + i], n = s / K;
                    for (int64_t j = 0; j < H; j++)
                        l->xe[(s0 + i) * H + j] = l->score[s] * l->h2[n * H + j];
                }
                R *ye = a->dxe; /* scratch: the expert's output rows */
                st = FN(mlp_fwd)(pc, ye, l->xe + s0 * H, l->ge + s0 * I, l->ue + s0 * I,
                                 l->ae + s0 * I, W + Lw->gate_exps + (size_t)(e * I * H),
                                 W + Lw->up_exps + (size_t)(e * I * H),
                                 W + Lw->down_exps + (size_t)(e * H * I), c, H, I);
                for (int64_t i = 0; i < c && !st; i++) {
                    int64_t n = l->slot[s0 + i] / K;
                    for (int64_t j = 0; j < H; j++)
                        xnext[n * H + j] += ye[i * H + j];
                }
                s0 += c;
            }
        }
        for (int64_t i = 0; i < N * H; i++)
            xnext[i] += l->xm[i];
    }
    if (st)
        return st;
    const R *xl = lo->L > 0 ? a->tmp : a->l[0].x;
    FN(tg_rmsnorm_fwd)(a->xf, a->rstdf, xl, W + lo->out_norm, N, H, lo->eps);
    st = TG_LIN_FWD(pc, a->logits, a->xf, W + lo->output, N, H, lo->V, pc ? pc->p.hp_head : 0);
    if (st)
        return st;
    a->aux = aux_total;
    if (aux_out)
        *aux_out = aux_total;
    if (targets) {
        *loss = FN(tg_xent)(a->logits, targets, N, lo->V) + aux_coef * aux_total;
        a->targets = (int32_t *)targets;
    }
    (void)aux_coef;
    return HERD_OK;
}

herd_status FN(tg_backward)(const tl_layout *lo, tprec_ctx *pc, const R *W, R *G, ACTS *a,
                            const int32_t *ids, int64_t B, double aux_coef)
{
    int64_t N = B * lo->T, H = lo->H, D = lo->D, nH = lo->nH, nKV = lo->nKV, E = lo->E, K = lo->K,
            I = lo->I, qd = nH * D, kd = nKV * D;
    herd_status st;
    /* head: logits hold dL/dlogits after the forward's cross-entropy */
    memset(a->dh, 0, (size_t)(N * H) * sizeof(R));
    st = TG_LIN_BWD(pc, a->dh, false, G + lo->output, a->logits, a->xf, W + lo->output, N, H, lo->V,
                    pc ? pc->p.hp_head : 0);
    if (st)
        return st;
    const R *xl = lo->L > 0 ? a->tmp : a->l[0].x;
    memset(a->dx, 0, (size_t)(N * H) * sizeof(R));
    FN(tg_rmsnorm_bwd)(a->dx, G + lo->out_norm, a->dh, xl, W + lo->out_norm, a->rstdf, N, H);
    for (int64_t li = lo->L - 1; li >= 0 && !st; li--) {
        const tl_layer *Lw = &lo->layers[li];
        CAT(tg_layer_acts, S) *l = &a->l[li];
        /* FFN: dx is d(loss)/d(x_{l+1}) = d/d(ffn out) */
        memset(a->dh, 0, (size_t)(N * H) * sizeof(R));
        if (!Lw->moe) {
            st = FN(mlp_bwd)(pc, a->dh, false, a->dx, l->h2, l->g, l->u, l->a, W + Lw->gate,
                             W + Lw->up, W + Lw->down, G + Lw->gate, G + Lw->up, G + Lw->down,
                             a->dg, a->du, a->da, N, H, lo->Im);
        } else {
            st = FN(mlp_bwd)(pc, a->dh, false, a->dx, l->h2, l->g, l->u, l->a, W + Lw->gate_sh,
                             W + Lw->up_sh, W + Lw->down_sh, G + Lw->gate_sh, G + Lw->up_sh,
                             G + Lw->down_sh, a->dg, a->du, a->da, N, H, I);
            memset(a->dr, 0, (size_t)(N * E) * sizeof(R));
            int64_t s0 = 0;
            for (int64_t e = 0; e < E && !st; e++) {
                int64_t c = l->cnt[e];
                R *dye = a->tmp + N * H; /* gathered output gradient rows */
                for (int64_t i = 0; i < c; i++) {
                    int64_t n = l->slot[s0 + i] / K;
                    memcpy(dye + i * H, a->dx + n * H, (size_t)H * sizeof(R));
                }
                R *dxe = a->dxe;
                st = FN(mlp_bwd)(
                    pc, dxe, false, dye, l->xe + s0 * H, l->ge + s0 * I, l->ue + s0 * I,
                    l->ae + s0 * I, W + Lw->gate_exps + (size_t)(e * I * H),
                    W + Lw->up_exps + (size_t)(e * I * H), W + Lw->down_exps + (size_t)(e * H * I),
                    G + Lw->gate_exps + (size_t)(e * I * H), G + Lw->up_exps + (size_t)(e * I * H),
                    G + Lw->down_exps + (size_t)(e * H * I), a->dg, a->du, a->da, c, H, I);
                /* xe = score·h2: dh2 += score·dxe, dscore = dxe·h2, dr = dscore·σ(1−σ) */
                for (int64_t i = 0; i < c && !st; i++) {
                    int64_t s = l->slot[s0 + i], n = s / K;
                    R sc = l->score[s];
                    double ds = 0;
                    for (int64_t j = 0; j < H; j++) {
                        a->dh[n * H + j] += sc * dxe[i * H + j];
                        ds += (double)dxe[i * H + j] * l->h2[n * H + j];
                    }
                    a->dr[n * E + l->sel[s]] += (R)ds * sc * (1 - sc);
                }
                s0 += c;
            }
            /* load balancing: d/dr_{n,e} = coef·E/N · p_{n,e}·(f_e − Σ_k f_k p_{n,k}) */
            if (aux_coef != 0 && !st) {
                double f[1024];
                for (int64_t e = 0; e < E; e++)
                    f[e] = (double)l->cnt[e] / (double)(N * K);
                for (int64_t n = 0; n < N; n++) {
                    const R *r = l->r + n * E;
                    double mx = r[0], sum = 0, p[1024], fp = 0;
                    for (int64_t e = 1; e < E; e++)
                        mx = r[e] > mx ? r[e] : mx;
                    for (int64_t e = 0; e < E; e++)
                        sum += p[e] = exp((double)r[e] - mx);
                    for (int64_t e = 0; e < E; e++)
                        fp += f[e] * (p[e] /= sum);
                    for (int64_t e = 0; e < E; e++)
                        a->dr[n * E + e] +=
                            (R)(aux_coef * (double)E / (double)N * p[e] * (f[e] - fp));
                }
            }
            if (!st)
                st = TG_LIN_BWD(pc, a->dh, true, G + Lw->router, a->dr, l->h2, W + Lw->router, N, H,
                                E, pc ? pc->p.hp_router : 0);
        }
        if (st)
            break;
        FN(tg_rmsnorm_bwd)(a->dx, G + Lw->ffn_norm, a->dh, l->xm, W + Lw->ffn_norm, l->rstd2, N, H);
        /* attention: dx is now d/d(xm) = d/d(attention out) */
        st = TG_LIN_BWD(pc, a->do_, false, G + Lw->wo, a->dx, l->o, W + Lw->wo, N, qd, H, false);
        if (st)
            break;
        memset(a->dq, 0, (size_t)(N * qd) * sizeof(R));
        memset(a->dk, 0, (size_t)(N * kd) * sizeof(R));
        memset(a->dv, 0, (size_t)(N * kd) * sizeof(R));
        FN(tg_attention_bwd)(lo, a->dq, a->dk, a->dv, a->dP, a->do_, l->P, l->q, l->k, l->v, B);
        if (Lw->rope) {
            if (lo->qk_norm) {
                FN(tg_headnorm_bwd)(a->dq, l->q, l->qr, N * nH, D);
                FN(tg_headnorm_bwd)(a->dk, l->k, l->kr, N * nKV, D);
            }
            FN(tg_rope)(lo, a->dq, B, nH, true);
            FN(tg_rope)(lo, a->dk, B, nKV, true);
        } else if (lo->temp_tuning) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < qd; j++)
                    a->dq[n * qd + j] *= (R)lo->temp[n % lo->T];
        }
        st = TG_LIN_BWD(pc, a->dh, false, G + Lw->wq, a->dq, l->h1, W + Lw->wq, N, H, qd, false);
        if (!st)
            st = TG_LIN_BWD(pc, a->dh, true, G + Lw->wk, a->dk, l->h1, W + Lw->wk, N, H, kd, false);
        if (!st)
            st = TG_LIN_BWD(pc, a->dh, true, G + Lw->wv, a->dv, l->h1, W + Lw->wv, N, H, kd, false);
        if (st)
            break;
        FN(tg_rmsnorm_bwd)
        (a->dx, G + Lw->attn_norm, a->dh, l->x, W + Lw->attn_norm, l->rstd1, N, H);
    }
    if (st)
        return st;
    for (int64_t n = 0; n < N; n++) {
        R *g = G + lo->embed + (size_t)ids[n] * (size_t)H;
        for (int64_t j = 0; j < H; j++)
            g[j] += a->dx[n * H + j];
    }
    return HERD_OK;
}
