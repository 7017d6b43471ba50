/* The checks every super-block kernel family gets (test_gemm_kquant.c, test_gemm_iquant.c,
 * test_gemm_q8k.c include this and describe their types in a fam_types):
 *   all_families:   every (type × ISA level this CPU has × A preparation × epilogue) against
 *                   the plain C twin on shapes with M = 1..17 and 30 (every tile height and
 *                   tail), odd N (panel tails) and K of 1..3 super-blocks, bit for bit (the
 *                   integer paths are exact and EXACT is one fmaf chain in K order);
 *                   identical results for 1, 2 and 3 threads;
 *   saturation:     (fam_check_saturation, for the types that give a max_rows) the same with
 *                   every code at its largest value against A of one magnitude: the worst case
 *                   of every partial sum;
 *   pack_roundtrip: pack → unpack equals the formats layer's dequantization, from the type's
 *                   own blocks and from f32 rows (quantized on the way in, or refused for the
 *                   types herd does not quantize to); the packed size is close to the file's;
 *   ref_vs_double:  the ref twin against double on the unpacked weights: EXACT within the f32
 *                   summation bound, AUTO adding the A quantization error ½·da·Σ|w| per
 *                   super-block. */
#ifndef HERD_TEST_FAMILY_CHECK_H
#define HERD_TEST_FAMILY_CHECK_H

#include "harness.h"
#include "herd/kernels.h"
#include "kernels/family.h"

typedef struct fam_types {
    const herd_type *types;
    int ntypes;
    uint64_t *rng;
    /* K for `sbs` super-blocks (a type with short blocks may use another count) */
    int (*k_of)(herd_type t, int sbs);
    /* values per A-quantization block (the super-block) */
    int (*elems)(herd_type t);
    /* n rows of k random values in the type's own blocks (malloc'd) */
    uint8_t *(*random_rows)(herd_type t, int n, int k);
    /* the packed size may be at most this ratio × the file's (+128 bytes) */
    double (*packed_ratio)(herd_type t);
} fam_types;

typedef struct fam_shape {
    int M, N, K; /* K in super-blocks (see k_of) */
} fam_shape;
static const fam_shape fam_shapes[] = {
    {1, 33, 1}, {2, 7, 2},  {3, 65, 1},  {4, 1, 3},   {5, 47, 1},  {6, 31, 2},
    {7, 19, 1}, {8, 17, 2}, {9, 33, 1},  {10, 5, 3},  {11, 95, 1}, {12, 33, 2},
    {13, 9, 1}, {16, 3, 1}, {17, 41, 2}, {1, 129, 3}, {30, 21, 1},
};

/* k_of and elems of the types whose blocks are super-blocks of 256. */
static inline int fam_k_256(herd_type t, int sbs)
{
    (void)t;
    return 256 * sbs;
}
static inline int fam_elems_256(herd_type t)
{
    (void)t;
    return 256;
}

/* An fp16 scale of magnitude O(0.01), either sign. */
static inline uint16_t fam_random_scale(uint64_t *rng)
{
    uint64_t r = harness_rand(rng);
    float d = (float)((double)(r % 1000) / 1000.0 * 0.02 + 0.0005) * (r & 1024 ? -1.f : 1.f);
    return herd_f32_to_f16(d);
}

enum { FAM_EPI_NONE, FAM_EPI_BIAS, FAM_EPI_SWIGLU, FAM_EPI_ALL, FAM_EPI_COUNT };

static void fam_run(const herd_packed *w, int M, int N, int K, const float *A, int epi,
                    const float *bias, const float *res, herd_aprep aprep, herd_pool *pool,
                    float *out)
{
    size_t ldc = (size_t)N + 3;
    float *C = calloc((size_t)M * ldc, sizeof(float));
    herd_gemm_args a = {.M = M, .A = A, .lda = (size_t)K, .C = C, .ldc = ldc, .aprep = aprep};
    if (epi == FAM_EPI_BIAS || epi == FAM_EPI_ALL)
        a.bias = bias;
    if (epi == FAM_EPI_SWIGLU || epi == FAM_EPI_ALL)
        a.act = HERD_ACT_SWIGLU;
    if (epi == FAM_EPI_ALL) {
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

static herd_packed *fam_pack(herd_type t, int N, int K, const uint8_t *g, const uint8_t *u, int epi)
{
    herd_packed *w = NULL;
    herd_wsrc sg = {t, g, 0}, su = {t, u, 0};
    herd_status st = epi == FAM_EPI_SWIGLU || epi == FAM_EPI_ALL
                         ? herd_pack_swiglu(t, N, K, sg, su, &w)
                         : herd_pack(t, N, K, sg, &w);
    CHECK_MSG(st == HERD_OK, "pack %s: %s", herd_type_name(t), herd_last_error());
    return w;
}

/* The first index where x and y differ in bits (NaN = NaN), or -1. */
static int fam_same(const float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&x[i], &y[i], 4) != 0 && !(isnan(x[i]) && isnan(y[i])))
            return (int)i;
    return -1;
}

/* A (M × K) and weights g, u (N × K) of type t: every family of the type above ref against
 * ref; every epilogue, or only none (`all_epi` false). `first` prints the families checked. */
static void fam_compare(const fam_types *T, herd_type t, int M, int N, int K, const float *A,
                        const uint8_t *g, const uint8_t *u, bool all_epi, bool first,
                        herd_pool *const pools[2])
{
    const size_t mn = (size_t)M * N;
    float *bias = malloc((size_t)N * 4), *res = malloc(mn * 4), *re = malloc(mn * 4),
          *ra = malloc(mn * 4), *got = malloc(mn * 4), *got2 = malloc(mn * 4);
    for (int i = 0; i < N; i++)
        bias[i] = harness_randf(T->rng);
    for (size_t i = 0; i < mn; i++)
        res[i] = harness_randf(T->rng);
    for (int epi = 0; epi < FAM_EPI_COUNT; epi++) {
        if (!all_epi && epi != FAM_EPI_NONE)
            continue;
        herd_set_isa(HERD_ISA_REF);
        herd_packed *rw = fam_pack(t, N, K, g, u, epi);
        if (!rw)
            continue;
        fam_run(rw, M, N, K, A, epi, bias, res, HERD_APREP_EXACT, NULL, re);
        fam_run(rw, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, NULL, ra);
        herd_packed_free(rw);
        const kfamily *seen = kfam_select(t, HERD_ISA_REF);
        for (int isa = HERD_ISA_AVX2; isa <= (int)herd_cpu_isa(); isa++) {
            const kfamily *fam = kfam_select(t, (herd_isa_level)isa);
            if (fam == seen)
                continue;
            seen = fam;
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = fam_pack(t, N, K, g, u, epi);
            if (!w)
                continue;
            if (first && epi == 0)
                printf("checking %s against %s\n", fam->name, herd_type_name(t));
            int bad;
            fam_run(w, M, N, K, A, epi, bias, res, HERD_APREP_EXACT, NULL, got);
            if ((bad = fam_same(got, re, mn)) >= 0)
                CHECK_MSG(0, "%s EXACT M=%d N=%d K=%d epi=%d: C[%d] %.9g want %.9g", fam->name, M,
                          N, K, epi, bad, got[bad], re[bad]);
            fam_run(w, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, NULL, got);
            if ((bad = fam_same(got, ra, mn)) >= 0)
                CHECK_MSG(0, "%s AUTO M=%d N=%d K=%d epi=%d: C[%d] %.9g want %.9g", fam->name, M, N,
                          K, epi, bad, got[bad], ra[bad]);
            if (epi == FAM_EPI_NONE)
                for (int p = 0; p < 2; p++) {
                    fam_run(w, M, N, K, A, epi, bias, res, HERD_APREP_AUTO, pools[p], got2);
                    CHECK_MSG(fam_same(got, got2, mn) < 0, "%s: %d threads differ", fam->name,
                              p + 2);
                }
            herd_packed_free(w);
        }
    }
    free(bias), free(res), free(re), free(ra), free(got), free(got2);
}

/* One shape × type of fam_shapes, random A and weights. */
static void fam_check_one(const fam_types *T, size_t si, int ti, herd_pool *const pools[2])
{
    const herd_type t = T->types[ti];
    const int M = fam_shapes[si].M, N = fam_shapes[si].N, K = T->k_of(t, fam_shapes[si].K);
    float *A = malloc((size_t)M * K * 4);
    for (int i = 0; i < M * K; i++)
        A[i] = harness_randf(T->rng) * (i % 61 == 0 ? 20.0f : 2.0f);
    uint8_t *g = T->random_rows(t, N, K), *u = T->random_rows(t, N, K);
    fam_compare(T, t, M, N, K, A, g, u, (si + (size_t)ti) % 2 == 0, si == 0, pools);
    free(A), free(g), free(u);
}

static void fam_check_all_families(const fam_types *T)
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    for (size_t si = 0; si < sizeof fam_shapes / sizeof fam_shapes[0]; si++)
        for (int ti = 0; ti < T->ntypes; ti++)
            fam_check_one(T, si, ti, pools);
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
}

/* The largest integer sums a tile can meet: every weight at its largest code (`max_rows`, the
 * type's blocks with every code bit set) against A rows of one magnitude (every quantized value
 * ±127: all +, all −, random signs), so a tile whose partial sums could overflow or saturate
 * (AVX2's VPMADDUBSW) differs from the ref. */
static inline void fam_check_saturation(const fam_types *T,
                                        uint8_t *(*max_rows)(herd_type t, int n, int k))
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    for (int ti = 0; ti < T->ntypes; ti++) {
        const herd_type t = T->types[ti];
        const int M = 5, N = 21, K = T->k_of(t, 2);
        float *A = malloc((size_t)M * K * 4);
        for (int i = 0; i < M * K; i++) {
            const int row = i / K;
            const float mag = row == 4 ? 0.5f : 1.0f; /* row 4: another da */
            A[i] = row == 0 || (row >= 2 && harness_rand(T->rng) & 1) ? mag : -mag;
        }
        uint8_t *g = max_rows(t, N, K), *u = max_rows(t, N, K);
        fam_compare(T, t, M, N, K, A, g, u, false, false, pools);
        free(A), free(g), free(u);
    }
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
}

static void fam_check_pack_roundtrip(const fam_types *T)
{
    for (int ti = 0; ti < T->ntypes; ti++) {
        const herd_type t = T->types[ti];
        const int N = 37, K = T->k_of(t, 2);
        float *want = malloc((size_t)N * K * 4), *got = malloc((size_t)N * K * 4),
              *f = malloc((size_t)N * K * 4);
        uint8_t *src = T->random_rows(t, N, K);
        CHECK(herd_row_to_f32(t, src, want, (size_t)N * K) == HERD_OK);
        for (int i = 0; i < N * K; i++)
            f[i] = harness_randf(T->rng);
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_OK);
            if (!w)
                continue;
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(fam_same(got, want, (size_t)N * K) < 0, "%s round trip",
                      herd_packed_kernel(w));
            size_t src_bytes = herd_type_row_bytes(t, (size_t)K) * 48;
            CHECK_MSG(herd_packed_bytes(w) <= (size_t)(src_bytes * T->packed_ratio(t)) + 128,
                      "%s: %zu packed bytes", herd_packed_kernel(w), herd_packed_bytes(w));
            herd_packed_free(w);
            w = NULL;
            herd_status st = herd_pack(t, N, K, (herd_wsrc){HERD_TYPE_F32, f, 0}, &w);
            if (!herd_type_can_quantize(t)) {
                CHECK_MSG(st != HERD_OK && !w, "%s packs from f32", herd_type_name(t));
                continue;
            }
            CHECK(st == HERD_OK);
            uint8_t *q = malloc(herd_type_row_bytes(t, (size_t)N * K));
            float *fq = malloc((size_t)N * K * 4);
            CHECK(herd_row_from_f32(t, f, q, (size_t)N * K) == HERD_OK);
            CHECK(herd_row_to_f32(t, q, fq, (size_t)N * K) == HERD_OK);
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(fam_same(got, fq, (size_t)N * K) < 0, "%s from f32", herd_packed_kernel(w));
            herd_packed_free(w);
            free(q), free(fq);
        }
        free(want), free(got), free(f), free(src);
    }
    herd_set_isa(HERD_ISA_COUNT);
}

static void fam_check_ref_vs_double(const fam_types *T)
{
    herd_set_isa(HERD_ISA_REF);
    for (int ti = 0; ti < T->ntypes; ti++) {
        const herd_type t = T->types[ti];
        const int M = 5, N = 19, K = T->k_of(t, 2), E = T->elems(t);
        float *A = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4),
              *C = malloc((size_t)M * N * 4);
        for (int i = 0; i < M * K; i++)
            A[i] = harness_randf(T->rng) * 3.0f;
        uint8_t *src = T->random_rows(t, N, K);
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

/* The three checks as this file's TEST functions, for a test's main to RUN. */
#define FAM_CHECK_TESTS(types)                                                                     \
    TEST(all_families)                                                                             \
    {                                                                                              \
        fam_check_all_families(&(types));                                                          \
    }                                                                                              \
    TEST(pack_roundtrip)                                                                           \
    {                                                                                              \
        fam_check_pack_roundtrip(&(types));                                                        \
    }                                                                                              \
    TEST(ref_vs_double)                                                                            \
    {                                                                                              \
        fam_check_ref_vs_double(&(types));                                                         \
    }

#endif
