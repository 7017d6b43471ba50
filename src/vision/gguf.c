/* The vision tower in GGUF, by llama.cpp's names and keys (its mmproj files: general.architecture
 * "clip", clip.projector_type "llama4", clip.vision.*, tensors v.* and mm.*). The same tensors and
 * keys inside herd's single-file GGUF make that file carry its own vision part. What llama.cpp
 * hard-codes (RoPE θ, the image token ids, max_patches) goes in herd.vision.* keys, read when
 * present. GGUF lists dimensions innermost first: an [out, in] matrix has ne = {in, out}. */
#include "herd/io_gguf.h"
#include "herd/io_safetensors.h"
#include "herd/vision.h"

#include <stdio.h>
#include <string.h>

/* HF name (without "vision_model.") → GGUF name. False for names outside the vision part. */
bool herd_vision_gguf_name(const char *hf, char *out, size_t n)
{
    static const struct {
        const char *hf, *gguf;
    } fixed[] = {
        {"patch_embedding.linear.weight", "v.patch_embd.weight"},
        {"class_embedding", "v.class_embd"},
        {"positional_embedding_vlm", "v.position_embd.weight"},
        {"layernorm_pre.weight", "v.pre_ln.weight"},
        {"layernorm_pre.bias", "v.pre_ln.bias"},
        {"layernorm_post.weight", "v.post_ln.weight"},
        {"layernorm_post.bias", "v.post_ln.bias"},
        {"vision_adapter.mlp.fc1.weight", "mm.model.mlp.1.weight"},
        {"vision_adapter.mlp.fc2.weight", "mm.model.mlp.2.weight"},
        {"multi_modal_projector.linear_1.weight", "mm.model.fc.weight"},
    };
    static const struct {
        const char *hf, *gguf;
    } per_layer[] = {
        {"input_layernorm", "ln1"},     {"post_attention_layernorm", "ln2"},
        {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"}, {"self_attn.o_proj", "attn_out"},
        {"mlp.fc1", "ffn_up"},          {"mlp.fc2", "ffn_down"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(hf, fixed[i].hf) == 0)
            return snprintf(out, n, "%s", fixed[i].gguf) < (int)n;
    long long l;
    int used = 0;
    if (sscanf(hf, "model.layers.%lld.%n", &l, &used) != 1 || used == 0 || l < 0)
        return false;
    const char *rest = hf + used, *dot = strrchr(rest, '.');
    if (!dot || (strcmp(dot, ".weight") != 0 && strcmp(dot, ".bias") != 0))
        return false;
    for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
        if (strlen(per_layer[i].hf) == (size_t)(dot - rest) &&
            strncmp(rest, per_layer[i].hf, (size_t)(dot - rest)) == 0)
            return snprintf(out, n, "v.blk.%lld.%s%s", l, per_layer[i].gguf, dot) < (int)n;
    return false;
}

/* ---- reading ------------------------------------------------------------------------------- */
static herd_status get_size(const herd_gguf *g, const char *key, int64_t max, int64_t *out)
{
    herd_status st = herd_gguf_get_int(g, key, out);
    if (!st && (*out < 1 || *out > max))
        st = herd_fail(HERD_ERR_RANGE, "%s: %s = %lld is outside 1..%lld", g->file.path, key,
                       (long long)*out, (long long)max);
    return st;
}

static herd_status opt_int(const herd_gguf *g, const char *key, int64_t max, int64_t *out)
{
    return herd_gguf_find_kv(g, key) ? get_size(g, key, max, out) : HERD_OK;
}

static herd_status read_config(const herd_gguf *g, herd_vision_config *c)
{
    const char *path = g->file.path;
    memset(c, 0, sizeof *c);
    const char *pt = NULL;
    size_t ptn = 0;
    if (!herd_gguf_find_kv(g, "clip.vision.embedding_length") ||
        !herd_gguf_find_tensor(g, "v.patch_embd.weight"))
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: no vision tower (no clip.vision.* keys or v.* tensors); give the "
                         "projector file with --mmproj",
                         path);
    if (herd_gguf_find_kv(g, "clip.projector_type")) {
        herd_status st = herd_gguf_get_str(g, "clip.projector_type", &pt, &ptn);
        if (st)
            return st;
        if (ptn != 6 || memcmp(pt, "llama4", 6) != 0)
            return herd_fail(HERD_ERR_UNSUPPORTED,
                             "%s: projector type '%.*s' (herd runs Llama 4's, \"llama4\")", path,
                             (int)(ptn > 64 ? 64 : ptn), pt);
    }
    int64_t shuffle = 2;
    herd_status st;
    if ((st = get_size(g, "clip.vision.embedding_length", 1 << 16, &c->hidden)) ||
        (st = get_size(g, "clip.vision.block_count", 1024, &c->n_layers)) ||
        (st = get_size(g, "clip.vision.attention.head_count", 1024, &c->n_heads)) ||
        (st = get_size(g, "clip.vision.feed_forward_length", 1 << 20, &c->inter)) ||
        (st = get_size(g, "clip.vision.image_size", 4096, &c->image_size)) ||
        (st = get_size(g, "clip.vision.patch_size", 256, &c->patch_size)) ||
        (st = get_size(g, "clip.vision.projection_dim", 1 << 20, &c->text_hidden)) ||
        (st = opt_int(g, "clip.vision.projector.scale_factor", 8, &shuffle)))
        return st;
    const herd_gguf_tensor *fc2 = herd_gguf_find_tensor(g, "mm.model.mlp.2.weight");
    if (!fc2 || fc2->n_dims != 2 || fc2->ne[0] != fc2->ne[1] || fc2->ne[0] > (1 << 20))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor 'mm.model.mlp.2.weight' missing or not square", path);
    c->adapter_dim = fc2->ne[0];
    c->shuffle = shuffle;
    c->rope_theta = 10000;
    c->patch_id = 200092;
    c->image_start_id = 200080;
    c->image_end_id = 200081;
    if (herd_gguf_find_kv(g, "herd.vision.rope_theta") &&
        (st = herd_gguf_get_float(g, "herd.vision.rope_theta", &c->rope_theta)))
        return st;
    if ((st = opt_int(g, "herd.vision.image_token_index", INT32_MAX, &c->patch_id)) ||
        (st = opt_int(g, "herd.vision.boi_token_index", INT32_MAX - 16, &c->image_start_id)) ||
        (st = opt_int(g, "herd.vision.eoi_token_index", INT32_MAX, &c->image_end_id)))
        return st;
    c->head_dim = c->hidden / c->n_heads;
    c->grid = c->image_size / c->patch_size;
    c->n_patches = c->grid * c->grid;
    c->tokens_per_tile = c->n_patches / (shuffle * shuffle);
    c->image_id = c->image_start_id + 10;
    c->tile_x_id = c->image_start_id + 4;
    c->tile_y_id = c->image_start_id + 5;
    herd_vision_prep_default(&c->prep, c->image_size);
    if ((st = opt_int(g, "herd.vision.max_patches", 256, &c->prep.max_patches)))
        return st;
    static const char *const ms[2] = {"clip.vision.image_mean", "clip.vision.image_std"};
    for (int k = 0; k < 2; k++) {
        const herd_gguf_kv *kv = herd_gguf_find_kv(g, ms[k]);
        if (!kv)
            continue;
        double *dst = k ? c->prep.std : c->prep.mean;
        for (uint64_t i = 0; i < 3; i++)
            if (kv->type != HERD_GGUF_ARRAY || kv->count != 3 ||
                !herd_gguf_arr_float(kv, i, &dst[i]) || (k && dst[i] == 0))
                return herd_fail(HERD_ERR_FORMAT, "%s: %s must hold 3 numbers (std not 0)", path,
                                 ms[k]);
    }
    if (c->inter != c->hidden * shuffle * shuffle)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: clip.vision.feed_forward_length %lld must equal "
                         "embedding_length·s² = %lld",
                         path, (long long)c->inter, (long long)(c->hidden * shuffle * shuffle));
    return herd_vision_config_check(c, path);
}

herd_status herd_vision_gguf_config(const char *path, herd_vision_config *out)
{
    herd_gguf g;
    herd_status st = herd_gguf_open(path, &g);
    if (st)
        return st;
    st = read_config(&g, out);
    herd_gguf_close(&g);
    return st;
}

static herd_status gguf_get(void *ctx, const char *name, int64_t rows, int64_t cols,
                            herd_vision_tensor *out)
{
    const herd_gguf *g = ctx;
    char gn[96];
    if (!herd_vision_gguf_name(name, gn, sizeof gn))
        return herd_fail(HERD_ERR_INTERNAL, "no GGUF name for vision tensor '%s'", name);
    const herd_gguf_tensor *t = herd_gguf_find_tensor(g, gn);
    if (!t)
        return herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%s'", g->file.path, gn);
    bool ok = cols == 1 ? t->n_dims == 1 && t->ne[0] == rows
                        : t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows;
    if (!ok)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s' has %d dims {%lld, %lld}, expected {%lld, %lld}",
                         g->file.path, gn, t->n_dims, (long long)t->ne[0], (long long)t->ne[1],
                         (long long)cols, (long long)(cols == 1 ? 1 : rows));
    if (t->type == HERD_TYPE_COUNT)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which herd cannot use",
                         g->file.path, gn,
                         herd_gguf_type_id_name(t->type_id) ? herd_gguf_type_id_name(t->type_id)
                                                            : "unknown");
    if (cols == 1 && t->type != HERD_TYPE_F32 && t->type != HERD_TYPE_F16 &&
        t->type != HERD_TYPE_BF16)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: vector '%s' must be f32, f16 or bf16",
                         g->file.path, gn);
    out->type = t->type;
    out->data = t->data;
    return HERD_OK;
}

herd_status herd_vision_load_gguf(const char *path, const herd_vision_opts *o,
                                  herd_vision_model **out)
{
    *out = NULL;
    herd_gguf g;
    herd_status st = herd_gguf_open(path, &g);
    if (st)
        return st;
    herd_vision_config c;
    if (!(st = read_config(&g, &c)))
        st = herd_vision_model_create(&c, gguf_get, &g, o, out);
    herd_gguf_close(&g);
    return st;
}

/* ---- writing ------------------------------------------------------------------------------- */
herd_status herd_vision_gguf_set_meta(herd_gguf_writer *w, const herd_vision_config *c)
{
    float mean[3], std[3];
    for (int i = 0; i < 3; i++)
        mean[i] = (float)c->prep.mean[i], std[i] = (float)c->prep.std[i];
    herd_status st;
    if ((st = herd_gguf_set_bool(w, "clip.has_vision_encoder", true)) ||
        (st = herd_gguf_set_str(w, "clip.projector_type", "llama4")) ||
        (st = herd_gguf_set_bool(w, "clip.use_gelu", true)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.image_size", (uint32_t)c->image_size)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.patch_size", (uint32_t)c->patch_size)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.embedding_length", (uint32_t)c->hidden)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.feed_forward_length", (uint32_t)c->inter)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.block_count", (uint32_t)c->n_layers)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.attention.head_count", (uint32_t)c->n_heads)) ||
        (st = herd_gguf_set_f32(w, "clip.vision.attention.layer_norm_epsilon", 1e-5f)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.projection_dim", (uint32_t)c->text_hidden)) ||
        (st = herd_gguf_set_u32(w, "clip.vision.projector.scale_factor", (uint32_t)c->shuffle)) ||
        (st = herd_gguf_set_arr(w, "clip.vision.image_mean", HERD_GGUF_FLOAT32, mean, 3)) ||
        (st = herd_gguf_set_arr(w, "clip.vision.image_std", HERD_GGUF_FLOAT32, std, 3)) ||
        (st = herd_gguf_set_f32(w, "herd.vision.rope_theta", (float)c->rope_theta)) ||
        (st = herd_gguf_set_u32(w, "herd.vision.image_token_index", (uint32_t)c->patch_id)) ||
        (st = herd_gguf_set_u32(w, "herd.vision.boi_token_index", (uint32_t)c->image_start_id)) ||
        (st = herd_gguf_set_u32(w, "herd.vision.eoi_token_index", (uint32_t)c->image_end_id)) ||
        (st = herd_gguf_set_u32(w, "herd.vision.max_patches", (uint32_t)c->prep.max_patches)))
        return st;
    return HERD_OK;
}

herd_status herd_vision_write_mmproj(const char *hf_dir, const char *out)
{
    return herd_vision_write_mmproj_finished(hf_dir, out, NULL);
}

herd_status herd_vision_write_mmproj_finished(const char *hf_dir, const char *out,
                                              herd_atomic_file *finished)
{
    if (finished)
        memset(finished, 0, sizeof *finished);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", hf_dir) >= (int)sizeof path)
        return herd_fail(HERD_ERR_ARG, "%s: path too long", hf_dir);
    herd_vision_config c;
    herd_status st = herd_vision_config_load(path, &c);
    if (st)
        return st;
    herd_st_dir *d;
    if ((st = herd_st_dir_open(hf_dir, &d)))
        return st;
    herd_gguf_writer *w = NULL;
    const herd_st_tensor **list = NULL;
    size_t n = 0, count = herd_st_dir_count(d);
    if (!(st = herd_gguf_writer_create(&w)) &&
        !(st = herd_gguf_set_str(w, "general.architecture", "clip")) &&
        !(st = herd_gguf_set_str(w, "general.type", "mmproj")) &&
        !(st = herd_gguf_set_u32(w, "general.alignment", 32)))
        st = herd_vision_gguf_set_meta(w, &c);
    if (!st && !(list = herd_alloc(sizeof *list * (count ? count : 1), "tensor list")))
        st = HERD_ERR_NOMEM;
    for (size_t i = 0; i < count && !st; i++) {
        const herd_st_tensor *t = herd_st_dir_at(d, i);
        const char *hf = t->name;
        if (strncmp(hf, "vision_model.", 13) == 0)
            hf += 13;
        else if (strncmp(hf, "multi_modal_projector.", 22) != 0)
            continue;
        char gn[96];
        if (!herd_vision_gguf_name(hf, gn, sizeof gn))
            continue;
        if (!t->has_type || t->ndim < 1 || t->ndim > 2) {
            st = herd_fail(HERD_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s and %d dims",
                           t->file, t->name, t->dtype, t->ndim);
            break;
        }
        int64_t ne[2] = {t->shape[t->ndim - 1], t->ndim == 2 ? t->shape[0] : 1};
        /* vectors in f32 (as llama.cpp keeps norms), matrices in their own type */
        herd_type ty = t->ndim == 1 ? HERD_TYPE_F32 : t->type;
        if (!(st = herd_gguf_add_tensor(w, gn, ty, t->ndim, ne)))
            list[n++] = t;
    }
    if (!st) {
        herd_gguf_writer_finish_only(w, finished);
        st = herd_gguf_writer_begin(w, out);
    }
    float *buf = NULL;
    for (size_t i = 0; i < n && !st; i++) {
        const herd_st_tensor *t = list[i];
        if (t->ndim == 2) {
            st = herd_gguf_writer_write(w, t->data, t->nbytes);
            continue;
        }
        herd_free(buf); /* room for the f32 values, then an aligned copy of the source */
        if (!(buf = herd_alloc((size_t)t->nelems * sizeof(float) + t->nbytes, "vector")))
            st = HERD_ERR_NOMEM;
        if (!st) {
            memcpy(buf + t->nelems, t->data, t->nbytes);
            st = herd_row_to_f32(t->type, buf + t->nelems, buf, (size_t)t->nelems);
        }
        if (!st)
            st = herd_gguf_writer_write(w, buf, (size_t)t->nelems * sizeof(float));
    }
    herd_free(buf);
    if (!st)
        st = herd_gguf_writer_commit(w);
    herd_gguf_writer_free(w);
    herd_free(list);
    herd_st_dir_close(d);
    return st;
}
