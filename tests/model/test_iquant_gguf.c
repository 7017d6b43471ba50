/* A llama4 GGUF whose matrices are the ggml types herd computes with but has no llama-quantize
 * file of: the grid i-quants (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M) and Q8_K
 * (which llama-quantize never writes), one type per tensor in turn, the router f32 as
 * llama-quantize leaves it) loads, keeps each tensor in its own type (the memory plan names them)
 * and runs: with exact activations its logits match those of the same file with every tensor
 * dequantized to f32 (ggml's values, so both models are the same function; only the summation order
 * differs), and with the fast int8 activations they stay close (same bound as int8 activations
 * anywhere). The blocks are random bytes with finite fp16 (Q8_K: f32) scales, written by this test
 * through herd's GGUF writer.
 */
#include "formats/iqblocks.h"
#include "harness.h"
#include "herd/model_gguf.h"

#include <math.h>
#include <unistd.h>

static const char *CONFIG =
    "{\"architectures\": [\"Llama4ForCausalLM\"], \"vocab_size\": 96, \"hidden_size\": 256,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"head_dim\": 64, \"intermediate_size\": 256, \"intermediate_size_mlp\": 256,"
    " \"num_local_experts\": 2, \"num_experts_per_tok\": 1, \"interleave_moe_layer_step\": 1,"
    " \"no_rope_layers\": [1, 0], \"attention_chunk_size\": 4, \"attn_temperature_tuning\": 1,"
    " \"floor_scale\": 3, \"attn_scale\": 0.2, \"use_qk_norm\": true,"
    " \"max_position_embeddings\": 2048, \"rope_theta\": 1000.0}";

static const herd_type iq_types[] = {HERD_TYPE_IQ3_S,  HERD_TYPE_IQ3_XXS, HERD_TYPE_IQ2_XXS,
                                     HERD_TYPE_IQ2_XS, HERD_TYPE_IQ2_S,   HERD_TYPE_IQ1_S,
                                     HERD_TYPE_IQ1_M,  HERD_TYPE_Q8_K};
enum { NIQ = sizeof iq_types / sizeof iq_types[0], H = 256, V = 96, NT = 7 };
static uint64_t rng = 0x4747554649ull;

/* Random blocks of type t with an fp16 scale giving values of about ±0.06. */
static void random_blocks(herd_type t, uint8_t *dst, size_t nblocks)
{
    if (t == HERD_TYPE_Q8_K) { /* f32 d, int8 q[256], bsums: d·|q| ≈ 0.06 with |q| ≈ 64 */
        for (size_t i = 0; i < nblocks * 292; i++)
            dst[i] = (uint8_t)harness_rand(&rng);
        for (size_t b = 0; b < nblocks; b++) {
            float d = 0.0009f * (1.0f + 0.1f * harness_randf(&rng));
            memcpy(dst + b * 292, &d, 4);
        }
        return;
    }
    const iq_info *I = iq_info_get(t);
    for (size_t i = 0; i < nblocks * (size_t)I->bytes; i++)
        dst[i] = (uint8_t)harness_rand(&rng);
    /* d' · sc · |q| ≈ 0.06 with sc ≈ 16 and |q| ≈ 25 (IQ2), 30 (IQ3_XXS), 8 (IQ3_S), 6 (IQ1) */
    float d = t == HERD_TYPE_IQ3_S ? 0.0005f : t == HERD_TYPE_IQ3_XXS ? 0.0005f : 0.0012f;
    if (I->iq1)
        d = 0.005f;
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t *x = dst + b * (size_t)I->bytes;
        uint16_t h = herd_f32_to_f16(d * (harness_rand(&rng) & 1 ? -1.0f : 1.0f));
        if (t == HERD_TYPE_IQ1_M)
            for (int i = 0; i < 4; i++)
                x[48 + 2 * i + 1] =
                    (uint8_t)((x[48 + 2 * i + 1] & 15) | ((h >> (4 * i)) & 15) << 4);
        else
            x[0] = (uint8_t)h, x[1] = (uint8_t)(h >> 8);
    }
}

typedef struct tensor {
    char name[64];
    int nd;
    int64_t ne[3];
    herd_type type; /* in the i-quant file */
    uint8_t *data;  /* its bytes */
} tensor;
static tensor ts[64];
static int nts;

static void add(const char *name, herd_type t, int nd, int64_t ne0, int64_t ne1, int64_t ne2)
{
    tensor *x = &ts[nts++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->nd = nd;
    x->ne[0] = ne0, x->ne[1] = ne1, x->ne[2] = ne2;
    x->type = t;
    size_t rows = (size_t)ne1 * (size_t)ne2, rb = herd_type_row_bytes(t, (size_t)ne0);
    x->data = malloc(rows * rb);
    if (t == HERD_TYPE_F32) {
        float *f = (float *)x->data;
        for (size_t i = 0; i < rows * (size_t)ne0; i++)
            f[i] = nd == 1 ? 1.0f + 0.1f * harness_randf(&rng) : 0.1f * harness_randf(&rng);
    } else {
        random_blocks(t, x->data, rows * (size_t)ne0 / 256);
    }
}

static void make_tensors(void)
{
    int k = 0;
#define NEXT() iq_types[k++ % NIQ]
    add("token_embd.weight", NEXT(), 2, H, V, 1);
    add("output_norm.weight", HERD_TYPE_F32, 1, H, 1, 1);
    add("output.weight", NEXT(), 2, H, V, 1);
    for (int l = 0; l < 2; l++) {
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        add(NAME("attn_norm.weight"), HERD_TYPE_F32, 1, H, 1, 1);
        add(NAME("ffn_norm.weight"), HERD_TYPE_F32, 1, H, 1, 1);
        add(NAME("attn_q.weight"), NEXT(), 2, H, 256, 1);
        add(NAME("attn_k.weight"), NEXT(), 2, H, 128, 1);
        add(NAME("attn_v.weight"), NEXT(), 2, H, 128, 1);
        add(NAME("attn_output.weight"), NEXT(), 2, 256, H, 1);
        add(NAME("ffn_gate_inp.weight"), HERD_TYPE_F32, 2, H, 2, 1);
        /* gate and up share a type, as in llama-quantize's mixtures (the SwiGLU pair packs as
         * one matrix) */
        herd_type gu = NEXT();
        add(NAME("ffn_gate_exps.weight"), gu, 3, H, 256, 2);
        add(NAME("ffn_up_exps.weight"), gu, 3, H, 256, 2);
        add(NAME("ffn_down_exps.weight"), NEXT(), 3, 256, H, 2);
        gu = NEXT();
        add(NAME("ffn_gate_shexp.weight"), gu, 2, H, 256, 1);
        add(NAME("ffn_up_shexp.weight"), gu, 2, H, 256, 1);
        add(NAME("ffn_down_shexp.weight"), NEXT(), 2, 256, H, 1);
    }
}

/* Writes the model; as_f32: every i-quant tensor as its ggml floats. */
static void write_gguf(const char *path, const herd_llama4_config *c, bool as_f32)
{
    herd_gguf_writer *w = NULL;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    CHECK(herd_llama4_gguf_set_meta(w, c, false) == HERD_OK);
    for (int i = 0; i < nts; i++)
        CHECK(herd_gguf_add_tensor(w, ts[i].name, as_f32 ? HERD_TYPE_F32 : ts[i].type, ts[i].nd,
                                   ts[i].ne) == HERD_OK);
    CHECK_MSG(herd_gguf_writer_begin(w, path) == HERD_OK, "%s", herd_last_error());
    for (int i = 0; i < nts; i++) {
        size_t n = (size_t)(ts[i].ne[0] * ts[i].ne[1] * ts[i].ne[2]);
        if (as_f32 && ts[i].type != HERD_TYPE_F32) {
            float *f = malloc(n * 4);
            CHECK(herd_row_to_f32(ts[i].type, ts[i].data, f, n) == HERD_OK);
            CHECK(herd_gguf_writer_write(w, f, n * 4) == HERD_OK);
            free(f);
        } else {
            CHECK(herd_gguf_writer_write(w, ts[i].data, herd_type_row_bytes(ts[i].type, n)) ==
                  HERD_OK);
        }
    }
    CHECK_MSG(herd_gguf_writer_commit(w) == HERD_OK, "%s", herd_last_error());
    herd_gguf_writer_free(w);
}

static herd_model *load(const char *path, herd_aprep aprep)
{
    herd_llama4_config c;
    herd_weight_source src;
    herd_model *m = NULL;
    herd_status st = herd_gguf_source_open(path, &c, &src);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    if (st)
        return NULL;
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.threads = 1;
    o.quiet = true;
    o.aprep = aprep;
    st = herd_model_load_source(&c, &src, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    return m;
}

static void logits(herd_model *m, float *out)
{
    static const int32_t ids[NT] = {1, 17, 42, 5, 88, 63, 30};
    herd_kv_cache *kv = NULL;
    CHECK(herd_kv_create(m, 64, &kv) == HERD_OK);
    CHECK_MSG(herd_model_forward(m, kv, ids, NT, out, true) == HERD_OK, "%s", herd_last_error());
    herd_kv_free(kv);
}

static double rel_rms(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0, mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += b[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (b[i] - mean) * (b[i] - mean);
    }
    return sqrt(d / (s + 1e-300));
}

TEST(iquant_gguf_runs)
{
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(CONFIG, strlen(CONFIG), "config", &c) == HERD_OK);
    make_tensors();
    char iq[128], f32[128];
    snprintf(iq, sizeof iq, "/tmp/herd_test_iq_%ld.gguf", (long)getpid());
    snprintf(f32, sizeof f32, "/tmp/herd_test_iqf_%ld.gguf", (long)getpid());
    write_gguf(iq, &c, false);
    write_gguf(f32, &c, true);
    herd_llama4_config_free(&c);

    static float want[NT * V], got[NT * V], fast[NT * V];
    herd_model *mf = load(f32, HERD_APREP_EXACT), *mi = load(iq, HERD_APREP_EXACT),
               *ma = load(iq, HERD_APREP_AUTO);
    if (mf && mi && ma) {
        char types[512];
        herd_model_types(mi, types, sizeof types);
        for (int i = 0; i < NIQ; i++)
            CHECK_MSG(strstr(types, herd_type_name(iq_types[i])) != NULL, "%s not in '%s'",
                      herd_type_name(iq_types[i]), types);
        CHECK_MSG(strstr(types, "router f32") != NULL, "'%s'", types);
        logits(mf, want);
        logits(mi, got);
        logits(ma, fast);
        bool finite = true;
        for (int i = 0; i < NT * V; i++)
            finite &= isfinite(got[i]) && isfinite(fast[i]);
        CHECK(finite);
        double e = rel_rms(got, want, NT * V), ea = rel_rms(fast, want, NT * V);
        printf("memory plan: %s\nexact: relative RMS %.2e; int8 activations: %.2e\n", types, e, ea);
        CHECK_MSG(e < 1e-4, "exact activations: relative RMS %g", e);
        /* measured 0.067: int8 activations per 256 values through two random layers */
        CHECK_MSG(ea < 0.15, "int8 activations: relative RMS %g", ea);
    }
    herd_model_free(mf), herd_model_free(mi), herd_model_free(ma);
    unlink(iq), unlink(f32);
    for (int i = 0; i < nts; i++)
        free(ts[i].data);
}

int main(void)
{
    RUN(iquant_gguf_runs);
    return harness_finish();
}
