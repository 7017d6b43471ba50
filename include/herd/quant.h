/* herd quantization: policies (which type for which class of tensor) and the quantizer that
 * turns a plan of source tensors into a GGUF file, row by row on the thread pool.
 *
 * A plan entry names one output tensor (GGUF name, shape, type) and where its float rows come
 * from: rows of a source tensor as they are, or columns of input-major matrices (the HF Llama 4
 * fused expert tensors, which GGUF stores as [out, in] rows). Sources may be in any type
 * herd_row_to_f32 reads, so a GGUF can be re-quantized as well as an HF checkpoint. */
#ifndef HERD_QUANT_H
#define HERD_QUANT_H

#include "herd/base.h"
#include "herd/formats.h"
#include "herd/io_gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Classes of tensors a policy chooses a type for. Norms are always F32. */
typedef enum herd_qclass {
    HERD_QC_EMBED,   /* token_embd */
    HERD_QC_OUTPUT,  /* output (the head) */
    HERD_QC_ATTN,    /* attn_q, attn_k, attn_v, attn_output */
    HERD_QC_EXPERTS, /* routed experts: ffn_{gate,up,down}_exps */
    HERD_QC_SHARED,  /* shared expert: ffn_{gate,up,down}_shexp */
    HERD_QC_DENSE,   /* dense-layer FFN: ffn_{gate,up,down} */
    HERD_QC_ROUTER,  /* ffn_gate_inp */
    HERD_QC_NORM,    /* every *_norm, rope_freqs: always F32 */
    HERD_QC_COUNT
} herd_qclass;
const char *herd_qclass_name(herd_qclass c); /* "embeddings", "output", "attention", ... */

/* HERD_TYPE_COUNT in a slot means "the --type given on the command line". */
typedef struct herd_quant_policy {
    char name[32];
    herd_type type[HERD_QC_COUNT];
} herd_quant_policy;

/* A named policy ("uniform", "mx-moe", "ggml-moe", "experts", ...) or a policy file with lines
 * `class = type` (`#` comments; classes as herd_qclass_name, plus `default`). */
herd_status herd_quant_policy_load(const char *name_or_path, herd_quant_policy *out);
/* Names and one-line descriptions of the built-in policies, NULL-terminated, for --help. */
const char *const *herd_quant_policy_names(void);
const char *herd_quant_policy_describe(const char *name);
/* The type of class c given the command line's type t; norms are F32; a K-quant on rows that
 * are not whole super-blocks of 256 becomes IQ4_NL (≤ 4 bits) or Q8_0 (Q5_K, Q6_K) as in
 * llama-quantize, and other rows whose length is not a multiple of the block fall back to BF16. */
herd_type herd_quant_policy_type(const herd_quant_policy *p, herd_qclass c, herd_type t,
                                 int64_t row_len);

/* llama.cpp's K-quant recipes (`--type q4_k_m` ...): q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m
 * q5_k_s q5_k_m q6_k iq4_nl iq4_xs (any case; q3_k, q4_k, q5_k mean their _m). The parse gives
 * an id (-1: not a recipe); recipe_type gives the type of GGUF tensor `name` planned as `cur`
 * (the base type, its row fallback, or F32 for norms and router, which stay). */
int herd_quant_recipe_parse(const char *name);
const char *herd_quant_recipe_name(int r);
herd_type herd_quant_recipe_base(int r);
int herd_quant_recipe_ftype(int r); /* llama_ftype for general.file_type */
/* What of the model the mixtures depend on: layers, heads per KV head, routed experts. */
typedef struct herd_recipe_model {
    int64_t n_layers, n_gqa, n_experts;
} herd_recipe_model;
herd_type herd_quant_recipe_type(int r, const char *name, const herd_recipe_model *m, herd_type cur,
                                 int64_t row_len);

/* ---- plans -------------------------------------------------------------------------------- */
typedef enum herd_qsrc_layout {
    HERD_QSRC_ROWS, /* output row r = source row r (rows of src_row_bytes) */
    HERD_QSRC_COLS, /* output row r of matrix m (r < rows_per_mat) = column col_off + r of the
                       m-th [ne0 × src_ld] input-major source matrix */
    HERD_QSRC_MATS, /* output row r of matrix m = row r of mats[m] (one tensor per expert) */
} herd_qsrc_layout;

typedef struct herd_qentry {
    char name[64]; /* GGUF tensor name */
    herd_qclass cls;
    herd_type type; /* output type */
    int n_dims;
    int64_t ne[4];
    /* source */
    herd_qsrc_layout layout;
    herd_type src_type;
    const uint8_t *src;
    size_t src_row_bytes; /* ROWS: bytes between source rows (0: herd_type_row_bytes) */
    int64_t src_ld;       /* COLS: elements per source row (the matrix's width) */
    int64_t col_off;      /* COLS: first source column */
    const float *values;  /* if set, the f32 rows come from here instead (computed tensors) */
    /* FP8 sources (src_type HERD_TYPE_FP8_E4M3, fbgemm_fp8 checkpoints): the source holds bare
     * E4M3 codes (ROWS: ne0 bytes a row) and `scale` one value of scale_type per output row
     * (COLS: value m·src_ld + col_off + r, as the fused experts' [E, 1, W] / [E, W, 1]). */
    const uint8_t *scale;
    herd_type scale_type;
    /* MATS: the matrices' rows, and for FP8 their scales; owned by the plan */
    const uint8_t **mats, **mat_scales;
} herd_qentry;

typedef struct herd_qplan {
    herd_qentry *e;
    size_t n, cap;
} herd_qplan;
herd_status herd_qplan_add(herd_qplan *p, const herd_qentry *e);
void herd_qplan_free(herd_qplan *p);
/* Bytes the entries will take in their output types. */
size_t herd_qplan_bytes(const herd_qplan *p);

/* Declares the plan's tensors on w (metadata already set), writes `path` through a temporary
 * file, quantizing on the pool with a progress line. On failure nothing is left at `path`
 * (herd_gguf_writer_tmp_path(w) names the temporary file meanwhile, for a signal handler). */
herd_status herd_quantize_write(const herd_qplan *p, herd_gguf_writer *w, const char *path,
                                herd_pool *pool, bool progress);

/* ---- Llama 4: Hugging Face names -> llama.cpp's llama4 GGUF names (spec formats.md §4) ----
 * A checkpoint is read through `find`, which returns false for a missing tensor. The layout is
 * discovered from the tensors themselves (layers until input_layernorm is missing; MoE layers
 * by their experts), so the plan needs no config. The fused expert tensors [E, H, 2I] and
 * [E, I, H] are input-major: GGUF's ffn_{gate,up,down}_exps take their transposes, gate being
 * the first I columns. Q and K are not permuted (Llama 4 RoPE pairs are interleaved, as ggml's
 * normal RoPE; llama.cpp's converter does not permute them either). */
typedef struct herd_src_tensor {
    herd_type type; /* f32, f16 or bf16; HERD_TYPE_FP8_E4M3: data holds bare E4M3 codes */
    int ndim;
    int64_t shape[4]; /* PyTorch order, outermost first */
    const uint8_t *data;
    const uint8_t *scale; /* FP8: one value of scale_type per output row (herd_qentry.scale) */
    herd_type scale_type;
} herd_src_tensor;
typedef bool (*herd_src_find_fn)(void *ctx, const char *name, herd_src_tensor *out);

/* Plans every text tensor of a Llama 4 HF checkpoint with types from policy p and type t.
 * `where` names the checkpoint in messages. *n_layers receives the layer count. */
herd_status herd_llama4_plan_hf(herd_src_find_fn find, void *ctx, const char *where,
                                const herd_quant_policy *p, herd_type t, herd_qplan *out,
                                int64_t *n_layers);
/* The class of a llama4 GGUF tensor name; HERD_QC_COUNT if the name is not one of them. */
herd_qclass herd_llama4_gguf_class(const char *gguf_name);

/* ---- whole models ---------------------------------------------------------------------- */
typedef struct herd_quantize_opts {
    herd_quant_policy policy;
    herd_type type;        /* for the classes the policy leaves open */
    const char *name;      /* general.name; NULL: "Llama-…-TYPE" from IN's name */
    const char *tokenizer; /* tokenizer.json for an HF input; NULL: IN/tokenizer.json if any */
    herd_pool *pool;
    bool progress;
    bool llama_cpp_only; /* no herd.* keys: herd reads it by llama.cpp's rules (model_gguf.h) */
    bool text_only;      /* leave an HF input's vision tower out (it is kept by default) */
    const char *recipe;  /* a llama.cpp recipe name (herd_quant_recipe_parse) or NULL */
    herd_gguf_writer *volatile *active; /* if set, holds the writer while writing (signals) */
    /* if set, the output is written and synced but not put at OUT: *finished gets it, for
     * herd_atomic_install (or herd_atomic_abort) once its companion files are ready too */
    herd_atomic_file *finished;
} herd_quantize_opts;

typedef struct herd_quantize_report {
    char path[4400];   /* the file written (OUT, or OUT/NAME.gguf when OUT is a directory) */
    char name[300];    /* general.name */
    char license[512]; /* what license information was carried over ("" if none) */
    size_t tensors, bytes;
    double bits_per_weight, seconds;
    int llamacpp_gaps;      /* how llama.cpp would compute a different model than the input's */
    char llamacpp_gap[512]; /* ... described (herd_llama4_llamacpp_gaps) */
} herd_quantize_report;

/* Quantizes a Llama 4 HF checkpoint directory or llama4 GGUF `in` into the GGUF `out`. */
herd_status herd_quantize_model(const char *in, const char *out, const herd_quantize_opts *o,
                                herd_quantize_report *rep);

#ifdef __cplusplus
}
#endif
#endif
