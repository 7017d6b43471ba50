/* Fuzzes a GGUF read as a Llama 4 model: the llama4 / herd.* metadata to a config (sizes, layer
 * lists, RoPE scaling from keys or from rope_freqs.weight, stop ids) and the weight source's
 * shape and type checks for every role of the first layers. */
#include "fuzz_util.h"
#include "herd/model_gguf.h"

static void touch(const herd_wmat *m)
{
    if (!m->data || m->rows < 1)
        return;
    size_t rb = m->row_bytes ? m->row_bytes : herd_type_row_bytes(m->type, (size_t)m->cols);
    size_t last = (m->cols == 1 ? 0 : (size_t)(m->rows - 1) * rb) + rb - 1;
    volatile uint8_t x = ((const uint8_t *)m->data)[0];
    x ^= ((const uint8_t *)m->data)[last];
    (void)x;
}

static void get(herd_weight_source *s, herd_wrole role, int64_t layer, int64_t expert, int64_t rows,
                int64_t cols)
{
    herd_wmat m;
    if (s->get(s->ctx, role, layer, expert, rows, cols, &m) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return;
    }
    FUZZ_ASSERT(m.rows == rows && m.cols == cols);
    touch(&m);
    s->release(s->ctx, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_mem_file(0, data, size);
    herd_llama4_config c;
    herd_weight_source s;
    if (herd_gguf_source_open(path, &c, &s) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    FUZZ_ASSERT(c.hidden >= 1 && c.n_layers >= 1 && c.n_heads >= 1 && c.n_kv_heads >= 1);
    FUZZ_ASSERT(c.head_dim >= 2 && c.layer_rope && c.layer_moe && c.n_eos <= HERD_MAX_EOS);
    int64_t H = c.hidden, D = c.head_dim, Q = c.n_heads * D, KV = c.n_kv_heads * D;
    get(&s, HERD_W_EMBED, 0, 0, c.vocab, H);
    get(&s, HERD_W_OUTPUT, 0, 0, c.vocab, H);
    get(&s, HERD_W_FINAL_NORM, 0, 0, H, 1);
    for (int64_t l = 0; l < c.n_layers && l < 2; l++) {
        get(&s, HERD_W_ATTN_NORM, l, 0, H, 1);
        get(&s, HERD_W_FFN_NORM, l, 0, H, 1);
        get(&s, HERD_W_Q, l, 0, Q, H);
        get(&s, HERD_W_K, l, 0, KV, H);
        get(&s, HERD_W_V, l, 0, KV, H);
        get(&s, HERD_W_O, l, 0, H, Q);
        get(&s, HERD_W_ROUTER, l, 0, c.n_experts, H);
        for (int64_t e = 0; e < c.n_experts && e < 2; e++) {
            get(&s, HERD_W_EXP_GATE, l, e, c.inter, H);
            get(&s, HERD_W_EXP_UP, l, e, c.inter, H);
            get(&s, HERD_W_EXP_DOWN, l, e, H, c.inter);
        }
        get(&s, HERD_W_SH_GATE, l, 0, c.inter, H);
        get(&s, HERD_W_SH_DOWN, l, 0, H, c.inter);
        get(&s, HERD_W_MLP_UP, l, 0, c.inter_mlp, H);
    }
    herd_llama4_config_free(&c);
    s.close(s.ctx);
    return 0;
}
