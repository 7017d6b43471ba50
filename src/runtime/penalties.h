/* Repetition penalties over a window of recent tokens, applied to logits before sampling
 * (herd_sampler_params documents the four knobs). One self-contained step: the sampler owns a
 * herd_penalties, feeds it every token of the history and lets it adjust a copy of the logits. */
#ifndef HERD_RUNTIME_PENALTIES_H
#define HERD_RUNTIME_PENALTIES_H

#include "herd/runtime.h"

typedef struct herd_penalties {
    float repeat, presence, frequency;
    int64_t window; /* tokens kept; < 0: all of them */
    int64_t vocab;
    int32_t *ring; /* the last min(n, window) tokens, oldest at head once full */
    int64_t cap, n, head;
    int32_t *count; /* per id: its occurrences in the ring */
} herd_penalties;

/* True when p asks for any penalty (a zeroed p asks for none). */
bool herd_penalties_wanted(const herd_sampler_params *p);
herd_status herd_penalties_init(herd_penalties *pen, const herd_sampler_params *p, int64_t vocab);
void herd_penalties_free(herd_penalties *pen);
void herd_penalties_accept(herd_penalties *pen, int32_t tok);
/* logits[vocab] in place: for each distinct id in the window, repeat (divide a positive logit,
 * multiply a negative one), then frequency × count and presence once. */
void herd_penalties_apply(const herd_penalties *pen, float *logits);

#endif
