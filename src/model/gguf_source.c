/* Weight source for llama4 GGUF files: maps weight roles to llama.cpp's tensor names, checks
 * shapes and types, and hands out rows straight from the mapping in the file's own type (so
 * quantized blocks reach herd_pack as they are). Expert e of an {K, N, E} tensor is its e-th
 * slab of N rows. */
#include "herd/model_gguf.h"
#include "herd/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct gguf_source {
    herd_gguf_split split; /* one file, or the parts of a split model */
    const herd_gguf *g;    /* split.merged: every tensor */
    bool tie;
} gguf_source;

static const char *role_name(herd_wrole r)
{
    switch (r) {
    case HERD_W_ATTN_NORM: return "attn_norm.weight";
    case HERD_W_FFN_NORM: return "ffn_norm.weight";
    case HERD_W_Q: return "attn_q.weight";
    case HERD_W_K: return "attn_k.weight";
    case HERD_W_V: return "attn_v.weight";
    case HERD_W_O: return "attn_output.weight";
    case HERD_W_Q_BIAS: return "attn_q.bias";
    case HERD_W_K_BIAS: return "attn_k.bias";
    case HERD_W_V_BIAS: return "attn_v.bias";
    case HERD_W_O_BIAS: return "attn_output.bias";
    case HERD_W_ROUTER: return "ffn_gate_inp.weight";
    case HERD_W_EXP_GATE: return "ffn_gate_exps.weight";
    case HERD_W_EXP_UP: return "ffn_up_exps.weight";
    case HERD_W_EXP_DOWN: return "ffn_down_exps.weight";
    case HERD_W_SH_GATE: return "ffn_gate_shexp.weight";
    case HERD_W_SH_UP: return "ffn_up_shexp.weight";
    case HERD_W_SH_DOWN: return "ffn_down_shexp.weight";
    case HERD_W_MLP_GATE: return "ffn_gate.weight";
    case HERD_W_MLP_UP: return "ffn_up.weight";
    case HERD_W_MLP_DOWN: return "ffn_down.weight";
    default: return "";
    }
}

static void tensor_name(const gguf_source *s, herd_wrole role, int64_t layer, char *buf, size_t n)
{
    if (role == HERD_W_EMBED || (role == HERD_W_OUTPUT && s->tie))
        snprintf(buf, n, "token_embd.weight");
    else if (role == HERD_W_OUTPUT)
        snprintf(buf, n, "output.weight");
    else if (role == HERD_W_FINAL_NORM)
        snprintf(buf, n, "output_norm.weight");
    else
        snprintf(buf, n, "blk.%lld.%s", (long long)layer, role_name(role));
}

static herd_status gg_get(void *ctx, herd_wrole role, int64_t layer, int64_t expert, int64_t rows,
                          int64_t cols, herd_wmat *out)
{
    gguf_source *s = ctx;
    const char *path = s->g->file.path;
    memset(out, 0, sizeof *out);
    char name[96];
    tensor_name(s, role, layer, name, sizeof name);
    const herd_gguf_tensor *t = herd_gguf_find_tensor(s->g, name);
    if (!t)
        return herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%s'", path, name);
    bool experts = role == HERD_W_EXP_GATE || role == HERD_W_EXP_UP || role == HERD_W_EXP_DOWN;
    int64_t want[3] = {cols == 1 ? rows : cols, cols == 1 ? 1 : rows, 1};
    if (experts)
        want[2] = t->ne[2];
    if (t->ne[0] != want[0] || t->ne[1] != want[1] || t->ne[2] != want[2] || t->ne[3] != 1)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s' has ne {%lld, %lld, %lld, %lld}, expected {%lld, %lld%s}",
                         path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                         (long long)t->ne[3], (long long)want[0], (long long)want[1],
                         experts ? ", experts" : "");
    if (t->type == HERD_TYPE_COUNT)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has type %s, which herd cannot compute with (it can: "
                         "%s)",
                         path, name, herd_gguf_type_id_name(t->type_id), herd_type_names());
    if (experts && (expert < 0 || expert >= t->ne[2]))
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has %lld experts, need %lld", path, name,
                         (long long)t->ne[2], (long long)expert + 1);
    size_t rb = herd_type_row_bytes(t->type, (size_t)t->ne[0]);
    const uint8_t *data =
        (const uint8_t *)t->data + (experts ? (size_t)expert * (size_t)rows * rb : 0);
    if (t->type == HERD_TYPE_INT8) {
        /* int8 rows carry their scale; the kernels take them as f32 rows */
        size_t n = (size_t)(rows * want[0]);
        float *f = herd_alloc(n * sizeof *f, "int8 weights");
        if (!f)
            return HERD_ERR_NOMEM;
        for (int64_t r = 0; r < (cols == 1 ? 1 : rows); r++) {
            herd_status st = herd_row_to_f32(t->type, data + (size_t)r * rb,
                                             f + (size_t)r * (size_t)want[0], (size_t)want[0]);
            if (st) {
                herd_free(f);
                return st;
            }
        }
        *out =
            (herd_wmat){.type = HERD_TYPE_F32, .rows = rows, .cols = cols, .data = f, .owned = f};
        return HERD_OK;
    }
    size_t span = experts ? (size_t)rows * rb : t->bytes;
    *out = (herd_wmat){.type = t->type,
                       .rows = rows,
                       .cols = cols,
                       .data = data,
                       .row_bytes = cols == 1 ? 0 : rb,
                       .span = data,
                       .span_bytes = span};
    return HERD_OK;
}

static void gg_release(void *ctx, herd_wmat *m)
{
    (void)ctx;
    herd_free(m->owned);
    m->owned = NULL;
    herd_mapped_drop(m->span, m->span_bytes);
    m->span = NULL;
}

static void gg_close(void *ctx)
{
    gguf_source *s = ctx;
    herd_gguf_close_split(&s->split);
    free(s);
}

bool herd_is_gguf_file(const char *path)
{
    int fd;
    size_t size;
    if (herd_open_input(path, &fd, &size) != HERD_OK)
        return false; /* its reader says why */
    unsigned char m[4] = {0};
    bool yes = read(fd, m, 4) == 4 && memcmp(m, "GGUF", 4) == 0;
    close(fd);
    return yes;
}

herd_status herd_gguf_source_open(const char *path, herd_llama4_config *cfg,
                                  herd_weight_source *out)
{
    memset(out, 0, sizeof *out);
    gguf_source *s = calloc(1, sizeof *s);
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    herd_status st = herd_gguf_open_split(path, &s->split);
    s->g = &s->split.merged;
    if (!st)
        st = herd_llama4_config_from_gguf(s->g, cfg);
    if (st) {
        herd_gguf_close_split(&s->split);
        free(s);
        return st;
    }
    size_t bytes = 0;
    for (size_t p = 0; p < s->split.n_parts; p++)
        bytes += s->split.parts[p].file.size;
    s->tie = cfg->tie_embeddings;
    size_t skipped = 0;
    for (size_t i = 0; i < s->g->n_tensors; i++)
        skipped += strcmp(s->g->tensors[i].name, "rope_freqs.weight") != 0 &&
                   herd_llama4_gguf_class(s->g->tensors[i].name) == HERD_QC_COUNT;
    *out = (herd_weight_source){s, gg_get, gg_release, gg_close, bytes, s->g->file.path, skipped};
    return HERD_OK;
}
