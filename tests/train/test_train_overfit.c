/* Training end to end on one fixed batch: a tiny Llama 4 (dense + MoE layers, RoPE + chunked
 * and NoPE) must drive its loss near zero in every precision mode, and a step must be
 * deterministic (two trainers of the same seed give the same bits). */
#include "harness.h"
#include "herd/model_gguf.h"
#include "herd/train.h"
#include "train/train_internal.h"

#include <unistd.h>

static const char cfg_text[] =
    "{\"architectures\": [\"Llama4ForCausalLM\"], \"hidden_size\": 32, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8,"
    " \"intermediate_size\": 32, \"intermediate_size_mlp\": 64, \"num_local_experts\": 4,"
    " \"num_experts_per_tok\": 1, \"vocab_size\": 64, \"no_rope_layers\": [1, 0],"
    " \"moe_layers\": [1], \"attention_chunk_size\": 8, \"use_qk_norm\": true,"
    " \"attn_temperature_tuning\": true, \"rope_theta\": 10000.0, \"rms_norm_eps\": 1e-5,"
    " \"tie_word_embeddings\": false}";

enum { B = 2, T = 24 };

static double overfit(const herd_train_precision *p, int steps, double *first)
{
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(cfg_text, sizeof cfg_text - 1, "test", &c) == HERD_OK);
    herd_train_hparams h;
    herd_train_hparams_default(&h);
    h.seq = T;
    h.batch = B;
    h.steps = steps;
    h.warmup = 10;
    h.lr = 1e-2;
    h.weight_decay = 0;
    h.init_std = 0.1;
    herd_trainer *t = NULL;
    CHECK(herd_trainer_create(&c, &h, p, NULL, &t) == HERD_OK);
    int32_t ids[B * T], tg[B * T];
    uint32_t s = 7;
    for (int i = 0; i < B * T; i++) {
        s = s * 1103515245u + 12345u;
        ids[i] = (int32_t)((s >> 16) % 64);
    }
    for (int i = 0; i < B * T; i++)
        tg[i] = i % T == T - 1 ? -1 : ids[i + 1];
    double loss = 0, gn, lr;
    for (int k = 0; k < steps && t; k++) {
        CHECK(herd_trainer_step(t, ids, tg, &loss, &gn, &lr) == HERD_OK);
        if (k == 0)
            *first = loss;
    }
    if (t)
        CHECK(herd_trainer_eval(t, ids, tg, &loss) == HERD_OK);
    herd_trainer_free(t);
    herd_llama4_config_free(&c);
    return loss;
}

TEST(overfit_every_precision)
{
    static const struct {
        herd_train_mode m;
        herd_mx_format w, a, g;
        bool ceil;
        double limit;
    } modes[] = {
        {HERD_TRAIN_F32, 0, 0, 0, false, 0.05},
        {HERD_TRAIN_BF16, 0, 0, 0, false, 0.05},
        {HERD_TRAIN_MX, HERD_MX_FP8_E4M3, HERD_MX_FP8_E4M3, HERD_MX_FP8_E5M2, false, 0.1},
        {HERD_TRAIN_MX, HERD_MX_FP6_E3M2, HERD_MX_FP6_E3M2, HERD_MX_FP6_E3M2, true, 0.2},
        {HERD_TRAIN_MX, HERD_MX_FP4_E2M1, HERD_MX_FP6_E3M2, HERD_MX_FP6_E3M2, false, 0.5},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        herd_train_precision p;
        herd_train_precision_default(&p);
        p.mode = modes[i].m;
        p.weights = modes[i].w;
        p.acts = modes[i].a;
        p.grads = modes[i].g;
        p.scale_ceil = modes[i].ceil;
        double first = 0, last = overfit(&p, 150, &first);
        char d[160];
        herd_train_precision_describe(&p, d, sizeof d);
        printf("%-50s loss %.3f -> %.4f\n", d, first, last);
        CHECK_MSG(first > 3.5 && last < modes[i].limit, "%s: loss %.4f -> %.4f", d, first, last);
    }
}

TEST(deterministic)
{
    herd_train_precision p;
    herd_train_precision_default(&p);
    double f1, f2, a = overfit(&p, 5, &f1), b = overfit(&p, 5, &f2);
    CHECK(a == b && f1 == f2);
}

/* A trained model exported as GGUF (F32 matrices) and loaded by the inference engine gives
 * the logits the training graph computes: the two implement the same Llama 4. */
TEST(export_matches_inference)
{
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(cfg_text, sizeof cfg_text - 1, "test", &c) == HERD_OK);
    herd_train_hparams h;
    herd_train_hparams_default(&h);
    h.seq = T;
    h.batch = B;
    h.init_std = 0.3; /* large weights: every op matters to the logits */
    herd_train_precision p;
    herd_train_precision_default(&p);
    herd_trainer *t = NULL;
    CHECK(herd_trainer_create(&c, &h, &p, NULL, &t) == HERD_OK);
    if (!t)
        return;
    int32_t ids[B * T];
    for (int i = 0; i < B * T; i++)
        ids[i] = (int32_t)((i * 37 + 5) % 64);
    CHECK(tg_forward_f32(&t->lo, &t->pc, t->w, t->acts, ids, NULL, B, 0, NULL, NULL) == HERD_OK);
    const float *want = tg_logits_f32(t->acts);
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd_train_export_%d.gguf", (int)getpid());
    CHECK(herd_trainer_export_gguf(t, &c, HERD_TYPE_F32, NULL, "Llama-test", NULL, path) ==
          HERD_OK);
    herd_llama4_config gc;
    herd_weight_source src;
    herd_model *m = NULL;
    herd_kv_cache *kv = NULL;
    CHECK(herd_gguf_source_open(path, &gc, &src) == HERD_OK);
    herd_model_opts mo;
    herd_model_opts_default(&mo);
    mo.threads = 1;
    mo.aprep = HERD_APREP_EXACT;
    mo.quiet = true;
    CHECK(herd_model_load_source(&gc, &src, &mo, &m) == HERD_OK);
    if (m)
        CHECK(herd_kv_create(m, T, &kv) == HERD_OK);
    float *got = malloc(sizeof(float) * T * 64);
    if (kv) {
        CHECK(herd_model_forward(m, kv, ids, T, got, true) == HERD_OK);
        double worst = 0;
        for (int i = 0; i < T * 64; i++)
            worst = fabs(got[i] - want[i]) > worst ? fabs(got[i] - want[i]) : worst;
        printf("exported model vs training graph: max |logit difference| %.2e\n", worst);
        CHECK(worst < 2e-3);
    }
    free(got);
    herd_kv_free(kv);
    herd_model_free(m);
    unlink(path);
    herd_trainer_free(t);
    herd_llama4_config_free(&c);
}

int main(void)
{
    RUN(overfit_every_precision);
    RUN(deterministic);
    RUN(export_matches_inference);
    return harness_finish();
}
