/* The Llama 4 forward pass (spec llama4.md §3). A piece of n tokens runs as matrices: every
 * projection is one GEMM over the piece, attention streams over cached and new keys, and the
 * MoE groups the piece's tokens by expert. Decode is the same with n = 1. */
#include "herd/prof.h"
#include "model_internal.h"

#include <string.h>

/* Longest piece run at once: bounds the scratch memory of a long prompt. */
enum { PIECE = 512 };

typedef struct scratch {
    float *x, *h, *qkv, *q, *k, *v, *att;
} scratch;

/* One GEMM over the piece, recorded by the profiler as `op`. */
static herd_status gemm(const herd_model *m, herd_prof_op op, const herd_packed *w, const float *a,
                        size_t lda, int64_t rows, float *c, size_t ldc, const float *bias,
                        bool residual)
{
    double t0 = HERD_PROF_START();
    herd_gemm_args g = {.M = rows,
                        .A = a,
                        .lda = lda,
                        .C = c,
                        .ldc = ldc,
                        .bias = bias,
                        .residual = residual ? c : NULL,
                        .ldr = ldc,
                        .aprep = m->opts.aprep};
    herd_status st = herd_gemm(w, &g, m->pool);
    HERD_PROF_GEMM(op, t0, w, &g);
    return st;
}

static void norm_rows(const float *x, const float *w, float *y, int64_t rows, int64_t n, double eps)
{
    double t0 = HERD_PROF_START();
    herd_rmsnorm_rows(x, (size_t)n, w, y, (size_t)n, rows, n, (float)eps);
    HERD_PROF_END(HERD_OP_NORM, t0, herd_prof_norm_cost(rows, n, w != NULL));
}

static herd_status attention_block(herd_model *m, herd_kv_cache *kv, int64_t l, scratch *s,
                                   int64_t n)
{
    const herd_llama4_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    int64_t H = c->hidden, D = c->head_dim, nq = c->n_heads, nkv = c->n_kv_heads;
    size_t qd = (size_t)(nq * D), kvd = (size_t)(nkv * D);
    herd_status st;
    norm_rows(s->x, w->attn_norm, s->h, n, H, c->eps);
    if (w->qkv) { /* one GEMM, then q, k and v split into their own rows */
        size_t ld = qd + 2 * kvd;
        if ((st = gemm(m, HERD_OP_QKV, w->qkv, s->h, (size_t)H, n, s->qkv, ld, w->bqkv, false)))
            return st;
        for (int64_t t = 0; t < n; t++) {
            const float *r = s->qkv + (size_t)t * ld;
            memcpy(s->q + (size_t)t * qd, r, qd * sizeof(float));
            memcpy(s->k + (size_t)t * kvd, r + qd, kvd * sizeof(float));
            memcpy(s->v + (size_t)t * kvd, r + qd + kvd, kvd * sizeof(float));
        }
    } else if ((st = gemm(m, HERD_OP_Q, w->q, s->h, (size_t)H, n, s->q, qd, w->bq, false)) ||
               (st = gemm(m, HERD_OP_K, w->k, s->h, (size_t)H, n, s->k, kvd, w->bk, false)) ||
               (st = gemm(m, HERD_OP_V, w->v, s->h, (size_t)H, n, s->v, kvd, w->bv, false))) {
        return st;
    }
    bool rope = c->layer_rope[l];
    double t0 = HERD_PROF_START();
    for (int64_t t = 0; t < n; t++) {
        int64_t p = kv->pos + t;
        float *q = s->q + (size_t)t * qd, *k = s->k + (size_t)t * kvd;
        if (rope) { /* RoPE layer: rotate (the weightless QK RMS norm follows, Scout only) */
            herd_rope_apply(&m->rope, q, nq, p);
            herd_rope_apply(&m->rope, k, nkv, p);
        } else if (c->temp_tuning) { /* NoPE layer: scale queries only, by (p + 1) */
            float f = herd_attn_temperature(p, c->floor_scale, c->attn_scale);
            for (size_t i = 0; i < qd; i++)
                q[i] *= f;
        }
    }
    HERD_PROF_END(rope ? HERD_OP_ROPE : HERD_OP_ELEMENTWISE, t0,
                  rope ? herd_prof_rope_cost(n, (int64_t)(qd + kvd))
                       : herd_prof_norm_cost(n, (int64_t)qd, false));
    if (rope && c->use_qk_norm) {
        t0 = HERD_PROF_START();
        herd_rmsnorm_rows(s->q, (size_t)D, NULL, s->q, (size_t)D, n * nq, D, (float)c->eps);
        herd_rmsnorm_rows(s->k, (size_t)D, NULL, s->k, (size_t)D, n * nkv, D, (float)c->eps);
        HERD_PROF_END(HERD_OP_QK_NORM, t0, herd_prof_norm_cost(n * (nq + nkv), D, false));
    }
    kv_layer *L = &kv->layers[l];
    herd_attn_shape shape = {nq, nkv, D, rope ? c->chunk : 0};
    herd_kv_view view = {L->k, L->v, L->ring, kv->pos, s->k, s->v};
    t0 = HERD_PROF_START();
    st = herd_attention(&shape, s->q, qd, n, &view, s->att, qd, m->pool);
    HERD_PROF_END(HERD_OP_ATTN, t0,
                  herd_prof_attn_cost(kv->pos, n, shape.chunk, (int)nq, (int)nkv, (int)D, 4));
    if (st)
        return st;
    /* now the piece's keys join the cache (a ring keeps only the last positions) */
    t0 = HERD_PROF_START();
    int64_t from = n > L->max ? n - L->max : 0;
    for (int64_t t = from; t < n; t++) {
        size_t r = (size_t)((kv->pos + t) % L->ring) * kvd;
        memcpy(L->k + r, s->k + (size_t)t * kvd, kvd * sizeof(float));
        memcpy(L->v + r, s->v + (size_t)t * kvd, kvd * sizeof(float));
    }
    HERD_PROF_END(HERD_OP_KV_STORE, t0,
                  ((herd_prof_cost){0, 0, 16.0 * (double)(n - from) * (double)kvd, 0}));
    return gemm(m, HERD_OP_O, w->o, s->att, qd, n, s->x, (size_t)H, w->bo, true);
}

static herd_status ffn_block(herd_model *m, int64_t l, scratch *s, int64_t n)
{
    const herd_llama4_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    int64_t H = c->hidden;
    norm_rows(s->x, w->ffn_norm, s->h, n, H, c->eps);
    if (!c->layer_moe[l]) {
        double t0 = HERD_PROF_START();
        herd_status st =
            herd_mlp(w->mlp_gate_up, w->mlp_down, s->h, s->x, n, m->opts.aprep, m->pool);
        HERD_PROF_FFN(HERD_OP_MLP, t0, w->mlp_gate_up, w->mlp_down, n, true);
        return st;
    }
    herd_moe_weights mw = {c->n_experts, c->top_k,      w->router, w->exp_gate_up,
                           w->exp_down,  w->sh_gate_up, w->sh_down};
    return herd_moe(&mw, s->h, s->x, n, m->opts.aprep, m->pool);
}

/* One piece of n ≤ PIECE tokens. */
static herd_status run_piece(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                             float *logits, bool all_rows, float *hidden, int64_t hidden_stride,
                             scratch *s)
{
    const herd_llama4_config *c = &m->cfg;
    int64_t H = c->hidden;
    size_t eb = herd_type_row_bytes(m->embed.type, (size_t)H);
    size_t erow = m->embed.row_bytes ? m->embed.row_bytes : eb;
    herd_status st = HERD_OK;
    double t0 = HERD_PROF_START();
    for (int64_t t = 0; t < n && !st; t++) /* no embedding scale in Llama 4 */
        st = herd_row_to_f32(m->embed.type, (const uint8_t *)m->embed.data + (size_t)ids[t] * erow,
                             s->x + (size_t)(t * H), (size_t)H);
    HERD_PROF_END(HERD_OP_EMBED, t0,
                  ((herd_prof_cost){0, (double)(n * (int64_t)eb), 4.0 * (double)(n * H), 0}));
    for (int64_t l = 0; l <= c->n_layers && !st; l++) {
        if (hidden)
            memcpy(hidden + (size_t)(l * hidden_stride), s->x, (size_t)(n * H) * sizeof(float));
        if (l == c->n_layers)
            break;
        if (!(st = attention_block(m, kv, l, s, n)))
            st = ffn_block(m, l, s, n);
    }
    if (st || !logits)
        return st;
    int64_t first = all_rows ? 0 : n - 1, rows = n - first;
    norm_rows(s->x + (size_t)(first * H), m->final_norm, s->h, rows, H, c->eps);
    return gemm(m, HERD_OP_LM_HEAD, m->output, s->h, (size_t)H, rows, logits, (size_t)c->vocab,
                NULL, false);
}

herd_status herd_model_forward_ex(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                                  float *logits, bool all_rows, float *hidden)
{
    const herd_llama4_config *c = &m->cfg;
    if (n < 1)
        return herd_fail(HERD_ERR_ARG, "forward: no tokens");
    if (kv->pos + n > kv->ctx)
        return herd_fail(HERD_ERR_RANGE, "context full: %lld + %lld tokens exceed --ctx %lld",
                         (long long)kv->pos, (long long)n, (long long)kv->ctx);
    for (int64_t t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab)
            return herd_fail(HERD_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)",
                             ids[t], (long long)c->vocab - 1);
    herd_status st = herd_kv_reserve(kv, kv->pos + n);
    if (st)
        return st;
    int64_t P = n < PIECE ? n : PIECE, H = c->hidden;
    size_t qd = (size_t)(c->n_heads * c->head_dim), kvd = (size_t)(c->n_kv_heads * c->head_dim);
    size_t per = (size_t)(2 * H) + 3 * qd + 4 * kvd; /* floats per token */
    float *mem = herd_scratch(HERD_SCRATCH_FORWARD, (size_t)P * per * sizeof(float) + 6 * 64);
    if (!mem)
        return HERD_ERR_NOMEM;
    scratch s;
    s.x = mem;
    s.h = s.x + (size_t)(P * H);
    s.q = s.h + (size_t)(P * H);
    s.att = s.q + (size_t)P * qd;
    s.k = s.att + (size_t)P * qd;
    s.v = s.k + (size_t)P * kvd;
    s.qkv = s.v + (size_t)P * kvd;
    /* one token after the prompt is decode; anything else (prompts, pieces) is prefill */
    double ph = herd_prof_on ? herd_prof_phase_begin(n == 1 && kv->pos > 0 ? HERD_PHASE_DECODE
                                                                           : HERD_PHASE_PREFILL)
                             : 0;
    for (int64_t done = 0; done < n && !st; done += P) {
        int64_t k = n - done < P ? n - done : P;
        bool last = done + k == n;
        float *lg = !logits    ? NULL
                    : all_rows ? logits + (size_t)done * (size_t)c->vocab
                    : last     ? logits
                               : NULL;
        st = run_piece(m, kv, ids + done, k, lg, all_rows, hidden ? hidden + done * H : NULL, n * H,
                       &s);
        if (!st)
            kv->pos += k;
    }
    if (herd_prof_on)
        herd_prof_phase_end(ph, n);
    return st;
}

herd_status herd_model_forward(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                               float *logits, bool all_rows)
{
    return herd_model_forward_ex(m, kv, ids, n, logits, all_rows, NULL);
}
