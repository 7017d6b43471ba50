/* The model struct, shared by the files of src/model (load, KV cache, forward). */
#ifndef HERD_MODEL_INTERNAL_H
#define HERD_MODEL_INTERNAL_H

#include "herd/model.h"

typedef struct layer_weights {
    float *attn_norm, *ffn_norm;
    herd_packed *qkv;       /* q, k, v as one matrix [qd + 2·kvd, H] ... */
    herd_packed *q, *k, *v; /* ... or three, when the source stores them in different types */
    herd_packed *o;
    float *bqkv, *bq, *bk, *bv, *bo; /* NULL unless attention_bias */
    /* MoE layers */
    herd_packed *router;
    herd_packed **exp_gate_up, **exp_down; /* n_experts each */
    herd_packed *sh_gate_up, *sh_down;
    /* dense layers */
    herd_packed *mlp_gate_up, *mlp_down;
} layer_weights;

struct herd_model {
    herd_llama4_config cfg;
    herd_weight_source src;
    herd_model_opts opts;
    herd_type dtype; /* packed type in use */
    herd_pool *pool;
    herd_wmat embed; /* rows read straight from the source (mapped) */
    float *final_norm;
    herd_packed *output;
    layer_weights *layers;
    herd_rope rope;
    size_t weight_bytes;
};

typedef struct kv_layer {
    float *k, *v;
    int64_t cap;  /* positions allocated */
    int64_t ring; /* position j lives in row j % ring */
    int64_t max;  /* cap never exceeds this */
} kv_layer;

struct herd_kv_cache {
    const herd_model *m;
    int64_t ctx, pos;
    size_t row; /* floats per position: n_kv_heads · head_dim */
    kv_layer *layers;
};

/* Makes room for positions up to `end` (exclusive) in every layer. */
herd_status herd_kv_reserve(herd_kv_cache *kv, int64_t end);

#endif
