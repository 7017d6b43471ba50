/* A prompt several chunks long on a synthetic model with a tiny attention_chunk_size (5, not a
 * power of two): the KV cache holds exactly
 * (nope_layers·T + rope_layers·min(C + HERD_BATCH_MAX, T))·kv_dim·2 floats, and decoding through it
 * matches a no-cache reference (every prefix recomputed from scratch in one piece) for
 * token-by-token and random-piece feeding. */
#include "harness.h"
#include "herd/model.h"

/* Text-only form, head_dim != hidden/heads, top-2 of 4 experts, MoE on odd layers (step 2),
 * default NoPE pattern from an empty list, rope_parameters with llama3, int temperature flag. */
static const char *CONFIG =
    "{\"architectures\": [\"Llama4ForCausalLM\"], \"vocab_size\": 97, \"hidden_size\": 48,"
    " \"num_hidden_layers\": 8, \"num_attention_heads\": 6, \"num_key_value_heads\": 2,"
    " \"head_dim\": 12, \"intermediate_size\": 32, \"intermediate_size_mlp\": 40,"
    " \"num_local_experts\": 4, \"num_experts_per_tok\": 2, \"interleave_moe_layer_step\": 2,"
    " \"no_rope_layers\": [], \"attention_chunk_size\": 5, \"attn_temperature_tuning\": 1,"
    " \"floor_scale\": 3, \"attn_scale\": 0.2, \"use_qk_norm\": true,"
    " \"max_position_embeddings\": 64, \"rope_parameters\": {\"rope_type\": \"llama3\","
    " \"rope_theta\": 1000.0, \"factor\": 4, \"low_freq_factor\": 1, \"high_freq_factor\": 2,"
    " \"original_max_position_embeddings\": 16}}";

enum { T = 29 };

static herd_model *make_model(void)
{
    herd_llama4_config c;
    herd_weight_source src;
    herd_model *m = NULL;
    CHECK(herd_llama4_config_parse(CONFIG, strlen(CONFIG), "config", &c) == HERD_OK);
    CHECK(herd_synthetic_source(&c, 1234, HERD_TYPE_BF16, &src) == HERD_OK);
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.threads = 2;
    o.quiet = true;
    herd_status st = herd_model_load_source(&c, &src, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

TEST(test_chunked_cache)
{
    herd_model *m = make_model();
    if (!m)
        return;
    const herd_llama4_config *c = herd_model_config(m);
    int64_t V = c->vocab;
    int32_t ids[T];
    uint64_t seed = 99;
    for (int i = 0; i < T; i++)
        ids[i] = (int32_t)(harness_rand(&seed) % (uint64_t)V);

    /* the no-cache reference: each prefix from an empty cache, in one piece */
    static float ref[T * 97], got[T * 97];
    for (int t = 0; t < T; t++) {
        herd_kv_cache *kv;
        CHECK(herd_kv_create(m, T, &kv) == HERD_OK);
        CHECK(herd_model_forward(m, kv, ids, t + 1, ref + t * V, false) == HERD_OK);
        herd_kv_free(kv);
    }

    herd_kv_cache *kv;
    CHECK(herd_kv_create(m, T, &kv) == HERD_OK);
    for (int t = 0; t < T; t++)
        CHECK(herd_model_forward(m, kv, &ids[t], 1, got + t * V, false) == HERD_OK);
    double d = max_diff(got, ref, (size_t)(T * V));
    CHECK_MSG(d < 1e-4, "token by token differs from the no-cache reference by %g", d);

    /* the memory formula, counted by hand: 2 NoPE layers (3, 7) and 6 chunked ones, which keep
     * a chunk plus one batch (5 + 512) once the context is longer than that */
    size_t kv_dim = (size_t)(c->n_kv_heads * c->head_dim);
    size_t want = 8 * T * kv_dim * 2 * sizeof(float);
    CHECK_EQ_INT(herd_kv_bytes_for(c, T), want);
    CHECK_EQ_INT(herd_kv_bytes(kv), want);
    CHECK_EQ_INT(herd_kv_bytes_for(c, 2000), (2 * 2000 + 6 * 517) * kv_dim * 2 * sizeof(float));

    for (int trial = 0; trial < 4; trial++) {
        herd_kv_reset(kv);
        memset(got, 0, sizeof got);
        for (int i = 0; i < T;) {
            int k = 1 + (int)(harness_rand(&seed) % 8);
            if (k > T - i)
                k = T - i;
            CHECK(herd_model_forward(m, kv, &ids[i], k, got + i * V, true) == HERD_OK);
            i += k;
        }
        /* all_rows logits of each piece are the rows of every position */
        d = max_diff(got, ref, (size_t)(T * V));
        CHECK_MSG(d < 1e-4, "pieces differ from the no-cache reference by %g", d);
    }
    CHECK(herd_model_forward(m, kv, ids, 1, NULL, false) == HERD_ERR_RANGE);
    herd_kv_free(kv);

    /* a large context costs memory only as it fills */
    CHECK(herd_kv_create(m, 1 << 30, &kv) == HERD_OK);
    CHECK(herd_model_forward(m, kv, ids, 3, NULL, false) == HERD_OK);
    CHECK(herd_kv_bytes(kv) < 100000);
    herd_kv_free(kv);
    herd_model_free(m);
}

int main(void)
{
    RUN(test_chunked_cache);
    return harness_finish();
}
