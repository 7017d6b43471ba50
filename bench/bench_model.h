/* Shared by the files of `herd bench model`. */
#ifndef HERD_BENCH_MODEL_H
#define HERD_BENCH_MODEL_H

#include "herd/herd.h"
#include "herd/quant.h"

/* Writes the model of config c from src (the synthetic source) to the GGUF `path` with
 * llama.cpp's names and keys: matrices in type (or the policy's per-class types), norms f32,
 * the vocabulary from tokenizer_json (llama.cpp needs one to load a model). */
herd_status bench_model_write_gguf(const herd_llama4_config *c, herd_weight_source *src,
                                   const herd_quant_policy *p, herd_type type,
                                   const char *tokenizer_json, const char *path, herd_pool *pool);

#endif
