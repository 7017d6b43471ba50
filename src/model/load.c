/* Binding weights from a source to the model: each matrix is fetched by role, checked by the
 * source, and packed once by the kernel layer into the chosen type. Norms and biases become
 * float32 vectors; the embedding stays in the source's mapping (rows are widened on lookup). */
#include "model_internal.h"
#include "herd/model_gguf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void herd_model_opts_default(herd_model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = HERD_TYPE_COUNT;
    o->aprep = HERD_APREP_EXACT; /* correct first: --act auto opts into faster activations */
}

typedef struct binder {
    herd_model *m;
    herd_weight_source *src;
} binder;

static herd_status get_vec(binder *b, herd_wrole role, int64_t layer, int64_t n, float **out)
{
    herd_wmat w;
    herd_status st = b->src->get(b->src->ctx, role, layer, -1, n, 1, &w);
    if (st)
        return st;
    *out = herd_alloc((size_t)n * sizeof(float), "norm weights");
    st = *out ? herd_row_to_f32(w.type, w.data, *out, (size_t)n) : HERD_ERR_NOMEM;
    b->src->release(b->src->ctx, &w);
    b->m->weight_bytes += (size_t)n * sizeof(float);
    return st;
}

static herd_status pack_one(binder *b, herd_type type, herd_wrole role, int64_t layer,
                            int64_t expert, int64_t rows, int64_t cols, herd_packed **out)
{
    herd_wmat w;
    herd_status st = b->src->get(b->src->ctx, role, layer, expert, rows, cols, &w);
    if (st)
        return st;
    if (b->m->opts.dtype == HERD_TYPE_COUNT && type == b->m->dtype)
        type = w.type; /* no --dtype: each matrix keeps its source's type (GGUFs mix them) */
    st = herd_pack(type, rows, cols, (herd_wsrc){w.type, w.data, w.row_bytes}, out);
    if (!st)
        herd_packed_set_act_scale_ub(*out, w.act_scale_ub);
    b->src->release(b->src->ctx, &w);
    if (!st)
        b->m->weight_bytes += herd_packed_bytes(*out);
    return st;
}

/* gate and up (each rows × cols) packed together for the SwiGLU epilogue. */
static herd_status pack_pair(binder *b, herd_wrole gate, herd_wrole up, int64_t layer,
                             int64_t expert, int64_t rows, int64_t cols, herd_packed **out)
{
    herd_wmat g, u;
    herd_status st = b->src->get(b->src->ctx, gate, layer, expert, rows, cols, &g);
    if (st)
        return st;
    st = b->src->get(b->src->ctx, up, layer, expert, rows, cols, &u);
    if (st) {
        b->src->release(b->src->ctx, &g);
        return st;
    }
    herd_type type = b->m->opts.dtype == HERD_TYPE_COUNT ? g.type : b->m->dtype;
    /* gate and up in different types where up cannot be re-quantized into gate's (a grid
     * i-quant): both kept exactly, as f32 (the memory plan shows it) */
    if (b->m->opts.dtype == HERD_TYPE_COUNT && g.type != u.type && !herd_type_can_quantize(type))
        type = HERD_TYPE_F32;
    st = herd_pack_swiglu(type, rows, cols, (herd_wsrc){g.type, g.data, g.row_bytes},
                          (herd_wsrc){u.type, u.data, u.row_bytes}, out);
    if (!st)
        herd_packed_set_act_scale_ub(*out, g.act_scale_ub);
    b->src->release(b->src->ctx, &g);
    b->src->release(b->src->ctx, &u);
    if (!st)
        b->m->weight_bytes += herd_packed_bytes(*out);
    return st;
}

/* q, k and v packed as one [qd + 2·kvd, H] matrix, so a layer runs one GEMM (one pass over the
 * activations, one thread-pool dispatch) for all three. A source that stores them in different
 * types (a GGUF quantization policy may) keeps three matrices. */
static herd_status pack_qkv(binder *b, herd_type type, int64_t l, int64_t qd, int64_t kvd,
                            int64_t H, layer_weights *w)
{
    herd_weight_source *src = b->src;
    const herd_wrole roles[3] = {HERD_W_Q, HERD_W_K, HERD_W_V};
    const int64_t rows[3] = {qd, kvd, kvd};
    herd_packed **sep[3] = {&w->q, &w->k, &w->v};
    herd_wmat m[3];
    int got = 0;
    herd_status st = HERD_OK;
    for (; got < 3 && !st; got++)
        st = src->get(src->ctx, roles[got], l, -1, rows[got], H, &m[got]);
    if (st)
        got--;
    bool same = !st && m[0].type == m[1].type && m[1].type == m[2].type;
    if (same) {
        herd_type pt =
            b->m->opts.dtype == HERD_TYPE_COUNT && type == b->m->dtype ? m[0].type : type;
        size_t rb = herd_type_row_bytes(m[0].type, (size_t)H), off = 0;
        uint8_t *buf = herd_alloc(rb * (size_t)(qd + 2 * kvd), "qkv");
        st = buf ? HERD_OK : HERD_ERR_NOMEM;
        for (int i = 0; i < 3 && !st; i++)
            for (int64_t r = 0; r < rows[i]; r++, off += rb)
                memcpy(buf + off,
                       (const uint8_t *)m[i].data +
                           (size_t)r * (m[i].row_bytes ? m[i].row_bytes : rb),
                       rb);
        if (!st)
            st = herd_pack(pt, qd + 2 * kvd, H, (herd_wsrc){m[0].type, buf, 0}, &w->qkv);
        if (!st)
            herd_packed_set_act_scale_ub(w->qkv, m[0].act_scale_ub);
        herd_free(buf);
        if (!st)
            b->m->weight_bytes += herd_packed_bytes(w->qkv);
    } else {
        for (int i = 0; i < 3 && !st; i++) {
            herd_type pt =
                b->m->opts.dtype == HERD_TYPE_COUNT && type == b->m->dtype ? m[i].type : type;
            st = herd_pack(pt, rows[i], H, (herd_wsrc){m[i].type, m[i].data, m[i].row_bytes},
                           sep[i]);
            if (!st)
                herd_packed_set_act_scale_ub(*sep[i], m[i].act_scale_ub);
            if (!st)
                b->m->weight_bytes += herd_packed_bytes(*sep[i]);
        }
    }
    for (int i = 0; i < got; i++)
        src->release(src->ctx, &m[i]);
    return st;
}

static herd_status bind_layer(binder *b, int64_t l)
{
    herd_model *m = b->m;
    const herd_llama4_config *c = &m->cfg;
    layer_weights *w = &m->layers[l];
    int64_t H = c->hidden, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    herd_type t = m->dtype;
    herd_status st;
#define TRY(x)                                                                                     \
    if ((st = (x)))                                                                                \
    return st
    TRY(get_vec(b, HERD_W_ATTN_NORM, l, H, &w->attn_norm));
    TRY(get_vec(b, HERD_W_FFN_NORM, l, H, &w->ffn_norm));
    TRY(pack_qkv(b, t, l, qd, kvd, H, w));
    TRY(pack_one(b, t, HERD_W_O, l, -1, H, qd, &w->o));
    if (c->attn_bias) {
        TRY(get_vec(b, HERD_W_Q_BIAS, l, qd, &w->bq));
        TRY(get_vec(b, HERD_W_K_BIAS, l, kvd, &w->bk));
        TRY(get_vec(b, HERD_W_V_BIAS, l, kvd, &w->bv));
        TRY(get_vec(b, HERD_W_O_BIAS, l, H, &w->bo));
        w->bqkv = herd_alloc((size_t)(qd + 2 * kvd) * sizeof(float), "qkv bias");
        if (!w->bqkv)
            return HERD_ERR_NOMEM;
        memcpy(w->bqkv, w->bq, (size_t)qd * sizeof(float));
        memcpy(w->bqkv + qd, w->bk, (size_t)kvd * sizeof(float));
        memcpy(w->bqkv + qd + kvd, w->bv, (size_t)kvd * sizeof(float));
    }
    if (c->layer_moe[l]) {
        int64_t E = c->n_experts, I = c->inter;
        /* the router stays f32: top-k decisions must not flip on rounding */
        TRY(pack_one(b, HERD_TYPE_F32, HERD_W_ROUTER, l, -1, E, H, &w->router));
        w->exp_gate_up = herd_calloc((size_t)E * sizeof(herd_packed *), "experts");
        w->exp_down = herd_calloc((size_t)E * sizeof(herd_packed *), "experts");
        if (!w->exp_gate_up || !w->exp_down)
            return HERD_ERR_NOMEM;
        for (int64_t e = 0; e < E; e++) {
            TRY(pack_pair(b, HERD_W_EXP_GATE, HERD_W_EXP_UP, l, e, I, H, &w->exp_gate_up[e]));
            TRY(pack_one(b, t, HERD_W_EXP_DOWN, l, e, H, I, &w->exp_down[e]));
        }
        TRY(pack_pair(b, HERD_W_SH_GATE, HERD_W_SH_UP, l, -1, I, H, &w->sh_gate_up));
        TRY(pack_one(b, t, HERD_W_SH_DOWN, l, -1, H, I, &w->sh_down));
    } else {
        int64_t Im = c->inter_mlp;
        TRY(pack_pair(b, HERD_W_MLP_GATE, HERD_W_MLP_UP, l, -1, Im, H, &w->mlp_gate_up));
        TRY(pack_one(b, t, HERD_W_MLP_DOWN, l, -1, H, Im, &w->mlp_down));
    }
#undef TRY
    return HERD_OK;
}

static herd_status bind(herd_model *m)
{
    const herd_llama4_config *c = &m->cfg;
    binder b = {m, &m->src};
    herd_status st = m->src.get(m->src.ctx, HERD_W_EMBED, -1, -1, c->vocab, c->hidden, &m->embed);
    if (st)
        return st;
    m->weight_bytes += herd_type_row_bytes(m->embed.type, (size_t)c->hidden) * (size_t)c->vocab;
    if (m->opts.dtype == HERD_TYPE_COUNT) /* default: the checkpoint's own precision */
        m->dtype = m->embed.type;
    if ((st = get_vec(&b, HERD_W_FINAL_NORM, -1, c->hidden, &m->final_norm)) ||
        (st = pack_one(&b, m->dtype, HERD_W_OUTPUT, -1, -1, c->vocab, c->hidden, &m->output)))
        return st;
    m->layers = herd_calloc((size_t)c->n_layers * sizeof *m->layers, "layers");
    if (!m->layers)
        return HERD_ERR_NOMEM;
    herd_progress prog;
    herd_progress_begin(&prog, "packing layers", (double)c->n_layers);
    prog.tty = prog.tty && !m->opts.quiet; /* a bar only on a terminal, no line otherwise */
    for (int64_t l = 0; l < c->n_layers && !st; l++) {
        st = bind_layer(&b, l);
        herd_progress_update(&prog, (double)(l + 1));
    }
    if (prog.tty)
        herd_progress_end(&prog);
    return st;
}

herd_status herd_model_load_source(herd_llama4_config *cfg, herd_weight_source *src,
                                   const herd_model_opts *opts, herd_model **out)
{
    *out = NULL;
    herd_model *m = herd_calloc(sizeof *m, "model");
    if (!m) {
        herd_llama4_config_free(cfg);
        if (src->close)
            src->close(src->ctx);
        return HERD_ERR_NOMEM;
    }
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    m->src = *src;
    memset(src, 0, sizeof *src);
    if (opts)
        m->opts = *opts;
    else
        herd_model_opts_default(&m->opts);
    m->dtype = m->opts.dtype;
    herd_status st =
        herd_rope_init(&m->rope, m->cfg.head_dim, m->cfg.rope_theta, &m->cfg.rope_scaling);
    if (!st)
        st = bind(m);
    if (st) {
        herd_model_free(m);
        return st;
    }
    if (m->src.skipped && !m->opts.quiet)
        herd_log(HERD_LOG_INFO, "%s: skipped %zu tensors the text model does not use (vision)",
                 m->src.name ? m->src.name : "checkpoint", m->src.skipped);
    *out = m;
    return HERD_OK;
}

herd_status herd_model_load(const char *dir, const herd_model_opts *opts, herd_model **out)
{
    *out = NULL;
    if (herd_is_gguf_file(dir)) { /* a GGUF file rather than a checkpoint directory */
        herd_llama4_config cfg;
        herd_weight_source src;
        herd_status st = herd_gguf_source_open(dir, &cfg, &src);
        return st ? st : herd_model_load_source(&cfg, &src, opts, out);
    }
    struct stat sb; /* a shard or config.json given for its folder: say what to pass */
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode))
        return herd_fail(HERD_ERR_ARG,
                         "%s is a file; pass the folder that holds config.json and the "
                         "*.safetensors shards (or a GGUF file)",
                         dir);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return herd_fail(HERD_ERR_ARG, "%s: path too long", dir);
    herd_llama4_config cfg;
    herd_status st = herd_llama4_config_load(path, &cfg);
    if (st)
        return st;
    herd_weight_source src;
    st = herd_hf_source_open(dir, &cfg, &src);
    if (st) {
        herd_llama4_config_free(&cfg);
        return st;
    }
    return herd_model_load_source(&cfg, &src, opts, out);
}

static void free_layer(layer_weights *w, int64_t E)
{
    herd_free(w->attn_norm);
    herd_free(w->ffn_norm);
    herd_packed_free(w->qkv);
    herd_free(w->bqkv);
    herd_packed_free(w->q);
    herd_packed_free(w->k);
    herd_packed_free(w->v);
    herd_packed_free(w->o);
    herd_free(w->bq);
    herd_free(w->bk);
    herd_free(w->bv);
    herd_free(w->bo);
    herd_packed_free(w->router);
    for (int64_t e = 0; e < E; e++) {
        if (w->exp_gate_up)
            herd_packed_free(w->exp_gate_up[e]);
        if (w->exp_down)
            herd_packed_free(w->exp_down[e]);
    }
    herd_free(w->exp_gate_up);
    herd_free(w->exp_down);
    herd_packed_free(w->sh_gate_up);
    herd_packed_free(w->sh_down);
    herd_packed_free(w->mlp_gate_up);
    herd_packed_free(w->mlp_down);
}

void herd_model_free(herd_model *m)
{
    if (!m)
        return;
    if (m->layers)
        for (int64_t l = 0; l < m->cfg.n_layers; l++)
            free_layer(&m->layers[l], m->cfg.n_experts);
    herd_free(m->layers);
    herd_packed_free(m->output);
    herd_free(m->final_norm);
    if (m->src.release && m->embed.data)
        m->src.release(m->src.ctx, &m->embed);
    if (m->src.close)
        m->src.close(m->src.ctx);
    herd_rope_free(&m->rope);
    herd_llama4_config_free(&m->cfg);
    herd_free(m);
}

const herd_llama4_config *herd_model_config(const herd_model *m)
{
    return &m->cfg;
}
size_t herd_model_weight_bytes(const herd_model *m)
{
    return m->weight_bytes;
}
herd_type herd_model_dtype(const herd_model *m)
{
    return m->dtype;
}
