/* The K/i-quant families (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0) against their
 * plain C twins: every (type × ISA level this CPU has × A preparation × epilogue) on shapes with M
 * = 1..17 (every tile height and tail), odd N (panel tails) and K of 1..3 super-blocks (IQ4_NL:
 * 32·odd); pack → unpack equals the formats layer's dequantization (ggml's floats,
 * tests/formats/test_kblocks.c); identical results for 1, 2 and 3 threads; the ref twin
 * against double precision.
 *
 * Weights are random super-blocks of the type itself (random bytes, fp16 scales made finite
 * and O(0.01)), so every scale, min and code pattern occurs. The integer paths are exact and
 * EXACT is one fmaf chain in K order, so every comparison between families is bit for bit. */
#include "formats/kblocks.h"
#include "harness.h"
#include "herd/kernels.h"
#include "kernels/family.h"

static uint64_t rng = 0x4b51554e54ull;

static const herd_type ktypes[] = {HERD_TYPE_Q4_K,   HERD_TYPE_Q6_K,  HERD_TYPE_IQ4_XS,
                                   HERD_TYPE_Q5_K,   HERD_TYPE_Q3_K,  HERD_TYPE_Q2_K,
                                   HERD_TYPE_IQ4_NL, HERD_TYPE_TQ1_0, HERD_TYPE_TQ2_0};
enum { NTYPES = sizeof ktypes / sizeof ktypes[0] };

typedef struct shape {
    int M, N, K; /* K in super-blocks (IQ4_NL: in blocks of 32, times an odd number) */
} shape;
static const shape shapes[] = {
    {1, 33, 1}, {2, 7, 2},  {3, 65, 1},  {4, 1, 3},   {5, 47, 1},  {6, 31, 2},
    {7, 19, 1}, {8, 17, 2}, {9, 33, 1},  {10, 5, 3},  {11, 95, 1}, {12, 33, 2},
    {13, 9, 1}, {16, 3, 1}, {17, 41, 2}, {1, 129, 3}, {30, 21, 1},
};

static int k_of(herd_type t, int sbs)
{
    return t == HERD_TYPE_IQ4_NL ? 32 * (2 * sbs + 1) : 256 * sbs;
}

static void put_scale(uint8_t *p)
{
    uint64_t r = harness_rand(&rng);
    float d = (float)((double)(r % 1000) / 1000.0 * 0.02 + 0.0005) * (r & 1024 ? -1.f : 1.f);
    uint16_t h = herd_f32_to_f16(d);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

static uint8_t *random_rows(herd_type t, int n, int k)
{
    const kb_info *I = kb_info_get(t);
    const size_t nb = (size_t)n * (size_t)(k / I->elems);
    uint8_t *w = malloc(nb * (size_t)I->bytes);
    for (size_t i = 0; i < nb * (size_t)I->bytes; i++)
        w[i] = (uint8_t)harness_rand(&rng);
    for (size_t b = 0; b < nb; b++) {
        uint8_t *x = w + b * (size_t)I->bytes;
        switch (t) {
        case HERD_TYPE_Q2_K: put_scale(x + 80), put_scale(x + 82); break;
        case HERD_TYPE_Q3_K: put_scale(x + 108); break;
        case HERD_TYPE_Q6_K: put_scale(x + 208); break;
        case HERD_TYPE_TQ1_0: put_scale(x + 52); break;
        case HERD_TYPE_TQ2_0: put_scale(x + 64); break;
        case HERD_TYPE_Q4_K:
        case HERD_TYPE_Q5_K: put_scale(x), put_scale(x + 2); break;
        default: put_scale(x); break;
        }
    }
    return w;
}

enum { EPI_NONE, EPI_BIAS, EPI_SWIGLU, EPI_ALL, EPI_COUNT };

static void run(const herd_packed *w, int M, int N, int K, const float *A, int epi,
                const float *bias, const float *res, herd_aprep aprep, herd_pool *pool, float *out)
{
    size_t ldc = (size_t)N + 3;
    float *C = calloc((size_t)M * ldc, sizeof(float));
    herd_gemm_args a = {.M = M, .A = A, .lda = (size_t)K, .C = C, .ldc = ldc, .aprep = aprep};
    if (epi == EPI_BIAS || epi == EPI_ALL)
        a.bias = bias;
    if (epi == EPI_SWIGLU || epi == EPI_ALL)
        a.act = HERD_ACT_SWIGLU;
    if (epi == EPI_ALL) {
        a.residual = res;
        a.ldr = (size_t)N;
        a.out_bf16 = true;
    }
    CHECK_MSG(herd_gemm(w, &a, pool) == HERD_OK, "gemm: %s", herd_last_error());
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[(size_t)i * N + j] = a.out_bf16
                                         ? herd_bf16_to_f32(((uint16_t *)C)[(size_t)i * ldc + j])
                                         : C[(size_t)i * ldc + j];
    free(C);
}

static herd_packed *pack(herd_type t, int N, int K, const uint8_t *g, const uint8_t *u, int epi)
{
    herd_packed *w = NULL;
    herd_wsrc sg = {t, g, 0}, su = {t, u, 0};
    herd_status st = epi == EPI_SWIGLU || epi == EPI_ALL ? herd_pack_swiglu(t, N, K, sg, su, &w)
                                                         : herd_pack(t, N, K, sg, &w);
    CHECK_MSG(st == HERD_OK, "pack %s: %s", herd_type_name(t), herd_last_error());
    return w;
}

static int same(const float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&x[i], &y[i], 4) != 0 && !(isnan(x[i]) && isnan(y[i])))
            return (int)i;
    return -1;
}

TEST(all_families)
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ti = 0; ti < NTYPES; ti++) {
            const herd_type t = ktypes[ti];
            const int M = shapes[si].M, N = shapes[si].N, K = k_of(t, shapes[si].K);
            const size_t mn = (size_t)M * N;
            float *A = malloc((size_t)M * K * 4), *bias = malloc((size_t)N * 4),
                  *res = malloc(mn * 4), *re = malloc(mn * 4), *ra = malloc(mn * 4),
                  *got = malloc(mn * 4), *got2 = malloc(mn * 4);
            for (int i = 0; i < M * K; i++)
                A[i] = harness_randf(&rng) * (i % 61 == 0 ? 20.0f : 2.0f);
            for (int i = 0; i < N; i++)
                bias[i] = harness_randf(&rng);
            for (size_t i = 0; i < mn; i++)
                res[i] = harness_randf(&rng);
            uint8_t *g = random_rows(t, N, K), *u = random_rows(t, N, K);
            for (int epi = 0; epi < EPI_COUNT; epi++) {
                if ((si + (size_t)ti) % 2 && epi != EPI_NONE)
                    continue;
                herd_set_isa(HERD_ISA_REF);
                herd_packed *rw = pack(t, N, K, g, u, epi);
                if (!rw)
                    continue;
                run(rw, M, N, K, A, epi, bias, res, HERD_APREP_EXACT, NULL, re);
                run(rw, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, NULL, ra);
                herd_packed_free(rw);
                const kfamily *seen = kfam_select(t, HERD_ISA_REF);
                for (int isa = HERD_ISA_AVX2; isa <= (int)herd_cpu_isa(); isa++) {
                    const kfamily *fam = kfam_select(t, (herd_isa_level)isa);
                    if (fam == seen)
                        continue;
                    seen = fam;
                    herd_set_isa((herd_isa_level)isa);
                    herd_packed *w = pack(t, N, K, g, u, epi);
                    if (!w)
                        continue;
                    if (si == 0 && epi == 0)
                        printf("checking %s against %s\n", fam->name, herd_type_name(t));
                    int bad;
                    run(w, M, N, K, A, epi, bias, res, HERD_APREP_EXACT, NULL, got);
                    if ((bad = same(got, re, mn)) >= 0)
                        CHECK_MSG(0, "%s EXACT M=%d N=%d K=%d epi=%d: C[%d] %.9g want %.9g",
                                  fam->name, M, N, K, epi, bad, got[bad], re[bad]);
                    run(w, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, NULL, got);
                    if ((bad = same(got, ra, mn)) >= 0)
                        CHECK_MSG(0, "%s AUTO M=%d N=%d K=%d epi=%d: C[%d] %.9g want %.9g",
                                  fam->name, M, N, K, epi, bad, got[bad], ra[bad]);
                    if (epi == EPI_NONE)
                        for (int p = 0; p < 2; p++) {
                            run(w, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, pools[p], got2);
                            CHECK_MSG(same(got, got2, mn) < 0, "%s: %d threads differ", fam->name,
                                      p + 2);
                        }
                    herd_packed_free(w);
                }
            }
            free(A), free(bias), free(res), free(re), free(ra), free(got), free(got2);
            free(g), free(u);
        }
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
}

/* pack -> unpack gives the formats layer's floats (ggml's), at every ISA, from the type's own
 * blocks and from f32 rows (quantized on the way in); the packed size is close to the file's. */
TEST(pack_roundtrip)
{
    for (int ti = 0; ti < NTYPES; ti++) {
        const herd_type t = ktypes[ti];
        const int N = 37, K = k_of(t, 2);
        float *want = malloc((size_t)N * K * 4), *got = malloc((size_t)N * K * 4),
              *f = malloc((size_t)N * K * 4);
        uint8_t *src = random_rows(t, N, K);
        CHECK(herd_row_to_f32(t, src, want, (size_t)N * K) == HERD_OK);
        for (int i = 0; i < N * K; i++)
            f[i] = harness_randf(&rng);
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_OK);
            if (!w)
                continue;
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(same(got, want, (size_t)N * K) < 0, "%s round trip", herd_packed_kernel(w));
            size_t src_bytes = herd_type_row_bytes(t, (size_t)K) * 48;
            /* TQ1_0's base-3 bytes unpack to 2-bit codes: 1.22× */
            size_t limit =
                src_bytes * (t == HERD_TYPE_TQ1_0 ? 5 : 6) / (t == HERD_TYPE_TQ1_0 ? 4 : 5);
            CHECK_MSG(herd_packed_bytes(w) <= limit + 128, "%s: %zu packed bytes",
                      herd_packed_kernel(w), herd_packed_bytes(w));
            herd_packed_free(w);
            CHECK(herd_pack(t, N, K, (herd_wsrc){HERD_TYPE_F32, f, 0}, &w) == HERD_OK);
            uint8_t *q = malloc(herd_type_row_bytes(t, (size_t)N * K));
            float *fq = malloc((size_t)N * K * 4);
            CHECK(herd_row_from_f32(t, f, q, (size_t)N * K) == HERD_OK);
            CHECK(herd_row_to_f32(t, q, fq, (size_t)N * K) == HERD_OK);
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(same(got, fq, (size_t)N * K) < 0, "%s from f32", herd_packed_kernel(w));
            herd_packed_free(w);
            free(q), free(fq);
        }
        free(want), free(got), free(f), free(src);
    }
    herd_set_isa(HERD_ISA_COUNT);
}

/* The ref twin against double on the unpacked weights: EXACT within the f32 summation bound,
 * AUTO adds the A quantization error Σ_superblocks ½·da·Σ|w|. */
TEST(ref_vs_double)
{
    herd_set_isa(HERD_ISA_REF);
    for (int ti = 0; ti < NTYPES; ti++) {
        const herd_type t = ktypes[ti];
        const int M = 5, N = 19, K = k_of(t, 2), E = kb_info_get(t)->elems;
        float *A = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4),
              *C = malloc((size_t)M * N * 4);
        for (int i = 0; i < M * K; i++)
            A[i] = harness_randf(&rng) * 3.0f;
        uint8_t *src = random_rows(t, N, K);
        herd_packed *w = NULL;
        CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_OK);
        CHECK(herd_unpack(w, W) == HERD_OK);
        for (int mode = 0; mode < 2; mode++) {
            herd_gemm_args a = {.M = M,
                                .A = A,
                                .lda = (size_t)K,
                                .C = C,
                                .ldc = (size_t)N,
                                .aprep = mode ? HERD_APREP_EXACT : HERD_APREP_AUTO};
            CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0, sa = 0, qerr = 0;
                    for (int b = 0; b < K / E; b++) {
                        double amax = 0, sw = 0;
                        for (int e = 0; e < E; e++) {
                            int k = E * b + e;
                            double x = A[i * K + k], y = W[j * K + k];
                            s += x * y;
                            sa += fabs(x * y);
                            amax = fmax(amax, fabs(x));
                            sw += fabs(y);
                        }
                        if (!mode)
                            qerr += 0.5 * amax / 127 * sw * 1.0001;
                    }
                    CHECK_NEAR(C[i * N + j], s, (K + 4) * 0x1p-24 * (sa + qerr) + qerr + 1e-30);
                }
        }
        herd_packed_free(w);
        free(src), free(A), free(W), free(C);
    }
    herd_set_isa(HERD_ISA_COUNT);
}

int main(void)
{
    RUN(pack_roundtrip);
    RUN(ref_vs_double);
    RUN(all_families);
    return harness_finish();
}
