/* Quantized tiny Llama 4 models against their checkpoints: HF dir -> GGUF (bf16, f32) gives the
 * same logits exactly; each quantized type stays within its KL-divergence bound of the BF16
 * model, and the types rank as in the MX paper (more bits, lower KL). The measured figures are
 * printed (and recorded in docs/GGUF.md). */
#include "harness.h"
#include "herd/model.h"
#include "herd/model_gguf.h"
#include "herd/quant.h"

#include <unistd.h>

enum { NTOK = 64, NSEQ = 4, NPOS = NTOK * NSEQ };
static char path[64];
static int32_t ids[NSEQ][NTOK];

static float *run(const char *model, int64_t *V)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.threads = 2;
    o.quiet = true;
    herd_model *m = NULL;
    herd_status st = herd_model_load(model, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s: %s", model, herd_last_error());
    if (st)
        return NULL;
    *V = herd_model_config(m)->vocab;
    herd_kv_cache *kv = NULL;
    float *lg = malloc((size_t)NPOS * (size_t)*V * sizeof *lg);
    st = herd_kv_create(m, NTOK, &kv);
    for (int q = 0; q < NSEQ && !st; q++) {
        herd_kv_reset(kv);
        st = herd_model_forward(m, kv, ids[q], NTOK, lg + (size_t)q * NTOK * (size_t)*V, true);
    }
    CHECK_MSG(st == HERD_OK, "%s: %s", model, herd_last_error());
    herd_kv_free(kv);
    herd_model_free(m);
    return lg;
}

static herd_status quantize(const char *dir, herd_type t, const char *policy)
{
    herd_quantize_opts o = {.type = t};
    herd_quant_policy_load(policy, &o.policy);
    herd_quantize_report r;
    return herd_quantize_model(dir, path, &o, &r);
}

/* Mean KL(base || q) over positions (nats) and the share of positions with the same argmax. */
static void compare(const float *base, const float *q, int64_t V, double *kl, double *top1)
{
    *kl = 0;
    *top1 = 0;
    for (int t = 0; t < NPOS; t++) {
        const float *a = base + (size_t)t * (size_t)V, *b = q + (size_t)t * (size_t)V;
        double ma = a[0], mb = b[0], za = 0, zb = 0, k = 0;
        int64_t ia = 0, ib = 0;
        for (int64_t i = 1; i < V; i++) {
            if (a[i] > ma)
                ma = a[i], ia = i;
            if (b[i] > mb)
                mb = b[i], ib = i;
        }
        for (int64_t i = 0; i < V; i++) {
            za += exp(a[i] - ma);
            zb += exp(b[i] - mb);
        }
        for (int64_t i = 0; i < V; i++) {
            double la = a[i] - ma - log(za), lb = b[i] - mb - log(zb);
            k += exp(la) * (la - lb);
        }
        *kl += k / NPOS;
        *top1 += (ia == ib) / (double)NPOS;
    }
}

TEST(exact_round_trip)
{
    const char *cases[] = {"llama4/tiny-scout", "llama4/tiny-maverick"};
    for (int c = 0; c < 2; c++) {
        int64_t V = 0, V2 = 0;
        float *base = run(cases[c], &V);
        for (int k = 0; k < 2 && base; k++) {
            herd_status st = quantize(cases[c], k ? HERD_TYPE_F32 : HERD_TYPE_BF16, "uniform");
            CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
            float *g = run(path, &V2);
            CHECK(g && V2 == V && memcmp(base, g, (size_t)NPOS * (size_t)V * sizeof *g) == 0);
            free(g);
        }
        free(base);
    }
}

typedef struct bound {
    herd_type t;
    double max_kl, min_top1;
} bound;

TEST(kl_bounds)
{
    /* Direct cast of every matrix (router and norms f32), activations exact. Bounds are about
     * twice the values measured on both tiny cases (docs/GGUF.md lists them). */
    static const bound bounds[] = {
        {HERD_TYPE_MXINT8, 0.025, 0.85},   {HERD_TYPE_Q8_0, 0.025, 0.85},
        {HERD_TYPE_INT8, 0.03, 0.85},      {HERD_TYPE_MXFP8_E4M3, 0.1, 0.7},
        {HERD_TYPE_MXFP6_E2M3, 0.1, 0.7},  {HERD_TYPE_MXFP8_E5M2, 0.25, 0.6},
        {HERD_TYPE_MXFP6_E3M2, 0.25, 0.6}, {HERD_TYPE_Q4_0, 0.45, 0.4},
        {HERD_TYPE_MXFP4, 0.6, 0.35},
    };
    enum { NB = sizeof bounds / sizeof bounds[0] };
    const char *cases[] = {"llama4/tiny-scout", "llama4/tiny-maverick"};
    for (int c = 0; c < 2; c++) {
        double kl[NB];
        int64_t V = 0, V2 = 0;
        float *base = run(cases[c], &V);
        for (int i = 0; base && i < NB; i++) {
            herd_status st = quantize(cases[c], bounds[i].t, "uniform");
            CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
            float *q = run(path, &V2);
            double top1 = 0;
            kl[i] = 1e9;
            if (q)
                compare(base, q, V, &kl[i], &top1);
            printf("  %-20s %-11s KL %.4f  top-1 %.3f\n", cases[c], herd_type_name(bounds[i].t),
                   kl[i], top1);
            CHECK_MSG(kl[i] <= bounds[i].max_kl && top1 >= bounds[i].min_top1,
                      "%s %s: KL %.3g (max %.3g), top-1 %.3f (min %.3f)", cases[c],
                      herd_type_name(bounds[i].t), kl[i], bounds[i].max_kl, top1,
                      bounds[i].min_top1);
            free(q);
        }
        /* the MX paper's order: MXINT8 < MXFP8 E4M3, MXFP6 E2M3 (3 mantissa bits) < MXFP8 E5M2,
         * MXFP6 E3M2 (2 bits) < MXFP4 (1 bit) */
        if (base)
            CHECK(kl[0] < kl[3] && kl[0] < kl[4] && kl[3] < kl[5] && kl[4] < kl[6] &&
                  kl[5] < kl[8] && kl[6] < kl[8]);
        free(base);
    }
}

TEST(mixed_policy)
{
    int64_t V = 0, V2 = 0;
    float *base = run("llama4/tiny-maverick", &V);
    herd_status st = quantize("llama4/tiny-maverick", HERD_TYPE_COUNT, "mx-moe");
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    herd_gguf g;
    CHECK(herd_gguf_open(path, &g) == HERD_OK);
    const herd_gguf_tensor *t = herd_gguf_find_tensor(&g, "blk.1.ffn_gate_exps.weight");
    CHECK(t && t->type == HERD_TYPE_MXFP4);
    t = herd_gguf_find_tensor(&g, "blk.1.ffn_down_exps.weight"); /* rows of 48: not /32 */
    CHECK(t && t->type == HERD_TYPE_BF16);
    t = herd_gguf_find_tensor(&g, "blk.1.attn_q.weight");
    CHECK(t && t->type == HERD_TYPE_MXFP8_E4M3);
    herd_gguf_close(&g);
    float *q = run(path, &V2);
    double kl = 1e9, top1 = 0;
    if (base && q)
        compare(base, q, V, &kl, &top1);
    printf("  tiny-maverick mx-moe  KL %.3g  top-1 %.3f\n", kl, top1);
    CHECK(kl < 0.1);
    free(base);
    free(q);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/herd_test_quant_model_%ld.gguf", (long)getpid());
    uint64_t seed = 11;
    for (int q = 0; q < NSEQ; q++)
        for (int i = 0; i < NTOK; i++)
            ids[q][i] = (int32_t)(harness_rand(&seed) % 512);
    RUN(exact_round_trip);
    RUN(kl_bounds);
    RUN(mixed_policy);
    unlink(path);
    return harness_finish();
}
