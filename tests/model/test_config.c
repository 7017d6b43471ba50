/* config.json parsing by the rules of spec llama4.md §2.3, and its one-line errors. */
#include "harness.h"
#include "herd/model.h"

static herd_status parse(const char *json, herd_llama4_config *c)
{
    return herd_llama4_config_parse(json, strlen(json), "config.json", c);
}

TEST(test_nested_defaults)
{
    herd_llama4_config c;
    CHECK(parse("{\"architectures\": [\"Llama4ForConditionalGeneration\"], \"text_config\": {}}",
                &c) == HERD_OK);
    CHECK(strcmp(c.prefix, "language_model.") == 0);
    CHECK(c.vocab == 202048 && c.hidden == 5120 && c.n_layers == 48 && c.n_heads == 40);
    CHECK(c.n_kv_heads == 8 && c.head_dim == 128 && c.inter == 8192 && c.inter_mlp == 16384);
    CHECK(c.n_experts == 16 && c.top_k == 1 && c.chunk == 8192 && c.use_qk_norm);
    CHECK(c.temp_tuning && c.floor_scale == 8192 && fabs(c.attn_scale - 0.1) < 1e-12);
    CHECK(c.rope_theta == 500000 && !c.rope_scaling.llama3 && !c.tie_embeddings);
    for (int l = 0; l < 48; l++) {
        CHECK(c.layer_rope[l] == ((l + 1) % 4 != 0)); /* NoPE on 3, 7, ..., 47 */
        CHECK(c.layer_moe[l]);                        /* step 1: every layer */
    }
    herd_llama4_config_free(&c);
}

TEST(test_text_only)
{
    herd_llama4_config c;
    CHECK(parse("{\"architectures\": [\"Llama4ForCausalLM\"], \"num_hidden_layers\": 6,"
                " \"hidden_size\": 64, \"num_attention_heads\": 4, \"head_dim\": 24,"
                " \"num_key_value_heads\": null, \"no_rope_layers\": [],"
                " \"no_rope_layer_interval\": 3, \"interleave_moe_layer_step\": 2,"
                " \"attention_chunk_size\": null, \"attn_temperature_tuning\": 0,"
                " \"num_experts_per_tok\": 2, \"num_local_experts\": 3,"
                " \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 1234.5,"
                " \"factor\": 8, \"low_freq_factor\": 1, \"high_freq_factor\": 4},"
                " \"max_position_embeddings\": 999, \"eos_token_id\": 5}",
                &c) == HERD_OK);
    CHECK(strcmp(c.prefix, "") == 0);
    CHECK(c.head_dim == 24 && c.n_kv_heads == 4 && c.chunk == 0 && !c.temp_tuning);
    CHECK(c.top_k == 2 && c.rope_theta == 1234.5 && c.rope_scaling.llama3);
    CHECK(c.rope_scaling.original_max_pos == 999 && c.rope_scaling.factor == 8);
    CHECK(c.n_eos == 1 && c.eos[0] == 5);
    for (int l = 0; l < 6; l++) {
        CHECK(c.layer_rope[l] == ((l + 1) % 3 != 0)); /* [] means the default pattern */
        CHECK(c.layer_moe[l] == (l % 2 == 1));        /* step 2: 1, 3, 5 */
    }
    herd_llama4_config_free(&c);
}

TEST(test_explicit_lists)
{
    herd_llama4_config c;
    CHECK(parse("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 4,"
                " \"no_rope_layers\": [0, 1, true, 0], \"moe_layers\": [],"
                " \"attn_temperature_tuning\": 4, \"rope_theta\": 10.0,"
                " \"rope_scaling\": {\"type\": \"default\"}, \"eos_token_id\": [1, 2, 3]}",
                &c) == HERD_OK);
    CHECK(!c.layer_rope[0] && c.layer_rope[1] && c.layer_rope[2] && !c.layer_rope[3]);
    for (int l = 0; l < 4; l++)
        CHECK(!c.layer_moe[l]); /* an explicit [] means no MoE layer */
    CHECK(c.temp_tuning && c.rope_theta == 10 && !c.rope_scaling.llama3 && c.n_eos == 3);
    herd_llama4_config_free(&c);
    CHECK(parse("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 3,"
                " \"layer_types\": [\"chunked_attention\", \"full_attention\","
                " \"chunked_attention\"], \"moe_layers\": [2]}",
                &c) == HERD_OK);
    CHECK(c.layer_rope[0] && !c.layer_rope[1] && c.layer_rope[2]);
    CHECK(!c.layer_moe[0] && !c.layer_moe[1] && c.layer_moe[2]);
    herd_llama4_config_free(&c);
}

static void expect_error(const char *json, herd_status want, const char *text)
{
    herd_llama4_config c;
    herd_status st = parse(json, &c);
    CHECK_MSG(st == want, "%s: status %d, want %d", json, st, want);
    CHECK_MSG(strstr(herd_last_error(), text) && !strchr(herd_last_error(), '\n'),
              "message '%s' lacks '%s'", herd_last_error(), text);
}

TEST(test_errors)
{
    expect_error("{\"architectures\": [\"Llama4ForCausalLM\"],\n \"hidden_size\": }",
                 HERD_ERR_FORMAT, "config.json:2:");
    expect_error("{\"architectures\": [\"MixtralForCausalLM\"]}", HERD_ERR_UNSUPPORTED,
                 "unsupported architecture 'MixtralForCausalLM'");
    expect_error("{\"architectures\": [\"Llama4ForConditionalGeneration\"]}", HERD_ERR_FORMAT,
                 "text_config");
    expect_error("{\"model_type\": \"llama4_text\", \"hidden_size\": \"big\"}", HERD_ERR_FORMAT,
                 "'hidden_size' must be an integer");
    expect_error("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 4,"
                 " \"no_rope_layers\": [1, 1, 0]}",
                 HERD_ERR_FORMAT, "no_rope_layers has 3 entries for 4 layers");
    expect_error("{\"model_type\": \"llama4_text\", \"moe_layers\": [48]}", HERD_ERR_FORMAT,
                 "moe_layers[0]");
    expect_error("{\"model_type\": \"llama4_text\", \"num_attention_heads\": 40,"
                 " \"num_key_value_heads\": 7}",
                 HERD_ERR_FORMAT, "not a multiple");
    expect_error("{\"model_type\": \"llama4_text\", \"num_experts_per_tok\": 17}", HERD_ERR_FORMAT,
                 "num_experts_per_tok");
    expect_error("{\"model_type\": \"llama4_text\", \"rope_scaling\": {\"rope_type\": \"yarn\"}}",
                 HERD_ERR_UNSUPPORTED, "rope_type 'yarn'");
    expect_error("{\"model_type\": \"llama4_text\", \"rope_scaling\": {\"rope_type\": \"llama3\","
                 " \"factor\": 8}}",
                 HERD_ERR_FORMAT, "low_freq_factor");
    expect_error("{\"model_type\": \"llama4_text\", \"head_dim\": 7}", HERD_ERR_FORMAT, "even");
    expect_error("[1, 2]", HERD_ERR_FORMAT, "not a JSON object");
}

TEST(test_kv_formula)
{
    herd_llama4_config c;
    CHECK(parse("{\"architectures\": [\"Llama4ForConditionalGeneration\"], \"text_config\": {}}",
                &c) == HERD_OK);
    /* Scout: 36 chunked layers keep 8192 positions plus one batch (512), 12 global layers keep
     * all; kv_dim 1024 */
    size_t per_pos = 2 * 4 * 1024;
    CHECK(herd_kv_bytes_for(&c, 1000) == 48 * 1000 * per_pos);
    CHECK(herd_kv_bytes_for(&c, 1 << 20) == (12 * (size_t)(1 << 20) + 36 * (8192 + 512)) * per_pos);
    CHECK(herd_kv_bytes_for(&c, 8704) == 48 * 8704 * per_pos);
    herd_llama4_config_free(&c);
}

int main(void)
{
    RUN(test_nested_defaults);
    RUN(test_text_only);
    RUN(test_explicit_lists);
    RUN(test_errors);
    RUN(test_kv_formula);
    return harness_finish();
}
