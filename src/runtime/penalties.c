/* Repetition, presence and frequency penalties (penalties.h). The window is a ring of token
 * ids with a per-id count, so applying costs O(window), not O(vocab). */
#include "runtime/penalties.h"

#include <math.h>
#include <string.h>

bool herd_penalties_wanted(const herd_sampler_params *p)
{
    bool repeat = p->repeat_penalty != 0 && p->repeat_penalty != 1;
    return p->repeat_last_n != 0 &&
           (repeat || p->presence_penalty != 0 || p->frequency_penalty != 0);
}

herd_status herd_penalties_init(herd_penalties *pen, const herd_sampler_params *p, int64_t vocab)
{
    memset(pen, 0, sizeof *pen);
    if (!(p->repeat_penalty >= 0) || !isfinite(p->presence_penalty) ||
        !isfinite(p->frequency_penalty) || p->repeat_last_n < -1)
        return herd_fail(HERD_ERR_ARG, "sampler: repeat penalty >= 0, finite presence and "
                                       "frequency penalties and repeat-last-n >= -1 are required");
    pen->repeat = p->repeat_penalty > 0 ? p->repeat_penalty : 1;
    pen->presence = p->presence_penalty;
    pen->frequency = p->frequency_penalty;
    pen->window = p->repeat_last_n;
    pen->vocab = vocab;
    pen->cap = pen->window > 0 ? pen->window : 256; /* -1 grows as needed */
    pen->ring = herd_alloc((size_t)pen->cap * sizeof *pen->ring, "penalty window");
    pen->count = herd_calloc((size_t)vocab * sizeof *pen->count, "penalty counts");
    if (!pen->ring || !pen->count) {
        herd_penalties_free(pen);
        return HERD_ERR_NOMEM;
    }
    return HERD_OK;
}

void herd_penalties_free(herd_penalties *pen)
{
    herd_free(pen->ring);
    herd_free(pen->count);
    memset(pen, 0, sizeof *pen);
}

void herd_penalties_accept(herd_penalties *pen, int32_t tok)
{
    if (!pen->ring || tok < 0 || tok >= pen->vocab)
        return;
    if (pen->window < 0 && pen->n == pen->cap) { /* the whole history: grow the ring */
        int32_t *r = herd_alloc((size_t)pen->cap * 2 * sizeof *r, "penalty window");
        if (!r)
            return; /* keeps the window it has: a weaker penalty, never a wrong token */
        memcpy(r, pen->ring, (size_t)pen->n * sizeof *r);
        herd_free(pen->ring);
        pen->ring = r;
        pen->cap *= 2;
    }
    if (pen->n < pen->cap) {
        pen->ring[pen->n++] = tok;
    } else { /* full: the oldest token leaves */
        pen->count[pen->ring[pen->head]]--;
        pen->ring[pen->head] = tok;
        pen->head = (pen->head + 1) % pen->cap;
    }
    pen->count[tok]++;
}

void herd_penalties_apply(const herd_penalties *pen, float *logits)
{
    if (!pen->ring)
        return;
    /* each distinct id once: its count is negated while done, restored after */
    for (int64_t i = 0; i < pen->n; i++) {
        int32_t id = pen->ring[i], c = pen->count[id];
        if (c <= 0)
            continue;
        float x = logits[id];
        x = x > 0 ? x / pen->repeat : x * pen->repeat;
        logits[id] = x - (float)c * pen->frequency - pen->presence;
        pen->count[id] = -c;
    }
    for (int64_t i = 0; i < pen->n; i++)
        if (pen->count[pen->ring[i]] < 0)
            pen->count[pen->ring[i]] = -pen->count[pen->ring[i]];
}
