/* The block-quantized families (Q8_0, Q4_0, MXFP8 E4M3/E5M2, MXFP6 E3M2/E2M3, MXFP4, MXINT8)
 * against their plain C twins: every (type × ISA level this CPU has × A preparation ×
 * epilogue) on random shapes with M = 1..17, odd N and K = 32·odd; pack → unpack round trips
 * checked against an independent decoder (formats' MX dequantizer, a spelled-out Q8_0/Q4_0);
 * identical results for 1, 2 and 3 threads; bad blocks rejected at pack time.
 *
 * Weights are random blocks of the type itself (random codes and scales, including the
 * tiniest E8M0 scales), so the test needs no quantizer.
 *
 * What "equal" means (math in src/kernels/quant.h):
 *  - EXACT (A f32, weights decoded exactly, one fmaf chain in k order): bit for bit.
 *  - int family AUTO (A int8 with a row scale times a power of two per 32-block, exact int32
 *    block sums, same fmaf per block): bit for bit.
 *  - fp family AUTO on AVX512-BF16 (VDPBF16PS): products of bf16 pairs are exact, the hardware
 *    adds in its own order and flushes denormals; within 2·(K+2)·2^-24·Σ|a·w| + (2K+4)·2^-126
 *    of the ref's emulation, plus epilogue and bf16-output slack (the dense test's bound).
 * Elsewhere fp AUTO is f32: bit for bit.
 *  - The ref twins against double: EXACT within (K+2)·2^-24·Σ|a·w|; int AUTO adds the A
 *    quantization error Σ_blocks ½·da·Σ|w|, da = s·2^-j < 2·max|a_block|/127. */
#include "harness.h"
#include "herd/kernels.h"
#include "kernels/family.h"
#include "kernels/quant.h"

static uint64_t rng = 0x51ed2701f00dull;

static const herd_type qtypes[] = {HERD_TYPE_Q8_0,       HERD_TYPE_Q4_0,       HERD_TYPE_MXFP8_E4M3,
                                   HERD_TYPE_MXFP8_E5M2, HERD_TYPE_MXFP6_E3M2, HERD_TYPE_MXFP6_E2M3,
                                   HERD_TYPE_MXFP4,      HERD_TYPE_MXINT8};
enum { NTYPES = sizeof qtypes / sizeof qtypes[0] };

typedef struct shape {
    int M, N, K;
} shape;
static const shape shapes[] = {
    {1, 33, 96},  {2, 7, 32},    {3, 65, 160},  {4, 1, 224},  {5, 47, 32},
    {6, 31, 96},  {7, 19, 32},   {8, 17, 160},  {9, 33, 32},  {10, 5, 96},
    {11, 95, 32}, {12, 33, 224}, {13, 9, 96},   {14, 3, 160}, {15, 33, 32},
    {16, 3, 288}, {17, 41, 96},  {1, 129, 352}, {30, 21, 96},
};

enum { EPI_NONE, EPI_BIAS, EPI_SILU, EPI_SWIGLU, EPI_RESID, EPI_BF16, EPI_ALL, EPI_COUNT };

static bool is_fp(herd_type t)
{
    return t == HERD_TYPE_MXFP8_E4M3 || t == HERD_TYPE_MXFP8_E5M2 || t == HERD_TYPE_MXFP6_E3M2;
}

/* ---- random blocks of the type itself ---------------------------------------------------- */

static void random_block(herd_type t, uint8_t *blk)
{
    const int bb = herd_type_get(t)->block_bytes;
    uint64_t r = harness_rand(&rng);
    if (t == HERD_TYPE_Q8_0 || t == HERD_TYPE_Q4_0) {
        float d = (float)((double)(r % 1000) / 1000.0 * 0.05 + 0.001) * (r & 1024 ? -1.f : 1.f);
        uint16_t h = herd_f32_to_f16(d);
        blk[0] = (uint8_t)h;
        blk[1] = (uint8_t)(h >> 8);
        for (int i = 2; i < bb; i++)
            blk[i] = (uint8_t)harness_rand(&rng);
        return;
    }
    /* E8M0 around 2^0 (so values stay O(1)), sometimes the tiniest scales. */
    int e = 127 - 3 + (int)(r % 5);
    if (r % 97 == 0)
        e = (int)(r % 3); /* 2^-127 .. 2^-125: f32 denormal products */
    if (r % 89 == 0 && (t == HERD_TYPE_MXFP4 || t == HERD_TYPE_MXFP6_E2M3 || t == HERD_TYPE_MXINT8))
        e = 234 + (int)(r % 5); /* 2^107 .. 2^111: past the int tile's fast range */
    if (t == HERD_TYPE_MXFP8_E5M2)
        e -= 8; /* E5M2 reaches 57344 */
    if (t == HERD_TYPE_MXFP8_E4M3)
        e -= 4;
    blk[0] = (uint8_t)(e < 0 ? 0 : e);
    if (t == HERD_TYPE_MXFP6_E3M2 || t == HERD_TYPE_MXFP6_E2M3) {
        for (int g = 0; g < 8; g++) {
            uint32_t w = (uint32_t)harness_rand(&rng) & 0xFFFFFF;
            blk[1 + 3 * g] = (uint8_t)w;
            blk[2 + 3 * g] = (uint8_t)(w >> 8);
            blk[3 + 3 * g] = (uint8_t)(w >> 16);
        }
        return;
    }
    for (int i = 1; i < bb; i++) {
        uint8_t c = (uint8_t)harness_rand(&rng);
        if (t == HERD_TYPE_MXFP8_E4M3 && (c & 0x7F) == 0x7F)
            c ^= 1; /* not NaN */
        if (t == HERD_TYPE_MXFP8_E5M2 && (c & 0x7C) == 0x7C)
            c ^= 0x40; /* not Inf/NaN */
        blk[i] = c;
    }
}

static uint8_t *random_rows(herd_type t, int n, int k)
{
    const int bb = herd_type_get(t)->block_bytes, nb = k / 32;
    uint8_t *w = malloc((size_t)n * nb * bb);
    for (int i = 0; i < n * nb; i++)
        random_block(t, w + (size_t)i * bb);
    return w;
}

/* Independent decoding: formats' MX dequantizer, and Q8_0 / Q4_0 spelled out (spec
 * formats.md §3). */
static void decode_rows(herd_type t, const uint8_t *src, int n, int k, float *dst)
{
    const int bb = herd_type_get(t)->block_bytes, nb = k / 32;
    herd_mx_format f;
    if (herd_mx_format_of_type(t, &f)) {
        herd_mx_dequantize(f, src, dst, (size_t)n * k);
        return;
    }
    for (int i = 0; i < n * nb; i++) {
        const uint8_t *b = src + (size_t)i * bb;
        float d = herd_f16_to_f32((uint16_t)(b[0] | b[1] << 8));
        float *y = dst + (size_t)i * 32;
        for (int j = 0; j < 32; j++)
            y[j] = t == HERD_TYPE_Q8_0
                       ? d * (float)(int8_t)b[2 + j]
                       : d * (float)(((j < 16 ? b[2 + j] : b[2 + j - 16] >> 4) & 15) - 8);
    }
}

/* ---- running ----------------------------------------------------------------------------- */

typedef struct problem {
    shape s;
    int epi;
    herd_type type;
    float *A, *bias, *res;
    uint8_t *Wg, *Wu;
} problem;

static bool swiglu(int epi)
{
    return epi == EPI_SWIGLU || epi == EPI_ALL;
}

static herd_packed *pack(const problem *p)
{
    herd_packed *w = NULL;
    herd_wsrc g = {p->type, p->Wg, 0}, u = {p->type, p->Wu, 0};
    herd_status st = swiglu(p->epi) ? herd_pack_swiglu(p->type, p->s.N, p->s.K, g, u, &w)
                                    : herd_pack(p->type, p->s.N, p->s.K, g, &w);
    CHECK_MSG(st == HERD_OK, "pack %s: %s", herd_type_name(p->type), herd_last_error());
    return w;
}

static void run(const herd_packed *w, const problem *p, const float *A, herd_aprep aprep,
                herd_pool *pool, float *out)
{
    const int M = p->s.M, N = p->s.N, K = p->s.K;
    size_t ldc = (size_t)N + 5;
    float *C = calloc((size_t)M * ldc, sizeof(float));
    herd_gemm_args a = {.M = M, .A = A, .lda = (size_t)K, .C = C, .ldc = ldc, .aprep = aprep};
    int e = p->epi;
    if (e == EPI_BIAS || e == EPI_ALL)
        a.bias = p->bias;
    if (e == EPI_SILU)
        a.act = HERD_ACT_SILU;
    if (swiglu(e))
        a.act = HERD_ACT_SWIGLU;
    if (e == EPI_RESID || e == EPI_ALL) {
        a.residual = p->res;
        a.ldr = (size_t)N;
    }
    a.out_bf16 = e == EPI_BF16 || e == EPI_ALL;
    CHECK_MSG(herd_gemm(w, &a, pool) == HERD_OK, "gemm: %s", herd_last_error());
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[(size_t)i * N + j] = a.out_bf16
                                         ? herd_bf16_to_f32(((uint16_t *)C)[(size_t)i * ldc + j])
                                         : C[(size_t)i * ldc + j];
    free(C);
}

static double silu(double v)
{
    return v / (1.0 + exp(-v));
}

/* The bf16 path's bound per output (see the header comment). */
static double bf16_tol(const problem *p, const float *W, int i, int j)
{
    const int N = p->s.N, K = p->s.K;
    double sg = 0, su = 0, g = 0, u = 0;
    for (int k = 0; k < K; k++) {
        double a = herd_bf16_to_f32(herd_f32_to_bf16(p->A[(size_t)i * K + k]));
        g += a * W[(size_t)j * K + k];
        sg += fabs(a * W[(size_t)j * K + k]);
        if (swiglu(p->epi)) {
            u += a * W[((size_t)N + j) * K + k];
            su += fabs(a * W[((size_t)N + j) * K + k]);
        }
    }
    if (p->epi == EPI_BIAS || p->epi == EPI_ALL)
        g += p->bias[j];
    /* VDPBF16PS flushes denormal products and sums (blocks with the tiniest E8M0 scales). */
    double c = 2.0 * (K + 2) * 0x1p-24, flush = (2.0 * K + 4) * 0x1p-126;
    double eg = c * sg + flush, eu = c * su + flush, v = g, err = eg;
    if (p->epi == EPI_SILU) {
        v = silu(g);
        err = 1.1 * eg;
    } else if (swiglu(p->epi)) {
        v = silu(g) * u;
        err = 1.1 * eg * fabs(u) + fabs(silu(g)) * eu + 1.1 * eg * eu;
    }
    err += 8 * 0x1p-24 * (fabs(v) + 1e-30);
    if (p->epi == EPI_BF16 || p->epi == EPI_ALL)
        err += 0x1p-8 * (fabs(v) + err) + 1e-38;
    return err;
}

static long exact_hits, bf16_outputs;

/* Returns mismatches; exact compares bits (NaN equals NaN), else the bf16 bound. */
static int compare(const char *what, const problem *p, const float *got, const float *want,
                   bool exact, const float *W)
{
    const int M = p->s.M, N = p->s.N;
    int bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float x = got[(size_t)i * N + j], y = want[(size_t)i * N + j];
            bool same = memcmp(&x, &y, sizeof x) == 0 || (isnan(x) && isnan(y));
            bool ok = same;
            double tol = 0;
            if (!exact) {
                bf16_outputs++;
                exact_hits += same;
                tol = bf16_tol(p, W, i, j);
                ok = same || fabs((double)x - (double)y) <= tol;
            }
            if (!ok && bad++ == 0)
                CHECK_MSG(0, "%s %s M=%d N=%d K=%d epi=%d: C[%d][%d] = %.9g, want %.9g (tol %.3g)",
                          what, herd_type_name(p->type), M, p->s.N, p->s.K, p->epi, i, j, x, y,
                          tol);
        }
    return bad;
}

static const kfamily *checked[64];
static void note_family(const kfamily *fam)
{
    for (int i = 0; i < 64; i++) {
        if (checked[i] == fam)
            return;
        if (!checked[i]) {
            checked[i] = fam;
            printf("checking %s (A in AUTO: %s)\n", fam->name, fam->a_desc);
            return;
        }
    }
}

static void check_problem(problem *p, herd_pool **pools)
{
    const int M = p->s.M, N = p->s.N, K = p->s.K;
    const size_t mn = (size_t)M * N, wrows = (size_t)N * (swiglu(p->epi) ? 2 : 1);
    float *ref_exact = malloc(mn * 4), *ref_auto = malloc(mn * 4), *got = malloc(mn * 4),
          *got2 = malloc(mn * 4), *W = malloc(wrows * K * 4), *Wu = malloc(wrows * K * 4);

    herd_set_isa(HERD_ISA_REF);
    herd_packed *rw = pack(p);
    if (!rw)
        goto out;
    CHECK(herd_unpack(rw, W) == HERD_OK);
    run(rw, p, p->A, HERD_APREP_EXACT, NULL, ref_exact);
    run(rw, p, p->A, HERD_APREP_AUTO, NULL, ref_auto);

    const kfamily *seen[HERD_ISA_COUNT] = {0};
    for (int isa = HERD_ISA_AVX2; isa <= (int)herd_cpu_isa(); isa++) {
        const kfamily *fam = kfam_select(p->type, (herd_isa_level)isa);
        bool dup = fam->isa == HERD_ISA_REF;
        for (int i = 0; i < isa; i++)
            dup |= seen[i] == fam;
        seen[isa] = fam;
        if (dup)
            continue;
        herd_set_isa((herd_isa_level)isa);
        herd_packed *w = pack(p);
        if (!w)
            continue;
        note_family(fam);
        CHECK(herd_unpack(w, Wu) == HERD_OK);
        CHECK_MSG(memcmp(Wu, W, wrows * K * 4) == 0, "%s: unpack differs from ref", fam->name);
        run(w, p, p->A, HERD_APREP_EXACT, NULL, got);
        compare(fam->name, p, got, ref_exact, true, W);
        run(w, p, p->A, HERD_APREP_AUTO, NULL, got);
        if (!fam->a_prep)
            compare(fam->name, p, got, ref_exact, true, W);
        else
            compare(fam->name, p, got, ref_auto, fam->a_prep != kaprep_bf16, W);
        if (p->epi == EPI_NONE || p->epi == EPI_ALL)
            for (int t = 0; t < 2; t++) {
                run(w, p, p->A, HERD_APREP_AUTO, pools[t], got2);
                CHECK_MSG(memcmp(got, got2, mn * 4) == 0, "%s: %d threads differ", fam->name,
                          t + 2);
            }
        herd_packed_free(w);
    }
out:
    herd_packed_free(rw);
    free(ref_exact), free(ref_auto), free(got), free(got2), free(W), free(Wu);
}

TEST(gemm_quant_all_families)
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ti = 0; ti < NTYPES; ti++) {
            problem p = {.s = shapes[si], .type = qtypes[ti]};
            const int M = p.s.M, N = p.s.N, K = p.s.K;
            p.A = malloc((size_t)M * K * 4);
            p.bias = malloc((size_t)N * 4);
            p.res = malloc((size_t)M * N * 4);
            for (int i = 0; i < M * K; i++)
                p.A[i] = harness_randf(&rng) * (i % 61 == 0 ? 20.0f : 2.0f); /* some outliers */
            for (int i = 0; i < N; i++)
                p.bias[i] = harness_randf(&rng);
            for (int i = 0; i < M * N; i++)
                p.res[i] = harness_randf(&rng);
            p.Wg = random_rows(p.type, N, K);
            p.Wu = random_rows(p.type, N, K);
            for (int e = 0; e < EPI_COUNT; e++) {
                if ((si + (size_t)ti) % 3 && e != EPI_NONE && e != EPI_ALL)
                    continue; /* every epilogue on a third of the cases, none/all on all */
                p.epi = e;
                check_problem(&p, pools);
            }
            free(p.A), free(p.bias), free(p.res), free(p.Wg), free(p.Wu);
        }
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
    if (bf16_outputs)
        printf("bf16 path: %ld of %ld outputs bit-identical to the ref emulation\n", exact_hits,
               bf16_outputs);
}

/* pack → unpack equals an independent decoding of the source blocks, at every ISA. */
TEST(pack_roundtrip)
{
    const int N = 37, K = 160;
    float *want = malloc((size_t)N * K * 4), *got = malloc((size_t)2 * N * K * 4);
    for (int ti = 0; ti < NTYPES; ti++) {
        herd_type t = qtypes[ti];
        uint8_t *src = random_rows(t, N, K);
        decode_rows(t, src, N, K, want);
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_OK);
            if (!w)
                continue;
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(memcmp(got, want, (size_t)N * K * 4) == 0, "%s round trip",
                      herd_packed_kernel(w));
            CHECK(herd_packed_type(w) == t);
            CHECK_EQ_INT(herd_packed_n(w), N);
            CHECK_EQ_INT(herd_packed_k(w), K);
            /* The packed weight is the source size plus the padding rows. */
            size_t src_bytes = herd_type_row_bytes(t, K) * 48;
            CHECK(herd_packed_bytes(w) >= src_bytes && herd_packed_bytes(w) <= src_bytes + 3 * 64);
            herd_packed_free(w);
            CHECK(herd_pack_swiglu(t, N, K, (herd_wsrc){t, src, 0}, (herd_wsrc){t, src, 0}, &w) ==
                  HERD_OK);
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK(memcmp(got, want, (size_t)N * K * 4) == 0);
            CHECK(memcmp(got + N * K, want, (size_t)N * K * 4) == 0);
            herd_packed_free(w);
        }
        free(src);
        /* From f32 rows: quantized by the formats layer on the way in. */
        float *f = malloc((size_t)N * K * 4);
        uint8_t *q = malloc(herd_type_row_bytes(t, (size_t)N * K));
        for (int i = 0; i < N * K; i++)
            f[i] = harness_randf(&rng) * 4.0f;
        CHECK(herd_row_from_f32(t, f, q, (size_t)N * K) == HERD_OK);
        CHECK(herd_row_to_f32(t, q, want, (size_t)N * K) == HERD_OK);
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK_MSG(herd_pack(t, N, K, (herd_wsrc){HERD_TYPE_F32, f, 0}, &w) == HERD_OK,
                      "pack from f32: %s", herd_last_error());
            if (!w)
                continue;
            CHECK(herd_unpack(w, got) == HERD_OK);
            CHECK_MSG(memcmp(got, want, (size_t)N * K * 4) == 0, "%s from f32",
                      herd_packed_kernel(w));
            herd_packed_free(w);
        }
        free(f), free(q);
    }
    herd_set_isa(HERD_ISA_COUNT);
    free(want), free(got);
}

/* The ref twins against double precision on the unpacked weights. */
TEST(ref_vs_double)
{
    herd_set_isa(HERD_ISA_REF);
    const int M = 5, N = 19, K = 160;
    float *A = malloc(M * K * 4), *W = malloc(N * K * 4), *C = malloc(M * N * 4);
    for (int i = 0; i < M * K; i++) /* rows 1.. span 2^0..2^-36 by block (j up to KQ_JMAX) */
        A[i] = harness_randf(&rng) * 3.0f * (i < K ? 1.0f : ldexpf(1.0f, -(i % K / 32) * 9 % 37));
    for (int ti = 0; ti < NTYPES; ti++) {
        herd_type t = qtypes[ti];
        uint8_t *src = random_rows(t, N, K);
        herd_packed *w = NULL;
        CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_OK);
        CHECK(herd_unpack(w, W) == HERD_OK);
        for (int mode = 0; mode < 2; mode++) {
            herd_gemm_args a = {.M = M,
                                .A = A,
                                .lda = K,
                                .C = C,
                                .ldc = N,
                                .aprep = mode ? HERD_APREP_EXACT : HERD_APREP_AUTO};
            CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0, sa = 0, qerr = 0;
                    float rmax = 0;
                    for (int k = 0; k < K; k++)
                        rmax = fmaxf(rmax, fabsf(A[i * K + k]));
                    for (int b = 0; b < K / 32; b++) {
                        double amax = 0, sw = 0;
                        for (int kk = 0; kk < 32; kk++) {
                            int k = 32 * b + kk;
                            double x = A[i * K + k], y = W[j * K + k];
                            if (!mode && is_fp(t))
                                x = herd_bf16_to_f32(herd_f32_to_bf16((float)x)); /* A in bf16 */
                            s += x * y;
                            sa += fabs(x * y);
                            amax = fmax(amax, fabs(A[i * K + k]));
                            sw += fabs(y);
                        }
                        if (!mode && !is_fp(t)) /* ½·da·Σ|w|, da = s·2^-j (quant.h) */
                            qerr += 0.5 * rmax / 127 * ldexp(1, -kq_a_shift((float)amax, rmax)) *
                                    sw * 1.0001;
                    }
                    CHECK_NEAR(C[i * N + j], s, (K + 2) * 0x1p-24 * sa + qerr + 1e-30);
                }
        }
        herd_packed_free(w);
        free(src);
    }
    free(A), free(W), free(C);
    herd_set_isa(HERD_ISA_COUNT);
}

/* Blocks that cannot be computed with are refused with a message naming row and block. */
TEST(bad_blocks)
{
    const int N = 3, K = 64;
    static const herd_type bad[] = {HERD_TYPE_MXFP4, HERD_TYPE_MXFP8_E4M3, HERD_TYPE_MXFP8_E5M2};
    for (int i = 0; i < 3; i++) {
        herd_type t = bad[i];
        uint8_t *src = random_rows(t, N, K);
        uint8_t *blk = src + herd_type_row_bytes(t, K) + herd_type_get(t)->block_bytes;
        if (t == HERD_TYPE_MXFP4)
            blk[0] = 0xFF; /* NaN scale */
        else
            blk[5] = t == HERD_TYPE_MXFP8_E4M3 ? 0x7F : 0xFC; /* NaN / -Inf element */
        for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
            herd_set_isa((herd_isa_level)isa);
            herd_packed *w = NULL;
            CHECK(herd_pack(t, N, K, (herd_wsrc){t, src, 0}, &w) == HERD_ERR_FORMAT);
            CHECK(w == NULL);
            CHECK_MSG(strstr(herd_last_error(), "row 1, block 1") != NULL, "message: %s",
                      herd_last_error());
        }
        free(src);
    }
    herd_set_isa(HERD_ISA_COUNT);
}

/* ctest runs this file twice: as is, and with HERD_NO_VBMI=1 HERD_NO_GFNI=1 (the tiles' paths
 * for CPUs without AVX512-VBMI or GFNI); say which one ran. */
TEST(vbmi_mask)
{
    const char *off = getenv("HERD_NO_VBMI");
    if (off && *off && strcmp(off, "0") != 0)
        CHECK(!herd_cpu_has_vbmi());
    off = getenv("HERD_NO_GFNI");
    if (off && *off && strcmp(off, "0") != 0)
        CHECK(!herd_cpu_has_gfni());
    printf("AVX512-VBMI paths: %s, GFNI: %s\n", herd_cpu_has_vbmi() ? "on" : "off",
           herd_cpu_has_gfni() ? "on" : "off");
}

/* The fast families' int8 A quantizers write the C one's bytes (kq_aprep_i8) on rows built to
 * reach every branch: zero rows and blocks, subnormal blocks and rows, a span of blocks past
 * KQ_JMAX, a block max with a larger mantissa than the row max, Inf, NaN, exact ties. */
TEST(aprep_i8_edges)
{
    enum { K = 256, NB = K / 32, ROWS = 10 };
    float A[ROWS][K];
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < K; i++)
            A[r][i] = harness_randf(&rng) * 2.0f;
    memset(A[0], 0, sizeof A[0]);             /* zero row */
    memset(A[1] + 64, 0, 64 * sizeof(float)); /* zero blocks */
    for (int i = 0; i < K; i++) {
        A[2][i] = i < 96 ? A[2][i] * 1e-39f : A[2][i]; /* subnormal blocks */
        A[3][i] *= 1e-40f;                             /* subnormal row */
        A[4][i] *= ldexpf(1.0f, -(i / 32) * 9);        /* blocks 2^0 .. 2^-63 */
        A[5][i] = i % 32 == 3 ? (i / 32 % 2 ? 1.9f : -1.1f) : A[5][i] * 0.5f; /* mantissas */
        A[7][i] = (float)((i % 9) - 4) + 0.5f;                                /* ties at s = 1 */
    }
    A[5][40] = -1.0f;
    A[6][77] = INFINITY;
    A[7][0] = 127.0f;
    A[8][200] = NAN;
    A[9][13] = -3e38f;
    for (int ti = 0; ti < NTYPES; ti++) {
        if (is_fp(qtypes[ti]))
            continue;
        const kfamily *ref = kfam_select(qtypes[ti], HERD_ISA_REF);
        for (int isa = HERD_ISA_AVX2; isa <= (int)herd_cpu_isa(); isa++) {
            const kfamily *fam = kfam_select(qtypes[ti], (herd_isa_level)isa);
            if (fam == ref || !fam->a_prep || strcmp(fam->a_desc, ref->a_desc) != 0)
                continue;
            const size_t bytes = fam->a_row_bytes(K);
            uint8_t want[NB * KQ_AREC + 4], got[NB * KQ_AREC + 4];
            CHECK(bytes == sizeof want);
            for (int r = 0; r < ROWS; r++) {
                kq_aprep_i8(A[r], K, want);
                fam->a_prep(A[r], K, got);
                CHECK_MSG(memcmp(want, got, bytes) == 0, "%s: A row %d prepared differently",
                          fam->name, r);
            }
        }
    }
}

int main(void)
{
    RUN(vbmi_mask);
    RUN(aprep_i8_edges);
    RUN(pack_roundtrip);
    RUN(ref_vs_double);
    RUN(bad_blocks);
    RUN(gemm_quant_all_families);
    return harness_finish();
}
