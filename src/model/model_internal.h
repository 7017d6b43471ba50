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
    herd_wmat embed; /* rows read straight from the source (mapped) */
    float *final_norm;
    herd_packed *output;
    layer_weights *layers;
    herd_rope rope;
    size_t weight_bytes;
};

/* One layer of one sequence's cache: position j lives in row j % ring. */
typedef struct kv_layer {
    uint8_t *k, *v; /* rows of c->row_k / c->row_v bytes */
    int64_t cap;    /* positions allocated */
    int64_t ring;   /* INT64_MAX on global layers */
    int64_t max;    /* cap never exceeds this */
} kv_layer;

typedef struct seq_cache {
    int64_t len; /* positions held */
    /* The lowest position whose rows the ring layers still hold: rows below it were
     * overwritten (by later positions, or by a batch that failed). */
    int64_t lo;
    kv_layer *layers;
} seq_cache;

/* A run of batch rows of one sequence, at positions start .. start+n-1 (rows row0 .. in the
 * forward pass's own order: grouped by sequence). */
typedef struct seq_run {
    int32_t seq;
    int64_t row0, n, start;
} seq_run;

struct herd_context {
    const herd_model *m;
    herd_pool *pool;
    bool own_pool;
    int64_t ctx;
    int n_seqs;
    herd_type type_k, type_v; /* storage of the cached keys and values */
    size_t row_k, row_v;      /* bytes per position: n_kv_heads head rows of head_dim */
    int64_t ring;             /* rows of the chunked layers' rings (INT64_MAX: they never wrap) */
    seq_cache *seqs;
    bool (*cancel)(void *user);
    void *cancel_user;
    /* per-call tables, made once so a step allocates nothing */
    int32_t *order; /* [HERD_BATCH_MAX] batch row of each internal row */
    int32_t *inv;   /* [HERD_BATCH_MAX] internal row of each batch row */
    int64_t *pos;   /* [HERD_BATCH_MAX] position of each internal row */
    seq_run *runs;  /* [min(n_seqs, HERD_BATCH_MAX)] */
    int *count;     /* [n_seqs] run of the sequence + 1 while planning, else 0 */
};

/* Makes room for positions up to `end` (exclusive) in every layer of a sequence. */
herd_status herd_seq_reserve(herd_context *c, int seq, int64_t end);

#endif
