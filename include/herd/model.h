/* herd model layer: Llama 4 text models. The config (parsed by spec llama4.md §2.3), binding
 * weights from any source to the model, the chunk-aware KV cache, and the forward pass
 * (prefill as GEMMs over the whole piece, decode one token). */
#ifndef HERD_MODEL_H
#define HERD_MODEL_H

#include "herd/base.h"
#include "herd/formats.h"
#include "herd/kernels.h"
#include "herd/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- config ------------------------------------------------------------------------------ */
enum { HERD_MAX_EOS = 16 };

typedef struct herd_llama4_config {
    char architecture[64]; /* "Llama4ForConditionalGeneration" or "Llama4ForCausalLM" */
    char prefix[32];       /* tensor-name prefix: "language_model." or "" */
    int64_t vocab, hidden, n_layers, n_heads, n_kv_heads, head_dim;
    int64_t inter, inter_mlp; /* expert and shared-expert width; dense-layer width */
    int64_t n_experts, top_k;
    double eps;
    double rope_theta;
    herd_rope_scaling rope_scaling;
    int64_t chunk; /* attention_chunk_size; 0 = null: RoPE layers are plain causal */
    bool use_qk_norm, temp_tuning, attn_bias, tie_embeddings;
    double floor_scale, attn_scale;
    int64_t max_pos;
    int64_t bos;
    int n_eos;
    int64_t eos[HERD_MAX_EOS];
    bool *layer_rope; /* [n_layers]: true = RoPE + chunked; false = NoPE + global */
    bool *layer_moe;  /* [n_layers]: true = MoE FFN; false = dense MLP (inter_mlp) */
} herd_llama4_config;

/* Parses config.json (`path` names it in messages). Fills every default of spec §2.3. */
herd_status herd_llama4_config_load(const char *path, herd_llama4_config *out);
/* The same from JSON text (for tests). */
herd_status herd_llama4_config_parse(const char *text, size_t len, const char *what,
                                     herd_llama4_config *out);
void herd_llama4_config_free(herd_llama4_config *c);
/* Checks every value the forward pass depends on (top-k within the experts, sizes, scales, RoPE
 * scaling); `what` names the file in the message. Both loaders (config.json, GGUF) call it. */
herd_status herd_llama4_config_check(const char *what, const herd_llama4_config *c);

/* ---- weight sources ------------------------------------------------------------------------
 * The model asks a source for each weight by role, as N rows of K elements (nn.Linear's
 * [out, in]). A source knows its file's names, layout and types: HF safetensors (transposing
 * the input-major fused expert tensors), and GGUF later, whose quantized blocks pass straight
 * to herd_pack. Sources check shape and type and fail naming the file and the tensor. */
typedef enum herd_wrole {
    HERD_W_EMBED,      /* [V, H] */
    HERD_W_OUTPUT,     /* [V, H] lm_head */
    HERD_W_FINAL_NORM, /* [H] */
    HERD_W_ATTN_NORM,  /* [H] per layer */
    HERD_W_FFN_NORM,   /* [H] per layer */
    HERD_W_Q,
    HERD_W_K,
    HERD_W_V,
    HERD_W_O,
    HERD_W_Q_BIAS,
    HERD_W_K_BIAS,
    HERD_W_V_BIAS,
    HERD_W_O_BIAS,
    HERD_W_ROUTER, /* [E, H] */
    HERD_W_EXP_GATE,
    HERD_W_EXP_UP,   /* [I, H] of expert e */
    HERD_W_EXP_DOWN, /* [H, I] of expert e */
    HERD_W_SH_GATE,
    HERD_W_SH_UP,
    HERD_W_SH_DOWN,
    HERD_W_MLP_GATE,
    HERD_W_MLP_UP,
    HERD_W_MLP_DOWN,
} herd_wrole;

typedef struct herd_wmat {
    herd_type type;
    int64_t rows, cols; /* cols = 1 for vectors */
    const void *data;   /* rows of herd_type_row_bytes(type, cols) unless row_bytes says else */
    size_t row_bytes;
    void *owned; /* a buffer the source made (e.g. a transpose); released by `release` */
    /* The bytes of the source's file mapping this matrix was read from: `release` drops their
     * pages from memory once the matrix is packed (NULL: nothing to drop). */
    const void *span;
    size_t span_bytes;
    float act_scale_ub; /* FP8 rows (fbgemm_fp8): bound of the dynamic activation scale, 0 none */
} herd_wmat;

typedef struct herd_weight_source {
    void *ctx;
    /* Finds weight `role` of `layer` (and `expert`), expecting rows × cols (cols 1: a vector). */
    herd_status (*get)(void *ctx, herd_wrole role, int64_t layer, int64_t expert, int64_t rows,
                       int64_t cols, herd_wmat *out);
    void (*release)(void *ctx, herd_wmat *m);
    void (*close)(void *ctx);
    size_t file_bytes; /* for the memory plan */
    const char *name;  /* the checkpoint, for messages */
    size_t skipped;    /* tensors the text model does not use (noticed once, after load) */
} herd_weight_source;

/* The source for an HF checkpoint directory (safetensors, sharded or not). Unknown tensors
 * (the vision tower) are skipped with one notice. */
herd_status herd_hf_source_open(const char *dir, const herd_llama4_config *c,
                                herd_weight_source *out);

/* Random weights made in memory on request (tests, `herd bench model --synthetic`): values
 * uniform in ±1/sqrt(cols) for matrices and 1 ± 0.1 for norms, stored as `type` (F32/F16/BF16),
 * the same for the same seed. */
herd_status herd_synthetic_source(const herd_llama4_config *c, uint64_t seed, herd_type type,
                                  herd_weight_source *out);

/* ---- model -------------------------------------------------------------------------------- */
typedef struct herd_model herd_model;

typedef struct herd_model_opts {
    herd_type dtype;  /* packed type of the matrices; HERD_TYPE_COUNT = the checkpoint's own */
    int threads;      /* default threads of contexts made by herd_kv_create; 0 = every CPU */
    herd_aprep aprep; /* how GEMMs treat activations (EXACT for reference checks) */
    bool quiet;       /* no memory-plan / notice lines */
} herd_model_opts;
void herd_model_opts_default(herd_model_opts *o);

/* Loads config.json + weights from an HF checkpoint directory. */
herd_status herd_model_load(const char *dir, const herd_model_opts *opts, herd_model **out);
/* Binds weights from any source; takes ownership of cfg (moved) and of src (closed on free). */
herd_status herd_model_load_source(herd_llama4_config *cfg, herd_weight_source *src,
                                   const herd_model_opts *opts, herd_model **out);
void herd_model_free(herd_model *m);
const herd_llama4_config *herd_model_config(const herd_model *m);
size_t herd_model_weight_bytes(const herd_model *m); /* packed weights + embedding + norms */
herd_type herd_model_dtype(const herd_model *m);     /* packed type of the matrices */
/* What each class of tensor was packed as: "q4_k", or for mixed files "embedding q4_k,
 * attention q4_k+q6_k, ..." (the memory plan prints it). */
void herd_model_types(const herd_model *m, char *buf, size_t n);
/* The kernel families of the model's matrices that are a plain C twin ("q3_k.ref") or emulated
 * ("q5_0 emulated"), space-separated, each once; "" when every matrix has a vector kernel. */
void herd_model_fallback_kernels(const herd_model *m, char *buf, size_t n);

/* ---- contexts, sequences and batches --------------------------------------------------------
 * Threading contract. A herd_model is immutable once loaded: any number of contexts, on any
 * threads, may run on it at once. A herd_context is everything that changes while running — its
 * thread pool, its sequences' KV caches, the per-call tables — and is used by ONE thread at a
 * time (calls on one context must not overlap; moving a context between threads is fine).
 * Scratch memory and the profiler's counters (herd/prof.h) belong to the calling thread, so
 * contexts on different threads share nothing mutable. A pool handed in through the options
 * must likewise serve one context at a time.
 *
 * Sequences are numbered 0 .. n_seqs-1 and each has its own KV cache, which grows on demand:
 * global (NoPE) layers keep every position, chunked (RoPE) layers a ring of
 * min(chunk + HERD_BATCH_MAX, ctx) positions (what queries can still read, plus room for one
 * batch, so that a failed batch never overwrites what the sequence needs). */
enum { HERD_BATCH_MAX = 512 }; /* rows per herd_forward call */

typedef struct herd_context herd_context;

typedef struct herd_context_opts {
    int64_t ctx;     /* positions per sequence; 0 = the config's max_position_embeddings */
    int n_seqs;      /* sequences; 0 = 1 */
    int threads;     /* threads of the context's own pool; 0 = every CPU */
    herd_pool *pool; /* non-NULL: run on this pool instead (borrowed, not freed) */
    /* Checked between layers: returning true stops herd_forward with HERD_ERR_CANCELLED and
     * every sequence as before the call. NULL = never. */
    bool (*cancel)(void *user);
    void *cancel_user;
    /* Storage of the cached keys and values (herd_kv_type_parse): HERD_TYPE_F32 (0, the
     * default, exact), HERD_TYPE_BF16 or HERD_TYPE_Q8_0; K and V may differ. Attention reads
     * the stored type directly; a row's own keys and values are rounded to it before its
     * attention too, so a token is seen the same whether it came in this batch or before. */
    herd_type type_k, type_v;
} herd_context_opts;
void herd_context_opts_default(herd_context_opts *o);

herd_status herd_context_create(const herd_model *m, const herd_context_opts *o,
                                herd_context **out);
void herd_context_free(herd_context *c);
const herd_model *herd_context_model(const herd_context *c);
void herd_context_kv_types(const herd_context *c, herd_type *k, herd_type *v);
int64_t herd_context_ctx(const herd_context *c); /* positions per sequence */
int herd_context_seqs(const herd_context *c);
herd_pool *herd_context_pool(herd_context *c);

/* A batch: n rows, each one token — or one input embedding row (image input) — of a sequence.
 * A sequence's rows continue it in order: the first at its current length, the next one
 * after, and so on; rows of different sequences may interleave. */
typedef struct herd_batch {
    int64_t n;            /* 1 .. HERD_BATCH_MAX */
    const int32_t *token; /* [n] token ids; NULL, or an id < 0: the row is embd's row i */
    const float *embd;    /* [n × hidden]: input rows for rows without a token (else NULL) */
    const int32_t *seq;   /* [n] sequence ids; NULL = all sequence 0 */
    const int64_t *pos;   /* [n] positions, checked against the above; NULL = implied */
    const bool *logits;   /* [n] rows that want logits; NULL = only the last row */
} herd_batch;

/* One forward pass over the whole batch: every projection is one GEMM over all rows, the MoE
 * groups rows by expert, attention reads each row's own sequence with its own position, chunk
 * and mask. logits (NULL: none wanted) receives [k × vocab] for the k rows that want them, in
 * batch order. On success each sequence grows by its rows. On any failure — a bad row
 * (checked before any work), a full context (HERD_ERR_RANGE), cancellation, out of memory —
 * every sequence is exactly as before the call. */
herd_status herd_forward(herd_context *c, const herd_batch *b, float *logits);

/* KV operations. A sequence's cache can always be truncated back by up to HERD_BATCH_MAX
 * positions; further back only while the chunked layers still hold the start of the chunk
 * of `p` (HERD_ERR_RANGE otherwise: clear and re-feed). */
int64_t herd_seq_len(const herd_context *c, int seq);
size_t herd_seq_bytes(const herd_context *c, int seq); /* KV memory the sequence holds now */
void herd_seq_clear(herd_context *c, int seq);         /* empty, memory released */
herd_status herd_seq_truncate(herd_context *c, int seq, int64_t p); /* keep positions < p */
/* dst becomes positions 0 .. p-1 of src (prefix sharing); dst's old contents are dropped. */
herd_status herd_seq_copy(herd_context *c, int src, int dst, int64_t p);

/* KV-cache bytes of one full sequence of ctx tokens with an f32 cache: each layer keeps K and V
 * rows of n_kv_heads·head_dim floats, for min(chunk + HERD_BATCH_MAX, ctx) positions on chunked
 * (RoPE) layers and ctx positions on global (NoPE) layers. */
size_t herd_kv_bytes_for(const herd_llama4_config *c, int64_t ctx);
/* The same with K and V rows stored as type_k and type_v (each head's row padded to whole
 * blocks). */
size_t herd_kv_bytes_for_types(const herd_llama4_config *c, int64_t ctx, herd_type type_k,
                               herd_type type_v);

/* KV cache types by name, case-insensitive: "f32", "bf16", "q8_0" (the names llama.cpp's
 * --cache-type-k takes). False for any other name or type. */
bool herd_kv_type_parse(const char *name, herd_type *out);
bool herd_kv_type_ok(herd_type t);
const char *herd_kv_type_names(void); /* "f32 bf16 q8_0", for error messages */

/* ---- one sequence, the short way --------------------------------------------------------
 * A herd_kv_cache is a context of one sequence on the model's default thread count
 * (herd_model_opts.threads); herd_model_forward runs any number of tokens through it, in
 * batches of up to HERD_BATCH_MAX (only the last batch is undone if one fails). */
typedef struct herd_context herd_kv_cache;
herd_status herd_kv_create(const herd_model *m, int64_t ctx, herd_kv_cache **out);
void herd_kv_free(herd_kv_cache *kv);
void herd_kv_reset(herd_kv_cache *kv);
int64_t herd_kv_pos(const herd_kv_cache *kv); /* tokens seen so far */
int64_t herd_kv_ctx(const herd_kv_cache *kv);
size_t herd_kv_bytes(const herd_kv_cache *kv); /* bytes held now */

/* Runs n tokens at positions pos..pos+n-1 (pos = herd_kv_pos) and appends them to the cache.
 * logits: NULL, or [n × V] when all_rows, else [V] for the last token only. Fails with
 * HERD_ERR_RANGE (cache untouched) when pos + n would exceed the context. */
herd_status herd_model_forward(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                               float *logits, bool all_rows);
/* hidden, if not NULL, receives [n_layers+1][n][H]: embeddings, then the residual stream after
 * each layer (for diagnosis against the reference's hidden states). */
herd_status herd_model_forward_ex(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                                  float *logits, bool all_rows, float *hidden);

#ifdef __cplusplus
}
#endif
#endif
