/* ops against plain double-precision references: RMSNorm, RoPE pairs and llama3 bands,
 * temperature tuning, attention (GQA, chunked and global masks, cache rings, pieces), routing
 * and the MoE block. */
#include "harness.h"
#include "herd/ops.h"

#include <string.h>

TEST(test_rmsnorm)
{
    float x[5] = {1, -2, 3, 0.5f, 4}, w[5] = {1, 2, 0.5f, 1, -1}, y[5];
    double ss = 0;
    for (int i = 0; i < 5; i++)
        ss += x[i] * x[i];
    double r = 1 / sqrt(ss / 5 + 1e-5);
    herd_rmsnorm(x, w, y, 5, 1e-5f);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(y[i], x[i] * r * w[i], 1e-6);
    herd_rmsnorm(x, NULL, x, 5, 1e-5f); /* in place, no weight: the QK norm */
    CHECK_NEAR(x[2], 3 * r, 1e-6);
}

/* herd_rmsnorm_rows (a vector version where the CPU has one) against the plain herd_rmsnorm
 * row by row, bit for bit: row counts around the vector version's groups of 4, widths with
 * tails, strided rows, weightless and in place. */
TEST(test_rmsnorm_rows_exact)
{
    enum { LD = 80, ROWS = 9 };
    static float x[ROWS * LD], w[LD], y[ROWS * LD], z[ROWS * LD];
    uint32_t s = 7;
    for (int i = 0; i < ROWS * LD; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)s >> 8) * 0x1p-20f;
    }
    for (int i = 0; i < LD; i++)
        w[i] = 0.5f + (float)i / LD;
    for (int rows = 1; rows <= ROWS; rows++)
        for (int n = 1; n <= 72; n += (n < 20 ? 1 : 13))
            for (int wt = 0; wt < 2; wt++) {
                herd_rmsnorm_rows(x, LD, wt ? w : NULL, y, LD, rows, n, 1e-5f);
                for (int r = 0; r < rows; r++)
                    herd_rmsnorm(x + r * LD, wt ? w : NULL, z + r * LD, n, 1e-5f);
                int bad = 0;
                for (int r = 0; r < rows; r++)
                    bad += memcmp(y + r * LD, z + r * LD, (size_t)n * sizeof(float)) != 0;
                CHECK_EQ_INT(bad, 0);
            }
    memcpy(y, x, sizeof x); /* in place */
    herd_rmsnorm_rows(y, LD, NULL, y, LD, ROWS, 64, 1e-5f);
    for (int r = 0; r < ROWS; r++)
        herd_rmsnorm(x + r * LD, NULL, z + r * LD, 64, 1e-5f);
    for (int r = 0; r < ROWS; r++)
        CHECK(memcmp(y + r * LD, z + r * LD, 64 * sizeof(float)) == 0);
}

TEST(test_rope_pairs)
{
    herd_rope r;
    CHECK(herd_rope_init(&r, 8, 10000, NULL) == HERD_OK);
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    herd_rope_apply(&r, x, 2, 3);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            double f = 1 / pow(10000, 2.0 * i / 8), a = 3 * f;
            double x0 = h * 8 + 2 * i + 1, x1 = x0 + 1; /* adjacent pair (2i, 2i+1) */
            CHECK_NEAR(x[h * 8 + 2 * i], x0 * cos(a) - x1 * sin(a), 1e-4);
            CHECK_NEAR(x[h * 8 + 2 * i + 1], x0 * sin(a) + x1 * cos(a), 1e-4);
        }
    herd_rope_free(&r);
    CHECK(herd_rope_init(&r, 7, 10000, NULL) == HERD_ERR_ARG);
}

/* The table path (one angle table per position, rotated on every ISA) gives what
 * herd_rope_apply_qk gives, bit for bit: head sizes with every vector tail, large positions. */
TEST(test_rope_table_exact)
{
    uint64_t seed = 5;
    herd_isa_level top = herd_isa();
    for (int64_t D = 2; D <= 80; D += 2) {
        herd_rope r;
        CHECK(herd_rope_init(&r, D, 500000, NULL) == HERD_OK);
        int64_t nq = 1 + (int64_t)(harness_rand(&seed) % 5),
                nk = 1 + (int64_t)(harness_rand(&seed) % 3);
        int64_t pos = D * 997 + (int64_t)(harness_rand(&seed) % 100000);
        size_t n = (size_t)((nq + nk) * D);
        float *x = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4),
              *cs = malloc((size_t)(2 * D) * 4);
        for (size_t i = 0; i < n; i++)
            x[i] = 4 * harness_randf(&seed);
        memcpy(want, x, n * 4);
        herd_rope_apply_qk(&r, want, nq, want + nq * D, nk, pos);
        herd_rope_table(&r, pos, cs);
        for (int isa = HERD_ISA_REF; isa <= (int)top; isa++) {
            herd_set_isa((herd_isa_level)isa);
            memcpy(got, x, n * 4);
            herd_rope_apply_table(&r, cs, got, nq, got + nq * D, nk);
            CHECK_MSG(!memcmp(got, want, n * 4), "%s: table rotation differs, head %lld",
                      herd_isa_name((herd_isa_level)isa), (long long)D);
        }
        herd_set_isa(top);
        free(x);
        free(want);
        free(got);
        free(cs);
        herd_rope_free(&r);
    }
}

TEST(test_rope_llama3)
{
    /* the tiny-scout setting (all three bands) and Scout's lo == hi (empty medium band) */
    static const double want[8] = {1.0,
                                   0.24438459943539834,
                                   0.013042256043820465,
                                   0.003952847075210474,
                                   0.00125,
                                   0.0003952847075210475,
                                   0.000125,
                                   3.952847075210474e-05};
    herd_rope_scaling sc = {true, 8, 1, 4, 64};
    herd_rope r;
    CHECK(herd_rope_init(&r, 16, 10000, &sc) == HERD_OK);
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(r.inv_freq[i] / want[i], 1, 1e-12);
    herd_rope_free(&r);
    herd_rope_scaling scout = {true, 16, 1, 1, 8192};
    CHECK(herd_rope_init(&r, 128, 500000, &scout) == HERD_OK);
    for (int i = 0; i < 64; i++) {
        double f = 1 / pow(500000, 2.0 * i / 128);
        CHECK(isfinite(r.inv_freq[i]));
        CHECK_NEAR(r.inv_freq[i] / f, i <= 34 ? 1 : 1.0 / 16, 1e-12);
    }
    herd_rope_free(&r);
}

TEST(test_temperature)
{
    CHECK_NEAR(herd_attn_temperature(0, 8192, 0.1), 1, 0);
    CHECK_NEAR(herd_attn_temperature(8190, 8192, 0.1), 1, 0);
    CHECK_NEAR(herd_attn_temperature(8191, 8192, 0.1), 1 + 0.1 * log(2), 1e-6);
    CHECK_NEAR(herd_attn_temperature(10485759, 8192, 0.1), 1.7155, 1e-4);
}

/* Plain attention over the whole sequence: scores for every allowed key, max-subtracted
 * softmax, in double. */
static void naive_attention(const herd_attn_shape *s, const float *q, const float *k,
                            const float *v, int64_t T, float *out)
{
    int64_t D = s->head_dim, g = s->n_heads / s->n_kv_heads;
    size_t kr = (size_t)(s->n_kv_heads * D), qr = (size_t)(s->n_heads * D);
    double sc[64];
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < s->n_heads; h++) {
            double m = -1e300, l = 0;
            for (int64_t j = 0; j <= t; j++) {
                bool ok = s->chunk <= 0 || j / s->chunk == t / s->chunk;
                double d = 0;
                for (int64_t e = 0; e < D; e++)
                    d += (double)q[t * qr + h * D + e] * k[j * kr + (h / g) * D + e];
                sc[j] = ok ? d / sqrt((double)D) : -INFINITY;
                if (sc[j] > m)
                    m = sc[j];
            }
            for (int64_t j = 0; j <= t; j++)
                l += exp(sc[j] - m);
            for (int64_t e = 0; e < D; e++) {
                double acc = 0;
                for (int64_t j = 0; j <= t; j++)
                    acc += exp(sc[j] - m) / l * v[j * kr + (h / g) * D + e];
                out[t * qr + h * D + e] = (float)acc;
            }
        }
}

/* One shape against the naive reference, as one piece and in random pieces through a cache
 * (a ring of `chunk` rows on chunked layers). */
static void check_attention(int NH, int NKV, int D, herd_pool *pool)
{
    enum { T = 37 };
    size_t qn = (size_t)(T * NH * D), kn = (size_t)(T * NKV * D);
    float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4), *want = malloc(qn * 4),
          *got = malloc(qn * 4), *ck = malloc(kn * 4), *cv = malloc(kn * 4);
    uint64_t seed = 42 + (uint64_t)(NH * 100 + NKV * 10 + D);
    for (size_t i = 0; i < qn; i++)
        q[i] = 2 * harness_randf(&seed);
    for (size_t i = 0; i < kn; i++) {
        k[i] = 2 * harness_randf(&seed);
        v[i] = harness_randf(&seed);
    }
    const int64_t chunks[] = {0, 5, 7, 1, 64};
    for (size_t ci = 0; ci < sizeof chunks / sizeof *chunks; ci++) {
        herd_attn_shape s = {NH, NKV, D, chunks[ci]};
        naive_attention(&s, q, k, v, T, want);
        herd_kv_view all = {NULL, NULL, INT64_MAX, 0, k, v, HERD_TYPE_F32, HERD_TYPE_F32};
        CHECK(herd_attention(&s, q, (size_t)(NH * D), T, &all, got, (size_t)(NH * D), pool) ==
              HERD_OK);
        double d = 0;
        for (size_t i = 0; i < qn; i++)
            d = fmax(d, fabs(got[i] - want[i]));
        CHECK_MSG(d < 1e-5, "%s %d/%d/%d chunk %lld, one piece: %g", herd_isa_name(herd_isa()), NH,
                  NKV, D, (long long)chunks[ci], d);
        int64_t ring = chunks[ci] > 0 ? chunks[ci] : INT64_MAX;
        memset(got, 0, qn * 4);
        for (int64_t start = 0; start < T;) {
            int64_t n = 1 + (int64_t)(harness_rand(&seed) % 9);
            if (n > T - start)
                n = T - start;
            herd_kv_view kv = {ck,
                               cv,
                               ring,
                               start,
                               k + start * NKV * D,
                               v + start * NKV * D,
                               HERD_TYPE_F32,
                               HERD_TYPE_F32};
            CHECK(herd_attention(&s, q + start * NH * D, (size_t)(NH * D), n, &kv,
                                 got + start * NH * D, (size_t)(NH * D), NULL) == HERD_OK);
            for (int64_t t = start; t < start + n; t++) {
                int64_t slot = t % (chunks[ci] > 0 ? chunks[ci] : T);
                memcpy(ck + slot * NKV * D, k + t * NKV * D, (size_t)(NKV * D) * sizeof(float));
                memcpy(cv + slot * NKV * D, v + t * NKV * D, (size_t)(NKV * D) * sizeof(float));
            }
            start += n;
        }
        d = 0;
        for (size_t i = 0; i < qn; i++)
            d = fmax(d, fabs(got[i] - want[i]));
        CHECK_MSG(d < 1e-5, "%s %d/%d/%d chunk %lld, pieces: %g", herd_isa_name(herd_isa()), NH,
                  NKV, D, (long long)chunks[ci], d);
    }
    free(q);
    free(k);
    free(v);
    free(want);
    free(got);
    free(ck);
    free(cv);
}

TEST(test_attention)
{
    herd_pool *pool;
    CHECK(herd_pool_create(3, &pool) == HERD_OK);
    /* every ISA path the CPU has; GQA groups of 3, of 20 (heads in batches 8+8+4) and MHA;
     * head sizes with vector tails */
    herd_isa_level top = herd_isa();
    for (int isa = HERD_ISA_REF; isa <= (int)top; isa++) {
        herd_set_isa((herd_isa_level)isa);
        check_attention(6, 2, 10, pool);
        check_attention(20, 1, 16, pool);
        check_attention(3, 3, 37, pool);
    }
    herd_set_isa(top);
    herd_attn_shape bad = {5, 2, 8, 0};
    herd_kv_view none = {0};
    float q[8], o[8];
    CHECK(herd_attention(&bad, q, 0, 1, &none, o, 0, NULL) == HERD_ERR_ARG);
    herd_pool_destroy(pool);
}

TEST(test_route)
{
    float lg[6] = {0.5f, 2, -1, 2, 1.5f, 0};
    int32_t e[3];
    float s[3];
    herd_moe_route(lg, 6, 3, e, s);
    CHECK(e[0] == 1 && e[1] == 3 && e[2] == 4); /* tie 1 vs 3: lower index first */
    CHECK_NEAR(s[0], 1 / (1 + exp(-2.0)), 1e-6);
    CHECK_NEAR(s[2], 1 / (1 + exp(-1.5)), 1e-6);
}

static double silu(double z)
{
    return z / (1 + exp(-z));
}

/* y = down · (silu(gate·u) ⊙ up·u) from unpacked weights, in double */
static void naive_swiglu_mlp(const herd_packed *gu, const herd_packed *dn, const float *u,
                             double *y)
{
    int64_t I = herd_packed_n(gu), H = herd_packed_k(gu);
    float *wgu = malloc((size_t)(2 * I * H) * sizeof(float)), *wd = malloc((size_t)(H * I) * 4);
    herd_unpack(gu, wgu);
    herd_unpack(dn, wd);
    double *a = malloc((size_t)I * sizeof(double));
    for (int64_t i = 0; i < I; i++) {
        double g = 0, p = 0;
        for (int64_t c = 0; c < H; c++) {
            g += (double)wgu[i * H + c] * u[c];
            p += (double)wgu[(I + i) * H + c] * u[c];
        }
        a[i] = silu(g) * p;
    }
    for (int64_t o = 0; o < H; o++) {
        double acc = 0;
        for (int64_t i = 0; i < I; i++)
            acc += wd[o * I + i] * a[i];
        y[o] += acc;
    }
    free(a);
    free(wgu);
    free(wd);
}

static herd_packed *rand_pack(int64_t n, int64_t k, uint64_t *seed, bool swiglu)
{
    float *w = malloc((size_t)(2 * n * k) * sizeof(float));
    for (int64_t i = 0; i < 2 * n * k; i++)
        w[i] = harness_randf(seed) / sqrtf((float)k);
    herd_packed *p = NULL;
    herd_wsrc a = {HERD_TYPE_F32, w, 0}, b = {HERD_TYPE_F32, w + n * k, 0};
    CHECK((swiglu ? herd_pack_swiglu(HERD_TYPE_F32, n, k, a, b, &p)
                  : herd_pack(HERD_TYPE_F32, n, k, a, &p)) == HERD_OK);
    free(w);
    return p;
}

TEST(test_moe)
{
    enum { E = 5, K = 2, H = 24, I = 16, T = 13 };
    uint64_t seed = 7;
    herd_packed *gu[E], *dn[E];
    for (int e = 0; e < E; e++) {
        gu[e] = rand_pack(I, H, &seed, true);
        dn[e] = rand_pack(H, I, &seed, false);
    }
    herd_packed *router = rand_pack(E, H, &seed, false), *sgu = rand_pack(I, H, &seed, true),
                *sdn = rand_pack(H, I, &seed, false);
    herd_moe_weights w = {E, K, router, gu, dn, sgu, sdn};
    float h[T * H], x[T * H], rl[E * H];
    for (int i = 0; i < T * H; i++) {
        h[i] = harness_randf(&seed);
        x[i] = harness_randf(&seed);
    }
    herd_unpack(router, rl);
    double want[T * H];
    for (int t = 0; t < T; t++) {
        float lg[E], u[H];
        for (int e = 0; e < E; e++) {
            double d = 0;
            for (int c = 0; c < H; c++)
                d += (double)rl[e * H + c] * h[t * H + c];
            lg[e] = (float)d;
        }
        int32_t sel[K];
        float sc[K];
        herd_moe_route(lg, E, K, sel, sc);
        double *y = want + t * H;
        for (int c = 0; c < H; c++)
            y[c] = x[t * H + c];
        naive_swiglu_mlp(sgu, sdn, h + t * H, y);
        for (int j = 0; j < K; j++) { /* the score scales the expert's input */
            for (int c = 0; c < H; c++)
                u[c] = sc[j] * h[t * H + c];
            naive_swiglu_mlp(gu[sel[j]], dn[sel[j]], u, y);
        }
    }
    herd_pool *pool;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    CHECK(herd_moe(&w, h, x, T, HERD_APREP_EXACT, pool) == HERD_OK);
    double d = 0;
    for (int i = 0; i < T * H; i++)
        d = fmax(d, fabs(x[i] - want[i]));
    CHECK_MSG(d < 1e-5, "moe differs by %g", d);
    herd_pool_destroy(pool);
    for (int e = 0; e < E; e++) {
        herd_packed_free(gu[e]);
        herd_packed_free(dn[e]);
    }
    herd_packed_free(router);
    herd_packed_free(sgu);
    herd_packed_free(sdn);
}

int main(void)
{
    RUN(test_rmsnorm);
    RUN(test_rmsnorm_rows_exact);
    RUN(test_rope_pairs);
    RUN(test_rope_table_exact);
    RUN(test_rope_llama3);
    RUN(test_temperature);
    RUN(test_attention);
    RUN(test_route);
    RUN(test_moe);
    return harness_finish();
}
