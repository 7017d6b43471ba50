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
#include "herd/text.h"

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
/* The index of the largest of x[0..n) (n >= 1), the first one on ties; NaNs are skipped (a NaN
 * at x[0] stays the answer). Greedy sampling's whole work, vectorized. */
int32_t herd_argmax(const float *x, int64_t n);
/* Adds a token of the history (prompt or generated) to the penalties' window. */
void herd_sampler_accept(herd_sampler *s, int32_t token);

/* ---- generation ----------------------------------------------------------------------------
 * One contract for every client (run, chat, the server). herd_generate prefills the prompt
 * after what sequence `seq` already holds, then samples, and FEEDS every sampled token back, so
 * afterwards the sequence holds prompt + every generated token (all but the last when the
 * context filled up). The library decides when to stop:
 *   - a stop token: the config's eos ids and, with a tokenizer, its stop set (<|eot|>, <|eom|>,
 *     <|end_of_text|>, generation_config.json's ids) — unless ignore_eos;
 *   - a stop string (needs a tokenizer): the text is cut before it, and text that might begin
 *     one is held back until it cannot;
 *   - n_predict tokens; the context full; the callback returning false; the context's cancel
 *     callback (herd_forward fails with HERD_ERR_CANCELLED). */
typedef struct herd_gen_token {
    int32_t id;       /* the sampled token; -1 for the held-back text delivered at the end */
    const char *text; /* text ready to show ("" for a stop token unless `special`; text that
                         may begin a stop string comes later); NULL without a tokenizer */
    size_t len;
} herd_gen_token;
/* Sees each generated token as it is produced; returning false stops the run. */
typedef bool (*herd_token_fn)(void *user, const herd_gen_token *t);

typedef enum herd_stop_reason {
    HERD_STOP_LENGTH = 0, /* n_predict tokens generated */
    HERD_STOP_EOS,        /* a stop token was generated (passed to the callback, no text) */
    HERD_STOP_STRING,     /* the text reached a stop string */
    HERD_STOP_CTX,        /* the context is full */
    HERD_STOP_CALLBACK,   /* the callback returned false */
} herd_stop_reason;

enum { HERD_MAX_STOP_STRINGS = 16 };

typedef struct herd_gen_params {
    herd_sampler_params sampler;
    int64_t n_predict;
    bool ignore_eos; /* stop tokens do not end the run */
    bool special;    /* text shows special tokens (<|eot|>, ...), stop tokens too; default hidden */
    const char *stop[HERD_MAX_STOP_STRINGS]; /* stop strings; NULL ends the list */
    /* [n_prompt × hidden] or NULL: the input rows of prompt positions whose id is < 0 (image
     * features, spec §11.7); other positions' rows are ignored. Such ids never reach the
     * penalties' window. */
    const float *prompt_embd;
} herd_gen_params;
void herd_gen_params_default(herd_gen_params *p); /* sampler defaults, n_predict 128 */

typedef struct herd_gen_result {
    herd_stop_reason reason;
    int64_t n_prompt, n_generated;
    double prefill_seconds, decode_seconds;
} herd_gen_result;

/* tok: the model's tokenizer for text and its stop set, or NULL (ids only; no stop strings). */
herd_status herd_generate(herd_context *c, int seq, const herd_tokenizer *tok,
                          const int32_t *prompt, int64_t n_prompt, const herd_gen_params *p,
                          herd_token_fn fn, void *user, herd_gen_result *res);

#ifdef __cplusplus
}
#endif
#endif
