/* herd ops: the transformer math of Llama 4 on top of the kernel layer. Norms, RoPE with llama3
 * scaling, attention (GQA, chunked-local or global causal masks, streaming softmax), the MoE
 * block (router, tokens grouped by expert, shared expert) and the SwiGLU MLP. Activations are
 * float32 rows; weights are herd_packed (kernels.h). */
#ifndef HERD_OPS_H
#define HERD_OPS_H

#include "herd/base.h"
#include "herd/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- norms -------------------------------------------------------------------------------
 * y = x / sqrt(mean(x²) + eps) * w over each row of n (w NULL: no weight, the Llama 4 QK norm;
 * HF calls it an L2 norm but it divides by the root MEAN square). y may equal x. */
void herd_rmsnorm(const float *x, const float *w, float *y, int64_t n, float eps);
void herd_rmsnorm_rows(const float *x, size_t ldx, const float *w, float *y, size_t ldy,
                       int64_t rows, int64_t n, float eps);

/* ---- RoPE --------------------------------------------------------------------------------
 * Interleaved pairs (2i, 2i+1), as Meta's reference and HF's view_as_complex; NOT rotate_half. */
typedef struct herd_rope_scaling {
    bool llama3; /* false: plain inv_freq */
    double factor, low_freq_factor, high_freq_factor, original_max_pos;
} herd_rope_scaling;

typedef struct herd_rope {
    int64_t head_dim;
    double *inv_freq; /* head_dim/2, after scaling */
} herd_rope;

herd_status herd_rope_init(herd_rope *r, int64_t head_dim, double theta,
                           const herd_rope_scaling *scaling);
void herd_rope_free(herd_rope *r);
/* Rotates nheads consecutive head vectors of x (in place) for absolute position pos. */
void herd_rope_apply(const herd_rope *r, float *x, int64_t nheads, int64_t pos);
/* The same rotation of q (nq heads) and k (nk heads; NULL: none) at one position, each angle's
 * cosine and sine computed once for both. */
void herd_rope_apply_qk(const herd_rope *r, float *q, int64_t nq, float *k, int64_t nk,
                        int64_t pos);
/* The angles of position pos as a table of 2·head_dim floats, computed once and shared by
 * every RoPE layer of a row: cs[2i] = cs[2i+1] = cos θ_i, cs[D+2i] = -sin θ_i,
 * cs[D+2i+1] = sin θ_i. herd_rope_apply_table then rotates exactly as herd_rope_apply_qk. */
void herd_rope_table(const herd_rope *r, int64_t pos, float *cs);
void herd_rope_apply_table(const herd_rope *r, const float *cs, float *q, int64_t nq, float *k,
                           int64_t nk);

/* Query scale of temperature tuning on NoPE layers: 1 + attn_scale·ln(1 + floor((pos+1)/floor)). */
float herd_attn_temperature(int64_t pos, double floor_scale, double attn_scale);

/* ---- attention ---------------------------------------------------------------------------
 * Keys and values of one layer as seen by a piece of T new tokens at positions
 * start .. start+T-1: positions before `start` come from the cache, where position j lives in
 * row j % ring (a ring buffer for chunked layers; ring ≥ every position for global ones);
 * positions from `start` on come from the piece's own rows, nkv·head_dim floats each. A cache
 * row is nkv head rows of head_dim elements stored as type_k (type_v), each head row
 * herd_type_row_bytes(type, head_dim) bytes: F32 (0), BF16 or Q8_0 (herd_attn_type_ok).
 * Attention converts the rows of one key tile at a time, never the whole cache. */
typedef struct herd_kv_view {
    const void *cache_k, *cache_v;
    int64_t ring;
    int64_t start;
    const float *new_k, *new_v; /* T rows */
    herd_type type_k, type_v;   /* of the cache rows */
} herd_kv_view;
bool herd_attn_type_ok(herd_type t); /* the cache types herd_attention reads */

typedef struct herd_attn_shape {
    int64_t n_heads, n_kv_heads, head_dim;
    int64_t chunk; /* > 0: a query at p sees keys j with floor(j/chunk) == floor(p/chunk) */
} herd_attn_shape;

/* out[t, h·D..] = softmax_j(q_h(t)·k_g(j) / sqrt(D)) · v_g(j) over j ≤ start+t (within the chunk),
 * with g = h / (n_heads / n_kv_heads). One pass with an online softmax: no T×T matrix. */
herd_status herd_attention(const herd_attn_shape *s, const float *q, size_t ldq, int64_t T,
                           const herd_kv_view *kv, float *out, size_t ldo, herd_pool *pool);

/* ---- feed-forward ------------------------------------------------------------------------ */
/* x[T×H] += down(silu(h·gateᵀ) ⊙ (h·upᵀ)), with gate_up packed by herd_pack_swiglu. */
herd_status herd_mlp(const herd_packed *gate_up, const herd_packed *down, const float *h, float *x,
                     int64_t T, herd_aprep aprep, herd_pool *pool);

typedef struct herd_moe_weights {
    int64_t n_experts, top_k;
    const herd_packed *router;           /* E × H */
    herd_packed *const *experts_gate_up; /* E of them, SwiGLU pairs I × H */
    herd_packed *const *experts_down;    /* E of them, H × I */
    const herd_packed *shared_gate_up, *shared_down;
} herd_moe_weights;

/* Top-k of the raw router logits (ties to the lower index); score = sigmoid(logit). */
void herd_moe_route(const float *logits, int64_t E, int64_t k, int32_t *experts, float *scores);

/* x[T×H] += Shared(h) + Σ_{e in top-k(h)} Expert_e(sigmoid(r_e) · h): the score scales the
 * expert's INPUT. Tokens are grouped by expert so each expert runs one GEMM. */
herd_status herd_moe(const herd_moe_weights *w, const float *h, float *x, int64_t T,
                     herd_aprep aprep, herd_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
