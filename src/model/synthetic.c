/* A weight source of deterministic random weights, made when the model asks for them: lets
 * tests and benchmarks build a model of any shape without a checkpoint on disk. */
#include "herd/model.h"

#include <math.h>
#include <stdlib.h>

typedef struct synth {
    uint64_t seed;
    herd_type type;
} synth;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static herd_status synth_get(void *ctx, herd_wrole role, int64_t layer, int64_t expert,
                             int64_t rows, int64_t cols, herd_wmat *out)
{
    const synth *s = ctx;
    size_t rb = herd_type_row_bytes(s->type, (size_t)cols);
    uint8_t *buf = herd_alloc(rb * (size_t)rows, "synthetic weights");
    float *row = herd_alloc((size_t)cols * sizeof(float), "synthetic weights");
    if (!buf || !row) {
        herd_free(buf);
        herd_free(row);
        return HERD_ERR_NOMEM;
    }
    bool norm = role == HERD_W_FINAL_NORM || role == HERD_W_ATTN_NORM || role == HERD_W_FFN_NORM;
    float amp = cols == 1 ? 0.1f : 1.0f / sqrtf((float)cols);
    uint64_t state = 1 | mix(s->seed ^ mix((uint64_t)role * 1000003u +
                                           (uint64_t)(layer + 1) * 7919u + (uint64_t)(expert + 1)));
    herd_status st = HERD_OK;
    for (int64_t r = 0; r < rows && !st; r++) {
        for (int64_t c = 0; c < cols; c++) { /* xorshift64: cheap enough for billions */
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            float u = (float)((double)(state >> 11) * 0x1p-53 * 2 - 1);
            row[c] = (norm ? 1.0f : 0.0f) + amp * u;
        }
        st = herd_row_from_f32(s->type, row, buf + (size_t)r * rb, (size_t)cols);
    }
    herd_free(row);
    if (st) {
        herd_free(buf);
        return st;
    }
    *out = (herd_wmat){
        .type = s->type, .rows = rows, .cols = cols, .data = buf, .row_bytes = rb, .owned = buf};
    return HERD_OK;
}

static void synth_release(void *ctx, herd_wmat *m)
{
    herd_free(m->owned);
    m->owned = NULL;
}

static void synth_close(void *ctx)
{
    free(ctx);
}

herd_status herd_synthetic_source(const herd_llama4_config *c, uint64_t seed, herd_type type,
                                  herd_weight_source *out)
{
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16 && type != HERD_TYPE_BF16)
        return herd_fail(HERD_ERR_ARG, "synthetic weights are f32, f16 or bf16");
    synth *s = malloc(sizeof *s);
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    s->seed = seed;
    s->type = type;
    *out = (herd_weight_source){s, synth_get, synth_release, synth_close, 0, "synthetic", 0};
    (void)c;
    return HERD_OK;
}
