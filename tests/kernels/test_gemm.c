/* The GEMM layer against its plain C twins: every (weight type × ISA level this CPU has ×
 * A preparation × epilogue) on random shapes with M = 1..17, odd N and K = 32·odd (plus an odd
 * K for the pair/quad layouts), pack → unpack round trips, and identical results for 1, 2 and
 * 3 threads.
 *
 * What "equal" means, and why:
 *  - Kernels with A kept f32 (every EXACT run, and AUTO where the family has no A preparation)
 *    compute each output as one fmaf chain in k order, scale, then the epilogue with the same
 *    IEEE operations and exp polynomial as the ref twin: compared bit for bit.
 *  - INT8 AUTO quantizes A with the shared plain C quantizer and sums exactly in int32:
 *    compared bit for bit.
 *  - BF16 AUTO (VDPBF16PS) multiplies bf16 pairs exactly but adds in its own order and
 *    rounding. It is compared with the ref on the same bf16-rounded A within
 *    2·(K+2)·2^-24·Σ|a·w| per output — twice the classic worst-case bound for summing K
 *    exact products in any order — carried through the epilogue (SiLU has slope < 1.1) plus
 *    a few ulp of the result and one bf16 ulp when the output is bf16.
 *  - The ref twins themselves are checked against a double-precision product of the unpacked
 *    weights within (K+2)·2^-24·Σ|a·w| (f32 A) or, for INT8 AUTO, the A quantization error
 *    ½·s_A·Σ|w| on top. */
#include "harness.h"
#include "herd/kernels.h"
#include "kernels/family.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

typedef struct shape {
    int M, N, K;
} shape;

static const shape shapes[] = {
    {1, 33, 96},
    {2, 7, 32},
    {3, 65, 160},
    {4, 1, 224},
    {5, 47, 32},
    {6, 31, 96},
    {7, 64, 37},
    {8, 17, 160},
    {9, 33, 32},
    {10, 5, 96},
    {11, 95, 32},
    {12, 33, 224},
    {13, 9, 96},
    {14, 70, 160},
    {15, 33, 38},
    {16, 3, 32},
    {17, 41, 96},
    {1, 129, 288},
    {2, 40, 33},
    {25, 35, 96},
    /* one or two panels and many rows: the threads share the rows */
    {200, 9, 64},
    {97, 16, 96},
    {170, 40, 32},
};
static const herd_type types[] = {HERD_TYPE_F32, HERD_TYPE_F16, HERD_TYPE_BF16, HERD_TYPE_INT8};

enum {
    EPI_NONE,
    EPI_BIAS,
    EPI_SILU,
    EPI_SWIGLU,
    EPI_RESID,
    EPI_RESID_INPLACE,
    EPI_BF16,
    EPI_ALL,
    EPI_COUNT
};

typedef struct problem {
    shape s;
    int epi;
    float *A, *Wg, *Wu, *bias, *res;
    herd_packed *ref_w;
} problem;

static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = harness_randf(&rng) * scale;
}

static herd_packed *pack(herd_type type, const problem *p)
{
    herd_packed *w = NULL;
    herd_wsrc g = {HERD_TYPE_F32, p->Wg, 0}, u = {HERD_TYPE_F32, p->Wu, 0};
    herd_status st = p->epi == EPI_SWIGLU || p->epi == EPI_ALL
                         ? herd_pack_swiglu(type, p->s.N, p->s.K, g, u, &w)
                         : herd_pack(type, p->s.N, p->s.K, g, &w);
    CHECK_MSG(st == HERD_OK, "pack %s: %s", herd_type_name(type), herd_last_error());
    return w;
}

/* Runs the GEMM; C is M×N floats (or bf16 widened to floats on return). */
static void run(const herd_packed *w, const problem *p, const float *A, herd_aprep aprep,
                herd_pool *pool, float *out)
{
    const int M = p->s.M, N = p->s.N, K = p->s.K;
    size_t ldc = (size_t)N + 3;
    float *C = calloc((size_t)M * ldc, sizeof(float));
    herd_gemm_args a = {.M = M, .A = A, .lda = (size_t)K, .C = C, .ldc = ldc, .aprep = aprep};
    int e = p->epi;
    if (e == EPI_BIAS || e == EPI_ALL)
        a.bias = p->bias;
    if (e == EPI_SILU)
        a.act = HERD_ACT_SILU;
    if (e == EPI_SWIGLU || e == EPI_ALL)
        a.act = HERD_ACT_SWIGLU;
    if (e == EPI_RESID || e == EPI_ALL) {
        a.residual = p->res;
        a.ldr = (size_t)N;
    }
    if (e == EPI_RESID_INPLACE) {
        for (int i = 0; i < M; i++)
            memcpy(C + (size_t)i * ldc, p->res + (size_t)i * N, (size_t)N * sizeof(float));
        a.residual = C;
        a.ldr = ldc;
    }
    if (e == EPI_BF16 || e == EPI_ALL)
        a.out_bf16 = true;
    herd_status st = herd_gemm(w, &a, pool);
    CHECK_MSG(st == HERD_OK, "gemm: %s", herd_last_error());
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

/* Per-output tolerance for a dot-product error bound E_g (gate/plain) and E_u (up). */
static double epi_tol(const problem *p, double g, double u, double eg, double eu)
{
    int e = p->epi;
    double v, err;
    if (e == EPI_SILU) {
        v = silu(g);
        err = 1.1 * eg;
    } else if (e == EPI_SWIGLU || e == EPI_ALL) {
        v = silu(g) * u;
        err = 1.1 * eg * fabs(u) + fabs(silu(g)) * eu + 1.1 * eg * eu;
    } else {
        v = g;
        err = eg;
    }
    err += 8 * 0x1p-24 * (fabs(v) + 1e-30);
    if (e == EPI_BF16 || e == EPI_ALL)
        err += 0x1p-8 * (fabs(v) + err) + 1e-38;
    return err;
}

/* Compares got with want: bit-exact, or within the bf16-dot bound computed from Aq and the
 * ref-unpacked weights. Returns the number of mismatches (printing the first). */
static int compare(const char *what, const problem *p, const float *got, const float *want,
                   bool exact, const float *Aq, const float *Wun)
{
    const int M = p->s.M, N = p->s.N, K = p->s.K;
    int bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float x = got[(size_t)i * N + j], y = want[(size_t)i * N + j];
            bool ok;
            double tol = 0;
            if (exact) {
                ok = memcmp(&x, &y, sizeof x) == 0 || (isnan(x) && isnan(y));
            } else {
                double sg = 0, su = 0, g = 0, u = 0;
                for (int k = 0; k < K; k++) {
                    double a = Aq[(size_t)i * K + k];
                    double wg = Wun[(size_t)j * K + k];
                    g += a * wg;
                    sg += fabs(a * wg);
                    if (p->epi == EPI_SWIGLU || p->epi == EPI_ALL) {
                        double wu = Wun[((size_t)N + j) * K + k];
                        u += a * wu;
                        su += fabs(a * wu);
                    }
                }
                if (p->epi == EPI_BIAS || p->epi == EPI_ALL)
                    g += p->bias[j];
                double c = 2.0 * (K + 2) * 0x1p-24;
                tol = epi_tol(p, g, u, c * sg, c * su);
                ok = fabs((double)x - (double)y) <= tol;
            }
            if (!ok && bad++ == 0)
                CHECK_MSG(0, "%s M=%d N=%d K=%d epi=%d: C[%d][%d] = %.9g, want %.9g (tol %.3g)",
                          what, M, N, K, p->epi, i, j, x, y, tol);
        }
    return bad;
}

static bool has_swiglu(int epi)
{
    return epi == EPI_SWIGLU || epi == EPI_ALL;
}

static const kfamily *checked[32];
static void note_family(const kfamily *fam)
{
    for (int i = 0; i < 32; i++) {
        if (checked[i] == fam)
            return;
        if (!checked[i]) {
            checked[i] = fam;
            printf("checking %s (A prep in AUTO: %s)\n", fam->name, fam->a_desc);
            return;
        }
    }
}

/* One problem against every family of `type` this CPU has. */
static void check_problem(herd_type type, problem *p, herd_pool **pools)
{
    const int M = p->s.M, N = p->s.N, K = p->s.K;
    size_t mn = (size_t)M * N;
    float *ref_exact = malloc(mn * 4), *ref_auto = malloc(mn * 4), *ref_bf = malloc(mn * 4);
    float *got = malloc(mn * 4), *got2 = malloc(mn * 4);
    float *Abf = malloc((size_t)M * K * 4);
    size_t wrows = (size_t)N * (has_swiglu(p->epi) ? 2 : 1);
    float *Wun = malloc(wrows * K * 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        Abf[i] = herd_bf16_to_f32(herd_f32_to_bf16(p->A[i]));

    herd_set_isa(HERD_ISA_REF);
    herd_packed *rw = pack(type, p);
    if (!rw)
        goto out;
    CHECK(herd_unpack(rw, Wun) == HERD_OK);
    run(rw, p, p->A, HERD_APREP_EXACT, NULL, ref_exact);
    run(rw, p, p->A, HERD_APREP_AUTO, NULL, ref_auto);
    run(rw, p, Abf, HERD_APREP_EXACT, NULL, ref_bf);

    const kfamily *seen[HERD_ISA_COUNT] = {0};
    const kfamily *ref_fam = kfam_select(type, HERD_ISA_REF);
    for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
        herd_set_isa((herd_isa_level)isa);
        const kfamily *fam = kfam_select(type, (herd_isa_level)isa);
        bool dup = false;
        for (int i = 0; i < isa; i++)
            dup |= seen[i] == fam;
        seen[isa] = fam;
        if (dup)
            continue;
        herd_packed *w = pack(type, p);
        if (!w)
            continue;
        note_family(fam);
        char what[64];
        /* Unpacked weights equal the ref family's (same quantizer). */
        float *wu2 = malloc(wrows * K * 4);
        CHECK(herd_unpack(w, wu2) == HERD_OK);
        CHECK_MSG(memcmp(wu2, Wun, wrows * K * 4) == 0, "%s: unpack differs from ref", fam->name);
        free(wu2);

        snprintf(what, sizeof what, "%s exact", fam->name);
        run(w, p, p->A, HERD_APREP_EXACT, NULL, got);
        compare(what, p, got, ref_exact, true, NULL, NULL);

        snprintf(what, sizeof what, "%s auto", fam->name);
        run(w, p, p->A, HERD_APREP_AUTO, NULL, got);
        /* A family whose AUTO A preparation is the ref family's (same a_desc: an integer
         * quantizer giving the same bytes) must match the ref bit for bit. */
        if (!fam->a_prep)
            compare(what, p, got, ref_exact, true, NULL, NULL);
        else if (ref_fam->a_prep && strcmp(fam->a_desc, ref_fam->a_desc) == 0)
            compare(what, p, got, ref_auto, true, NULL, NULL);
        else if (fam->a_prep == kaprep_bf16)
            compare(what, p, got, ref_bf, false, Abf, Wun);
        else
            CHECK_MSG(0, "%s: unknown A preparation", fam->name);

        /* Thread counts 2 and 3 give the same bits as 1. */
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
    free(ref_exact), free(ref_auto), free(ref_bf), free(got), free(got2), free(Abf), free(Wun);
}

TEST(gemm_all_families)
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        problem p = {.s = shapes[si]};
        const int M = p.s.M, N = p.s.N, K = p.s.K;
        p.A = malloc((size_t)M * K * 4);
        p.Wg = malloc((size_t)N * K * 4);
        p.Wu = malloc((size_t)N * K * 4);
        p.bias = malloc((size_t)N * 4);
        p.res = malloc((size_t)M * N * 4);
        fill(p.A, (size_t)M * K, 2.0f);
        fill(p.Wg, (size_t)N * K, 0.5f);
        fill(p.Wu, (size_t)N * K, 0.5f);
        fill(p.bias, (size_t)N, 1.0f);
        fill(p.res, (size_t)M * N, 1.0f);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
            for (int e = 0; e < EPI_COUNT; e++) {
                /* Keep it fast: every epilogue on some shapes, none/all on the rest. */
                if (si % 3 && e != EPI_NONE && e != EPI_ALL)
                    continue;
                p.epi = e;
                check_problem(types[ti], &p, pools);
            }
        free(p.A), free(p.Wg), free(p.Wu), free(p.bias), free(p.res);
    }
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
}

/* The ref twins against double precision. */
TEST(ref_vs_double)
{
    herd_set_isa(HERD_ISA_REF);
    const int M = 5, N = 19, K = 160;
    float *A = malloc(M * K * 4), *W = malloc(N * K * 4), *Wun = malloc(N * K * 4);
    float *C = malloc(M * N * 4);
    fill(A, M * K, 2.0f);
    fill(W, N * K, 0.5f);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (int mode = 0; mode < 2; mode++) {
            herd_packed *w = NULL;
            CHECK(herd_pack(types[ti], N, K, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_OK);
            CHECK(herd_unpack(w, Wun) == HERD_OK);
            herd_gemm_args a = {.M = M,
                                .A = A,
                                .lda = K,
                                .C = C,
                                .ldc = N,
                                .aprep = mode ? HERD_APREP_EXACT : HERD_APREP_AUTO};
            CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
            for (int i = 0; i < M; i++) {
                double amax = 0;
                for (int k = 0; k < K; k++)
                    amax = fmax(amax, fabs(A[i * K + k]));
                for (int j = 0; j < N; j++) {
                    double s = 0, sa = 0, sw = 0;
                    for (int k = 0; k < K; k++) {
                        s += (double)A[i * K + k] * Wun[j * K + k];
                        sa += fabs((double)A[i * K + k] * Wun[j * K + k]);
                        sw += fabs((double)Wun[j * K + k]);
                    }
                    double tol = (K + 2) * 0x1p-24 * sa;
                    if (types[ti] == HERD_TYPE_INT8 && !mode)
                        tol += 0.5 * amax / 127 * sw * 1.0001;
                    CHECK_NEAR(C[i * N + j], s, tol);
                }
            }
            herd_packed_free(w);
        }
    free(A), free(W), free(Wun), free(C);
    herd_set_isa(HERD_ISA_COUNT);
}

TEST(pack_roundtrip)
{
    const int N = 37, K = 96;
    float *W = malloc(N * K * 4), *U = malloc(2 * N * K * 4), *want = malloc(N * K * 4);
    uint16_t *h = malloc(N * K * 2);
    fill(W, N * K, 3.0f);
    for (int isa = HERD_ISA_REF; isa <= (int)herd_cpu_isa(); isa++) {
        herd_set_isa((herd_isa_level)isa);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            herd_type t = types[ti];
            for (int i = 0; i < N * K; i++)
                want[i] = t == HERD_TYPE_F32    ? W[i]
                          : t == HERD_TYPE_F16  ? herd_f16_to_f32(herd_f32_to_f16(W[i]))
                          : t == HERD_TYPE_BF16 ? herd_bf16_to_f32(herd_f32_to_bf16(W[i]))
                                                : 0;
            if (t == HERD_TYPE_INT8)
                for (int r = 0; r < N; r++) {
                    int8_t q[96];
                    float s = kquant_i8_row(W + r * K, K, q);
                    for (int k = 0; k < K; k++)
                        want[r * K + k] = (float)q[k] * s;
                }
            /* From f32 rows, and (for bf16/f16 targets) from rows of that type. */
            herd_packed *w = NULL;
            CHECK(herd_pack(t, N, K, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_OK);
            CHECK(herd_unpack(w, U) == HERD_OK);
            CHECK_MSG(memcmp(U, want, (size_t)N * K * 4) == 0, "%s round trip",
                      herd_packed_kernel(w));
            CHECK_EQ_INT(herd_packed_n(w), N);
            CHECK_EQ_INT(herd_packed_k(w), K);
            CHECK(herd_packed_type(w) == t);
            CHECK(herd_packed_bytes(w) >= (size_t)N * K * herd_type_get(t)->block_bytes);
            herd_packed_free(w);
            if (t == HERD_TYPE_BF16 || t == HERD_TYPE_F16) {
                CHECK(herd_row_from_f32(t, W, h, (size_t)N * K) == HERD_OK);
                CHECK(herd_pack(t, N, K, (herd_wsrc){t, h, 0}, &w) == HERD_OK);
                CHECK(herd_unpack(w, U) == HERD_OK);
                CHECK(memcmp(U, want, (size_t)N * K * 4) == 0);
                herd_packed_free(w);
            }
            /* SwiGLU: gate rows then up rows. */
            CHECK(herd_pack_swiglu(t, N, K, (herd_wsrc){HERD_TYPE_F32, W, 0},
                                   (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_OK);
            CHECK(herd_unpack(w, U) == HERD_OK);
            CHECK(memcmp(U, want, (size_t)N * K * 4) == 0);
            CHECK(memcmp(U + N * K, want, (size_t)N * K * 4) == 0);
            herd_packed_free(w);
        }
    }
    herd_set_isa(HERD_ISA_COUNT);
    free(W), free(U), free(want), free(h);
}

TEST(bad_input)
{
    float W[64] = {0}, C[4];
    herd_packed *w = NULL;
    CHECK(herd_pack(HERD_TYPE_F32, 0, 32, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_ERR_ARG);
    CHECK(herd_pack(HERD_TYPE_F32, 2, 32, (herd_wsrc){HERD_TYPE_F32, NULL, 0}, &w) == HERD_ERR_ARG);
    CHECK(herd_pack(HERD_TYPE_Q8_0, 2, 20, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_ERR_ARG);
    CHECK(herd_pack(HERD_TYPE_INT8, 2, 32, (herd_wsrc){HERD_TYPE_INT8, W, 0}, &w) ==
          HERD_ERR_UNSUPPORTED);
    CHECK(w == NULL);
    /* A type without a family: packs (emulated) or fails with a clear message. */
    herd_status st = herd_pack(HERD_TYPE_MXFP4, 2, 32, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w);
    CHECK(st == HERD_OK || (st == HERD_ERR_UNSUPPORTED && strlen(herd_last_error()) > 10));
    herd_packed_free(w);
    CHECK(herd_pack(HERD_TYPE_F32, 2, 32, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w) == HERD_OK);
    herd_gemm_args a = {.M = 2, .A = W, .lda = 32, .C = C, .ldc = 2, .act = HERD_ACT_SWIGLU};
    CHECK(herd_gemm(w, &a, NULL) == HERD_ERR_ARG);
    a.act = HERD_ACT_NONE;
    a.lda = 31;
    CHECK(herd_gemm(w, &a, NULL) == HERD_ERR_ARG);
    a.lda = 32;
    CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
    a.M = 0;
    CHECK(herd_gemm(w, &a, NULL) == HERD_OK);
    herd_packed_free(w);
}

TEST(exp_accuracy)
{
    for (float x = -80.0f; x < 80.0f; x += 0.0137f) {
        double want = exp((double)x), got = kexp_ref(x);
        CHECK_MSG(fabs(got - want) <= 4e-7 * want, "exp(%g) = %.9g, want %.9g", x, got, want);
    }
}

int main(void)
{
    RUN(gemm_all_families);
    RUN(ref_vs_double);
    RUN(pack_roundtrip);
    RUN(bad_input);
    RUN(exp_accuracy);
    return harness_finish();
}
