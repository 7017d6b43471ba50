/* Attention on random shapes: the plain C kernels against a double-precision naive reference,
 * every vector ISA the CPU has against the plain C kernels, and 1 vs 2 threads bit for bit.
 * Shapes cover head sizes that are not multiples of 16, 1 to more than 2 key tiles, chunk
 * boundaries inside a tile, ring caches, pieces that start mid-chunk and GQA groups 1-8. */
#include "harness.h"
#include "herd/ops.h"
#include "ops/attn_simd.h"

/* Rows start .. start+T-1 of q against keys 0 .. start+T-1 of k and v, in double. */
static void naive(const herd_attn_shape *s, const float *q, const float *k, const float *v,
                  int64_t start, int64_t T, double *out)
{
    int64_t D = s->head_dim, g = s->n_heads / s->n_kv_heads, L = start + T;
    size_t kr = (size_t)(s->n_kv_heads * D), qr = (size_t)(s->n_heads * D);
    double *sc = malloc((size_t)L * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < s->n_heads; h++) {
            int64_t p = start + t, lo = s->chunk > 0 ? p / s->chunk * s->chunk : 0;
            const float *qh = q + (size_t)t * qr + (size_t)(h * D);
            double m = -INFINITY, l = 0;
            for (int64_t j = lo; j <= p; j++) {
                double d = 0;
                for (int64_t e = 0; e < D; e++)
                    d += (double)qh[e] * k[(size_t)j * kr + (size_t)((h / g) * D + e)];
                sc[j] = d / sqrt((double)D);
                m = fmax(m, sc[j]);
            }
            for (int64_t j = lo; j <= p; j++)
                l += exp(sc[j] - m);
            for (int64_t e = 0; e < D; e++) {
                double acc = 0;
                for (int64_t j = lo; j <= p; j++)
                    acc += exp(sc[j] - m) * v[(size_t)j * kr + (size_t)((h / g) * D + e)];
                out[(size_t)t * qr + (size_t)(h * D + e)] = acc / l;
            }
        }
    free(sc);
}

typedef struct shape_case {
    int nh, nkv, D;
    int64_t chunk, start, T, ring; /* ring 0: the cache holds every position */
} shape_case;

/* An f32 cache view: cache rows ck/cv (ring slots), the new rows at position start taken from
 * k/v (rows of kr floats). */
static herd_kv_view f32_view(const float *ck, const float *cv, int64_t ring, int64_t start,
                             const float *k, const float *v, size_t kr)
{
    return (herd_kv_view){ck,
                          cv,
                          ring,
                          start,
                          k + (size_t)start * kr,
                          v + (size_t)start * kr,
                          HERD_TYPE_F32,
                          HERD_TYPE_F32};
}

static void check_case(const shape_case *c, herd_pool *pool, uint64_t *seed, bool with_naive)
{
    herd_attn_shape s = {c->nh, c->nkv, c->D, c->chunk};
    int64_t L = c->start + c->T, ring = c->ring > 0 ? c->ring : L;
    size_t qr = (size_t)(c->nh * c->D), kr = (size_t)(c->nkv * c->D);
    size_t qn = (size_t)c->T * qr, kn = (size_t)L * kr, cn = (size_t)ring * kr;
    float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4), *ck = malloc(cn * 4),
          *cv = malloc(cn * 4), *want = malloc(qn * 4), *got1 = malloc(qn * 4),
          *got2 = malloc(qn * 4);
    double *exact = malloc(qn * sizeof(double));
    for (size_t i = 0; i < qn; i++)
        q[i] = 2 * harness_randf(seed);
    for (size_t i = 0; i < kn; i++) {
        k[i] = 2 * harness_randf(seed);
        v[i] = harness_randf(seed);
    }
    for (size_t i = 0; i < cn; i++) /* rows no visible position maps to stay garbage */
        ck[i] = cv[i] = 1e30f;
    for (int64_t pos = 0; pos < c->start; pos++) {
        memcpy(ck + (size_t)(pos % ring) * kr, k + (size_t)pos * kr, kr * 4);
        memcpy(cv + (size_t)(pos % ring) * kr, v + (size_t)pos * kr, kr * 4);
    }
    herd_kv_view kv = f32_view(ck, cv, ring, c->start, k, v, kr);
    char what[160];
    snprintf(what, sizeof what, "%d/%d heads, dim %d, chunk %lld, start %lld, T %lld, ring %lld",
             c->nh, c->nkv, c->D, (long long)c->chunk, (long long)c->start, (long long)c->T,
             (long long)ring);

    herd_isa_level top = herd_isa();
    herd_set_isa(HERD_ISA_REF);
    CHECK(herd_attention(&s, q, qr, c->T, &kv, want, qr, NULL) == HERD_OK);
    if (with_naive) {
        naive(&s, q, k, v, c->start, c->T, exact);
        double d = 0;
        for (size_t i = 0; i < qn; i++)
            d = fmax(d, fabs(want[i] - exact[i]));
        CHECK_MSG(d < 2e-6, "ref vs naive, %s: %g", what, d);
    }
    for (int isa = HERD_ISA_REF; isa <= (int)top; isa++) {
        herd_set_isa((herd_isa_level)isa);
        memset(got1, 0xff, qn * 4);
        memset(got2, 0, qn * 4);
        CHECK(herd_attention(&s, q, qr, c->T, &kv, got1, qr, NULL) == HERD_OK);
        CHECK(herd_attention(&s, q, qr, c->T, &kv, got2, qr, pool) == HERD_OK);
        CHECK_MSG(!memcmp(got1, got2, qn * 4), "%s: 1 vs 2 threads differ, %s",
                  herd_isa_name((herd_isa_level)isa), what);
        double d = 0;
        for (size_t i = 0; i < qn; i++)
            d = fmax(d, fabs(got1[i] - want[i]));
        CHECK_MSG(d < 2e-6, "%s vs ref, %s: %g", herd_isa_name((herd_isa_level)isa), what, d);
    }
    herd_set_isa(top);
    free(q);
    free(k);
    free(v);
    free(ck);
    free(cv);
    free(want);
    free(got1);
    free(got2);
    free(exact);
}

/* Hand-picked edges: a tile is 8192/D keys (32..256), so D = 64 has tiles of 128. */
TEST(test_attention_edges)
{
    herd_pool *pool;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    uint64_t seed = 7;
    const shape_case cases[] = {
        {4, 1, 64, 0, 0, 1, 0},       /* one token */
        {8, 2, 64, 0, 0, 300, 0},     /* > 2 tiles in one piece */
        {8, 2, 64, 100, 0, 300, 0},   /* chunk boundaries inside tiles */
        {8, 8, 24, 37, 40, 90, 37},   /* MHA, ring = chunk, piece starting mid-chunk */
        {16, 2, 72, 50, 170, 30, 53}, /* ring larger than the chunk, wrapping */
        {8, 1, 16, 0, 500, 40, 0},    /* 16 keys per component block, start past 2 tiles */
        {8, 4, 128, 0, 0, 150, 0},    /* tiles of 64 */
        {2, 1, 1024, 0, 3, 40, 0},    /* the largest head */
        {5, 1, 40, 0, 0, 70, 0},      /* a group of 5: row groups straddle tokens */
        {8, 1, 64, 7, 130, 1, 7},     /* decode against a tiny ring */
        {32, 8, 64, 8192, 600, 1, 0}, /* decode, l4-3.7b shape */
        {32, 8, 64, 8192, 0, 200, 0}, /* prefill, l4-3.7b shape */
        {6, 2, 13, 0, 20, 1, 0},      /* decode, a head size with tails of every width */
        {4, 2, 20, 9, 0, 40, 0},      /* prefill, a head of 16 + 4 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_case(&cases[i], pool, &seed, true);
    herd_pool_destroy(pool);
}

TEST(test_attention_random)
{
    herd_pool *pool;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    uint64_t seed = 1234;
    static const int dims[] = {16, 24, 64, 72, 128}, groups[] = {1, 2, 4, 8};
    for (int n = 0; n < 24; n++) {
        shape_case c;
        c.D = dims[harness_rand(&seed) % 5];
        c.nkv = 1 + (int)(harness_rand(&seed) % 3);
        c.nh = c.nkv * groups[harness_rand(&seed) % 4];
        int64_t tile = 8192 / c.D / 32 * 32;
        tile = tile > 256 ? 256 : tile;
        c.chunk = harness_rand(&seed) % 2 ? 0 : 1 + (int64_t)(harness_rand(&seed) % (2 * tile));
        c.T = 1 + (int64_t)(harness_rand(&seed) % (2 * tile + 40));
        c.start = harness_rand(&seed) % 3 ? (int64_t)(harness_rand(&seed) % (2 * tile)) : 0;
        c.ring = c.chunk > 0 ? c.chunk + (int64_t)(harness_rand(&seed) % 3) : 0;
        check_case(&c, pool, &seed, n % 3 == 0);
    }
    herd_pool_destroy(pool);
}

/* A cache stored as bf16 or q8_0 (K and V alike or not) gives bit for bit what an f32 cache
 * holding the same values converted back gives: attention reads the stored type and changes
 * nothing else. Every ISA, 1 and 2 threads. */
static void check_types(const shape_case *c, herd_type tk, herd_type tv, herd_pool *pool,
                        uint64_t *seed)
{
    herd_attn_shape s = {c->nh, c->nkv, c->D, c->chunk};
    int64_t L = c->start + c->T, ring = c->ring > 0 ? c->ring : L, D = c->D;
    size_t qr = (size_t)(c->nh * D), kr = (size_t)(c->nkv * D), qn = (size_t)c->T * qr;
    size_t hk = herd_type_row_bytes(tk, (size_t)D), hv = herd_type_row_bytes(tv, (size_t)D);
    size_t cn = (size_t)ring * kr;
    float *q = malloc(qn * 4), *k = malloc((size_t)L * kr * 4), *v = malloc((size_t)L * kr * 4),
          *ck = calloc(cn, 4), *cv = calloc(cn, 4), *want = malloc(qn * 4), *got = malloc(qn * 4);
    uint8_t *tck = calloc((size_t)ring * (size_t)c->nkv, hk),
            *tcv = calloc((size_t)ring * (size_t)c->nkv, hv);
    for (size_t i = 0; i < qn; i++)
        q[i] = 2 * harness_randf(seed);
    for (size_t i = 0; i < (size_t)L * kr; i++) {
        k[i] = 2 * harness_randf(seed);
        v[i] = harness_randf(seed);
    }
    for (int64_t pos = 0; pos < c->start; pos++)
        for (int64_t g = 0; g < c->nkv; g++) {
            size_t r = (size_t)(pos % ring) * (size_t)c->nkv + (size_t)g;
            const float *kx = k + (size_t)pos * kr + (size_t)(g * D);
            const float *vx = v + (size_t)pos * kr + (size_t)(g * D);
            CHECK(herd_row_from_f32(tk, kx, tck + r * hk, (size_t)D) == HERD_OK);
            CHECK(herd_row_from_f32(tv, vx, tcv + r * hv, (size_t)D) == HERD_OK);
            CHECK(herd_row_to_f32(tk, tck + r * hk, ck + r * (size_t)D, (size_t)D) == HERD_OK);
            CHECK(herd_row_to_f32(tv, tcv + r * hv, cv + r * (size_t)D, (size_t)D) == HERD_OK);
        }
    const float *nk = k + (size_t)c->start * kr, *nv = v + (size_t)c->start * kr;
    herd_kv_view f32 = {ck, cv, ring, c->start, nk, nv, HERD_TYPE_F32, HERD_TYPE_F32};
    herd_kv_view typed = {tck, tcv, ring, c->start, nk, nv, tk, tv};
    herd_isa_level top = herd_isa();
    for (int isa = HERD_ISA_REF; isa <= (int)top; isa++) {
        herd_set_isa((herd_isa_level)isa);
        CHECK(herd_attention(&s, q, qr, c->T, &f32, want, qr, NULL) == HERD_OK);
        for (int th = 0; th < 2; th++) {
            memset(got, 0xff, qn * 4);
            CHECK(herd_attention(&s, q, qr, c->T, &typed, got, qr, th ? pool : NULL) == HERD_OK);
            CHECK_MSG(!memcmp(got, want, qn * 4), "%s, k %s v %s, %d/%d/%d start %lld T %lld",
                      herd_isa_name((herd_isa_level)isa), herd_type_name(tk), herd_type_name(tv),
                      c->nh, c->nkv, c->D, (long long)c->start, (long long)c->T);
        }
    }
    herd_set_isa(top);
    free(q);
    free(k);
    free(v);
    free(ck);
    free(cv);
    free(tck);
    free(tcv);
    free(want);
    free(got);
}

TEST(test_attention_cache_types)
{
    herd_pool *pool;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    uint64_t seed = 99;
    const shape_case cases[] = {
        {8, 2, 64, 0, 150, 1, 0},    /* decode over 2 tiles */
        {8, 8, 24, 37, 40, 90, 37},  /* a head row that is not whole q8_0 blocks, ring */
        {5, 1, 128, 0, 70, 20, 0},   /* Scout's group and head */
        {16, 2, 72, 50, 170, 30, 53} /* wrapping ring */
    };
    const herd_type types[][2] = {{HERD_TYPE_BF16, HERD_TYPE_BF16},
                                  {HERD_TYPE_Q8_0, HERD_TYPE_Q8_0},
                                  {HERD_TYPE_Q8_0, HERD_TYPE_BF16},
                                  {HERD_TYPE_F32, HERD_TYPE_Q8_0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t t = 0; t < sizeof types / sizeof *types; t++)
            check_types(&cases[i], types[t][0], types[t][1], pool, &seed);
    /* a type attention cannot read fails with one line, before any work */
    herd_attn_shape s = {2, 1, 32, 0};
    float q[64] = {0}, kv1[32] = {0}, out[64];
    herd_kv_view bad = {kv1, kv1, 1, 1, kv1, kv1, HERD_TYPE_Q4_0, HERD_TYPE_F32};
    CHECK(herd_attention(&s, q, 64, 1, &bad, out, 64, NULL) == HERD_ERR_ARG);
    CHECK(strstr(herd_last_error(), "q4_0") != NULL);
    herd_pool_destroy(pool);
}

/* A decoded row (one token against the cache) equals the same row of a prefill of the whole
 * sequence bit for bit, on every ISA and on 1 and 2 threads: decode gathers its keys from
 * the cache (all kv heads of an item together, prefetching ahead) while the prefill reads
 * most of them from its own rows, and both must do the same arithmetic per row. */
TEST(test_attention_decode_equals_prefill)
{
    herd_pool *pool;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    uint64_t seed = 4242;
    const shape_case cases[] = {
        /* nh, nkv, D, chunk, start (the decoded position), T (unused), ring */
        {32, 8, 64, 0, 700, 1, 0}, {40, 8, 128, 0, 300, 1, 0}, {8, 2, 24, 100, 250, 1, 0},
        {12, 3, 64, 0, 129, 1, 0}, {8, 8, 16, 0, 40, 1, 0},    {10, 2, 72, 64, 200, 1, 0},
    };
    herd_isa_level top = herd_isa();
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        const shape_case *c = &cases[n];
        herd_attn_shape s = {c->nh, c->nkv, c->D, c->chunk};
        int64_t L = c->start + 1;
        size_t qr = (size_t)(c->nh * c->D), kr = (size_t)(c->nkv * c->D);
        float *q = malloc((size_t)L * qr * 4), *k = malloc((size_t)L * kr * 4),
              *v = malloc((size_t)L * kr * 4), *pre = malloc((size_t)L * qr * 4),
              *dec = malloc(qr * 4);
        for (size_t i = 0; i < (size_t)L * qr; i++)
            q[i] = 2 * harness_randf(&seed);
        for (size_t i = 0; i < (size_t)L * kr; i++) {
            k[i] = 2 * harness_randf(&seed);
            v[i] = harness_randf(&seed);
        }
        const float *last_q = q + (size_t)c->start * qr;
        herd_kv_view all = {k, v, INT64_MAX, 0, k, v, HERD_TYPE_F32, HERD_TYPE_F32};
        herd_kv_view one = f32_view(k, v, INT64_MAX, c->start, k, v, kr);
        for (int isa = HERD_ISA_REF; isa <= (int)top; isa++) {
            herd_set_isa((herd_isa_level)isa);
            CHECK(herd_attention(&s, q, qr, L, &all, pre, qr, pool) == HERD_OK);
            for (int th = 0; th < 2; th++) {
                memset(dec, 0xff, qr * 4);
                CHECK(herd_attention(&s, last_q, qr, 1, &one, dec, qr, th ? pool : NULL) ==
                      HERD_OK);
                CHECK_MSG(!memcmp(dec, pre + (size_t)c->start * qr, qr * 4),
                          "%s, %d/%d heads of %d, chunk %lld, position %lld, %d threads: decode "
                          "differs from prefill",
                          herd_isa_name((herd_isa_level)isa), c->nh, c->nkv, c->D,
                          (long long)c->chunk, (long long)c->start, th + 1);
            }
        }
        free(q);
        free(k);
        free(v);
        free(pre);
        free(dec);
    }
    herd_set_isa(top);
    herd_pool_destroy(pool);
}

/* The kernels that divide a row's sum out: every vector version gives the plain product bit
 * for bit, on lengths with every tail. */
TEST(test_attention_scale_twins)
{
    uint64_t seed = 99;
    const attn_kernels *ks[2] = {&herd_attn_avx2, &herd_attn_avx512};
    const herd_isa_level need[2] = {HERD_ISA_AVX2, HERD_ISA_AVX512};
    float src[80], want[80], got[81];
    for (int64_t n = 1; n <= 80; n++) {
        float sc = 1 / (0.5f + harness_randf(&seed));
        for (int64_t i = 0; i < n; i++) {
            src[i] = 4 * harness_randf(&seed);
            want[i] = src[i] * sc;
        }
        for (int k = 0; k < 2; k++) {
            if (herd_isa() < need[k])
                continue;
            got[n] = 7; /* past the end: left alone */
            ks[k]->scale(got, src, sc, n);
            CHECK_MSG(!memcmp(got, want, (size_t)n * 4) && got[n] == 7,
                      "%s scale differs at length %lld", herd_isa_name(need[k]), (long long)n);
        }
    }
}

int main(void)
{
    RUN(test_attention_scale_twins);
    RUN(test_attention_decode_equals_prefill);
    RUN(test_attention_cache_types);
    RUN(test_attention_edges);
    RUN(test_attention_random);
    return harness_finish();
}
