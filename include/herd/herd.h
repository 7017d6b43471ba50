/* herd: the engine API a program embeds. Load a Llama 4 checkpoint, generate with a token
 * callback, free. The layer headers (model.h, runtime.h) offer finer control.
 *
 *     herd_engine *e;
 *     herd_engine_opts o;
 *     herd_engine_opts_default(&o);
 *     if (herd_engine_load("Llama-4-Scout-17B-16E-Instruct", &o, &e)) { puts(herd_last_error());
 * ... } herd_gen_params g = {.n_predict = 64}; herd_sampler_params_default(&g.sampler);
 *     herd_engine_generate(e, ids, n, &g, on_token, user, &result);
 *     herd_engine_free(e);
 */
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
