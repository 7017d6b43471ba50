/* herd_gemm_many: n GEMMs in one pool run give, bit for bit, what n herd_gemm calls give, for
 * block-quantized, K-quant and float families, SwiGLU and plain weights, M = 0..13 (the MoE's
 * routed experts with a few rows each), on a two-thread pool and on none. */
#include "harness.h"
#include "herd/kernels.h"

enum { K = 256, N = 80, NG = 5 };

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float rnd(void)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(rng >> 40) / (double)(1 << 24) * 2.0 - 1.0);
}

static void check_type(herd_type type, bool swiglu, herd_pool *pool)
{
    static const int64_t Ms[NG] = {1, 0, 3, 13, 2};
    float *wsrc = malloc((size_t)2 * N * K * sizeof(float));
    float *A = malloc((size_t)NG * 13 * K * sizeof(float));
    float *got = calloc((size_t)NG * 13 * N, sizeof(float));
    float *want = calloc((size_t)NG * 13 * N, sizeof(float));
    herd_packed *w[NG] = {0};
    herd_gemm_args args[NG];
    for (size_t i = 0; i < (size_t)NG * 13 * K; i++)
        A[i] = rnd();
    for (int g = 0; g < NG; g++) {
        for (size_t i = 0; i < (size_t)2 * N * K; i++)
            wsrc[i] = rnd();
        herd_wsrc s0 = {HERD_TYPE_F32, wsrc, 0}, s1 = {HERD_TYPE_F32, wsrc + N * K, 0};
        herd_status st =
            swiglu ? herd_pack_swiglu(type, N, K, s0, s1, &w[g]) : herd_pack(type, N, K, s0, &w[g]);
        CHECK_MSG(st == HERD_OK, "%s: %s", herd_type_name(type), herd_last_error());
        if (st)
            goto out;
    }
    for (int g = 0; g < NG; g++) {
        /* residual only on the plain weights (it reads C before writing) */
        for (size_t i = 0; i < (size_t)13 * N; i++)
            got[(size_t)g * 13 * N + i] = want[(size_t)g * 13 * N + i] = rnd();
        args[g] = (herd_gemm_args){.M = Ms[g],
                                   .A = A + (size_t)g * 13 * K,
                                   .lda = K,
                                   .C = got + (size_t)g * 13 * N,
                                   .ldc = N,
                                   .act = swiglu ? HERD_ACT_SWIGLU : HERD_ACT_NONE,
                                   .residual = swiglu ? NULL : got + (size_t)g * 13 * N,
                                   .ldr = N};
        herd_gemm_args one = args[g];
        one.C = want + (size_t)g * 13 * N;
        one.residual = swiglu ? NULL : (const float *)one.C;
        CHECK(herd_gemm(w[g], &one, pool) == HERD_OK);
    }
    CHECK(herd_gemm_many(NG, (const herd_packed *const *)w, args, pool) == HERD_OK);
    CHECK_MSG(memcmp(got, want, (size_t)NG * 13 * N * sizeof(float)) == 0,
              "%s%s: herd_gemm_many differs from herd_gemm", herd_type_name(type),
              swiglu ? " swiglu" : "");
out:
    for (int g = 0; g < NG; g++)
        herd_packed_free(w[g]);
    free(wsrc);
    free(A);
    free(got);
    free(want);
}

TEST(many_equals_one_by_one)
{
    static const herd_type types[] = {HERD_TYPE_MXFP4, HERD_TYPE_Q8_0, HERD_TYPE_Q4_K,
                                      HERD_TYPE_BF16, HERD_TYPE_F32};
    herd_pool *pool = NULL;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int sw = 0; sw < 2; sw++) {
            check_type(types[t], sw, pool);
            check_type(types[t], sw, NULL);
        }
    herd_pool_destroy(pool);
}

TEST(many_bad_input)
{
    CHECK(herd_gemm_many(0, NULL, NULL, NULL) == HERD_OK);
    CHECK(herd_gemm_many(-1, NULL, NULL, NULL) == HERD_ERR_ARG);
    CHECK(herd_gemm_many(2, NULL, NULL, NULL) == HERD_ERR_ARG);
    herd_packed *w = NULL;
    float wsrc[16 * 32] = {0}, a[32] = {0}, c[16];
    CHECK(herd_pack(HERD_TYPE_F32, 16, 32, (herd_wsrc){HERD_TYPE_F32, wsrc, 0}, &w) == HERD_OK);
    const herd_packed *ws[2] = {w, w};
    herd_gemm_args args[2] = {{.M = 1, .A = a, .lda = 32, .C = c, .ldc = 16},
                              {.M = 1, .A = a, .lda = 8, .C = c, .ldc = 16}};
    CHECK(herd_gemm_many(2, ws, args, NULL) == HERD_ERR_ARG); /* lda below K */
    herd_packed_free(w);
}

int main(void)
{
    RUN(many_equals_one_by_one);
    RUN(many_bad_input);
    return harness_finish();
}
