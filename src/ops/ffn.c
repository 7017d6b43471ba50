/* Feed-forward blocks: the dense SwiGLU MLP and the Llama 4 MoE (router top-k, sigmoid score
 * scaling each expert's input, tokens grouped by expert, shared expert on every token). The
 * SwiGLU and the residual add run in the GEMM epilogue. */
#include "herd/ops.h"
#include "herd/prof.h"

#include <math.h>
#include <string.h>

herd_status herd_mlp(const herd_packed *gate_up, const herd_packed *down, const float *h, float *x,
                     int64_t T, herd_aprep aprep, herd_pool *pool)
{
    int64_t I = herd_packed_n(gate_up), H = herd_packed_n(down);
    float *act = herd_scratch(HERD_SCRATCH_MLP, (size_t)(T * I) * sizeof(float));
    if (!act)
        return HERD_ERR_NOMEM;
    herd_gemm_args a = {.M = T,
                        .A = h,
                        .lda = (size_t)herd_packed_k(gate_up),
                        .C = act,
                        .ldc = (size_t)I,
                        .act = HERD_ACT_SWIGLU,
                        .aprep = aprep};
    herd_status st = herd_gemm(gate_up, &a, pool);
    if (!st) {
        herd_gemm_args b = {.M = T,
                            .A = act,
                            .lda = (size_t)I,
                            .C = x,
                            .ldc = (size_t)H,
                            .residual = x,
                            .ldr = (size_t)H,
                            .aprep = aprep};
        st = herd_gemm(down, &b, pool);
    }
    return st;
}

void herd_moe_route(const float *logits, int64_t E, int64_t k, int32_t *experts, float *scores)
{
    for (int64_t i = 0; i < k; i++) {
        int32_t best = -1;
        for (int32_t e = 0; e < (int32_t)E; e++) {
            bool taken = false;
            for (int64_t j = 0; j < i; j++)
                taken |= experts[j] == e;
            if (!taken && (best < 0 || logits[e] > logits[best]))
                best = e; /* strict '>': ties go to the lower index */
        }
        experts[i] = best;
        scores[i] = (float)(1.0 / (1.0 + exp(-(double)logits[best])));
    }
}

herd_status herd_moe(const herd_moe_weights *w, const float *h, float *x, int64_t T,
                     herd_aprep aprep, herd_pool *pool)
{
    int64_t E = w->n_experts, K = w->top_k, H = herd_packed_k(w->router);
    int64_t I = E > 0 ? herd_packed_n(w->experts_gate_up[0]) : 0;
    if (K < 1 || K > E)
        return herd_fail(HERD_ERR_ARG, "moe: top-k %lld with %lld experts", (long long)K,
                         (long long)E);
    /* One allocation for the router logits, choices, per-expert token lists and expert work. */
    size_t nsel = (size_t)(T * K);
    size_t bytes = (size_t)(T * E) * sizeof(float) + nsel * (sizeof(int32_t) + sizeof(float)) +
                   (size_t)(2 * E + 1) * sizeof(int64_t) + nsel * sizeof(int32_t) +
                   nsel * (size_t)(H + I + H) * sizeof(float) +
                   (size_t)(E + 1) * 2 * (sizeof(herd_gemm_args) + sizeof(void *)) + 512;
    uint8_t *mem = herd_scratch(HERD_SCRATCH_MOE, bytes);
    if (!mem)
        return HERD_ERR_NOMEM;
    float *logits = (float *)mem;
    int32_t *choice = (int32_t *)(logits + T * E);
    float *score = (float *)(choice + nsel);
    int64_t *first = (int64_t *)(((uintptr_t)(score + nsel) + 7) & ~(uintptr_t)7);
    int64_t *fill = first + E + 1;
    int32_t *order = (int32_t *)(fill + E); /* selections sorted by expert, then token */
    float *u = (float *)(((uintptr_t)(order + nsel) + 63) & ~(uintptr_t)63);
    float *act = u + nsel * (size_t)H, *y = act + nsel * (size_t)I;
    herd_gemm_args *ga =
        (herd_gemm_args *)(((uintptr_t)(y + nsel * (size_t)H) + 63) & ~(uintptr_t)63);
    herd_gemm_args *da = ga + E + 1;
    const herd_packed **gw = (const herd_packed **)(da + E + 1), **dw = gw + E + 1;

    herd_gemm_args ra = {.M = T,
                         .A = h,
                         .lda = (size_t)H,
                         .C = logits,
                         .ldc = (size_t)E,
                         .aprep = HERD_APREP_EXACT}; /* routing decisions want full precision */
    double t0 = HERD_PROF_START();
    /* the router is tiny (E rows): not worth waking the pool for a few tokens */
    herd_status st = herd_gemm(w->router, &ra, (double)(T * E * H) < 1e6 ? NULL : pool);
    HERD_PROF_GEMM(HERD_OP_ROUTER, t0, w->router, &ra);
    t0 = HERD_PROF_START();
    for (int64_t t = 0; t < T && !st; t++)
        herd_moe_route(logits + t * E, E, K, choice + t * K, score + t * K);

    /* counting sort of the (token, slot) selections by expert; stable, so tokens stay in order */
    memset(first, 0, (size_t)(E + 1) * sizeof *first);
    for (size_t i = 0; i < nsel && !st; i++)
        first[choice[i] + 1]++;
    for (int64_t e = 0; e < E; e++)
        first[e + 1] += first[e];
    memcpy(fill, first, (size_t)E * sizeof *fill);
    for (size_t i = 0; i < nsel && !st; i++)
        order[fill[choice[i]]++] = (int32_t)i;

    /* Shared expert first (residual into x), then the routed experts. With several threads
     * the shared expert joins the routed experts' two pool runs as their last GEMM: the
     * routed ones (a row or two each) stream their weights while the last thread, claiming
     * from the back, computes the shared one (every row), instead of all threads doing one
     * and then the other. Each output is computed as by herd_mlp, and x gets the shared
     * expert's sum before the routed ones' either way. */
    HERD_PROF_END(HERD_OP_ROUTE, t0, ((herd_prof_cost){0, 0, 4.0 * (double)(T * E), 0}));
    bool together = herd_pool_size(pool) > 1;
    t0 = HERD_PROF_START();
    if (!st && !together) {
        st = herd_mlp(w->shared_gate_up, w->shared_down, h, x, T, aprep, pool);
        HERD_PROF_FFN(HERD_OP_SHARED, t0, w->shared_gate_up, w->shared_down, T, true);
    }
    /* The routed experts: every chosen expert's gate|up in one pool run, then every down in
     * another (one wake-up each instead of one per expert: decode of a few sequences gives
     * each expert one or two rows). Row r of expert e sits at first[e] + r of u, act and y. */
    t0 = HERD_PROF_START();
    int ne = 0;
    for (int64_t e = 0; e < E && !st; e++) {
        int64_t n = first[e + 1] - first[e];
        if (n == 0)
            continue;
        for (int64_t r = first[e]; r < first[e + 1]; r++) {
            int32_t sel = order[r];
            const float *src = h + (size_t)(sel / K) * (size_t)H;
            float sc = score[sel];
            for (int64_t c = 0; c < H; c++)
                u[(size_t)r * (size_t)H + (size_t)c] = sc * src[c];
        }
        gw[ne] = w->experts_gate_up[e];
        dw[ne] = w->experts_down[e];
        ga[ne] = (herd_gemm_args){.M = n,
                                  .A = u + (size_t)first[e] * (size_t)H,
                                  .lda = (size_t)H,
                                  .C = act + (size_t)first[e] * (size_t)I,
                                  .ldc = (size_t)I,
                                  .act = HERD_ACT_SWIGLU,
                                  .aprep = aprep};
        da[ne] = (herd_gemm_args){.M = n,
                                  .A = act + (size_t)first[e] * (size_t)I,
                                  .lda = (size_t)I,
                                  .C = y + (size_t)first[e] * (size_t)H,
                                  .ldc = (size_t)H,
                                  .aprep = aprep};
        ne++;
    }
    int nr = ne; /* routed GEMMs; the shared expert's, if together, is entry nr */
    if (!st && together) {
        int64_t Is = herd_packed_n(w->shared_gate_up), Hs = herd_packed_n(w->shared_down);
        float *sact = herd_scratch(HERD_SCRATCH_MLP, (size_t)(T * Is) * sizeof(float));
        if (!sact)
            st = HERD_ERR_NOMEM;
        gw[ne] = w->shared_gate_up;
        dw[ne] = w->shared_down;
        ga[ne] = (herd_gemm_args){.M = T,
                                  .A = h,
                                  .lda = (size_t)herd_packed_k(w->shared_gate_up),
                                  .C = sact,
                                  .ldc = (size_t)Is,
                                  .act = HERD_ACT_SWIGLU,
                                  .aprep = aprep};
        da[ne] = (herd_gemm_args){.M = T,
                                  .A = sact,
                                  .lda = (size_t)Is,
                                  .C = x,
                                  .ldc = (size_t)Hs,
                                  .residual = x,
                                  .ldr = (size_t)Hs,
                                  .aprep = aprep};
        ne++;
    }
    if (!st)
        st = herd_gemm_many(ne, gw, ga, pool);
    if (!st)
        st = herd_gemm_many(ne, dw, da, pool);
    if (__builtin_expect(herd_prof_on, 0) && ne > 0) {
        /* one entry per expert run (calls = distinct experts, the traffic model's count); the
         * two pool runs' time is shared in proportion to each GEMM's larger of bytes and
         * operations / 16 (int8 dot products and memory balance near 16 ops a byte on the
         * hosts we measure: only how the profile splits one time) */
        double wsum = 0, total = herd_prof_now() - t0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < ne; i++) {
                herd_prof_cost cost = herd_prof_ffn_cost(
                    ga[i].M, herd_packed_n(gw[i]), herd_packed_k(gw[i]),
                    (double)herd_packed_bytes(gw[i]), (double)herd_packed_bytes(dw[i]), i == nr);
                double wt =
                    cost.weight_bytes > cost.flops / 16 ? cost.weight_bytes : cost.flops / 16;
                if (pass == 0)
                    wsum += wt;
                else
                    herd_prof_record_kernel(i == nr ? HERD_OP_SHARED : HERD_OP_EXPERT,
                                            wsum > 0 ? total * wt / wsum : total / ne, cost,
                                            (int)herd_packed_type(gw[i]),
                                            herd_packed_kernel(gw[i]));
            }
    }
    /* outputs added in expert order, so a token's sum never depends on threads */
    t0 = HERD_PROF_START();
    for (size_t i = 0; i < nsel && !st; i++) {
        float *dst = x + (size_t)(order[i] / K) * (size_t)H;
        for (int64_t c = 0; c < H; c++)
            dst[c] += y[i * (size_t)H + (size_t)c];
    }
    HERD_PROF_END(
        HERD_OP_ELEMENTWISE, t0,
        ((herd_prof_cost){(double)nsel * (double)H, 0, 12.0 * (double)nsel * (double)H, 0}));
    return st;
}
