/* herd training layer: Llama 4 text models trained from scratch on the CPU, in float32, bf16 or
 * the OCP MX formats (docs/TRAINING.md).
 *
 * Parameters live in one flat float32 array (the master weights), laid out tensor by tensor in
 * the GGUF names and shapes the model loader reads, so a trained model exports as it is. Every
 * op has a forward that keeps what its backward needs and a backward (src/train/graph_impl.h,
 * instantiated in float and, as the twin the gradient checks use, in double). A step is
 * forward, backward, global-norm clipping and AdamW with warm-up and cosine decay; it is
 * deterministic for a given seed and thread count. */
#ifndef HERD_TRAIN_H
#define HERD_TRAIN_H

#include "herd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- precision ---------------------------------------------------------------------------
 * The operands of every weight GEMM (forward Y = X·Wᵀ, backward dX = dY·W and dW = dYᵀ·X) are
 * rounded to the mode's format along that GEMM's reduction axis (an operand used transposed is
 * re-quantized along its other axis) and the product is formed in float32: quantize-dequantize
 * emulation (docs/TRAINING.md says why). Norms, softmax, residuals and the optimizer stay
 * float32; high-precision layers are never cast. */
typedef enum herd_train_mode { HERD_TRAIN_F32 = 0, HERD_TRAIN_BF16, HERD_TRAIN_MX } herd_train_mode;

typedef struct herd_train_precision {
    herd_train_mode mode;
    herd_mx_format weights, acts, grads; /* MX: element format of each role */
    bool scale_ceil;                     /* MX scale rounded up (NVIDIA) instead of OCP floor */
    bool hp_head, hp_router;             /* keep the output head / router in float32 */
} herd_train_precision;
void herd_train_precision_default(herd_train_precision *p); /* f32; MX defaults E4M3, floor */
/* "f32", "bf16", "mx:w=mxfp8_e4m3,a=...,g=...,scale=floor" (for logs and checkpoints). */
void herd_train_precision_describe(const herd_train_precision *p, char *out, size_t n);

/* ---- hyperparameters -------------------------------------------------------------------- */
typedef struct herd_train_hparams {
    int64_t seq;    /* training context (tokens per sequence, BOS first) */
    int64_t batch;  /* sequences per step */
    int64_t steps;  /* total optimizer steps (the cosine's length) */
    int64_t warmup; /* linear warm-up steps */
    double lr;      /* peak learning rate */
    double lr_min;  /* the cosine's floor, as a fraction of lr */
    double weight_decay, beta1, beta2, adam_eps;
    double clip;     /* global gradient-norm limit (0: none) */
    double aux_coef; /* router load-balancing loss weight */
    double init_std; /* matrices ~ N(0, init_std); output projections / sqrt(2·layers) */
    uint64_t seed;
    int64_t eval_every, eval_batches, ckpt_every, log_every;
} herd_train_hparams;
void herd_train_hparams_default(herd_train_hparams *h);
/* Reads the "training" object of a config file (missing keys keep their values). */
struct json_t;
herd_status herd_train_hparams_parse(const struct json_t *obj, const char *what,
                                     herd_train_hparams *h);

/* ---- parameters --------------------------------------------------------------------------- */
typedef struct herd_tparam {
    char name[64]; /* GGUF name: "blk.0.attn_q.weight", "blk.1.ffn_gate_exps.weight" */
    int n_dims;    /* 1, 2 or 3 (experts) */
    int64_t ne[3]; /* GGUF order: ne[0] is the row length */
    size_t off, n; /* offset and element count in the flat arrays */
    bool matrix;   /* weight-decayed, stored BF16 on export; vectors are norms (F32) */
} herd_tparam;

typedef struct herd_trainer herd_trainer;
/* A model of config c with fresh weights (from hp->seed). pool may be NULL (one thread). */
herd_status herd_trainer_create(const herd_llama4_config *c, const herd_train_hparams *hp,
                                const herd_train_precision *prec, herd_pool *pool,
                                herd_trainer **out);
void herd_trainer_free(herd_trainer *t);
const herd_tparam *herd_trainer_tensors(const herd_trainer *t, size_t *n);
float *herd_trainer_params(herd_trainer *t); /* the master weights */
size_t herd_trainer_param_count(const herd_trainer *t);
int64_t herd_trainer_step_no(const herd_trainer *t); /* steps taken */

/* One optimizer step on batch × seq tokens (ids[b·seq + t]; targets the next ids, -1 = no
 * loss). Reports the mean loss before the step, the gradient norm before clipping and the
 * learning rate used. */
herd_status herd_trainer_step(herd_trainer *t, const int32_t *ids, const int32_t *targets,
                              double *loss, double *grad_norm, double *lr);
/* The mean loss of a batch without training (validation). */
herd_status herd_trainer_eval(herd_trainer *t, const int32_t *ids, const int32_t *targets,
                              double *loss);
/* The learning rate of step s (0-based): linear warm-up, then cosine down to lr·lr_min. */
double herd_train_lr(const herd_train_hparams *h, int64_t s);

/* Checkpoints hold the step, weights, Adam moments and the loss history (resuming is
 * bit-identical); written through a temporary file and renamed. */
herd_status herd_trainer_save(const herd_trainer *t, const char *path, const double *history,
                              size_t n_history);
/* Loads a checkpoint of the same model shape; *history (malloc'd, caller frees) gets the
 * loss history as saved. */
herd_status herd_trainer_load(herd_trainer *t, const char *path, double **history,
                              size_t *n_history);
/* Writes the model as a llama4 GGUF herd loads (matrices in matrix_type, F32 or BF16; norms
 * F32) with the tokenizer of tokenizer_json (NULL: none), general.* naming it and its
 * license. */
herd_status herd_trainer_export_gguf(const herd_trainer *t, const herd_llama4_config *c,
                                     herd_type matrix_type, const char *tokenizer_json,
                                     const char *name, const char *license, const char *path);

/* ---- the training run (herd train) ---------------------------------------------------------- */
typedef struct herd_train_run_opts {
    const char *config;    /* config.json with a "training" object */
    const char *tokenizer; /* tokenizer.json (NULL: beside the config) */
    const char *data, *val;
    const char *out_dir;    /* checkpoint.bin, loss.tsv, loss.svg, model.gguf */
    const char *resume_dir; /* NULL: start fresh */
    int64_t steps;          /* > 0 overrides the config */
    int64_t stop_after;     /* > 0: stop (with a checkpoint) after this step, for tests */
    herd_train_precision prec;
    int threads;
    bool quiet;
} herd_train_run_opts;
herd_status herd_train_run(const herd_train_run_opts *o);

#ifdef __cplusplus
}
#endif
#endif
