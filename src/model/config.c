/* Llama 4 config.json, parsed by the rules of spec llama4.md §2.3: text_config nesting or a
 * text-only config, defaults for missing keys, null versus missing where they differ, both RoPE
 * forms, and per-layer RoPE/MoE lists (explicit, or derived from their intervals). */
#include "herd/io_json.h"
#include "herd/model.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        herd_status st_ = (x);                                                                     \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static bool present_null(const json_t *o, const char *key)
{
    return json_is_null(json_object_get(o, key));
}

static herd_status parse_architecture(const json_t *root, const char *what, herd_llama4_config *c,
                                      const json_t **text)
{
    const json_t *archs = json_object_get(root, "architectures");
    const json_t *tc = json_object_get(root, "text_config");
    const char *arch = NULL, *mtype = NULL;
    if (json_is_array(archs) && json_array_size(archs) > 0)
        arch = json_string_value(json_array_get(archs, 0));
    TRY(herd_json_get_string(root, "model_type", what, &mtype));
    if (!arch) /* no architectures list: infer from model_type */
        arch = mtype && strcmp(mtype, "llama4_text") == 0 ? "Llama4ForCausalLM"
               : mtype && strcmp(mtype, "llama4") == 0    ? "Llama4ForConditionalGeneration"
                                                          : NULL;
    if (!arch)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: no 'architectures' and no llama4 'model_type'",
                         what);
    if (strcmp(arch, "Llama4ForConditionalGeneration") == 0) {
        if (!json_is_object(tc))
            return herd_fail(HERD_ERR_FORMAT, "%s: %s needs an object 'text_config'", what, arch);
        *text = tc;
        snprintf(c->prefix, sizeof c->prefix, "language_model.");
    } else if (strcmp(arch, "Llama4ForCausalLM") == 0) {
        *text = json_is_object(tc) ? tc : root;
        snprintf(c->prefix, sizeof c->prefix, "%s", json_is_object(tc) ? "language_model." : "");
    } else {
        return herd_fail(
            HERD_ERR_UNSUPPORTED,
            "%s: unsupported architecture '%s' (herd runs Llama4ForConditionalGeneration "
            "and Llama4ForCausalLM)",
            what, arch);
    }
    snprintf(c->architecture, sizeof c->architecture, "%s", arch);
    return HERD_OK;
}

/* rope_theta + rope_scaling (transformers 4.x) or rope_parameters (5.x). */
static herd_status parse_rope(const json_t *t, const char *what, herd_llama4_config *c)
{
    const json_t *params = json_object_get(t, "rope_parameters");
    const json_t *sc = json_is_object(params) ? params : json_object_get(t, "rope_scaling");
    TRY(herd_json_get_real(t, "rope_theta", 500000.0, what, &c->rope_theta));
    if (json_is_object(params))
        TRY(herd_json_get_real(params, "rope_theta", c->rope_theta, what, &c->rope_theta));
    if (!(c->rope_theta > 0))
        return herd_fail(HERD_ERR_FORMAT, "%s: rope_theta must be positive", what);
    memset(&c->rope_scaling, 0, sizeof c->rope_scaling);
    if (!sc || json_is_null(sc))
        return HERD_OK;
    if (!json_is_object(sc))
        return herd_fail(HERD_ERR_FORMAT, "%s: 'rope_scaling' must be an object or null", what);
    const char *type = NULL;
    TRY(herd_json_get_string(sc, "rope_type", what, &type));
    if (!type)
        TRY(herd_json_get_string(sc, "type", what, &type));
    if (!type || strcmp(type, "default") == 0)
        return HERD_OK;
    if (strcmp(type, "llama3") != 0)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: unsupported rope_type '%s' (default or llama3)",
                         what, type);
    herd_rope_scaling *r = &c->rope_scaling;
    r->llama3 = true;
    static const char *const need[] = {"factor", "low_freq_factor", "high_freq_factor"};
    double *dst[] = {&r->factor, &r->low_freq_factor, &r->high_freq_factor};
    for (int i = 0; i < 3; i++) {
        if (!json_is_number(json_object_get(sc, need[i])))
            return herd_fail(HERD_ERR_FORMAT, "%s: llama3 rope scaling needs a number '%s'", what,
                             need[i]);
        TRY(herd_json_get_real(sc, need[i], 0, what, dst[i]));
    }
    TRY(herd_json_get_real(sc, "original_max_position_embeddings", (double)c->max_pos, what,
                           &r->original_max_pos));
    if (!(r->factor > 0 && r->low_freq_factor > 0 && r->high_freq_factor >= r->low_freq_factor &&
          r->original_max_pos > 0))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: llama3 rope scaling needs factor > 0 and 0 < low_freq_factor <= "
                         "high_freq_factor",
                         what);
    return HERD_OK;
}

static herd_status parse_layer_lists(const json_t *t, const char *what, herd_llama4_config *c)
{
    int64_t L = c->n_layers, interval, step;
    TRY(herd_json_get_int(t, "no_rope_layer_interval", 4, what, &interval));
    TRY(herd_json_get_int(t, "interleave_moe_layer_step", 1, what, &step));
    if (interval < 1 || step < 1)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: no_rope_layer_interval and interleave_moe_layer_step must be >= 1",
                         what);
    c->layer_rope = herd_calloc((size_t)L * sizeof(bool), "config");
    c->layer_moe = herd_calloc((size_t)L * sizeof(bool), "config");
    if (!c->layer_rope || !c->layer_moe)
        return HERD_ERR_NOMEM;

    /* no_rope_layers: 1 = USES RoPE. Missing, null or [] -> the interval default. */
    const json_t *nr = json_object_get(t, "no_rope_layers"),
                 *lt = json_object_get(t, "layer_types");
    if (json_is_array(nr) && json_array_size(nr) > 0) {
        if ((int64_t)json_array_size(nr) != L)
            return herd_fail(HERD_ERR_FORMAT, "%s: no_rope_layers has %zu entries for %lld layers",
                             what, json_array_size(nr), (long long)L);
        for (int64_t i = 0; i < L; i++) {
            const json_t *v = json_array_get(nr, (size_t)i);
            if (!json_is_integer(v) && !json_is_boolean(v))
                return herd_fail(HERD_ERR_FORMAT, "%s: no_rope_layers[%lld] must be 0 or 1", what,
                                 (long long)i);
            c->layer_rope[i] = json_is_integer(v) ? json_integer_value(v) != 0 : json_is_true(v);
        }
    } else if (nr && !json_is_null(nr) && !json_is_array(nr)) {
        return herd_fail(HERD_ERR_FORMAT, "%s: no_rope_layers must be a list", what);
    } else if (json_is_array(lt) && json_array_size(lt) > 0) {
        if ((int64_t)json_array_size(lt) != L)
            return herd_fail(HERD_ERR_FORMAT, "%s: layer_types has %zu entries for %lld layers",
                             what, json_array_size(lt), (long long)L);
        for (int64_t i = 0; i < L; i++) {
            const char *s = json_string_value(json_array_get(lt, (size_t)i));
            if (s && strcmp(s, "chunked_attention") == 0)
                c->layer_rope[i] = true;
            else if (s && strcmp(s, "full_attention") == 0)
                c->layer_rope[i] = false;
            else
                return herd_fail(HERD_ERR_FORMAT,
                                 "%s: layer_types[%lld] must be chunked_attention or "
                                 "full_attention",
                                 what, (long long)i);
        }
    } else {
        for (int64_t i = 0; i < L; i++)
            c->layer_rope[i] = (i + 1) % interval != 0;
    }

    /* moe_layers: missing or null -> every step-th layer; an explicit list, even [], as given. */
    const json_t *ml = json_object_get(t, "moe_layers");
    if (!ml || json_is_null(ml)) {
        for (int64_t i = step - 1; i < L; i += step)
            c->layer_moe[i] = true;
    } else if (json_is_array(ml)) {
        for (size_t i = 0; i < json_array_size(ml); i++) {
            const json_t *v = json_array_get(ml, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= L)
                return herd_fail(HERD_ERR_FORMAT, "%s: moe_layers[%zu] is not a layer index", what,
                                 i);
            c->layer_moe[json_integer_value(v)] = true;
        }
    } else {
        return herd_fail(HERD_ERR_FORMAT, "%s: moe_layers must be a list or null", what);
    }
    return HERD_OK;
}

static herd_status parse_tokens(const json_t *t, const json_t *root, const char *what,
                                herd_llama4_config *c)
{
    TRY(herd_json_get_int(t, "bos_token_id", -1, what, &c->bos));
    const json_t *eos = json_object_get(t, "eos_token_id");
    if (!eos || json_is_null(eos))
        eos = json_object_get(root, "eos_token_id");
    c->n_eos = 0;
    if (json_is_integer(eos)) {
        c->eos[c->n_eos++] = json_integer_value(eos);
    } else if (json_is_array(eos)) {
        for (size_t i = 0; i < json_array_size(eos) && c->n_eos < HERD_MAX_EOS; i++) {
            if (!json_is_integer(json_array_get(eos, i)))
                return herd_fail(HERD_ERR_FORMAT, "%s: eos_token_id entries must be integers",
                                 what);
            c->eos[c->n_eos++] = json_integer_value(json_array_get(eos, i));
        }
    } else if (eos && !json_is_null(eos)) {
        return herd_fail(HERD_ERR_FORMAT, "%s: eos_token_id must be an integer or a list", what);
    }
    return HERD_OK;
}

static herd_status validate(const char *what, const herd_llama4_config *c)
{
    const struct {
        const char *key;
        int64_t v, min;
    } sizes[] = {{"vocab_size", c->vocab, 1},
                 {"hidden_size", c->hidden, 1},
                 {"num_hidden_layers", c->n_layers, 1},
                 {"num_attention_heads", c->n_heads, 1},
                 {"num_key_value_heads", c->n_kv_heads, 1},
                 {"head_dim", c->head_dim, 2},
                 {"intermediate_size", c->inter, 1},
                 {"intermediate_size_mlp", c->inter_mlp, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < sizes[i].min)
            return herd_fail(HERD_ERR_FORMAT, "%s: %s is %lld, must be at least %lld", what,
                             sizes[i].key, (long long)sizes[i].v, (long long)sizes[i].min);
    if (c->n_heads % c->n_kv_heads)
        return herd_fail(
            HERD_ERR_FORMAT,
            "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld", what,
            (long long)c->n_heads, (long long)c->n_kv_heads);
    if (c->head_dim % 2)
        return herd_fail(HERD_ERR_FORMAT, "%s: head_dim %lld must be even (RoPE pairs)", what,
                         (long long)c->head_dim);
    if (c->n_experts < 1 || c->top_k < 1 || c->top_k > c->n_experts)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: num_experts_per_tok %lld must be in 1..num_local_experts (%lld)",
                         what, (long long)c->top_k, (long long)c->n_experts);
    if (c->chunk < 0 || !(c->eps > 0) || !(c->floor_scale > 0) || c->max_pos < 1)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: attention_chunk_size, rms_norm_eps, floor_scale and "
                         "max_position_embeddings must be positive",
                         what);
    /* Bounds keep every product of sizes (rows x cols, heads x head_dim, ...) far from int64
     * overflow, whatever a hostile config says. */
    if (c->hidden > (1 << 20) || c->head_dim > 1024 || c->n_layers > 4096 || c->vocab > (1 << 26) ||
        c->n_experts > 4096 || c->n_heads > 4096 || c->n_kv_heads > 4096 || c->inter > (1 << 24) ||
        c->inter_mlp > (1 << 24) || c->max_pos > ((int64_t)1 << 40) ||
        c->chunk > ((int64_t)1 << 40))
        return herd_fail(HERD_ERR_FORMAT, "%s: sizes are implausibly large", what);
    return HERD_OK;
}

/* Everything the forward pass relies on, whichever file the config came from: the sizes above,
 * the expert counts of the layers that use them, finite positive scales, a sane RoPE scaling. */
herd_status herd_llama4_config_check(const char *what, const herd_llama4_config *c)
{
    herd_status st = validate(what, c);
    if (st)
        return st;
    bool any_moe = false, any_dense = false;
    for (int64_t l = 0; c->layer_moe && l < c->n_layers; l++) {
        any_moe |= c->layer_moe[l];
        any_dense |= !c->layer_moe[l];
    }
    if (!c->layer_moe || !c->layer_rope)
        return herd_fail(HERD_ERR_FORMAT, "%s: no per-layer lists", what);
    if (any_moe && c->inter < 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: the experts' intermediate size is %lld", what,
                         (long long)c->inter);
    if (any_dense && c->inter_mlp < 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: the dense MLP's intermediate size is %lld", what,
                         (long long)c->inter_mlp);
    if (!isfinite(c->eps) || !isfinite(c->floor_scale) || !isfinite(c->attn_scale) ||
        !isfinite(c->rope_theta) || !(c->rope_theta > 0))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: rms_norm_eps, floor_scale, attn_scale and rope_theta must be finite "
                         "(and rope_theta positive)",
                         what);
    const herd_rope_scaling *r = &c->rope_scaling;
    if (r->llama3 && !(r->factor > 0 && isfinite(r->factor) && r->low_freq_factor > 0 &&
                       isfinite(r->high_freq_factor) && r->high_freq_factor >= r->low_freq_factor &&
                       r->original_max_pos > 0 && isfinite(r->original_max_pos)))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: llama3 rope scaling needs factor > 0 and 0 < low_freq_factor <= "
                         "high_freq_factor",
                         what);
    return HERD_OK;
}

static herd_status parse_root(const json_t *root, const char *what, herd_llama4_config *c)
{
    if (!json_is_object(root))
        return herd_fail(HERD_ERR_FORMAT, "%s: not a JSON object", what);
    const json_t *t = NULL;
    TRY(parse_architecture(root, what, c, &t));
    const char *act = NULL;
    TRY(herd_json_get_string(t, "hidden_act", what, &act));
    if (act && strcmp(act, "silu") != 0)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: hidden_act '%s' (only silu)", what, act);
    TRY(herd_json_get_int(t, "vocab_size", 202048, what, &c->vocab));
    TRY(herd_json_get_int(t, "hidden_size", 5120, what, &c->hidden));
    TRY(herd_json_get_int(t, "num_hidden_layers", 48, what, &c->n_layers));
    TRY(herd_json_get_int(t, "num_attention_heads", 40, what, &c->n_heads));
    /* num_key_value_heads: missing -> 8, but null -> num_attention_heads */
    TRY(herd_json_get_int(t, "num_key_value_heads",
                          present_null(t, "num_key_value_heads") ? c->n_heads : 8, what,
                          &c->n_kv_heads));
    if (c->n_heads < 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: num_attention_heads must be positive", what);
    TRY(herd_json_get_int(t, "head_dim", c->hidden / c->n_heads, what, &c->head_dim));
    TRY(herd_json_get_int(t, "intermediate_size", 8192, what, &c->inter));
    TRY(herd_json_get_int(t, "intermediate_size_mlp", 16384, what, &c->inter_mlp));
    TRY(herd_json_get_int(t, "num_local_experts", 16, what, &c->n_experts));
    TRY(herd_json_get_int(t, "num_experts_per_tok", 1, what, &c->top_k));
    TRY(herd_json_get_real(t, "rms_norm_eps", 1e-5, what, &c->eps));
    TRY(herd_json_get_int(t, "max_position_embeddings", 131072, what, &c->max_pos));
    /* attention_chunk_size: missing -> 8192, null -> no chunking */
    TRY(herd_json_get_int(t, "attention_chunk_size",
                          present_null(t, "attention_chunk_size") ? 0 : 8192, what, &c->chunk));
    TRY(herd_json_get_bool(t, "use_qk_norm", true, what, &c->use_qk_norm));
    TRY(herd_json_get_bool(t, "attn_temperature_tuning", true, what, &c->temp_tuning));
    TRY(herd_json_get_real(t, "floor_scale", 8192, what, &c->floor_scale));
    TRY(herd_json_get_real(t, "attn_scale", 0.1, what, &c->attn_scale));
    TRY(herd_json_get_bool(t, "attention_bias", false, what, &c->attn_bias));
    bool tie_root;
    TRY(herd_json_get_bool(root, "tie_word_embeddings", false, what, &tie_root));
    TRY(herd_json_get_bool(t, "tie_word_embeddings", tie_root, what, &c->tie_embeddings));
    TRY(parse_rope(t, what, c));
    TRY(validate(what, c));
    TRY(parse_layer_lists(t, what, c));
    TRY(parse_tokens(t, root, what, c));
    return herd_llama4_config_check(what, c);
}

herd_status herd_llama4_config_parse(const char *text, size_t len, const char *what,
                                     herd_llama4_config *out)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    herd_status st = herd_json_parse(text, len, what, &root);
    if (st)
        return st;
    st = parse_root(root, what, out);
    json_decref(root);
    if (st)
        herd_llama4_config_free(out);
    return st;
}

herd_status herd_llama4_config_load(const char *path, herd_llama4_config *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t n;
    herd_status st = herd_read_file(path, HERD_JSON_MAX_BYTES, &text, &n);
    if (st)
        return st;
    st = herd_llama4_config_parse(text, n, path, out);
    free(text);
    return st;
}

void herd_llama4_config_free(herd_llama4_config *c)
{
    herd_free(c->layer_rope);
    herd_free(c->layer_moe);
    c->layer_rope = c->layer_moe = NULL;
}

size_t herd_kv_bytes_for_types(const herd_llama4_config *c, int64_t ctx, herd_type type_k,
                               herd_type type_v)
{
    size_t positions = 0;
    int64_t ring = c->chunk + HERD_BATCH_MAX; /* see model.h: a chunk plus one batch */
    for (int64_t l = 0; l < c->n_layers; l++)
        positions += (size_t)(c->layer_rope[l] && c->chunk > 0 && ring < ctx ? ring : ctx);
    size_t per = herd_type_row_bytes(type_k, (size_t)c->head_dim) +
                 herd_type_row_bytes(type_v, (size_t)c->head_dim);
    return positions * per * (size_t)c->n_kv_heads;
}

size_t herd_kv_bytes_for(const herd_llama4_config *c, int64_t ctx)
{
    return herd_kv_bytes_for_types(c, ctx, HERD_TYPE_F32, HERD_TYPE_F32);
}
