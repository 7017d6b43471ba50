/* herd: the API a program embeds (this header is enough; it includes the layer headers).
 *
 * One engine, the short way: load a checkpoint (directory or GGUF), generate, free.
 *     herd_engine *e;
 *     if (herd_engine_load("Llama-4-Scout-17B-16E-Instruct", NULL, &e)) puts(herd_last_error());
 *     herd_gen_params g;
 *     herd_gen_params_default(&g);                  // sampler defaults, 128 tokens
 *     herd_engine_generate(e, ids, n, &g, on_token, user, &result);
 *     herd_engine_free(e);
 *
 * Many sequences, many threads (model.h, runtime.h): a herd_model is immutable and shared; each
 * thread makes its own herd_context (thread pool + per-sequence KV caches).
 *     herd_model_load(path, &mopts, &m);           // once
 *     herd_context_create(m, &copts, &c);          // per thread; copts.n_seqs sequences
 *     herd_forward(c, &batch, logits);             // rows of any sequences, one pass
 *     herd_generate(c, seq, tok, prompt, n, &g, on_token, user, &result);
 *     herd_seq_truncate / herd_seq_copy / herd_seq_clear;   // KV per sequence
 *     herd_context_free(c); herd_model_free(m);
 * Errors: every call returns a herd_status; herd_last_error() has the one-line message. */
#ifndef HERD_HERD_H
#define HERD_HERD_H

#include "herd/base.h"
#include "herd/model.h"
#include "herd/runtime.h"
#include "herd/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herd_engine_opts {
    herd_model_opts model;
    int64_t ctx; /* context in tokens; 0 = herd_engine_default_ctx */
    /* KV cache storage (herd_context_opts.type_k/type_v): HERD_TYPE_F32 (default), BF16, Q8_0 */
    herd_type type_k, type_v;
} herd_engine_opts;
void herd_engine_opts_default(herd_engine_opts *o);
/* The context when none is asked for: the config's max_position_embeddings (the training
 * length) capped at 8192 tokens and at what a quarter of the memory left after the weights
 * holds, but at least min(training length, 256). */
int64_t herd_engine_default_ctx(const herd_llama4_config *c, size_t weight_bytes);

typedef struct herd_engine herd_engine;

/* path: an HF checkpoint directory (config.json + safetensors). */
herd_status herd_engine_load(const char *path, const herd_engine_opts *o, herd_engine **out);
void herd_engine_free(herd_engine *e);

/* herd_generate on the engine's context (sequence 0) with the checkpoint's tokenizer when it
 * has one: continues from what the context holds (herd_engine_reset starts over). */
herd_status herd_engine_generate(herd_engine *e, const int32_t *prompt, int64_t n,
                                 const herd_gen_params *p, herd_token_fn fn, void *user,
                                 herd_gen_result *res);
void herd_engine_reset(herd_engine *e);

/* The checkpoint's tokenizer (tokenizer.json or tokenizer.model in the directory), loaded on
 * first use; fails naming the directory when it has none. */
herd_status herd_engine_tokenizer(herd_engine *e, const herd_tokenizer **out);

herd_model *herd_engine_model(herd_engine *e);
herd_context *herd_engine_context(herd_engine *e); /* one sequence, ctx positions */
/* One line: "weights W (type), KV cache K at ctx N, total T". */
void herd_engine_memory_plan(const herd_engine *e, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
