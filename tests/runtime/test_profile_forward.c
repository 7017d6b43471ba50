/* The profiler's probes in the real forward pass: on the synthetic tiny model (hidden 64,
 * 4 query / 2 KV heads of 16, layer 0 dense + RoPE chunk 16, layer 1 MoE + NoPE, vocabulary
 * 256) every op's calls, FLOPs and bytes match counts worked out by hand from the shapes; on
 * the synthetic small model the op times add up to the measured wall time of each phase. */
#include "harness.h"
#include "herd/model.h"
#include "herd/prof.h"
#include "herd/synthetic.h"

enum { H = 64, NQ = 4, NKV = 2, D = 16, QD = 64, KVD = 32, I = 128, IM = 256, E = 4, V = 256 };
enum { T = 10 };

/* Packed bytes of an N×K weight of `type` (the kernel layer's own layout, padding included). */
static double packed(herd_type type, int64_t n, int64_t k, bool swiglu)
{
    float *w = calloc((size_t)(n * k), sizeof(float));
    herd_packed *p = NULL;
    herd_wsrc src = {HERD_TYPE_F32, w, 0};
    herd_status st =
        swiglu ? herd_pack_swiglu(type, n, k, src, src, &p) : herd_pack(type, n, k, src, &p);
    double bytes = st ? -1 : (double)herd_packed_bytes(p);
    herd_packed_free(p);
    free(w);
    return bytes;
}

static const herd_prof_entry *get(herd_prof_phase ph, herd_prof_op op)
{
    return herd_prof_get(ph, op);
}

static herd_model *load(const char *name, herd_type type)
{
    herd_llama4_config cfg;
    herd_weight_source src;
    herd_model *m = NULL;
    if (herd_synthetic_open(name, NULL, &cfg, &src) != HERD_OK)
        return NULL;
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.dtype = type;
    o.threads = 1;
    o.quiet = true;
    if (herd_model_load_source(&cfg, &src, &o, &m) != HERD_OK)
        fprintf(stderr, "load: %s\n", herd_last_error());
    return m;
}

TEST(tiny_counts_by_hand)
{
    herd_model *m = load("tiny", HERD_TYPE_F32);
    CHECK(m != NULL);
    if (!m)
        return;
    const herd_llama4_config *c = herd_model_config(m);
    CHECK(c->hidden == H && c->n_heads == NQ && c->n_kv_heads == NKV && c->head_dim == D);
    CHECK(c->layer_rope[0] && !c->layer_rope[1] && !c->layer_moe[0] && c->layer_moe[1]);
    herd_kv_cache *kv = NULL;
    CHECK(herd_kv_create(m, 64, &kv) == HERD_OK);
    int32_t ids[T];
    for (int i = 0; i < T; i++)
        ids[i] = (i * 37 + 5) % V;
    float logits[V];

    herd_prof_reset();
    herd_prof_enable(true);
    double t = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    CHECK(herd_model_forward(m, kv, ids, T, logits, false) == HERD_OK);
    herd_prof_phase_end(t, T);
    t = herd_prof_phase_begin(HERD_PHASE_DECODE);
    CHECK(herd_model_forward(m, kv, ids, 1, logits, false) == HERD_OK);
    herd_prof_phase_end(t, 1);
    herd_prof_enable(false);

    herd_prof_phase P = HERD_PHASE_PREFILL, Dc = HERD_PHASE_DECODE;
    const herd_prof_entry *e;
    /* projections: 2 layers, M = T rows of 64 in; q, k and v fused into one GEMM of
     * 64 + 32 + 32 outputs; f32 out; o adds the residual */
    e = get(P, HERD_OP_QKV);
    CHECK_EQ_INT(e->calls, 2);
    CHECK_NEAR(e->cost.flops, 2 * 2.0 * T * (QD + 2 * KVD) * H, 0);
    CHECK_NEAR(e->cost.weight_bytes, 2 * packed(HERD_TYPE_F32, QD + 2 * KVD, H, false), 0);
    CHECK_NEAR(e->cost.act_bytes, 2 * (4.0 * T * H + 4.0 * T * (QD + 2 * KVD)), 0);
    CHECK_EQ_INT(get(P, HERD_OP_Q)->calls, 0);
    e = get(P, HERD_OP_O);
    CHECK_NEAR(e->cost.flops, 2 * 2.0 * T * H * QD, 0);
    CHECK_NEAR(e->cost.act_bytes, 2 * (4.0 * T * QD + 4.0 * T * H + 4.0 * T * H), 0);
    CHECK(e->has_wtype && e->wtype == HERD_TYPE_F32);
    /* attention: 10 queries from position 0 see 1+2+...+10 = 55 keys in both layers (the
     * chunk of 16 holds them all); K and V of 10 rows of 2 heads of 16 floats */
    e = get(P, HERD_OP_ATTN);
    CHECK_EQ_INT(e->calls, 2);
    CHECK_NEAR(e->cost.flops, 2 * 4.0 * NQ * D * 55, 0);
    CHECK_NEAR(e->cost.kv_bytes, 2 * 10.0 * NKV * D * 2 * 4, 0);
    CHECK_NEAR(e->cost.act_bytes, 2 * 8.0 * T * QD, 0);
    /* q, k, v made ready, one call a layer: RoPE (3 FLOPs an element) and QK norm (4) on
     * layer 0, the temperature scaling of q on layer 1 (counted as a weightless norm, 4);
     * reads and writes q and k (8 bytes an element), and the cache store of k and v
     * (f32: 16 bytes an element) */
    e = get(P, HERD_OP_QK_PREP);
    CHECK_EQ_INT(e->calls, 2);
    CHECK_NEAR(e->cost.flops, T * 7.0 * (NQ + NKV) * D + 4.0 * T * QD, 0);
    CHECK_NEAR(e->cost.act_bytes, T * 16.0 * (NQ + NKV) * D + 8.0 * T * QD + 2 * 16.0 * T * KVD, 0);
    /* elementwise: adding the routed experts' rows back (top-1: T rows), one call per MoE
     * layer */
    e = get(P, HERD_OP_ELEMENTWISE);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, (double)T * H, 0);
    /* norms: 2 per layer over T rows, the final one over the last row only */
    e = get(P, HERD_OP_NORM);
    CHECK_EQ_INT(e->calls, 5);
    CHECK_NEAR(e->cost.flops, 4 * 4.0 * T * H + 4.0 * H, 0);
    CHECK_NEAR(e->cost.weight_bytes, 5 * 4.0 * H, 0);
    /* FFNs: layer 0 dense (width 256), layer 1 shared + routed (width 128, top-1):
     * 2·T·2I·H (gate|up) + 2·T·H·I (down) = 6·T·I·H, however tokens are routed */
    e = get(P, HERD_OP_MLP);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 6.0 * T * IM * H, 0);
    CHECK_NEAR(e->cost.weight_bytes,
               packed(HERD_TYPE_F32, IM, H, true) + packed(HERD_TYPE_F32, H, IM, false), 0);
    CHECK_NEAR(e->cost.act_bytes,
               4.0 * T * H + 4.0 * T * IM + 4.0 * T * IM + 4.0 * T * H + 4.0 * T * H, 0);
    e = get(P, HERD_OP_SHARED);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 6.0 * T * I * H, 0);
    e = get(P, HERD_OP_EXPERT);
    CHECK(e->calls >= 1 && e->calls <= E); /* one per expert that got tokens */
    CHECK_NEAR(e->cost.flops, 6.0 * T * I * H, 0);
    CHECK_NEAR(e->cost.weight_bytes,
               (double)e->calls *
                   (packed(HERD_TYPE_F32, I, H, true) + packed(HERD_TYPE_F32, H, I, false)),
               0);
    e = get(P, HERD_OP_ROUTER); /* the router stays f32 */
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 2.0 * T * E * H, 0);
    CHECK(e->has_wtype && e->wtype == HERD_TYPE_F32);
    /* the head runs on the last row only; the embedding reads T bf16 rows */
    e = get(P, HERD_OP_LM_HEAD);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 2.0 * V * H, 0);
    CHECK_NEAR(e->cost.weight_bytes, packed(HERD_TYPE_F32, V, H, false), 0);
    e = get(P, HERD_OP_EMBED);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.weight_bytes, T * 2.0 * H, 0);

    /* decode at position 10: one query sees 11 keys in both layers */
    e = get(Dc, HERD_OP_ATTN);
    CHECK_EQ_INT(e->calls, 2);
    CHECK_NEAR(e->cost.flops, 2 * 4.0 * NQ * D * 11, 0);
    CHECK_NEAR(e->cost.kv_bytes, 2 * 11.0 * NKV * D * 2 * 4, 0);
    e = get(Dc, HERD_OP_EXPERT);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 6.0 * I * H, 0);
    CHECK_EQ_INT(get(Dc, HERD_OP_QKV)->calls, 2);
    CHECK_NEAR(get(Dc, HERD_OP_QKV)->cost.flops, 2 * 2.0 * (QD + 2 * KVD) * H, 0);
    CHECK_EQ_INT(herd_prof_phase_tokens(P), T);
    CHECK_EQ_INT(herd_prof_phase_tokens(Dc), 1);

    herd_kv_free(kv);
    herd_model_free(m);
}

/* Every op of a phase is probed: their times add up to the phase's wall time. */
TEST(op_times_add_up_to_wall_time)
{
    herd_model *m = load("small", HERD_TYPE_BF16);
    CHECK(m != NULL);
    if (!m)
        return;
    int64_t vocab = herd_model_config(m)->vocab;
    enum { PROMPT = 48, STEPS = 4 };
    herd_kv_cache *kv = NULL;
    CHECK(herd_kv_create(m, PROMPT + STEPS + 1, &kv) == HERD_OK);
    int32_t ids[PROMPT];
    for (int i = 0; i < PROMPT; i++)
        ids[i] = (int32_t)((i * 7919 + 3) % vocab);
    float *logits = malloc((size_t)vocab * sizeof *logits);
    CHECK(herd_model_forward(m, kv, ids, 1, logits, false) == HERD_OK); /* warm-up */
    herd_kv_reset(kv);

    /* Work outside every probe would show in each attempt; the scheduler preempting us
     * between probes (a shared machine) only in some: keep the best of a few attempts. */
    double best[HERD_PHASE_COUNT] = {0}, sums[HERD_PHASE_COUNT], walls[HERD_PHASE_COUNT];
    for (int attempt = 0; attempt < 5 && (best[0] < 0.95 || best[1] < 0.95); attempt++) {
        herd_kv_reset(kv);
        herd_prof_reset();
        herd_prof_enable(true);
        double t = herd_prof_phase_begin(HERD_PHASE_PREFILL);
        CHECK(herd_model_forward(m, kv, ids, PROMPT, logits, false) == HERD_OK);
        herd_prof_phase_end(t, PROMPT);
        for (int s = 0; s < STEPS; s++) {
            t = herd_prof_phase_begin(HERD_PHASE_DECODE);
            CHECK(herd_model_forward(m, kv, ids + s, 1, logits, false) == HERD_OK);
            herd_prof_phase_end(t, 1);
        }
        herd_prof_enable(false);
        for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
            double sum = 0, wall = herd_prof_phase_wall((herd_prof_phase)ph);
            for (int op = 0; op < HERD_OP_COUNT; op++)
                sum += herd_prof_get((herd_prof_phase)ph, (herd_prof_op)op)->seconds;
            CHECK(sum <= wall);
            if (sum / wall > best[ph]) {
                best[ph] = sum / wall;
                sums[ph] = sum;
                walls[ph] = wall;
            }
        }
    }
    for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
        printf("%s: ops %.3f ms of %.3f ms wall (%.1f%%)\n",
               herd_prof_phase_name((herd_prof_phase)ph), sums[ph] * 1e3, walls[ph] * 1e3,
               100 * best[ph]);
        CHECK_MSG(best[ph] >= 0.95, "%s: ops cover only %.1f%% of the wall time",
                  herd_prof_phase_name((herd_prof_phase)ph), 100 * best[ph]);
    }
    free(logits);
    herd_kv_free(kv);
    herd_model_free(m);
}

int main(void)
{
    RUN(tiny_counts_by_hand);
    RUN(op_times_add_up_to_wall_time);
    return harness_finish();
}
