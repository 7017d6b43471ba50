/* herd bench model --write-gguf: the synthetic model written as a llama4 GGUF with llama.cpp's
 * names and only the keys llama.cpp reads, so llama.cpp (llama-bench) and herd (-m FILE) run the
 * identical weights. Tensors are streamed one matrix at a time from the synthetic source, rows
 * quantized on the pool, so memory stays at one expert matrix whatever the model size. */
#include "bench_model.h"

#include "herd/model_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gtensor {
    char name[64];
    herd_wrole role;
    int64_t layer, experts, rows, cols; /* experts 0: a plain matrix or vector (cols 1) */
    herd_qclass cls;
    herd_type type;
} gtensor;

typedef struct qjob {
    const herd_wmat *src;
    herd_type type;
    int64_t rows, cols;
    uint8_t *out;
    size_t out_row;
    herd_status st[64];
} qjob;

static void quant_part(void *ctx, int tid, int nthreads)
{
    qjob *j = ctx;
    size_t b, e;
    herd_split_range((size_t)j->rows, 1, tid, nthreads, &b, &e);
    float *f = malloc((size_t)j->cols * sizeof *f);
    herd_status st = f ? HERD_OK : HERD_ERR_NOMEM;
    size_t in_row =
        j->src->row_bytes ? j->src->row_bytes : herd_type_row_bytes(j->src->type, (size_t)j->cols);
    for (size_t r = b; r < e && !st; r++) {
        st = herd_row_to_f32(j->src->type, (const uint8_t *)j->src->data + r * in_row, f,
                             (size_t)j->cols);
        if (!st)
            st = herd_row_from_f32(j->type, f, j->out + r * j->out_row, (size_t)j->cols);
    }
    free(f);
    if (tid < 64)
        j->st[tid] = st;
}

static herd_status add(gtensor **v, size_t *n, const gtensor *t)
{
    gtensor *g = realloc(*v, (*n + 1) * sizeof *g);
    if (!g)
        return herd_fail(HERD_ERR_NOMEM, "out of memory listing tensors");
    g[*n] = *t;
    *v = g;
    (*n)++;
    return HERD_OK;
}

static herd_status list_tensors(const herd_llama4_config *c, gtensor **v, size_t *n)
{
    int64_t H = c->hidden, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    herd_status st = HERD_OK;
#define T(nm, rl, ly, ex, r, cl, qc)                                                               \
    do {                                                                                           \
        gtensor t_ = {.role = rl, .layer = ly, .experts = ex, .rows = r, .cols = cl, .cls = qc};   \
        snprintf(t_.name, sizeof t_.name, "%s", nm);                                               \
        if (!st)                                                                                   \
            st = add(v, n, &t_);                                                                   \
    } while (0)
    T("token_embd.weight", HERD_W_EMBED, 0, 0, c->vocab, H, HERD_QC_EMBED);
    T("output_norm.weight", HERD_W_FINAL_NORM, 0, 0, H, 1, HERD_QC_NORM);
    T("output.weight", HERD_W_OUTPUT, 0, 0, c->vocab, H, HERD_QC_OUTPUT);
    char nm[64];
    for (int64_t l = 0; l < c->n_layers && !st; l++) {
#define L(suffix, rl, ex, r, cl, qc)                                                               \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "blk.%lld.%s", (long long)l, suffix);                              \
        T(nm, rl, l, ex, r, cl, qc);                                                               \
    } while (0)
        L("attn_norm.weight", HERD_W_ATTN_NORM, 0, H, 1, HERD_QC_NORM);
        L("attn_q.weight", HERD_W_Q, 0, qd, H, HERD_QC_ATTN);
        L("attn_k.weight", HERD_W_K, 0, kvd, H, HERD_QC_ATTN);
        L("attn_v.weight", HERD_W_V, 0, kvd, H, HERD_QC_ATTN);
        L("attn_output.weight", HERD_W_O, 0, H, qd, HERD_QC_ATTN);
        L("ffn_norm.weight", HERD_W_FFN_NORM, 0, H, 1, HERD_QC_NORM);
        if (c->layer_moe[l]) {
            L("ffn_gate_inp.weight", HERD_W_ROUTER, 0, c->n_experts, H, HERD_QC_ROUTER);
            L("ffn_gate_exps.weight", HERD_W_EXP_GATE, c->n_experts, c->inter, H, HERD_QC_EXPERTS);
            L("ffn_down_exps.weight", HERD_W_EXP_DOWN, c->n_experts, H, c->inter, HERD_QC_EXPERTS);
            L("ffn_up_exps.weight", HERD_W_EXP_UP, c->n_experts, c->inter, H, HERD_QC_EXPERTS);
            L("ffn_gate_shexp.weight", HERD_W_SH_GATE, 0, c->inter, H, HERD_QC_SHARED);
            L("ffn_down_shexp.weight", HERD_W_SH_DOWN, 0, H, c->inter, HERD_QC_SHARED);
            L("ffn_up_shexp.weight", HERD_W_SH_UP, 0, c->inter, H, HERD_QC_SHARED);
        } else {
            L("ffn_gate.weight", HERD_W_MLP_GATE, 0, c->inter_mlp, H, HERD_QC_DENSE);
            L("ffn_down.weight", HERD_W_MLP_DOWN, 0, H, c->inter_mlp, HERD_QC_DENSE);
            L("ffn_up.weight", HERD_W_MLP_UP, 0, c->inter_mlp, H, HERD_QC_DENSE);
        }
#undef L
    }
#undef T
    return st;
}

/* One matrix (or vector) from the source, quantized to t->type, appended to the file. */
static herd_status write_matrix(herd_gguf_writer *w, herd_weight_source *src, const gtensor *t,
                                int64_t expert, herd_pool *pool, uint8_t **buf, size_t *cap)
{
    herd_wmat m;
    herd_status st = src->get(src->ctx, t->role, t->layer, expert, t->rows, t->cols, &m);
    if (st)
        return st;
    bool vec = t->cols == 1;
    qjob j = {
        .src = &m, .type = t->type, .rows = vec ? 1 : t->rows, .cols = vec ? t->rows : t->cols};
    j.out_row = herd_type_row_bytes(t->type, (size_t)j.cols);
    size_t need = j.out_row * (size_t)j.rows;
    if (need > *cap) {
        uint8_t *b = realloc(*buf, need);
        if (!b)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
        else
            *buf = b, *cap = need;
    }
    if (!st) {
        j.out = *buf;
        herd_pool_run(pool, quant_part, &j);
        for (int i = 0; i < 64 && !st; i++)
            st = j.st[i];
    }
    if (!st)
        st = herd_gguf_writer_write(w, *buf, need);
    if (src->release)
        src->release(src->ctx, &m);
    return st;
}

herd_status bench_model_write_gguf(const herd_llama4_config *c, herd_weight_source *src,
                                   const herd_quant_policy *p, herd_type type,
                                   const char *tokenizer_json, const char *path, herd_pool *pool)
{
    gtensor *v = NULL;
    size_t n = 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    herd_gguf_writer *w = NULL;
    herd_status st = list_tensors(c, &v, &n);
    if (!st)
        st = herd_gguf_writer_create(&w);
    if (!st)
        st = herd_llama4_gguf_set_meta(w, c, true);
    char name[96];
    snprintf(name, sizeof name, "herd synthetic Llama 4 %s", herd_type_name(type));
    if (!st)
        st = herd_gguf_set_str(w, "general.name", name);
    if (!st)
        st = herd_gguf_set_tokenizer(w, tokenizer_json, c->vocab);
    for (size_t i = 0; i < n && !st; i++) {
        v[i].type =
            v[i].cols == 1 ? HERD_TYPE_F32 : herd_quant_policy_type(p, v[i].cls, type, v[i].cols);
        int64_t ne[3] = {v[i].cols == 1 ? v[i].rows : v[i].cols, v[i].rows, v[i].experts};
        st = herd_gguf_add_tensor(w, v[i].name, v[i].type,
                                  v[i].cols == 1 ? 1
                                  : v[i].experts ? 3
                                                 : 2,
                                  ne);
    }
    if (!st)
        st = herd_gguf_writer_begin(w, path);
    double t0 = herd_now();
    for (size_t i = 0; i < n && !st; i++) {
        for (int64_t e = 0; e < (v[i].experts ? v[i].experts : 1) && !st; e++)
            st = write_matrix(w, src, &v[i], e, pool, &buf, &cap);
        if (!st && (i % 16 == 15 || i + 1 == n))
            fprintf(stderr, "\rherd bench model: writing %s: %zu of %zu tensors, %.0f s", path,
                    i + 1, n, herd_now() - t0);
    }
    if (!st)
        st = herd_gguf_writer_commit(w);
    fprintf(stderr, "\n");
    herd_gguf_writer_free(w);
    free(buf);
    free(v);
    return st;
}
