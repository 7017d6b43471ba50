/* Inside the training layer: the parameter layout (where each tensor lives in the flat arrays
 * of master weights, gradients and Adam moments), the precision context of the float GEMMs,
 * and the two instantiations of the numerics (graph_impl.h): float for training, double as
 * the twin the gradient checks difference. */
#ifndef HERD_TRAIN_INTERNAL_H
#define HERD_TRAIN_INTERNAL_H

#include "herd/train.h"

/* ---- layout (layout.c) ---- */
typedef struct tl_layer {
    bool rope, moe;
    size_t attn_norm, wq, wk, wv, wo, ffn_norm;
    size_t router, gate_exps, up_exps, down_exps, gate_sh, up_sh, down_sh; /* MoE */
    size_t gate, up, down;                                                 /* dense MLP */
} tl_layer;

typedef struct tl_layout {
    int64_t V, H, L, nH, nKV, D, I, Im, E, K, C, T; /* T: the training context */
    double eps, floor_scale, attn_scale;
    bool qk_norm, temp_tuning;
    size_t embed, out_norm, output, total;
    tl_layer *layers;
    double *cos, *sin; /* [T][D/2] RoPE tables */
    double *temp;      /* [T] NoPE query scale (temperature tuning) */
    herd_tparam *tensors;
    size_t n_tensors;
} tl_layout;

herd_status tl_layout_init(tl_layout *lo, const herd_llama4_config *c, int64_t T);
void tl_layout_free(tl_layout *lo);

/* ---- the float GEMMs and the precision of their operands (precision.c) ---- */
typedef struct tprec_ctx {
    herd_train_precision p;
    herd_pool *pool;
    float *buf[4];
    size_t cap[4];
} tprec_ctx;
void tprec_free(tprec_ctx *c);
/* Y[N×M] = X[N×K]·W[M×K]ᵀ; hp: a high-precision layer (never cast). */
herd_status tprec_lin_fwd(tprec_ctx *c, float *Y, const float *X, const float *W, int64_t N,
                          int64_t K, int64_t M, bool hp);
/* dX[N×K] (+)= dY·W (dX may be NULL); dW[M×K] += dYᵀ·X. */
herd_status tprec_lin_bwd(tprec_ctx *c, float *dX, bool acc_dx, float *dW, const float *dY,
                          const float *X, const float *W, int64_t N, int64_t K, int64_t M, bool hp);
/* The double twin's plain GEMM (herd_sgemm's forms). */
void tdgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
            const double *B, int64_t ldb, double *C, int64_t ldc, bool acc);

/* ---- the numerics, instantiated for float (_f32) and double (_f64) ---- */
#define TG_DECLARE(R, S)                                                                           \
    typedef struct tg_acts_##S tg_acts_##S;                                                        \
    herd_status tg_acts_create_##S(const tl_layout *lo, int64_t B, tg_acts_##S **out);             \
    void tg_acts_free_##S(tg_acts_##S *a);                                                         \
    /* Forward of B sequences of T tokens (rows b·T + t at positions t), keeping what backward    \
     * needs; returns the mean cross-entropy over targets >= 0 (+ aux in *aux if not NULL).        \
     * targets NULL: logits only (left in the acts, herd_tg_logits).                               \
     */                                                                                            \
    herd_status tg_forward_##S(const tl_layout *lo, tprec_ctx *pc, const R *params,                \
                               tg_acts_##S *a, const int32_t *ids, const int32_t *targets,         \
                               int64_t B, double aux_coef, double *loss, double *aux);             \
    /* Adds the gradient of (loss + aux) of the last forward into grads. */                        \
    herd_status tg_backward_##S(const tl_layout *lo, tprec_ctx *pc, const R *params, R *grads,     \
                                tg_acts_##S *a, const int32_t *ids, int64_t B, double aux_coef);   \
    const R *tg_logits_##S(const tg_acts_##S *a);
TG_DECLARE(float, f32)
TG_DECLARE(double, f64)

/* Single ops, exposed for the per-op gradient checks (tests/train). */
#define TG_OPS_DECLARE(R, S)                                                                       \
    void tg_rmsnorm_fwd_##S(R *y, R *rstd, const R *x, const R *w, int64_t N, int64_t H,           \
                            double eps);                                                           \
    void tg_rmsnorm_bwd_##S(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd,      \
                            int64_t N, int64_t H);                                                 \
    void tg_headnorm_fwd_##S(R *x, R *rstd, int64_t rows, int64_t D, double eps);                  \
    void tg_headnorm_bwd_##S(R *dx, const R *y, const R *rstd, int64_t rows, int64_t D);           \
    void tg_rope_##S(const tl_layout *lo, R *x, int64_t B, int64_t nh, bool inverse);              \
    void tg_swiglu_fwd_##S(R *a, const R *g, const R *u, int64_t n);                               \
    void tg_swiglu_bwd_##S(R *dg, R *du, const R *da, const R *g, const R *u, int64_t n);          \
    double tg_xent_##S(R *logits, const int32_t *targets, int64_t N, int64_t V);                   \
    void tg_attention_fwd_##S(const tl_layout *lo, R *o, R *P, const R *q, const R *k, const R *v, \
                              int64_t B, bool chunked);                                            \
    void tg_attention_bwd_##S(const tl_layout *lo, R *dq, R *dk, R *dv, R *dP, const R *dout,      \
                              const R *P, const R *q, const R *k, const R *v, int64_t B);
TG_OPS_DECLARE(float, f32)
TG_OPS_DECLARE(double, f64)

struct herd_trainer {
    tl_layout lo;
    herd_train_hparams hp;
    tprec_ctx pc;
    float *w, *g, *m, *v; /* master weights, gradients, Adam moments: lo.total each */
    tg_acts_f32 *acts;
    int64_t step;
};

#endif
