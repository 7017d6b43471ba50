/* Weight source for Hugging Face checkpoint directories: maps weight roles to Llama 4 tensor
 * names, checks shapes and dtypes, and transposes the input-major fused expert tensors
 * (gate_up_proj [E, H, 2I], down_proj [E, I, H]) into [out, in] rows. Experts stored as one
 * Linear per expert (feed_forward.experts.N.{gate,up,down}_proj.weight) are read too. FP8
 * tensors of Meta's fbgemm_fp8 checkpoints (hf_fp8.h) are handed out as HERD_TYPE_FP8_E4M3
 * rows: the row's f32 scale, then its E4M3 codes. */
#include "herd/io_safetensors.h"
#include "herd/model.h"
#include "model/hf_fp8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hf_source {
    herd_st_dir *dir;
    char where[4096]; /* the directory, for messages about missing tensors */
    char body[48];    /* "language_model.model." / "model." / "model.language_model." */
    char head[48];    /* prefix of lm_head */
    bool tie;
    hf_fp8 fp8;
} hf_source;

static const char *role_suffix(herd_wrole r)
{
    switch (r) {
    case HERD_W_ATTN_NORM: return "input_layernorm.weight";
    case HERD_W_FFN_NORM: return "post_attention_layernorm.weight";
    case HERD_W_Q: return "self_attn.q_proj.weight";
    case HERD_W_K: return "self_attn.k_proj.weight";
    case HERD_W_V: return "self_attn.v_proj.weight";
    case HERD_W_O: return "self_attn.o_proj.weight";
    case HERD_W_Q_BIAS: return "self_attn.q_proj.bias";
    case HERD_W_K_BIAS: return "self_attn.k_proj.bias";
    case HERD_W_V_BIAS: return "self_attn.v_proj.bias";
    case HERD_W_O_BIAS: return "self_attn.o_proj.bias";
    case HERD_W_ROUTER: return "feed_forward.router.weight";
    case HERD_W_EXP_GATE:
    case HERD_W_EXP_UP: return "feed_forward.experts.gate_up_proj";
    case HERD_W_EXP_DOWN: return "feed_forward.experts.down_proj";
    case HERD_W_SH_GATE: return "feed_forward.shared_expert.gate_proj.weight";
    case HERD_W_SH_UP: return "feed_forward.shared_expert.up_proj.weight";
    case HERD_W_SH_DOWN: return "feed_forward.shared_expert.down_proj.weight";
    case HERD_W_MLP_GATE: return "feed_forward.gate_proj.weight";
    case HERD_W_MLP_UP: return "feed_forward.up_proj.weight";
    case HERD_W_MLP_DOWN: return "feed_forward.down_proj.weight";
    default: return "";
    }
}

static void tensor_name(const hf_source *s, herd_wrole role, int64_t layer, char *buf, size_t n)
{
    if (role == HERD_W_EMBED || (role == HERD_W_OUTPUT && s->tie))
        snprintf(buf, n, "%sembed_tokens.weight", s->body);
    else if (role == HERD_W_OUTPUT)
        snprintf(buf, n, "%slm_head.weight", s->head);
    else if (role == HERD_W_FINAL_NORM)
        snprintf(buf, n, "%snorm.weight", s->body);
    else
        snprintf(buf, n, "%slayers.%lld.%s", s->body, (long long)layer, role_suffix(role));
}

static void shape_str(const int64_t *d, int nd, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)d[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

static herd_status check(const hf_source *s, const char *name, const herd_st_tensor *t,
                         const int64_t *want, int nd)
{
    if (!t)
        return herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%s'", s->where, name);
    bool ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char a[160], b[160];
        shape_str(t->shape, t->ndim, a, sizeof a);
        shape_str(want, nd, b, sizeof b);
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", t->file,
                         name, a, b);
    }
    if (!t->has_type && !(hf_is_fp8(t) && nd >= 2))
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has dtype %s, expected BF16, F16 or F32%s", t->file, name,
                         t->dtype, nd >= 2 ? " (or F8_E4M3 with a row scale)" : "");
    return HERD_OK;
}

/* FP8 codes (rows × cols, row stride ld bytes) and their row scales (scale value sc0 + r) as
 * FP8_E4M3 rows into out. */
static herd_status fp8_rows(const hf_source *s, const herd_st_tensor *sc, int64_t sc0,
                            const uint8_t *codes, size_t ld, int64_t rows, int64_t cols,
                            herd_wmat *out)
{
    size_t rb = (size_t)cols + 4;
    uint8_t *buf = herd_alloc(rb * (size_t)rows, "fp8 rows");
    if (!buf)
        return HERD_ERR_NOMEM;
    for (int64_t r = 0; r < rows; r++) {
        float v = hf_fp8_scale_at(sc, sc0 + r);
        memcpy(buf + (size_t)r * rb, &v, 4);
        memcpy(buf + (size_t)r * rb + 4, codes + (size_t)r * ld, (size_t)cols);
    }
    herd_free(out->owned);
    *out = (herd_wmat){.type = HERD_TYPE_FP8_E4M3,
                       .rows = rows,
                       .cols = cols,
                       .data = buf,
                       .owned = buf,
                       .span = out->span,
                       .span_bytes = out->span_bytes,
                       .act_scale_ub = s->fp8.ub};
    return HERD_OK;
}

/* dst[r][c] = src[c][r + off] for r < rows, c < cols, where src rows have `ld` elements. */
static void transpose(uint8_t *dst, const uint8_t *src, int64_t rows, int64_t cols, int64_t ld,
                      int64_t off, size_t es)
{
    enum { B = 32 };
    for (int64_t c0 = 0; c0 < cols; c0 += B)
        for (int64_t r0 = 0; r0 < rows; r0 += B)
            for (int64_t c = c0; c < cols && c < c0 + B; c++)
                for (int64_t r = r0; r < rows && r < r0 + B; r++)
                    memcpy(dst + ((size_t)r * (size_t)cols + (size_t)c) * es,
                           src + ((size_t)c * (size_t)ld + (size_t)(r + off)) * es, es);
}

static herd_status hf_get(void *ctx, herd_wrole role, int64_t layer, int64_t expert, int64_t rows,
                          int64_t cols, herd_wmat *out)
{
    hf_source *s = ctx;
    memset(out, 0, sizeof *out);
    char name[256];
    tensor_name(s, role, layer, name, sizeof name);
    const herd_st_tensor *t = herd_st_dir_find(s->dir, name);
    bool gate_up = role == HERD_W_EXP_GATE || role == HERD_W_EXP_UP;
    bool experts = gate_up || role == HERD_W_EXP_DOWN;
    if (experts && !t) { /* one Linear per expert (Meta's FP8 release) */
        char one[256];
        snprintf(one, sizeof one, "%slayers.%lld.feed_forward.experts.%lld.%s_proj.weight", s->body,
                 (long long)layer, (long long)expert,
                 role == HERD_W_EXP_GATE ? "gate"
                 : role == HERD_W_EXP_UP ? "up"
                                         : "down");
        const herd_st_tensor *e = herd_st_dir_find(s->dir, one);
        if (e) {
            t = e;
            snprintf(name, sizeof name, "%s", one);
            experts = false;
        }
    }
    const herd_st_tensor *sc = NULL;
    if (t && hf_is_fp8(t)) {
        herd_status st = hf_fp8_scale(s->dir, &s->fp8, t, &sc);
        if (st)
            return st;
    }
    if (experts) {
        if (!t)
            return check(s, name, t, NULL, 0);
        /* gate_up_proj is [E, H, 2I] (gate = first I columns); down_proj is [E, I, H]; used as
         * x·W, so the [out, in] rows we hand out are their transposes. */
        int64_t E = t->ndim == 3 ? t->shape[0] : 0;
        int64_t want[3] = {E, cols, gate_up ? 2 * rows : rows};
        herd_status st = check(s, name, t, want, 3);
        if (st)
            return st;
        if (expert < 0 || expert >= E)
            return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has %lld experts, need %lld",
                             t->file, name, (long long)E, (long long)expert + 1);
        size_t es = sc ? 1 : herd_type_row_bytes(t->type, 1);
        uint8_t *buf = herd_alloc((size_t)(rows * cols) * es, "expert transpose");
        if (!buf)
            return HERD_ERR_NOMEM;
        const uint8_t *base = t->data + (size_t)expert * (size_t)(want[1] * want[2]) * es;
        transpose(buf, base, rows, cols, want[2], role == HERD_W_EXP_UP ? rows : 0, es);
        *out = (herd_wmat){.type = t->type,
                           .rows = rows,
                           .cols = cols,
                           .data = buf,
                           .owned = buf,
                           .span = base,
                           .span_bytes = (size_t)(want[1] * want[2]) * es};
        if (sc) /* scales [E, 1, W] or [E, W, 1]: value expert·W + column */
            return fp8_rows(s, sc, expert * want[2] + (role == HERD_W_EXP_UP ? rows : 0), buf,
                            (size_t)cols, rows, cols, out);
        return HERD_OK;
    }
    int64_t want[2] = {rows, cols};
    herd_status st = check(s, name, t, want, cols == 1 ? 1 : 2);
    if (st)
        return st;
    *out = (herd_wmat){.type = t->type,
                       .rows = rows,
                       .cols = cols,
                       .data = t->data,
                       .span = t->data,
                       .span_bytes = t->nbytes};
    if (sc)
        return fp8_rows(s, sc, 0, t->data, (size_t)cols, rows, cols, out);
    size_t es = herd_type_row_bytes(t->type, 1);
    if ((uintptr_t)t->data % es) { /* writers that do not pad leave tensors unaligned */
        out->owned = herd_alloc(t->nbytes, "aligned tensor copy");
        if (!out->owned)
            return HERD_ERR_NOMEM;
        memcpy(out->owned, t->data, t->nbytes);
        out->data = out->owned;
    }
    return HERD_OK;
}

static void hf_release(void *ctx, herd_wmat *m)
{
    herd_free(m->owned);
    m->owned = NULL;
    herd_mapped_drop(m->span, m->span_bytes);
    m->span = NULL;
}

static void hf_close(void *ctx)
{
    hf_source *s = ctx;
    herd_st_dir_close(s->dir);
    hf_fp8_close(&s->fp8);
    free(s);
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

herd_status herd_hf_source_open(const char *dir, const herd_llama4_config *c,
                                herd_weight_source *out)
{
    memset(out, 0, sizeof *out);
    hf_source *s = calloc(1, sizeof *s);
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    snprintf(s->where, sizeof s->where, "%s", dir);
    s->tie = c->tie_embeddings;
    herd_status st = hf_fp8_open(dir, &s->fp8);
    if (st) {
        free(s);
        return st;
    }
    st = herd_st_dir_open(dir, &s->dir);
    if (st) {
        hf_fp8_close(&s->fp8);
        free(s);
        return st;
    }
    /* Three spellings of the same names: transformers 4.x multimodal ("language_model.model."),
     * text-only ("model."), and 5.x multimodal ("model.language_model."). */
    static const char *const schemes[][2] = {
        {"language_model.model.", "language_model."},
        {"model.", ""},
        {"model.language_model.", ""},
    };
    int pick = -1;
    for (int i = 0; i < 3 && pick < 0; i++) {
        char name[128];
        snprintf(name, sizeof name, "%sembed_tokens.weight", schemes[i][0]);
        if (herd_st_dir_find(s->dir, name))
            pick = i;
    }
    if (pick < 0) {
        st = herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%smodel.embed_tokens.weight'", dir,
                       c->prefix);
        hf_close(s);
        return st;
    }
    snprintf(s->body, sizeof s->body, "%s", schemes[pick][0]);
    snprintf(s->head, sizeof s->head, "%s", schemes[pick][1]);
    /* Tensors outside the text model: the vision tower and its projector are expected (and
     * counted as such); anything else is named in a warning rather than called "vision". */
    size_t skipped = 0, unknown = 0;
    const char *first_unknown = NULL;
    char lm_head[64];
    snprintf(lm_head, sizeof lm_head, "%slm_head.", s->head);
    for (size_t i = 0; i < herd_st_dir_count(s->dir); i++) {
        const char *n = herd_st_dir_at(s->dir, i)->name;
        if (starts_with(n, s->body) || starts_with(n, lm_head))
            continue;
        const char *v = starts_with(n, "model.") ? n + 6 : n;
        if (starts_with(v, "vision_model.") || starts_with(v, "multi_modal_projector."))
            skipped++;
        else if (unknown++ == 0)
            first_unknown = n;
    }
    if (unknown)
        herd_log(HERD_LOG_WARN, "%s: ignored %zu tensor%s that are neither text nor vision (%s%s)",
                 dir, unknown, unknown > 1 ? "s" : "", first_unknown, unknown > 1 ? ", ..." : "");
    *out = (herd_weight_source){s,        hf_get, hf_release, hf_close, herd_st_dir_bytes(s->dir),
                                s->where, skipped};
    return HERD_OK;
}
