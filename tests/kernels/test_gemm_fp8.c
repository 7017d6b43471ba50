/* FP8 E4M3 rowwise weights (HERD_TYPE_FP8_E4M3, fbgemm_fp8) at every ISA level this CPU has,
 * against a double-precision model of what the family computes:
 *   EXACT  Σ a·w(code)·sw                   (A f32)
 *   AUTO   Σ qa·w(code) · sa · sw            (A per token to E4M3, sa = min(max|a|, ub)/448)
 * on random shapes with M = 1..17, odd N, K = 32·odd, plus K that are not multiples of 32 (the
 * emulated path, EXACT values). Tolerances: f32 sums in any order, (K+2)·2^-24·Σ|terms| (twice
 * that on the bf16 path), plus bf16-free epilogues. Also: 1 and 3 threads give the same bits,
 * unpack gives code × scale exactly, f32 sources quantize like herd_fp8_row_quantize, NaN codes
 * and non-finite scales are refused with one line naming the row. */
#include "harness.h"
#include "herd/kernels.h"
#include "kernels/family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0xf8f8e4e3ull;

static uint8_t *random_rows(int n, int k)
{
    size_t rb = herd_type_row_bytes(HERD_TYPE_FP8_E4M3, (size_t)k);
    uint8_t *w = malloc((size_t)n * rb);
    for (int r = 0; r < n; r++) {
        float s = (float)((harness_rand(&rng) % 1000) + 1) * 1e-5f;
        memcpy(w + (size_t)r * rb, &s, 4);
        for (int i = 0; i < k; i++) {
            uint8_t c = (uint8_t)harness_rand(&rng);
            if ((c & 0x7F) == 0x7F)
                c ^= 1; /* no NaN codes */
            w[(size_t)r * rb + 4 + (size_t)i] = c;
        }
    }
    return w;
}

static float e4m3(uint8_t c)
{
    return herd_mx_decode(HERD_MX_FP8_E4M3, c);
}

/* The model: out[i][j] and the bound of its rounding error. */
static void model(const uint8_t *W, const float *A, int M, int N, int K, bool aut, float ub,
                  double *out, double *tol, bool bf16)
{
    size_t rb = herd_type_row_bytes(HERD_TYPE_FP8_E4M3, (size_t)K);
    float *qa = malloc((size_t)K * 4);
    for (int i = 0; i < M; i++) {
        const float *a = A + (size_t)i * K;
        float sa = 1;
        if (aut) {
            float amax = 0;
            for (int k = 0; k < K; k++)
                amax = fmaxf(amax, fabsf(a[k]));
            if (ub > 0)
                amax = fminf(amax, ub);
            sa = amax / 448.0f;
            for (int k = 0; k < K; k++)
                qa[k] = sa > 0 ? e4m3(herd_mx_encode(HERD_MX_FP8_E4M3, a[k] * (1.0f / sa),
                                                     HERD_MX_ROUND_EVEN))
                               : 0;
        } else {
            memcpy(qa, a, (size_t)K * 4);
        }
        for (int j = 0; j < N; j++) {
            const uint8_t *w = W + (size_t)j * rb;
            float sw;
            memcpy(&sw, w, 4);
            double s = 0, abs = 0;
            for (int k = 0; k < K; k++) {
                double t = (double)qa[k] * e4m3(w[4 + k]);
                s += t;
                abs += fabs(t);
            }
            out[(size_t)i * N + j] = s * sa * sw;
            tol[(size_t)i * N + j] =
                ((bf16 ? 2.0 : 1.0) * (K + 4) * ldexp(1, -24) * abs + 1e-30) * fabs(sa * sw) +
                1e-30;
        }
    }
    free(qa);
}

static void run(herd_packed *w, const float *A, int M, int N, herd_aprep ap, herd_pool *pool,
                float *C)
{
    herd_gemm_args g = {
        .M = M, .A = A, .lda = (size_t)herd_packed_k(w), .C = C, .ldc = (size_t)N, .aprep = ap};
    CHECK_MSG(herd_gemm(w, &g, pool) == HERD_OK, "gemm: %s", herd_last_error());
}

TEST(fp8_all_isas_all_shapes)
{
    static const int shapes[][3] = {
        {1, 33, 96},  {2, 7, 32},   {3, 65, 160}, {4, 1, 224},  {5, 47, 32},  {6, 31, 96},
        {7, 19, 32},  {8, 17, 160}, {9, 33, 32},  {10, 5, 96},  {11, 95, 32}, {12, 33, 224},
        {13, 9, 96},  {14, 3, 160}, {15, 33, 32}, {16, 3, 288}, {17, 41, 96}, {1, 129, 352},
        {30, 21, 96}, {3, 17, 33},  {1, 5, 50},   {5, 16, 7},
    };
    herd_pool *pool;
    CHECK(herd_pool_create(3, &pool) == HERD_OK);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        uint8_t *W = random_rows(N, K);
        float *A = malloc((size_t)M * K * 4), *C = malloc((size_t)M * N * 4),
              *C3 = malloc((size_t)M * N * 4);
        double *ref = malloc((size_t)M * N * 8), *tol = malloc((size_t)M * N * 8);
        for (int i = 0; i < M * K; i++)
            A[i] = harness_randf(&rng) * (i % 61 == 0 ? 30.0f : 2.0f); /* outliers for the ub */
        float ub = si % 2 ? 10.0f : 0.0f;
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK_MSG(herd_pack(HERD_TYPE_FP8_E4M3, N, K, (herd_wsrc){HERD_TYPE_FP8_E4M3, W, 0},
                                &w) == HERD_OK,
                      "pack: %s", herd_last_error());
            if (!w)
                continue;
            herd_packed_set_act_scale_ub(w, ub);
            const char *kn = herd_packed_kernel(w);
            bool emulated = strcmp(kn, "emulated") == 0;
            CHECK_MSG(emulated == (K % 32 != 0), "K %d ran on %s", K, kn);
            bool bf16 = strstr(kn, "avx512bf16") || strstr(kn, ".ref");
            for (int mode = 0; mode < 2; mode++) {
                bool aut = mode == 1 && !emulated;
                run(w, A, M, N, mode ? HERD_APREP_AUTO : HERD_APREP_EXACT, NULL, C);
                run(w, A, M, N, mode ? HERD_APREP_AUTO : HERD_APREP_EXACT, pool, C3);
                CHECK_MSG(memcmp(C, C3, (size_t)M * N * 4) == 0, "%s: threads change bits", kn);
                model(W, A, M, N, K, aut, ub, ref, tol, aut && bf16);
                int bad = 0;
                for (int i = 0; i < M * N; i++)
                    if (!(fabs(C[i] - ref[i]) <= tol[i] + 1e-7 * fabs(ref[i])) && bad++ < 3)
                        CHECK_MSG(0, "%s %s M%d N%d K%d [%d]: %.9g vs %.9g (tol %g)", kn,
                                  mode ? "auto" : "exact", M, N, K, i, C[i], ref[i], tol[i]);
            }
            /* unpack: code × scale, exactly */
            float *U = malloc((size_t)N * K * 4), *D = malloc((size_t)K * 4);
            CHECK(herd_unpack(w, U) == HERD_OK);
            size_t rb = herd_type_row_bytes(HERD_TYPE_FP8_E4M3, (size_t)K);
            for (int r = 0; r < N; r++) {
                herd_fp8_row_dequantize(W + (size_t)r * rb, D, (size_t)K);
                CHECK_MSG(memcmp(D, U + (size_t)r * K, (size_t)K * 4) == 0, "%s unpack row %d", kn,
                          r);
            }
            free(U), free(D);
            herd_packed_free(w);
        }
        herd_set_isa(HERD_ISA_COUNT);
        free(W), free(A), free(C), free(C3), free(ref), free(tol);
    }
    herd_pool_destroy(pool);
}

/* SwiGLU and bias through the wrapped family's epilogue. */
TEST(fp8_swiglu)
{
    const int M = 5, N = 37, K = 128;
    uint8_t *G = random_rows(N, K), *U = random_rows(N, K);
    float *A = malloc((size_t)M * K * 4), *C = malloc((size_t)M * N * 4), *bias = malloc(N * 4);
    double *g = malloc((size_t)M * N * 8), *u = malloc((size_t)M * N * 8),
           *t = malloc((size_t)M * N * 8), *tg = malloc((size_t)M * N * 8);
    for (int i = 0; i < M * K; i++)
        A[i] = harness_randf(&rng);
    for (int i = 0; i < N; i++)
        bias[i] = harness_randf(&rng) * 1e-3f;
    model(G, A, M, N, K, false, 0, g, tg, false);
    model(U, A, M, N, K, false, 0, u, t, false);
    for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
        herd_set_isa((herd_isa_level)isa);
        herd_packed *w = NULL;
        CHECK(herd_pack_swiglu(HERD_TYPE_FP8_E4M3, N, K, (herd_wsrc){HERD_TYPE_FP8_E4M3, G, 0},
                               (herd_wsrc){HERD_TYPE_FP8_E4M3, U, 0}, &w) == HERD_OK);
        herd_gemm_args a = {.M = M,
                            .A = A,
                            .lda = K,
                            .C = C,
                            .ldc = N,
                            .bias = bias,
                            .act = HERD_ACT_SWIGLU,
                            .aprep = HERD_APREP_EXACT};
        CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
        for (int i = 0; i < M * N; i++) {
            double x = g[i] + bias[i % N], want = x / (1 + exp(-x)) * u[i];
            double sx = x / (1 + exp(-x)); /* |silu'| <= 1.1; f32 epilogue: a few ulps */
            CHECK_NEAR(C[i], want,
                       1.1 * fabs(u[i]) * tg[i] + fabs(sx) * t[i] + 4e-7 * fabs(want) +
                           1e-6 * fabs(u[i]) * (fabs(x) + 1) * 1e-3);
        }
        herd_packed_free(w);
    }
    herd_set_isa(HERD_ISA_COUNT);
    free(G), free(U), free(A), free(C), free(bias), free(g), free(u), free(t), free(tg);
}

/* f32 sources quantize to the rows herd_fp8_row_quantize writes; bad rows are refused. */
TEST(fp8_sources_and_errors)
{
    const int N = 20, K = 64;
    size_t rb = herd_type_row_bytes(HERD_TYPE_FP8_E4M3, K);
    float *F = malloc((size_t)N * K * 4), *U = malloc((size_t)N * K * 4), *D = malloc(K * 4);
    uint8_t *Q = malloc((size_t)N * rb);
    for (int i = 0; i < N * K; i++)
        F[i] = harness_randf(&rng) * (i % 7 ? 1.0f : 100.0f);
    for (int r = 0; r < N; r++)
        herd_fp8_row_quantize(F + (size_t)r * K, Q + (size_t)r * rb, K);
    for (int r = 0; r < N; r++) { /* amax maps to 448 exactly */
        float s, amax = 0;
        memcpy(&s, Q + (size_t)r * rb, 4);
        for (int i = 0; i < K; i++)
            amax = fmaxf(amax, fabsf(F[(size_t)r * K + i]));
        CHECK(s == amax / 448.0f);
    }
    herd_packed *w = NULL;
    CHECK(herd_pack(HERD_TYPE_FP8_E4M3, N, K, (herd_wsrc){HERD_TYPE_F32, F, 0}, &w) == HERD_OK);
    CHECK(herd_unpack(w, U) == HERD_OK);
    for (int r = 0; r < N; r++) {
        herd_fp8_row_dequantize(Q + (size_t)r * rb, D, K);
        CHECK(memcmp(D, U + (size_t)r * K, K * 4) == 0);
    }
    herd_packed_free(w);
    /* a NaN code */
    Q[3 * rb + 4 + 10] = 0x7F;
    w = NULL;
    CHECK(herd_pack(HERD_TYPE_FP8_E4M3, N, K, (herd_wsrc){HERD_TYPE_FP8_E4M3, Q, 0}, &w) ==
          HERD_ERR_FORMAT);
    CHECK(w == NULL);
    CHECK_MSG(strstr(herd_last_error(), "NaN") && !strchr(herd_last_error(), '\n'), "%s",
              herd_last_error());
    Q[3 * rb + 4 + 10] = 0x10;
    float inf = INFINITY;
    memcpy(Q + 5 * rb, &inf, 4);
    CHECK(herd_pack(HERD_TYPE_FP8_E4M3, N, K, (herd_wsrc){HERD_TYPE_FP8_E4M3, Q, 0}, &w) ==
          HERD_ERR_FORMAT);
    CHECK_MSG(strstr(herd_last_error(), "row 5"), "%s", herd_last_error());
    free(F), free(U), free(D), free(Q);
}

int main(void)
{
    RUN(fp8_all_isas_all_shapes);
    RUN(fp8_swiglu);
    RUN(fp8_sources_and_errors);
    return harness_finish();
}
