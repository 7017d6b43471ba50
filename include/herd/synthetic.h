/* Named synthetic Llama 4 models: a config of a known shape plus the model layer's source of
 * random BF16 weights (herd_synthetic_source: deterministic, made on request), so speed and
 * profiles can be measured without a checkpoint. Pass both to herd_model_load_source. */
#ifndef HERD_SYNTHETIC_H
#define HERD_SYNTHETIC_H

#include "herd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Named shapes:
 *   "scout": Llama 4 Scout's layer shapes (hidden 5120, 40 query and 8 KV heads of 128, expert
 *            and shared-expert width 8192, chunk 8192, QK norm, temperature tuning, llama3
 *            RoPE) with 2 layers (layer 0 RoPE + chunked, layer 1 NoPE + global), 4 routed
 *            experts (top-1) + the shared expert, and a 32000-token vocabulary. Scout itself
 *            has 48 layers, 16 experts and 202048 tokens (109B parameters: too big for RAM).
 *   "small": hidden 512, 8 query and 2 KV heads of 64, 2 layers (0 dense MLP of 2048, 1 MoE of
 *            4 experts of 1024 + shared), chunk 64, vocabulary 4096 (16M parameters).
 *   "tiny":  hidden 64, 4 query and 2 KV heads of 16, 2 layers (0 dense MLP of 256, 1 MoE of
 *            4 experts of 128, top-1, with a shared expert), chunk 16, vocabulary 256: for tests.
 * layers / experts > 0 override the counts (layer i is NoPE when (i+1) % 4 == 0, and the last
 * layer is NoPE in models of fewer than 4 layers). */
typedef struct herd_synthetic_opts {
    int64_t layers, experts;
    uint64_t seed; /* 0: a fixed default */
} herd_synthetic_opts;

herd_status herd_synthetic_open(const char *name, const herd_synthetic_opts *opts,
                                herd_llama4_config *cfg, herd_weight_source *src);
/* Parameters of the synthetic model (embedding and lm_head included) for a config. */
double herd_synthetic_params(const herd_llama4_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
