/* The per-op profiler: hand-computed FLOP and byte counts, probes that record nothing (and
 * evaluate nothing) when off, phases, and op times adding up to the phase's wall time. */
#include "harness.h"
#include "herd/kernels.h"
#include "herd/prof.h"

static int cost_evaluations;
static herd_prof_cost counted_cost(void)
{
    cost_evaluations++;
    herd_prof_cost c = {.flops = 10, .weight_bytes = 20, .act_bytes = 30, .kv_bytes = 40};
    return c;
}

TEST(gemm_counts)
{
    /* C[3×5] = A[3×7]·Wᵀ, 140 weight bytes, f32 out, with a residual. */
    herd_prof_cost c = herd_prof_gemm_cost(3, 5, 7, 140, 1, 4, true);
    CHECK_NEAR(c.flops, 2 * 3 * 5 * 7, 0);
    CHECK_NEAR(c.weight_bytes, 140, 0);
    CHECK_NEAR(c.act_bytes, 4 * 21 + 4 * 15 + 4 * 15, 0);
    CHECK_NEAR(c.kv_bytes, 0, 0);
    /* SwiGLU gate|up pair, bf16 out, no residual: twice the FLOPs. */
    c = herd_prof_gemm_cost(3, 5, 7, 280, 2, 2, false);
    CHECK_NEAR(c.flops, 420, 0);
    CHECK_NEAR(c.act_bytes, 4 * 21 + 2 * 15, 0);
}

TEST(ffn_counts)
{
    /* 3 rows, hidden 8, width 16: gate|up 2·3·16·8·2 FLOPs, down 2·3·8·16 */
    herd_prof_cost c = herd_prof_ffn_cost(3, 16, 8, 512, 256, true);
    CHECK_NEAR(c.flops, 1536 + 768, 0);
    CHECK_NEAR(c.weight_bytes, 768, 0);
    /* gate|up: A 4·3·8 + C 4·3·16; down: A 4·3·16 + C 4·3·8 + residual 4·3·8 */
    CHECK_NEAR(c.act_bytes, 96 + 192 + 192 + 96 + 96, 0);
    c = herd_prof_ffn_cost(3, 16, 8, 512, 256, false);
    CHECK_NEAR(c.act_bytes, 96 + 192 + 192 + 96, 0);
}

TEST(norm_and_rope_counts)
{
    herd_prof_cost c = herd_prof_norm_cost(3, 16, true);
    CHECK_NEAR(c.flops, 192, 0);
    CHECK_NEAR(c.act_bytes, 384, 0);
    CHECK_NEAR(c.weight_bytes, 64, 0);
    c = herd_prof_norm_cost(3, 16, false);
    CHECK_NEAR(c.weight_bytes, 0, 0);
    c = herd_prof_rope_cost(6, 8);
    CHECK_NEAR(c.flops, 144, 0);
    CHECK_NEAR(c.act_bytes, 384, 0);
}

TEST(attention_spans)
{
    int64_t pairs, rows;
    herd_prof_attn_span(0, 4, 0, &pairs, &rows); /* 1+2+3+4 */
    CHECK_EQ_INT(pairs, 10);
    CHECK_EQ_INT(rows, 4);
    herd_prof_attn_span(0, 4, 2, &pairs, &rows); /* chunks {0,1} {2,3}: 1+2+1+2 */
    CHECK_EQ_INT(pairs, 6);
    CHECK_EQ_INT(rows, 4);
    herd_prof_attn_span(5, 3, 4, &pairs, &rows); /* p=5,6,7 in chunk 4..7: 2+3+4 */
    CHECK_EQ_INT(pairs, 9);
    CHECK_EQ_INT(rows, 4);
    herd_prof_attn_span(5, 3, 0, &pairs, &rows); /* 6+7+8 over keys 0..7 */
    CHECK_EQ_INT(pairs, 21);
    CHECK_EQ_INT(rows, 8);
    herd_prof_attn_span(7, 1, 4, &pairs, &rows); /* decode at p=7: keys 4..7 */
    CHECK_EQ_INT(pairs, 4);
    CHECK_EQ_INT(rows, 4);
    herd_prof_attn_span(8, 1, 4, &pairs, &rows); /* a new chunk starts: only itself */
    CHECK_EQ_INT(pairs, 1);
    CHECK_EQ_INT(rows, 1);

    /* 4 query heads, 2 KV heads of 8, f32 cache, prompt of 4. */
    herd_prof_cost c = herd_prof_attn_cost(0, 4, 0, 4, 2, 8, 4);
    CHECK_NEAR(c.flops, 4.0 * 4 * 8 * 10, 0);
    CHECK_NEAR(c.kv_bytes, 4.0 * 2 * 8 * 2 * 4, 0);
    CHECK_NEAR(c.act_bytes, 8.0 * 4 * 4 * 8, 0);
}

TEST(off_records_and_evaluates_nothing)
{
    herd_prof_reset();
    herd_prof_enable(false);
    cost_evaluations = 0;
    double t = HERD_PROF_START();
    CHECK(t == 0.0);
    HERD_PROF_END(HERD_OP_NORM, t, counted_cost());
    CHECK_EQ_INT(cost_evaluations, 0);
    CHECK_EQ_INT(herd_prof_get(HERD_PHASE_PREFILL, HERD_OP_NORM)->calls, 0);
}

TEST(records_per_phase)
{
    herd_prof_reset();
    herd_prof_enable(true);
    double p0 = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    for (int i = 0; i < 3; i++) {
        double t = HERD_PROF_START();
        HERD_PROF_END(HERD_OP_ATTN, t, counted_cost());
    }
    herd_prof_phase_end(p0, 7);
    double p1 = herd_prof_phase_begin(HERD_PHASE_DECODE);
    double t = HERD_PROF_START();
    HERD_PROF_END(HERD_OP_ATTN, t, counted_cost());
    herd_prof_phase_end(p1, 1);
    herd_prof_enable(false);

    const herd_prof_entry *e = herd_prof_get(HERD_PHASE_PREFILL, HERD_OP_ATTN);
    CHECK_EQ_INT(e->calls, 3);
    CHECK_NEAR(e->cost.flops, 30, 0);
    CHECK_NEAR(e->cost.weight_bytes, 60, 0);
    CHECK_NEAR(e->cost.act_bytes, 90, 0);
    CHECK_NEAR(e->cost.kv_bytes, 120, 0);
    CHECK(!e->has_wtype);
    CHECK_EQ_INT(herd_prof_get(HERD_PHASE_DECODE, HERD_OP_ATTN)->calls, 1);
    CHECK_EQ_INT(herd_prof_phase_tokens(HERD_PHASE_PREFILL), 7);
    CHECK_EQ_INT(herd_prof_phase_tokens(HERD_PHASE_DECODE), 1);
    CHECK_EQ_INT(herd_prof_phase_runs(HERD_PHASE_DECODE), 1);
    CHECK(herd_prof_phase_wall(HERD_PHASE_PREFILL) >= e->seconds);
    CHECK(herd_prof_get(HERD_PHASE_COUNT, HERD_OP_ATTN) == NULL);
    CHECK(strcmp(herd_prof_op_name(HERD_OP_EXPERT), "expert") == 0);
    for (int op = 0; op < HERD_OP_COUNT; op++)
        CHECK(herd_prof_op_name((herd_prof_op)op) != NULL);

    herd_prof_reset();
    CHECK_EQ_INT(herd_prof_get(HERD_PHASE_PREFILL, HERD_OP_ATTN)->calls, 0);
    CHECK_NEAR(herd_prof_phase_wall(HERD_PHASE_PREFILL), 0, 0);
}

/* A forward pass brackets its own phase; a caller's bracket around it wins. */
TEST(nested_phases)
{
    herd_prof_reset();
    herd_prof_enable(true);
    double outer = herd_prof_phase_begin(HERD_PHASE_DECODE);
    double inner = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    CHECK_EQ_INT(herd_prof_current_phase(), HERD_PHASE_DECODE);
    double t = HERD_PROF_START();
    HERD_PROF_END(HERD_OP_Q, t, counted_cost());
    herd_prof_phase_end(inner, 1);
    t = HERD_PROF_START();
    HERD_PROF_END(HERD_OP_SAMPLE, t, counted_cost());
    herd_prof_phase_end(outer, 1);
    CHECK_EQ_INT(herd_prof_get(HERD_PHASE_DECODE, HERD_OP_Q)->calls, 1);
    CHECK_EQ_INT(herd_prof_get(HERD_PHASE_DECODE, HERD_OP_SAMPLE)->calls, 1);
    CHECK_EQ_INT(herd_prof_phase_tokens(HERD_PHASE_DECODE), 1);
    CHECK_EQ_INT(herd_prof_phase_runs(HERD_PHASE_DECODE), 1);
    CHECK_EQ_INT(herd_prof_phase_runs(HERD_PHASE_PREFILL), 0);
    /* closed: the next bracket sets the phase again */
    double again = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    CHECK_EQ_INT(herd_prof_current_phase(), HERD_PHASE_PREFILL);
    herd_prof_phase_end(again, 2);
    CHECK_EQ_INT(herd_prof_phase_tokens(HERD_PHASE_PREFILL), 2);
    herd_prof_enable(false);
}

TEST(gemm_probe)
{
    enum { N = 6, K = 32, M = 3 };
    float wsrc[N * K], a[M * K], c[M * N];
    uint64_t s = 7;
    for (int i = 0; i < N * K; i++)
        wsrc[i] = harness_randf(&s);
    for (int i = 0; i < M * K; i++)
        a[i] = harness_randf(&s);
    herd_packed *w = NULL;
    herd_wsrc src = {HERD_TYPE_F32, wsrc, 0};
    CHECK(herd_pack(HERD_TYPE_F32, N, K, src, &w) == HERD_OK);
    if (!w)
        return;
    herd_gemm_args args = {.M = M, .A = a, .lda = K, .C = c, .ldc = N};
    herd_prof_reset();
    herd_prof_enable(true);
    double ph = herd_prof_phase_begin(HERD_PHASE_DECODE);
    double t = HERD_PROF_START();
    CHECK(herd_gemm(w, &args, NULL) == HERD_OK);
    HERD_PROF_GEMM(HERD_OP_LM_HEAD, t, w, &args);
    herd_prof_phase_end(ph, 1);
    herd_prof_enable(false);
    const herd_prof_entry *e = herd_prof_get(HERD_PHASE_DECODE, HERD_OP_LM_HEAD);
    CHECK_EQ_INT(e->calls, 1);
    CHECK_NEAR(e->cost.flops, 2.0 * M * N * K, 0);
    CHECK_NEAR(e->cost.weight_bytes, (double)herd_packed_bytes(w), 0);
    CHECK_NEAR(e->cost.act_bytes, 4.0 * M * K + 4.0 * M * N, 0);
    CHECK(e->has_wtype && e->wtype == HERD_TYPE_F32);
    herd_packed_free(w);
}

/* Busy work between back-to-back probes: their times must cover the phase's wall time. */
TEST(op_times_cover_wall_time)
{
    static float buf[1 << 16];
    herd_prof_reset();
    herd_prof_enable(true);
    double p = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    for (int rep = 0; rep < 200; rep++) {
        double t = HERD_PROF_START();
        for (int i = 0; i < (1 << 16); i++)
            buf[i] = buf[i] * 0.5f + (float)i;
        HERD_PROF_END((herd_prof_op)(rep % HERD_OP_COUNT), t, herd_prof_norm_cost(1, 1 << 16, 0));
    }
    herd_prof_phase_end(p, 1);
    herd_prof_enable(false);
    double sum = 0;
    for (int op = 0; op < HERD_OP_COUNT; op++)
        sum += herd_prof_get(HERD_PHASE_PREFILL, (herd_prof_op)op)->seconds;
    double wall = herd_prof_phase_wall(HERD_PHASE_PREFILL);
    CHECK_MSG(sum <= wall && sum >= 0.95 * wall, "ops %.6f s vs wall %.6f s", sum, wall);
}

TEST(cpu_clock)
{
    herd_prof_reset();
    herd_prof_use_cputime(true);
    herd_prof_enable(true);
    double p = herd_prof_phase_begin(HERD_PHASE_DECODE);
    double t = HERD_PROF_START();
    volatile float acc = 0;
    for (int i = 0; i < 1000000; i++)
        acc += (float)i * 1e-9f;
    HERD_PROF_END(HERD_OP_OTHER, t, counted_cost());
    herd_prof_phase_end(p, 1);
    herd_prof_enable(false);
    herd_prof_use_cputime(false);
    double op = herd_prof_get(HERD_PHASE_DECODE, HERD_OP_OTHER)->seconds;
    CHECK(op > 0 && op <= herd_prof_phase_wall(HERD_PHASE_DECODE));
}

int main(void)
{
    RUN(gemm_counts);
    RUN(ffn_counts);
    RUN(norm_and_rope_counts);
    RUN(attention_spans);
    RUN(off_records_and_evaluates_nothing);
    RUN(records_per_phase);
    RUN(nested_phases);
    RUN(gemm_probe);
    RUN(op_times_cover_wall_time);
    RUN(cpu_clock);
    return harness_finish();
}
