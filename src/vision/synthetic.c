/* A vision tower of random weights at any shape (benchmarks, tests): uniform in ±1/sqrt(cols)
 * for matrices, 1 ± 0.1 for LayerNorm weights, ±0.02 for biases and embeddings, stored as
 * `type`, the same for the same seed. Made one tensor at a time: the model packs each before
 * it asks for the next (q, k and v together), so a ring of four buffers is all it keeps. */
#include "herd/vision.h"

#include <math.h>
#include <string.h>

typedef struct synth {
    uint64_t state;
    herd_type type;
    void *buf[4];
    size_t cap[4];
    int next;
} synth;

static double uniform(synth *s) /* [-1, 1) */
{
    s->state ^= s->state << 13;
    s->state ^= s->state >> 7;
    s->state ^= s->state << 17;
    return (double)(s->state >> 11) / (double)(1ull << 52) - 1.0;
}

static herd_status synth_get(void *ctx, const char *name, int64_t rows, int64_t cols,
                             herd_vision_tensor *out)
{
    synth *s = ctx;
    size_t n = (size_t)(rows * cols), es = s->type == HERD_TYPE_F32 ? 4 : 2;
    int k = s->next++ & 3;
    if (s->cap[k] < n * es) {
        herd_free(s->buf[k]);
        if (!(s->buf[k] = herd_alloc(n * es, "synthetic vision weights")))
            return HERD_ERR_NOMEM;
        s->cap[k] = n * es;
    }
    const char *end = name + strlen(name);
    bool norm_w = strstr(name, "layernorm") && strcmp(end - 7, ".weight") == 0;
    double scale = cols > 1 && !strstr(name, "embedding") ? 1.0 / sqrt((double)cols) : 0.02;
    for (size_t i = 0; i < n; i++) {
        float v = (float)(norm_w ? 1.0 + 0.1 * uniform(s) : scale * uniform(s));
        if (es == 4)
            ((float *)s->buf[k])[i] = v;
        else
            ((uint16_t *)s->buf[k])[i] =
                s->type == HERD_TYPE_BF16 ? herd_f32_to_bf16(v) : herd_f32_to_f16(v);
    }
    out->type = s->type;
    out->data = s->buf[k];
    return HERD_OK;
}

herd_status herd_vision_synthetic(const herd_vision_config *c, uint64_t seed, herd_type type,
                                  const herd_vision_opts *o, herd_vision_model **out)
{
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16 && type != HERD_TYPE_BF16)
        return herd_fail(HERD_ERR_ARG, "synthetic vision weights are f32, f16 or bf16");
    synth s = {.state = seed * 0x9E3779B97F4A7C15ull + 1, .type = type};
    herd_status st = herd_vision_model_create(c, synth_get, &s, o, out);
    for (int i = 0; i < 4; i++)
        herd_free(s.buf[i]);
    return st;
}

void herd_vision_config_scout(herd_vision_config *c, int64_t text_hidden)
{
    memset(c, 0, sizeof *c);
    c->hidden = 1408;
    c->n_layers = 34;
    c->n_heads = 16;
    c->head_dim = 88;
    c->inter = 5632;
    c->image_size = 336;
    c->patch_size = 14;
    c->grid = 24;
    c->n_patches = 576;
    c->shuffle = 2;
    c->adapter_dim = 4096;
    c->text_hidden = text_hidden;
    c->tokens_per_tile = 144;
    c->rope_theta = 10000;
    c->patch_id = 200092;
    c->image_start_id = 200080;
    c->image_end_id = 200081;
    c->image_id = 200090;
    c->tile_x_id = 200084;
    c->tile_y_id = 200085;
    herd_vision_prep_default(&c->prep, 336);
}
