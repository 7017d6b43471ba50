/* The training graph's gradients against central finite differences of its double twin:
 * every op alone (RMSNorm, QK norm, RoPE, SwiGLU, cross-entropy, attention chunked and
 * causal), then the whole Llama 4 model (embedding, RoPE + chunked and NoPE + temperature
 * layers, QK norm, dense MLP, router top-k with load balancing, routed + shared experts,
 * head). The float graph must agree with the double one. */
#include "harness.h"
#include "herd/train.h"
#include "train/train_internal.h"

static uint64_t rng = 12345;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53 * 2 - 1;
}

/* A tiny Llama 4: 3 layers (0 dense RoPE, 1 MoE RoPE, 2 MoE NoPE), chunk 3 < context 7. */
static const char cfg_text[] =
    "{\"architectures\": [\"Llama4ForCausalLM\"], \"hidden_size\": 8, \"num_hidden_layers\": 3,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 4,"
    " \"intermediate_size\": 6, \"intermediate_size_mlp\": 10, \"num_local_experts\": 3,"
    " \"num_experts_per_tok\": 2, \"vocab_size\": 11, \"no_rope_layers\": [1, 1, 0],"
    " \"moe_layers\": [1, 2], \"attention_chunk_size\": 3, \"use_qk_norm\": true,"
    " \"attn_temperature_tuning\": true, \"floor_scale\": 2, \"attn_scale\": 0.5,"
    " \"rope_theta\": 100.0, \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false}";

/* L(params) of the double graph for ids/targets. */
static double loss_at(const tl_layout *lo, double *W, tg_acts_f64 *a, const int32_t *ids,
                      const int32_t *tg, int64_t B, double aux)
{
    double loss = 0;
    herd_status st = tg_forward_f64(lo, NULL, W, a, ids, tg, B, aux, &loss, NULL);
    CHECK(st == HERD_OK);
    return loss;
}

/* ---- single ops: L = Σ c·op(x) for a random c; backward with dy = c against central
 * differences of L in double ---- */
enum { MAXN = 4096 };
static double xs[MAXN], ws[MAXN], cs[MAXN], ys[MAXN], gx[MAXN], gw[MAXN], tmp[MAXN];

static void fill(double *a, size_t n, double base, double amp)
{
    for (size_t i = 0; i < n; i++)
        a[i] = base + amp * urand();
}

static double dotc(const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += cs[i] * y[i];
    return s;
}

/* compares g[0..n) with finite differences of f over v[0..n) */
static void fd_check(const char *what, double *v, const double *g, size_t n, double (*f)(void))
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = v[i], h = 1e-6;
        v[i] = keep + h;
        double lp = f();
        v[i] = keep - h;
        double lm = f();
        v[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - g[i]) / (fabs(fd) + fabs(g[i]) + 1e-7);
        worst = err > worst ? err : worst;
    }
    CHECK_MSG(worst < 1e-5, "%s: worst relative gradient error %.3g", what, worst);
}

static const int64_t RN = 5, RH = 12;
static double f_rms(void)
{
    double r[8];
    tg_rmsnorm_fwd_f64(ys, r, xs, ws, RN, RH, 1e-5);
    return dotc(ys, (size_t)(RN * RH));
}

TEST(op_rmsnorm)
{
    fill(xs, (size_t)(RN * RH), 0, 1);
    fill(ws, (size_t)RH, 1, 0.3);
    fill(cs, (size_t)(RN * RH), 0, 1);
    double r[8];
    tg_rmsnorm_fwd_f64(ys, r, xs, ws, RN, RH, 1e-5);
    memset(gx, 0, sizeof gx);
    memset(gw, 0, sizeof gw);
    tg_rmsnorm_bwd_f64(gx, gw, cs, xs, ws, r, RN, RH);
    fd_check("rmsnorm dx", xs, gx, (size_t)(RN * RH), f_rms);
    fd_check("rmsnorm dw", ws, gw, (size_t)RH, f_rms);
}

static double f_head(void)
{
    double r[16];
    memcpy(ys, xs, 6 * 8 * sizeof *ys);
    tg_headnorm_fwd_f64(ys, r, 6, 8, 1e-5);
    return dotc(ys, 48);
}

TEST(op_qk_norm)
{
    fill(xs, 48, 0, 1);
    fill(cs, 48, 0, 1);
    double r[16];
    memcpy(ys, xs, 48 * sizeof *ys);
    tg_headnorm_fwd_f64(ys, r, 6, 8, 1e-5);
    memcpy(gx, cs, 48 * sizeof *gx);
    tg_headnorm_bwd_f64(gx, ys, r, 6, 8);
    fd_check("qk norm", xs, gx, 48, f_head);
}

static double f_swiglu(void)
{
    tg_swiglu_fwd_f64(ys, xs, ws, 20);
    return dotc(ys, 20);
}

TEST(op_swiglu)
{
    fill(xs, 20, 0, 3);
    fill(ws, 20, 0, 2);
    fill(cs, 20, 0, 1);
    tg_swiglu_bwd_f64(gx, gw, cs, xs, ws, 20);
    fd_check("swiglu dgate", xs, gx, 20, f_swiglu);
    fd_check("swiglu dup", ws, gw, 20, f_swiglu);
}

static int32_t xt[6] = {3, -1, 0, 9, 4, 4};
static double f_xent(void)
{
    memcpy(ys, xs, 60 * sizeof *ys);
    return tg_xent_f64(ys, xt, 6, 10);
}

TEST(op_cross_entropy)
{
    fill(xs, 60, 0, 4);
    memcpy(gx, xs, 60 * sizeof *gx);
    tg_xent_f64(gx, xt, 6, 10);
    fd_check("cross-entropy", xs, gx, 60, f_xent);
}

static tl_layout alo;
static bool achunk;
static double aq[4 * 7 * 16], ak[4 * 7 * 8], av[4 * 7 * 8], aP[2 * 4 * 49];
static double f_rope(void)
{
    memcpy(ys, aq, sizeof aq);
    tg_rope_f64(&alo, ys, 2, 4, false);
    return dotc(ys, 2 * 7 * 16);
}

static double f_att(void)
{
    tg_attention_fwd_f64(&alo, ys, aP, aq, ak, av, 2, achunk);
    return dotc(ys, 2 * 7 * 16);
}

TEST(op_rope_attention)
{
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(cfg_text, sizeof cfg_text - 1, "test config", &c) == HERD_OK);
    CHECK(tl_layout_init(&alo, &c, 7) == HERD_OK);
    fill(aq, 2 * 7 * 16, 0, 1);
    fill(ak, 2 * 7 * 8, 0, 1);
    fill(av, 2 * 7 * 8, 0, 1);
    fill(cs, 2 * 7 * 16, 0, 1);
    /* RoPE is a rotation: its backward is the inverse rotation of dy */
    memcpy(gx, cs, 2 * 7 * 16 * sizeof *gx);
    tg_rope_f64(&alo, gx, 2, 4, true);
    fd_check("rope", aq, gx, 2 * 7 * 16, f_rope);
    for (int ch = 0; ch < 2; ch++) {
        achunk = ch;
        static double dq[2 * 7 * 16], dk[2 * 7 * 8], dv[2 * 7 * 8], dP[49];
        memset(dq, 0, sizeof dq);
        memset(dk, 0, sizeof dk);
        memset(dv, 0, sizeof dv);
        tg_attention_fwd_f64(&alo, ys, aP, aq, ak, av, 2, achunk);
        tg_attention_bwd_f64(&alo, dq, dk, dv, dP, cs, aP, aq, ak, av, 2);
        fd_check(ch ? "chunked attention dq" : "causal attention dq", aq, dq, 2 * 7 * 16, f_att);
        fd_check(ch ? "chunked attention dk" : "causal attention dk", ak, dk, 2 * 7 * 8, f_att);
        fd_check(ch ? "chunked attention dv" : "causal attention dv", av, dv, 2 * 7 * 8, f_att);
        /* the float twin computes the same probabilities */
        float fq[2 * 7 * 16], fk[2 * 7 * 8], fv[2 * 7 * 8], fo[2 * 7 * 16], fP[2 * 4 * 49];
        for (int i = 0; i < 2 * 7 * 16; i++)
            fq[i] = (float)aq[i];
        for (int i = 0; i < 2 * 7 * 8; i++) {
            fk[i] = (float)ak[i];
            fv[i] = (float)av[i];
        }
        tg_attention_fwd_f32(&alo, fo, fP, fq, fk, fv, 2, achunk);
        for (int i = 0; i < 2 * 7 * 16; i++)
            CHECK_NEAR(fo[i], ys[i], 1e-5);
        /* chunk 3: position 4 of chunk [3, 6) sees nothing before position 3 */
        if (ch)
            CHECK(aP[4 * 7 + 2] == 0 && aP[4 * 7 + 3] > 0);
    }
    (void)tmp;
    tl_layout_free(&alo);
    herd_llama4_config_free(&c);
}

TEST(whole_model)
{
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(cfg_text, sizeof cfg_text - 1, "test config", &c) == HERD_OK);
    tl_layout lo;
    int64_t T = 7, B = 2, N = B * T;
    CHECK(tl_layout_init(&lo, &c, T) == HERD_OK);
    double *W = calloc(lo.total, sizeof *W), *G = calloc(lo.total, sizeof *G);
    for (size_t i = 0; i < lo.total; i++)
        W[i] = 0.5 * urand();
    for (size_t k = 0; k < lo.n_tensors; k++)
        if (!lo.tensors[k].matrix)
            for (size_t i = 0; i < lo.tensors[k].n; i++)
                W[lo.tensors[k].off + i] = 1 + 0.2 * urand();
    int32_t ids[14], tg[14];
    for (int64_t n = 0; n < N; n++) {
        ids[n] = (int32_t)((n * 7 + 3) % lo.V);
        tg[n] = n % 5 == 4 ? -1 : (int32_t)((n * 5 + 1) % lo.V);
    }
    tg_acts_f64 *a;
    CHECK(tg_acts_create_f64(&lo, B, &a) == HERD_OK);
    double aux = 0.3, loss = loss_at(&lo, W, a, ids, tg, B, aux);
    CHECK(tg_backward_f64(&lo, NULL, W, G, a, ids, B, aux) == HERD_OK);
    /* every tensor, a few elements each */
    double worst = 0;
    for (size_t k = 0; k < lo.n_tensors; k++) {
        const herd_tparam *p = &lo.tensors[k];
        for (int r = 0; r < 6; r++) {
            size_t i = p->off + (size_t)(r * 7919) % p->n;
            double keep = W[i], h = 1e-6;
            W[i] = keep + h;
            double lp = loss_at(&lo, W, a, ids, tg, B, aux);
            W[i] = keep - h;
            double lm = loss_at(&lo, W, a, ids, tg, B, aux);
            W[i] = keep;
            double fd = (lp - lm) / (2 * h), err = fabs(fd - G[i]) / (fabs(fd) + fabs(G[i]) + 1e-6);
            worst = err > worst ? err : worst;
            CHECK_MSG(err < 1e-4, "%s[%zu]: analytic %.10g, finite difference %.10g", p->name,
                      i - p->off, G[i], fd);
        }
    }
    printf("whole model: loss %.6f, worst relative gradient error %.2e\n", loss, worst);

    /* the float graph (f32 mode) agrees with the double one */
    float *Wf = calloc(lo.total, sizeof *Wf), *Gf = calloc(lo.total, sizeof *Gf);
    for (size_t i = 0; i < lo.total; i++)
        Wf[i] = (float)W[i];
    tg_acts_f32 *af;
    CHECK(tg_acts_create_f32(&lo, B, &af) == HERD_OK);
    tprec_ctx pc = {0};
    herd_train_precision_default(&pc.p);
    double lf = 0;
    CHECK(tg_forward_f32(&lo, &pc, Wf, af, ids, tg, B, aux, &lf, NULL) == HERD_OK);
    CHECK(tg_backward_f32(&lo, &pc, Wf, Gf, af, ids, B, aux) == HERD_OK);
    CHECK_NEAR(lf, loss, 1e-5);
    for (size_t i = 0; i < lo.total; i++)
        if (fabs(Gf[i] - G[i]) > 1e-4 + 1e-3 * fabs(G[i])) {
            CHECK_MSG(0, "float gradient %zu: %.8g vs double %.8g", i, Gf[i], G[i]);
            break;
        }
    tprec_free(&pc);
    tg_acts_free_f32(af);
    free(Wf);
    free(Gf);
    tg_acts_free_f64(a);
    free(W);
    free(G);
    tl_layout_free(&lo);
    herd_llama4_config_free(&c);
}

int main(void)
{
    RUN(op_rmsnorm);
    RUN(op_qk_norm);
    RUN(op_swiglu);
    RUN(op_cross_entropy);
    RUN(op_rope_attention);
    RUN(whole_model);
    return harness_finish();
}
