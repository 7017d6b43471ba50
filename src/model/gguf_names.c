/* Llama 4 tensor names: Hugging Face checkpoint -> llama.cpp's llama4 GGUF (formats.md §4), and
 * the class of each GGUF tensor for quantization policies. */
#include "herd/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer tensors stored as they are ([out, in] rows or vectors). */
static const struct {
    const char *hf, *gguf;
    herd_qclass cls;
} layer_map[] = {
    {"input_layernorm.weight", "attn_norm.weight", HERD_QC_NORM},
    {"post_attention_layernorm.weight", "ffn_norm.weight", HERD_QC_NORM},
    {"self_attn.q_proj.weight", "attn_q.weight", HERD_QC_ATTN},
    {"self_attn.k_proj.weight", "attn_k.weight", HERD_QC_ATTN},
    {"self_attn.v_proj.weight", "attn_v.weight", HERD_QC_ATTN},
    {"self_attn.o_proj.weight", "attn_output.weight", HERD_QC_ATTN},
    {"self_attn.q_proj.bias", "attn_q.bias", HERD_QC_NORM},
    {"self_attn.k_proj.bias", "attn_k.bias", HERD_QC_NORM},
    {"self_attn.v_proj.bias", "attn_v.bias", HERD_QC_NORM},
    {"self_attn.o_proj.bias", "attn_output.bias", HERD_QC_NORM},
    {"feed_forward.router.weight", "ffn_gate_inp.weight", HERD_QC_ROUTER},
    {"feed_forward.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight", HERD_QC_SHARED},
    {"feed_forward.shared_expert.up_proj.weight", "ffn_up_shexp.weight", HERD_QC_SHARED},
    {"feed_forward.shared_expert.down_proj.weight", "ffn_down_shexp.weight", HERD_QC_SHARED},
    {"feed_forward.gate_proj.weight", "ffn_gate.weight", HERD_QC_DENSE},
    {"feed_forward.up_proj.weight", "ffn_up.weight", HERD_QC_DENSE},
    {"feed_forward.down_proj.weight", "ffn_down.weight", HERD_QC_DENSE},
};
enum { NLAYER_MAP = sizeof layer_map / sizeof layer_map[0] };

/* Where the text model's tensors live in the various exports (spec llama4.md §1). */
static const char *const body_prefixes[] = {"language_model.model.", "model.",
                                            "model.language_model."};
static const char *const head_prefixes[] = {"language_model.", "", "model.language_model.",
                                            "model."};

typedef struct planner {
    herd_src_find_fn find;
    void *ctx;
    const char *where;
    const herd_quant_policy *p;
    herd_type t;
    herd_qplan *out;
} planner;

static herd_status add_plain(planner *pl, const char *hf, const herd_src_tensor *s,
                             const char *gguf, herd_qclass cls)
{
    herd_qentry e = {.cls = cls,
                     .layout = HERD_QSRC_ROWS,
                     .src_type = s->type,
                     .src = s->data,
                     .scale = s->scale,
                     .scale_type = s->scale_type};
    snprintf(e.name, sizeof e.name, "%s", gguf);
    if (s->ndim < 1 || s->ndim > 2)
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected 1 or 2",
                         pl->where, hf, s->ndim);
    e.n_dims = s->ndim;
    e.ne[0] = s->shape[s->ndim - 1];
    e.ne[1] = s->ndim == 2 ? s->shape[0] : 1;
    e.ne[2] = e.ne[3] = 1;
    e.type = herd_quant_policy_type(pl->p, cls, pl->t, e.ne[0]);
    return herd_qplan_add(pl->out, &e);
}

/* gate_up_proj [E, H, 2I] -> gate and up {H, I, E}; down_proj [E, I, H] -> down {I, H, E}. */
static herd_status add_experts(planner *pl, int64_t layer, const char *hf, const herd_src_tensor *s,
                               bool gate_up)
{
    if (s->ndim != 3 || (gate_up && s->shape[2] % 2 != 0))
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' should be [experts, in, %s]", pl->where,
                         hf, gate_up ? "2 x width" : "out");
    int64_t E = s->shape[0], K = s->shape[1], W = s->shape[2];
    int64_t rows = gate_up ? W / 2 : W;
    for (int part = 0; part < (gate_up ? 2 : 1); part++) {
        herd_qentry e = {.cls = HERD_QC_EXPERTS,
                         .n_dims = 3,
                         .ne = {K, rows, E, 1},
                         .layout = HERD_QSRC_COLS,
                         .src_type = s->type,
                         .src = s->data,
                         .src_ld = W,
                         .col_off = part * rows,
                         .scale = s->scale,
                         .scale_type = s->scale_type};
        snprintf(e.name, sizeof e.name, "blk.%lld.%s", (long long)layer,
                 !gate_up ? "ffn_down_exps.weight"
                          : (part ? "ffn_up_exps.weight" : "ffn_gate_exps.weight"));
        e.type = herd_quant_policy_type(pl->p, HERD_QC_EXPERTS, pl->t, K);
        herd_status st = herd_qplan_add(pl->out, &e);
        if (st != HERD_OK)
            return st;
    }
    return HERD_OK;
}

/* Experts stored one Linear each (feed_forward.experts.N.{gate,up,down}_proj.weight [out, in],
 * as in Meta's FP8 release): one GGUF tensor per projection over the E matrices. */
static herd_status add_expert_linears(planner *pl, const char *body, int64_t l)
{
    static const char *const proj[3] = {"gate", "up", "down"};
    static const char *const gguf[3] = {"ffn_gate_exps.weight", "ffn_up_exps.weight",
                                        "ffn_down_exps.weight"};
    char hf[256];
    herd_src_tensor s0, s;
    for (int p = 0; p < 3; p++) {
        int64_t E = 0;
        for (;; E++) {
            snprintf(hf, sizeof hf, "%slayers.%lld.feed_forward.experts.%lld.%s_proj.weight", body,
                     (long long)l, (long long)E, proj[p]);
            if (!pl->find(pl->ctx, hf, E ? &s : &s0))
                break;
            if (E && (s.ndim != 2 || s.type != s0.type || s.shape[0] != s0.shape[0] ||
                      s.shape[1] != s0.shape[1]))
                return herd_fail(HERD_ERR_FORMAT,
                                 "%s: tensor '%s' differs in shape or dtype from expert 0",
                                 pl->where, hf);
        }
        if (E == 0)
            return herd_fail(HERD_ERR_FORMAT, "%s: layer %lld has expert Linears but no '%s'",
                             pl->where, (long long)l, hf);
        if (s0.ndim != 2)
            return herd_fail(HERD_ERR_FORMAT, "%s: expert tensors of layer %lld are not 2-D",
                             pl->where, (long long)l);
        herd_qentry e = {.cls = HERD_QC_EXPERTS,
                         .n_dims = 3,
                         .ne = {s0.shape[1], s0.shape[0], E, 1},
                         .layout = HERD_QSRC_MATS,
                         .src_type = s0.type,
                         .scale_type = s0.scale_type,
                         .mats = calloc((size_t)E, sizeof(uint8_t *)),
                         .mat_scales = calloc((size_t)E, sizeof(uint8_t *))};
        if (!e.mats || !e.mat_scales) {
            free(e.mats), free(e.mat_scales);
            return herd_fail(HERD_ERR_NOMEM, "out of memory for the quantization plan");
        }
        for (int64_t i = 0; i < E; i++) {
            snprintf(hf, sizeof hf, "%slayers.%lld.feed_forward.experts.%lld.%s_proj.weight", body,
                     (long long)l, (long long)i, proj[p]);
            pl->find(pl->ctx, hf, &s);
            e.mats[i] = s.data;
            e.mat_scales[i] = s.scale;
        }
        snprintf(e.name, sizeof e.name, "blk.%lld.%s", (long long)l, gguf[p]);
        e.type = herd_quant_policy_type(pl->p, HERD_QC_EXPERTS, pl->t, e.ne[0]);
        herd_status st = herd_qplan_add(pl->out, &e);
        if (st) {
            free(e.mats), free(e.mat_scales);
            return st;
        }
    }
    return HERD_OK;
}

static herd_status plan_layer(planner *pl, const char *body, int64_t l)
{
    char hf[256], gguf[64];
    herd_src_tensor s;
    herd_status st = HERD_OK;
    for (int i = 0; i < NLAYER_MAP && st == HERD_OK; i++) {
        snprintf(hf, sizeof hf, "%slayers.%lld.%s", body, (long long)l, layer_map[i].hf);
        if (!pl->find(pl->ctx, hf, &s))
            continue;
        snprintf(gguf, sizeof gguf, "blk.%lld.%s", (long long)l, layer_map[i].gguf);
        st = add_plain(pl, hf, &s, gguf, layer_map[i].cls);
    }
    for (int gate_up = 1; gate_up >= 0 && st == HERD_OK; gate_up--) {
        snprintf(hf, sizeof hf, "%slayers.%lld.feed_forward.experts.%s", body, (long long)l,
                 gate_up ? "gate_up_proj" : "down_proj");
        if (pl->find(pl->ctx, hf, &s))
            st = add_experts(pl, l, hf, &s, gate_up);
    }
    snprintf(hf, sizeof hf, "%slayers.%lld.feed_forward.experts.0.gate_proj.weight", body,
             (long long)l);
    if (st == HERD_OK && pl->find(pl->ctx, hf, &s))
        st = add_expert_linears(pl, body, l);
    return st;
}

herd_status herd_llama4_plan_hf(herd_src_find_fn find, void *ctx, const char *where,
                                const herd_quant_policy *p, herd_type t, herd_qplan *out,
                                int64_t *n_layers)
{
    planner pl = {find, ctx, where, p, t, out};
    char name[256];
    herd_src_tensor s;
    const char *body = NULL;
    for (size_t i = 0; !body && i < sizeof body_prefixes / sizeof *body_prefixes; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", body_prefixes[i]);
        if (find(ctx, name, &s))
            body = body_prefixes[i];
    }
    if (!body)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: no Llama 4 text model here (no language_model.model.embed_tokens."
                         "weight or model.embed_tokens.weight)",
                         where);
    herd_status st = add_plain(&pl, name, &s, "token_embd.weight", HERD_QC_EMBED);
    int64_t l = 0;
    for (; st == HERD_OK; l++) {
        snprintf(name, sizeof name, "%slayers.%lld.input_layernorm.weight", body, (long long)l);
        if (!find(ctx, name, &s))
            break;
        st = plan_layer(&pl, body, l);
    }
    *n_layers = l;
    if (st == HERD_OK && l == 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: no layers (%slayers.0.input_layernorm.weight)",
                         where, body);
    snprintf(name, sizeof name, "%snorm.weight", body);
    if (st == HERD_OK) {
        if (!find(ctx, name, &s))
            return herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%s'", where, name);
        st = add_plain(&pl, name, &s, "output_norm.weight", HERD_QC_NORM);
    }
    /* lm_head: absent when the embeddings are tied (llama.cpp then reuses token_embd) */
    for (size_t i = 0; st == HERD_OK && i < sizeof head_prefixes / sizeof *head_prefixes; i++) {
        snprintf(name, sizeof name, "%slm_head.weight", head_prefixes[i]);
        if (find(ctx, name, &s)) {
            st = add_plain(&pl, name, &s, "output.weight", HERD_QC_OUTPUT);
            break;
        }
    }
    return st;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

herd_qclass herd_llama4_gguf_class(const char *name)
{
    if (strcmp(name, "token_embd.weight") == 0)
        return HERD_QC_EMBED;
    if (strcmp(name, "output.weight") == 0)
        return HERD_QC_OUTPUT;
    if (strcmp(name, "output_norm.weight") == 0 || strcmp(name, "rope_freqs.weight") == 0)
        return HERD_QC_NORM;
    if (strncmp(name, "blk.", 4) != 0)
        return HERD_QC_COUNT;
    const char *rest = strchr(name + 4, '.');
    if (!rest)
        return HERD_QC_COUNT;
    rest++;
    if (strcmp(rest, "ffn_gate_exps.weight") == 0 || strcmp(rest, "ffn_up_exps.weight") == 0 ||
        strcmp(rest, "ffn_down_exps.weight") == 0)
        return HERD_QC_EXPERTS;
    for (int i = 0; i < NLAYER_MAP; i++)
        if (strcmp(rest, layer_map[i].gguf) == 0)
            return layer_map[i].cls;
    return ends_with(rest, "_norm.weight") ? HERD_QC_NORM : HERD_QC_COUNT;
}
