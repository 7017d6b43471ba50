/* Fuzzes the Llama 4 config.json parser (nesting, defaults, null versus missing, RoPE forms,
 * per-layer lists) and checks what it accepts is sane enough to size a model by. */
#include "fuzz_util.h"
#include "herd/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    herd_llama4_config c;
    if (herd_llama4_config_parse((const char *)data, size, "config.json", &c) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    FUZZ_ASSERT(c.vocab >= 1 && c.hidden >= 1 && c.n_layers >= 1 && c.n_heads >= 1);
    FUZZ_ASSERT(c.n_kv_heads >= 1 && c.head_dim >= 2 && c.n_heads % c.n_kv_heads == 0);
    FUZZ_ASSERT(c.top_k >= 1 && c.top_k <= c.n_experts && c.n_eos >= 0 && c.n_eos <= HERD_MAX_EOS);
    FUZZ_ASSERT(c.layer_rope && c.layer_moe);
    int rope = 0;
    for (int64_t l = 0; l < c.n_layers; l++)
        rope += c.layer_rope[l] + c.layer_moe[l];
    (void)rope;
    (void)herd_kv_bytes_for(&c, 1);
    (void)herd_kv_bytes_for(&c, c.max_pos);
    herd_llama4_config_free(&c);
    return 0;
}
