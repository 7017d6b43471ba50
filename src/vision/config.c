/* vision_config of a Llama 4 config.json (spec §11.1): every size read from the file (HF's
 * class defaults differ from the released values), bounded so no product of sizes overflows,
 * and the width couplings HF assumes checked here instead of failing later as a shape error. */
#include "herd/io_json.h"
#include "herd/vision.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        herd_status st_ = (x);                                                                     \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static herd_status get_size(const json_t *o, const char *key, int64_t def, int64_t max,
                            const char *what, int64_t *out)
{
    TRY(herd_json_get_int(o, key, def, what, out));
    if (*out < 1 || *out > max)
        return herd_fail(HERD_ERR_RANGE, "%s: vision_config.%s = %lld is outside 1..%lld", what,
                         key, (long long)*out, (long long)max);
    return HERD_OK;
}

herd_status herd_vision_config_check(const herd_vision_config *c, const char *what)
{
    if (c->hidden % c->n_heads || (c->hidden / c->n_heads) % 4)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: vision hidden_size %lld over %lld heads must give a head size "
                         "divisible by 4 (2-D RoPE)",
                         what, (long long)c->hidden, (long long)c->n_heads);
    if (c->image_size % c->patch_size || c->grid % c->shuffle)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: image_size %lld must be a multiple of patch_size %lld, and the "
                         "patch grid of the shuffle factor %lld",
                         what, (long long)c->image_size, (long long)c->patch_size,
                         (long long)c->shuffle);
    if (c->inter < 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: vision intermediate_size missing", what);
    if (c->prep.tile != c->image_size)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: the processor's tile size %lld differs from image_size %lld", what,
                         (long long)c->prep.tile, (long long)c->image_size);
    return HERD_OK;
}

herd_status herd_vision_config_load(const char *config_path, herd_vision_config *c)
{
    memset(c, 0, sizeof *c);
    json_t *root;
    TRY(herd_json_load_file(config_path, &root));
    const json_t *v = json_object_get(root, "vision_config");
    herd_status st = HERD_OK;
    if (!json_is_object(v)) {
        json_decref(root);
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: no vision_config (a text-only model)",
                         config_path);
    }
    const json_t *tc = json_object_get(root, "text_config");
    const char *w = config_path;
    double ratio = 0.5;
    const json_t *rp = json_object_get(v, "rope_parameters");
    if (!(st = get_size(v, "hidden_size", 0, 1 << 16, w, &c->hidden)) &&
        !(st = get_size(v, "num_hidden_layers", 0, 1024, w, &c->n_layers)) &&
        !(st = get_size(v, "num_attention_heads", 0, 1024, w, &c->n_heads)) &&
        !(st = get_size(v, "intermediate_size", 0, 1 << 20, w, &c->inter)) &&
        !(st = get_size(v, "image_size", 0, 4096, w, &c->image_size)) &&
        !(st = get_size(v, "patch_size", 0, 256, w, &c->patch_size)) &&
        !(st = get_size(v, "projector_output_dim", 0, 1 << 20, w, &c->adapter_dim)) &&
        !(st = herd_json_get_real(v, "pixel_shuffle_ratio", 0.5, w, &ratio)) &&
        !(st = herd_json_get_real(json_is_object(rp) ? rp : v, "rope_theta", 10000, w,
                                  &c->rope_theta)) &&
        !(st = get_size(json_is_object(tc) ? tc : root, "hidden_size", 0, 1 << 20, w,
                        &c->text_hidden)) &&
        !(st = get_size(root, "image_token_index", 200092, INT32_MAX, w, &c->patch_id)) &&
        !(st = get_size(root, "boi_token_index", 200080, INT32_MAX - 16, w, &c->image_start_id)) &&
        !(st = get_size(root, "eoi_token_index", 200081, INT32_MAX, w, &c->image_end_id))) {
        int64_t num_ch = 3, in_dim = c->adapter_dim, out_dim = c->adapter_dim;
        if (!(st = get_size(v, "num_channels", 3, 3, w, &num_ch)) &&
            !(st = get_size(v, "projector_input_dim", c->adapter_dim, 1 << 20, w, &in_dim)))
            st = get_size(v, "vision_output_dim", c->adapter_dim, 1 << 20, w, &out_dim);
        if (!st && (in_dim != c->adapter_dim || out_dim != c->adapter_dim))
            st = herd_fail(HERD_ERR_FORMAT,
                           "%s: projector_input_dim, projector_output_dim and vision_output_dim "
                           "must be equal (%lld, %lld, %lld)",
                           w, (long long)in_dim, (long long)c->adapter_dim, (long long)out_dim);
        if (!st && num_ch != 3)
            st = herd_fail(HERD_ERR_UNSUPPORTED, "%s: num_channels must be 3", w);
    }
    json_decref(root);
    if (st)
        return st;
    double inv = 1.0 / ratio;
    if (!(ratio > 0) || fabs(inv - round(inv)) > 1e-9 || round(inv) > 8)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: pixel_shuffle_ratio %g (herd needs 1/n with n at most 8)", w, ratio);
    c->shuffle = (int64_t)round(inv);
    c->head_dim = c->hidden / c->n_heads;
    c->grid = c->image_size / c->patch_size;
    c->n_patches = c->grid * c->grid;
    c->tokens_per_tile = c->n_patches / (c->shuffle * c->shuffle);
    c->image_id = c->image_start_id + 10;
    c->tile_x_id = c->image_start_id + 4;
    c->tile_y_id = c->image_start_id + 5;
    if (c->inter != c->hidden * c->shuffle * c->shuffle)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: vision intermediate_size %lld must equal hidden_size·s² = %lld "
                         "(the adapter takes the pixel-shuffled width)",
                         w, (long long)c->inter, (long long)(c->hidden * c->shuffle * c->shuffle));
    herd_vision_prep_default(&c->prep, c->image_size);
    /* preprocessor_config.json beside config.json, when present */
    char prep[4096];
    const char *slash = strrchr(config_path, '/');
    int dl = slash ? (int)(slash - config_path) + 1 : 0;
    if (snprintf(prep, sizeof prep, "%.*spreprocessor_config.json", dl, config_path) <
            (int)sizeof prep &&
        access(prep, R_OK) == 0)
        TRY(herd_vision_prep_load(prep, &c->prep));
    return herd_vision_config_check(c, w);
}

herd_status herd_vision_config_lookup_ids(herd_vision_config *c,
                                          int64_t (*lookup)(void *ctx, const char *name), void *ctx)
{
    static const char *const names[] = {
        "<|patch|>", "<|image_start|>",      "<|image_end|>",
        "<|image|>", "<|tile_x_separator|>", "<|tile_y_separator|>"};
    int64_t *ids[] = {&c->patch_id, &c->image_start_id, &c->image_end_id,
                      &c->image_id, &c->tile_x_id,      &c->tile_y_id};
    int64_t got[6];
    for (int i = 0; i < 6; i++)
        if ((got[i] = lookup(ctx, names[i])) < 0)
            return herd_fail(HERD_ERR_UNSUPPORTED,
                             "the tokenizer has no %s: it cannot place images (not Llama 4's?)",
                             names[i]);
    if (got[0] != c->patch_id)
        return herd_fail(HERD_ERR_FORMAT,
                         "the tokenizer's <|patch|> is %lld but the model's image_token_index is "
                         "%lld: the tokenizer is not the model's",
                         (long long)got[0], (long long)c->patch_id);
    for (int i = 0; i < 6; i++)
        *ids[i] = got[i];
    return HERD_OK;
}
