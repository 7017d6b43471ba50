/* Quantization plans and policies: HF Llama 4 names and layouts map to llama.cpp's GGUF ones
 * (experts split and transposed), the file holds the same values, and the bytes do not depend
 * on the thread count. */
#include "harness.h"
#include "herd/quant.h"

#include <unistd.h>

enum { H = 64, I = 32, E = 3, V = 96, IM = 64 };

typedef struct fake {
    const char *name;
    herd_src_tensor t;
} fake;
static fake fakes[64];
static int nfakes;

static void add(const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, uint64_t *seed)
{
    fake *f = &fakes[nfakes++];
    f->name = name;
    f->t.type = HERD_TYPE_BF16;
    f->t.ndim = ndim;
    int64_t d[3] = {d0, d1, d2}, n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (f->t.shape[i] = d[i]);
    uint16_t *p = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++)
        p[i] = herd_f32_to_bf16(harness_randf(seed));
    f->t.data = (const uint8_t *)p;
}

static const herd_src_tensor *get(const char *name)
{
    for (int i = 0; i < nfakes; i++)
        if (strcmp(fakes[i].name, name) == 0)
            return &fakes[i].t;
    return NULL;
}

static bool find(void *ctx, const char *name, herd_src_tensor *out)
{
    const herd_src_tensor *t = get(name);
    if (t)
        *out = *t;
    return t != NULL;
}

static float bf(const herd_src_tensor *t, size_t i)
{
    return herd_bf16_to_f32(((const uint16_t *)t->data)[i]);
}

static void make_checkpoint(void)
{
    uint64_t seed = 5;
    add("language_model.model.embed_tokens.weight", 2, V, H, 0, &seed);
    add("language_model.model.norm.weight", 1, H, 0, 0, &seed);
    add("language_model.lm_head.weight", 2, V, H, 0, &seed);
    add("vision_model.class_embedding", 1, 16, 0, 0, &seed); /* ignored */
    /* layer 0: MoE; layer 1: dense */
    add("language_model.model.layers.0.input_layernorm.weight", 1, H, 0, 0, &seed);
    add("language_model.model.layers.0.post_attention_layernorm.weight", 1, H, 0, 0, &seed);
    add("language_model.model.layers.0.self_attn.q_proj.weight", 2, H, H, 0, &seed);
    add("language_model.model.layers.0.self_attn.k_proj.weight", 2, 32, H, 0, &seed);
    add("language_model.model.layers.0.self_attn.v_proj.weight", 2, 32, H, 0, &seed);
    add("language_model.model.layers.0.self_attn.o_proj.weight", 2, H, H, 0, &seed);
    add("language_model.model.layers.0.feed_forward.router.weight", 2, E, H, 0, &seed);
    add("language_model.model.layers.0.feed_forward.experts.gate_up_proj", 3, E, H, 2 * I, &seed);
    add("language_model.model.layers.0.feed_forward.experts.down_proj", 3, E, I, H, &seed);
    add("language_model.model.layers.0.feed_forward.shared_expert.gate_proj.weight", 2, I, H, 0,
        &seed);
    add("language_model.model.layers.0.feed_forward.shared_expert.up_proj.weight", 2, I, H, 0,
        &seed);
    add("language_model.model.layers.0.feed_forward.shared_expert.down_proj.weight", 2, H, I, 0,
        &seed);
    add("language_model.model.layers.1.input_layernorm.weight", 1, H, 0, 0, &seed);
    add("language_model.model.layers.1.post_attention_layernorm.weight", 1, H, 0, 0, &seed);
    add("language_model.model.layers.1.self_attn.q_proj.weight", 2, H, H, 0, &seed);
    add("language_model.model.layers.1.self_attn.k_proj.weight", 2, 32, H, 0, &seed);
    add("language_model.model.layers.1.self_attn.v_proj.weight", 2, 32, H, 0, &seed);
    add("language_model.model.layers.1.self_attn.o_proj.weight", 2, H, H, 0, &seed);
    add("language_model.model.layers.1.feed_forward.gate_proj.weight", 2, IM, H, 0, &seed);
    add("language_model.model.layers.1.feed_forward.up_proj.weight", 2, IM, H, 0, &seed);
    add("language_model.model.layers.1.feed_forward.down_proj.weight", 2, H, IM, 0, &seed);
}

static char path[64];

static void write_plan(herd_type t, const char *policy, int threads, const char *out)
{
    herd_quant_policy p;
    CHECK(herd_quant_policy_load(policy, &p) == HERD_OK);
    herd_qplan plan = {0};
    int64_t nl = 0;
    herd_status st = herd_llama4_plan_hf(find, NULL, "fake", &p, t, &plan, &nl);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    CHECK_EQ_INT(nl, 2);
    herd_pool *pool = NULL;
    CHECK(herd_pool_create(threads, &pool) == HERD_OK);
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    CHECK(herd_gguf_set_str(w, "general.architecture", "llama4") == HERD_OK);
    st = herd_quantize_write(&plan, w, out, pool, false);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    herd_gguf_writer_free(w);
    herd_pool_destroy(pool);
    herd_qplan_free(&plan);
}

static const herd_gguf_tensor *tensor(const herd_gguf *g, const char *name, int64_t ne0,
                                      int64_t ne1, int64_t ne2)
{
    const herd_gguf_tensor *t = herd_gguf_find_tensor(g, name);
    CHECK_MSG(t != NULL, "missing %s", name);
    if (t)
        CHECK_MSG(t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == ne2, "%s: %lld x %lld x %lld",
                  name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2]);
    return t;
}

TEST(hf_names_and_layouts)
{
    write_plan(HERD_TYPE_F32, "uniform", 2, path);
    herd_gguf g;
    CHECK(herd_gguf_open(path, &g) == HERD_OK);
    CHECK_EQ_INT(g.n_tensors, 3 + 13 + 9);
    const herd_gguf_tensor *t = tensor(&g, "token_embd.weight", H, V, 1);
    const herd_src_tensor *s = get("language_model.model.embed_tokens.weight");
    CHECK(t && t->type == HERD_TYPE_F32 && ((const float *)t->data)[H * 5 + 7] == bf(s, H * 5 + 7));
    tensor(&g, "output.weight", H, V, 1);
    tensor(&g, "output_norm.weight", H, 1, 1);
    tensor(&g, "blk.0.attn_k.weight", H, 32, 1);
    tensor(&g, "blk.0.ffn_gate_inp.weight", H, E, 1);
    tensor(&g, "blk.0.ffn_gate_shexp.weight", H, I, 1);
    tensor(&g, "blk.0.ffn_down_shexp.weight", I, H, 1);
    tensor(&g, "blk.1.ffn_gate.weight", H, IM, 1);
    tensor(&g, "blk.1.ffn_down.weight", IM, H, 1);
    CHECK(herd_gguf_find_tensor(&g, "blk.1.ffn_gate_exps.weight") == NULL);
    /* experts: transposed per expert; gate = first I columns of gate_up, up = the rest */
    const herd_gguf_tensor *gate = tensor(&g, "blk.0.ffn_gate_exps.weight", H, I, E);
    const herd_gguf_tensor *up = tensor(&g, "blk.0.ffn_up_exps.weight", H, I, E);
    const herd_gguf_tensor *down = tensor(&g, "blk.0.ffn_down_exps.weight", I, H, E);
    const herd_src_tensor *gu =
        get("language_model.model.layers.0.feed_forward.experts.gate_up_proj");
    const herd_src_tensor *dn = get("language_model.model.layers.0.feed_forward.experts.down_proj");
    int bad = 0;
    for (int e = 0; gate && up && e < E; e++)
        for (int r = 0; r < I; r++)
            for (int k = 0; k < H; k++) {
                const float *gr = (const float *)gate->data + ((size_t)e * I + r) * H;
                const float *ur = (const float *)up->data + ((size_t)e * I + r) * H;
                bad += gr[k] != bf(gu, ((size_t)e * H + k) * 2 * I + r);
                bad += ur[k] != bf(gu, ((size_t)e * H + k) * 2 * I + I + r);
            }
    for (int e = 0; down && e < E; e++)
        for (int r = 0; r < H; r++)
            for (int k = 0; k < I; k++)
                bad += ((const float *)down->data)[((size_t)e * H + r) * I + k] !=
                       bf(dn, ((size_t)e * I + k) * H + r);
    CHECK_EQ_INT(bad, 0);
    /* classes of every name */
    for (size_t i = 0; i < g.n_tensors; i++)
        CHECK_MSG(herd_llama4_gguf_class(g.tensors[i].name) != HERD_QC_COUNT, "%s",
                  g.tensors[i].name);
    herd_gguf_close(&g);
}

TEST(policy_types_and_threads)
{
    /* the "experts" policy: experts in --type, the rest bf16, norms and router f32 */
    char other[80];
    snprintf(other, sizeof other, "%s.b", path);
    write_plan(HERD_TYPE_F16, "experts", 1, path);
    write_plan(HERD_TYPE_F16, "experts", 3, other);
    herd_gguf g;
    CHECK(herd_gguf_open(path, &g) == HERD_OK);
    for (size_t i = 0; i < g.n_tensors; i++) {
        herd_qclass c = herd_llama4_gguf_class(g.tensors[i].name);
        herd_type want = c == HERD_QC_EXPERTS                       ? HERD_TYPE_F16
                         : c == HERD_QC_NORM || c == HERD_QC_ROUTER ? HERD_TYPE_F32
                                                                    : HERD_TYPE_BF16;
        CHECK_MSG(g.tensors[i].type == want, "%s is %s", g.tensors[i].name,
                  herd_type_name(g.tensors[i].type));
    }
    herd_gguf_close(&g);
    /* the bytes do not depend on the thread count (a K-quant too: its search is the slow part) */
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            write_plan(HERD_TYPE_Q4_K, "uniform", 1, path);
            write_plan(HERD_TYPE_Q4_K, "uniform", 3, other);
        }
        size_t na, nb;
        void *a = harness_read_file(path, &na), *b = harness_read_file(other, &nb);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        free(a);
        free(b);
    }
    unlink(other);
}

TEST(policies)
{
    herd_quant_policy p;
    for (const char *const *n = herd_quant_policy_names(); *n; n++) {
        CHECK(herd_quant_policy_load(*n, &p) == HERD_OK);
        CHECK(herd_quant_policy_describe(*n) != NULL);
        CHECK(herd_quant_policy_type(&p, HERD_QC_NORM, HERD_TYPE_Q8_0, 64) == HERD_TYPE_F32);
    }
    CHECK(herd_quant_policy_load("mx-moe", &p) == HERD_OK);
    CHECK(herd_quant_policy_type(&p, HERD_QC_EXPERTS, HERD_TYPE_F32, 64) == HERD_TYPE_MXFP4);
    CHECK(herd_quant_policy_type(&p, HERD_QC_OUTPUT, HERD_TYPE_F32, 64) == HERD_TYPE_Q8_0);
    CHECK(herd_quant_policy_type(&p, HERD_QC_EXPERTS, HERD_TYPE_F32, 48) == HERD_TYPE_BF16);
    char file[80];
    snprintf(file, sizeof file, "%s.policy", path);
    FILE *f = fopen(file, "w");
    fprintf(f, "# test\nexperts = mxfp6_e2m3\n  default=mxint8  \nrouter = q8_0\n");
    fclose(f);
    CHECK(herd_quant_policy_load(file, &p) == HERD_OK);
    CHECK(herd_quant_policy_type(&p, HERD_QC_EXPERTS, HERD_TYPE_F32, 64) == HERD_TYPE_MXFP6_E2M3);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ATTN, HERD_TYPE_F32, 64) == HERD_TYPE_MXINT8);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ROUTER, HERD_TYPE_F32, 64) == HERD_TYPE_Q8_0);
    f = fopen(file, "w");
    fprintf(f, "experts = mxfp5\n");
    fclose(f);
    CHECK(herd_quant_policy_load(file, &p) == HERD_ERR_FORMAT);
    CHECK(strstr(herd_last_error(), ":1: unknown type 'mxfp5'") != NULL);
    f = fopen(file, "w");
    fprintf(f, "norms = q8_0\n");
    fclose(f);
    CHECK(herd_quant_policy_load(file, &p) == HERD_ERR_FORMAT);
    unlink(file);
    CHECK(herd_quant_policy_load("no-such-policy", &p) == HERD_ERR_ARG);
}

/* K-quants on rows that are not whole super-blocks, and llama.cpp's recipes. */
TEST(kquant_recipes)
{
    herd_quant_policy p;
    CHECK(herd_quant_policy_load("uniform", &p) == HERD_OK);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ATTN, HERD_TYPE_Q4_K, 512) == HERD_TYPE_Q4_K);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ATTN, HERD_TYPE_Q4_K, 96) == HERD_TYPE_IQ4_NL);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ATTN, HERD_TYPE_Q6_K, 96) == HERD_TYPE_Q8_0);
    CHECK(herd_quant_policy_type(&p, HERD_QC_ATTN, HERD_TYPE_Q4_K, 48) == HERD_TYPE_BF16);
    int r = herd_quant_recipe_parse("Q4_K_M");
    CHECK(r >= 0 && herd_quant_recipe_parse("q4_k") == r && herd_quant_recipe_ftype(r) == 15);
    CHECK(herd_quant_recipe_parse("q4_0") < 0 && herd_quant_recipe_parse("q7_k_m") < 0);
    CHECK(herd_quant_recipe_base(r) == HERD_TYPE_Q4_K);
    const herd_type q4 = HERD_TYPE_Q4_K;
    const herd_recipe_model m4 = {.n_layers = 4, .n_gqa = 2, .n_experts = 4};
    /* 4 layers: the "more bits" layers are 2 and 3 */
    CHECK(herd_quant_recipe_type(r, "blk.0.attn_v.weight", &m4, q4, 256) == q4);
    CHECK(herd_quant_recipe_type(r, "blk.2.attn_v.weight", &m4, q4, 256) == HERD_TYPE_Q6_K);
    CHECK(herd_quant_recipe_type(r, "blk.3.ffn_down_exps.weight", &m4, q4, 512) == HERD_TYPE_Q6_K);
    CHECK(herd_quant_recipe_type(r, "blk.3.ffn_up_exps.weight", &m4, q4, 256) == q4);
    CHECK(herd_quant_recipe_type(r, "output.weight", &m4, q4, 256) == HERD_TYPE_Q6_K);
    CHECK(herd_quant_recipe_type(r, "output.weight", &m4, HERD_TYPE_IQ4_NL, 96) == HERD_TYPE_Q8_0);
    CHECK(herd_quant_recipe_type(r, "blk.0.ffn_gate_inp.weight", &m4, HERD_TYPE_F32, 256) ==
          HERD_TYPE_F32);
    int r3 = herd_quant_recipe_parse("q3_k_m");
    CHECK(herd_quant_recipe_type(r3, "blk.1.attn_v.weight", &m4, HERD_TYPE_Q3_K, 256) ==
          HERD_TYPE_Q5_K);
    CHECK(herd_quant_recipe_type(r3, "blk.1.attn_output.weight", &m4, HERD_TYPE_Q3_K, 256) ==
          HERD_TYPE_Q4_K);
}

/* A layer's type in a mixture string: one code for every layer, or one per layer. */
static herd_type mix_code(const char *s, int layer)
{
    char c = s[1] ? s[layer] : s[0];
    switch (c) {
    case '2': return HERD_TYPE_Q2_K;
    case '3': return HERD_TYPE_Q3_K;
    case '4': return HERD_TYPE_Q4_K;
    case '5': return HERD_TYPE_Q5_K;
    case '6': return HERD_TYPE_Q6_K;
    case '8': return HERD_TYPE_Q8_0;
    case 'n': return HERD_TYPE_IQ4_NL;
    default: return HERD_TYPE_IQ4_XS;
    }
}

/* Every recipe's mixture, tensor by tensor, as llama-quantize (v0.4.0) wrote it for two random
 * 16-layer Llama 4 models (docs/GGUF.md): heads per KV head 4 with 4 experts, and 2 with 8
 * experts (llama.cpp's rules for 8-expert models). Per layer: attn_k, attn_v, attn_output and
 * ffn_down (routed and shared alike); attn_q, gate and up keep the base type, the head is Q6_K. */
TEST(kquant_recipes_as_llamacpp)
{
    static const herd_recipe_model g4 = {.n_layers = 16, .n_gqa = 4, .n_experts = 4};
    static const herd_recipe_model e8 = {.n_layers = 16, .n_gqa = 2, .n_experts = 8};
    static const struct {
        const herd_recipe_model *m;
        const char *recipe, *k, *v, *o, *down;
    } mixes[] = {
        {&g4, "q2_k", "2", "4", "3", "3"},
        {&g4, "q3_k_s", "3", "3", "3", "3"},
        {&g4, "q3_k_m", "3", "5544444444444444", "4", "5444444444444444"},
        {&g4, "q3_k_l", "3", "5", "5", "5"},
        {&g4, "q4_k_s", "4", "5555444444444444", "4", "5544444444444444"},
        {&g4, "q4_k_m", "4", "6644644644644666", "4", "6644644644644666"},
        {&g4, "q5_k_s", "5", "5", "5", "5"},
        {&g4, "q5_k_m", "5", "6655655655655666", "5", "6655655655655666"},
        {&g4, "q6_k", "6", "6", "6", "6"},
        {&g4, "iq4_nl", "n", "5", "n", "55nnnnnnnnnnnnnn"},
        {&g4, "iq4_xs", "x", "5", "x", "55xxxxxxxxxxxxxx"},
        {&e8, "q2_k", "8", "8", "5", "3"},
        {&e8, "q3_k_s", "8", "8", "5", "3"},
        {&e8, "q3_k_m", "8", "8", "5", "5444444444444444"},
        {&e8, "q3_k_l", "8", "8", "3", "5"},
        {&e8, "q4_k_s", "8", "8", "5", "5544444444444444"},
        {&e8, "q4_k_m", "8", "8", "5", "6644644644644666"},
        {&e8, "q5_k_s", "8", "8", "5", "5"},
        {&e8, "q5_k_m", "8", "8", "5", "6655655655655666"},
        {&e8, "q6_k", "8", "8", "6", "6"},
        {&e8, "iq4_nl", "8", "8", "5", "55nnnnnnnnnnnnnn"},
        {&e8, "iq4_xs", "8", "8", "5", "55xxxxxxxxxxxxxx"},
    };
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        int r = herd_quant_recipe_parse(mixes[i].recipe);
        CHECK(r >= 0);
        herd_type base = herd_quant_recipe_base(r);
        CHECK(herd_quant_recipe_type(r, "output.weight", mixes[i].m, base, 256) == HERD_TYPE_Q6_K);
        CHECK(herd_quant_recipe_type(r, "token_embd.weight", mixes[i].m, base, 256) == base);
        for (int l = 0; l < 16; l++) {
            char name[64];
#define MIX_IS(tensor, want)                                                                       \
    do {                                                                                           \
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, tensor);                                \
        herd_type got = herd_quant_recipe_type(r, name, mixes[i].m, base, 256);                    \
        if (got != (want))                                                                         \
            fprintf(stderr, "%s %s: %s, llama-quantize %s\n", mixes[i].recipe, name,               \
                    herd_type_name(got), herd_type_name(want));                                    \
        CHECK(got == (want));                                                                      \
    } while (0)
            MIX_IS("attn_q", base);
            MIX_IS("ffn_gate_exps", base);
            MIX_IS("ffn_up_shexp", base);
            MIX_IS("attn_k", mix_code(mixes[i].k, l));
            MIX_IS("attn_v", mix_code(mixes[i].v, l));
            MIX_IS("attn_output", mix_code(mixes[i].o, l));
            MIX_IS("ffn_down_exps", mix_code(mixes[i].down, l));
            MIX_IS("ffn_down_shexp", mix_code(mixes[i].down, l));
#undef MIX_IS
        }
    }
}

TEST(no_model)
{
    herd_quant_policy p;
    herd_quant_policy_load("uniform", &p);
    herd_qplan plan = {0};
    int64_t nl;
    int saved = nfakes;
    nfakes = 0;
    CHECK(herd_llama4_plan_hf(find, NULL, "empty", &p, HERD_TYPE_F32, &plan, &nl) ==
          HERD_ERR_FORMAT);
    CHECK(strstr(herd_last_error(), "empty: no Llama 4 text model") != NULL);
    nfakes = saved;
    herd_qplan_free(&plan);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/herd_test_quant_%ld.gguf", (long)getpid());
    make_checkpoint();
    RUN(hf_names_and_layouts);
    RUN(policy_types_and_threads);
    RUN(policies);
    RUN(kquant_recipes);
    RUN(kquant_recipes_as_llamacpp);
    RUN(no_model);
    for (int i = 0; i < nfakes; i++)
        free((void *)fakes[i].t.data);
    unlink(path);
    return harness_finish();
}
