/* Named synthetic Llama 4 shapes (herd/synthetic.h): the config is written as config.json text
 * and parsed by the real parser, so every default and derived field is the one a checkpoint
 * would get; the weights come from the model layer's random source (herd_synthetic_source). */
#include "herd/synthetic.h"

#include <stdio.h>
#include <string.h>

typedef struct shape {
    const char *name;
    int64_t hidden, layers, heads, kv_heads, head_dim, inter, inter_mlp, experts, vocab, chunk;
    bool dense_first; /* layer 0 a dense MLP (tiny tests both kinds) */
} shape;

static const shape shapes[] = {
    {"scout", 5120, 2, 40, 8, 128, 8192, 16384, 4, 32000, 8192, false},
    {"small", 512, 2, 8, 2, 64, 1024, 2048, 4, 4096, 64, true},
    {"tiny", 64, 2, 4, 2, 16, 128, 256, 4, 256, 16, true},
};

herd_status herd_synthetic_open(const char *name, const herd_synthetic_opts *opts,
                                herd_llama4_config *cfg, herd_weight_source *src)
{
    memset(src, 0, sizeof *src);
    const shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(name, shapes[i].name) == 0)
            sh = &shapes[i];
    if (!sh)
        return herd_fail(HERD_ERR_ARG, "unknown synthetic model '%s' (scout, small or tiny)", name);
    int64_t L = opts && opts->layers > 0 ? opts->layers : sh->layers;
    int64_t E = opts && opts->experts > 0 ? opts->experts : sh->experts;
    if (L > 1024 || E > 1024)
        return herd_fail(HERD_ERR_RANGE, "synthetic %s: at most 1024 layers and experts", name);
    /* per-layer lists as a checkpoint would spell them */
    char rope[8192] = "", moe[8192] = "";
    size_t nr = 0, nm = 0;
    for (int64_t l = 0; l < L; l++) {
        bool nope = (l + 1) % 4 == 0 || (L < 4 && l == L - 1);
        nr += (size_t)snprintf(rope + nr, sizeof rope - nr, "%s%d", l ? "," : "", nope ? 0 : 1);
        if (!(sh->dense_first && l == 0))
            nm +=
                (size_t)snprintf(moe + nm, sizeof moe - nm, "%s%lld", nm ? "," : "", (long long)l);
    }
    char text[20000];
    int len = snprintf(
        text, sizeof text,
        "{\"architectures\": [\"Llama4ForCausalLM\"], \"model_type\": \"llama4_text\", "
        "\"hidden_size\": %lld, \"num_hidden_layers\": %lld, \"num_attention_heads\": %lld, "
        "\"num_key_value_heads\": %lld, \"head_dim\": %lld, \"intermediate_size\": %lld, "
        "\"intermediate_size_mlp\": %lld, \"num_local_experts\": %lld, "
        "\"num_experts_per_tok\": 1, \"vocab_size\": %lld, \"no_rope_layers\": [%s], "
        "\"moe_layers\": [%s], \"attention_chunk_size\": %lld, \"use_qk_norm\": true, "
        "\"attn_temperature_tuning\": true, \"floor_scale\": 8192, \"attn_scale\": 0.1, "
        "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 16.0, "
        "\"low_freq_factor\": 1.0, \"high_freq_factor\": 1.0, "
        "\"original_max_position_embeddings\": 8192}, \"rms_norm_eps\": 1e-5, "
        "\"max_position_embeddings\": 262144, \"bos_token_id\": 1, \"eos_token_id\": [2], "
        "\"tie_word_embeddings\": false, \"attention_bias\": false}",
        (long long)sh->hidden, (long long)L, (long long)sh->heads, (long long)sh->kv_heads,
        (long long)sh->head_dim, (long long)sh->inter, (long long)sh->inter_mlp, (long long)E,
        (long long)sh->vocab, rope, moe, (long long)sh->chunk);
    if (len < 0 || (size_t)len >= sizeof text)
        return herd_fail(HERD_ERR_INTERNAL, "synthetic %s: config text too long", name);
    char what[64];
    snprintf(what, sizeof what, "synthetic %s config", name);
    herd_status st = herd_llama4_config_parse(text, (size_t)len, what, cfg);
    if (st)
        return st;
    st = herd_synthetic_source(cfg, opts && opts->seed ? opts->seed : 0x6865726421ull,
                               HERD_TYPE_BF16, src);
    if (st)
        herd_llama4_config_free(cfg);
    return st;
}

double herd_synthetic_params(const herd_llama4_config *c)
{
    double H = (double)c->hidden, qd = (double)(c->n_heads * c->head_dim);
    double kvd = (double)(c->n_kv_heads * c->head_dim), p = 2.0 * (double)c->vocab * H + H;
    for (int64_t l = 0; l < c->n_layers; l++) {
        p += 2 * H + 2 * qd * H + 2 * kvd * H;
        if (c->layer_moe[l])
            p += (double)c->n_experts * H + ((double)c->n_experts + 1) * 3 * (double)c->inter * H;
        else
            p += 3.0 * (double)c->inter_mlp * H;
    }
    return p;
}
