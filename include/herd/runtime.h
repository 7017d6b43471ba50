/* herd runtime: sampling and the generation loop.
 *
 * Samplers apply in this order (each optional): temperature (logits / T; T = 0 means greedy
 * argmax and skips the rest), top-k (keep the k most likely), top-p (keep the smallest set whose
 * probability reaches p), min-p (drop tokens below p × the top probability), then one draw from
 * the renormalized distribution with a seeded RNG (xoshiro256**), so a seed repeats a run.
 * Before all of them (greedy included), the penalties adjust the logits of the tokens in the
 * window of recent history (the prompt and what was generated, as herd_sampler_accept fed). */
#ifndef HERD_RUNTIME_H
#define HERD_RUNTIME_H

#include "herd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herd_sampler_params {
    float temperature; /* 0 = greedy */
    int64_t top_k;     /* 0 = off */
    float top_p;       /* 1 = off */
    float min_p;       /* 0 = off */
    uint64_t seed;
    /* penalties (a zeroed field is off): */
    float repeat_penalty;    /* 1 or 0 = off: a positive logit / p, a negative one x p */
    int64_t repeat_last_n;   /* the window: the last N tokens (0 = off, -1 = all) */
    float presence_penalty;  /* minus this once per token in the window */
    float frequency_penalty; /* minus this x the token's count in the window */
} herd_sampler_params;
/* temp 0.6, top-p 0.9 (Llama 4's); penalties off with a window of 64 */
void herd_sampler_params_default(herd_sampler_params *p);

typedef struct herd_sampler herd_sampler;
herd_status herd_sampler_create(const herd_sampler_params *p, int64_t vocab, herd_sampler **out);
void herd_sampler_free(herd_sampler *s);
/* Picks a token from logits[vocab] (not modified). */
int32_t herd_sample(herd_sampler *s, const float *logits);
/* Adds a token of the history (prompt or generated) to the penalties' window. */
void herd_sampler_accept(herd_sampler *s, int32_t token);

/* The generation loop. The callback sees each generated token as it is produced and may stop
 * the run by returning false. */
typedef bool (*herd_token_fn)(void *user, int32_t token);

typedef enum herd_stop_reason {
    HERD_STOP_LENGTH = 0, /* n_predict tokens generated */
    HERD_STOP_EOS,        /* a stop token was generated (it is passed to the callback) */
    HERD_STOP_CTX,        /* the context is full */
    HERD_STOP_CALLBACK,   /* the callback returned false */
} herd_stop_reason;

typedef struct herd_gen_params {
    herd_sampler_params sampler;
    int64_t n_predict;
    const int32_t *stop_ids; /* NULL: the model's eos ids; n_stop = 0 with non-NULL: none */
    int n_stop;
} herd_gen_params;

typedef struct herd_gen_result {
    herd_stop_reason reason;
    int64_t n_prompt, n_generated;
    double prefill_seconds, decode_seconds;
} herd_gen_result;

/* Prefills the prompt after whatever the cache holds, then samples and feeds tokens one at a
 * time until a stop condition. */
herd_status herd_generate(herd_model *m, herd_kv_cache *kv, const int32_t *prompt, int64_t n_prompt,
                          const herd_gen_params *p, herd_token_fn fn, void *user,
                          herd_gen_result *res);

#ifdef __cplusplus
}
#endif
#endif
