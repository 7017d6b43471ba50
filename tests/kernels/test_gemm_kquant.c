/* The K/i-quant families (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0) against their
 * plain C twins, with the checks of family_check.h; pack → unpack equals the formats layer's
 * dequantization (ggml's floats, tests/formats/test_kblocks.c).
 *
 * Weights are random super-blocks of the type itself (random bytes, fp16 scales made finite
 * and O(0.01)), so every scale, min and code pattern occurs. IQ4_NL's K is 32·odd. */
#include "family_check.h"
#include "formats/kblocks.h"

static uint64_t rng = 0x4b51554e54ull;

static const herd_type ktypes[] = {HERD_TYPE_Q4_K,   HERD_TYPE_Q6_K,  HERD_TYPE_IQ4_XS,
                                   HERD_TYPE_Q5_K,   HERD_TYPE_Q3_K,  HERD_TYPE_Q2_K,
                                   HERD_TYPE_IQ4_NL, HERD_TYPE_TQ1_0, HERD_TYPE_TQ2_0};

static int k_of(herd_type t, int sbs)
{
    return t == HERD_TYPE_IQ4_NL ? 32 * (2 * sbs + 1) : 256 * sbs;
}

static int elems(herd_type t)
{
    return kb_info_get(t)->elems;
}

static void put_scale(uint8_t *p)
{
    uint16_t h = fam_random_scale(&rng);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* Random bytes, or every bit set (`max`: every code, scale and min at its largest), then
 * finite fp16 super-block scales. */
static uint8_t *rows(herd_type t, int n, int k, bool max)
{
    const kb_info *I = kb_info_get(t);
    const size_t nb = (size_t)n * (size_t)(k / I->elems);
    uint8_t *w = malloc(nb * (size_t)I->bytes);
    for (size_t i = 0; i < nb * (size_t)I->bytes; i++)
        w[i] = max ? 0xff : (uint8_t)harness_rand(&rng);
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
static uint8_t *random_rows(herd_type t, int n, int k)
{
    return rows(t, n, k, false);
}
static uint8_t *max_rows(herd_type t, int n, int k)
{
    return rows(t, n, k, true);
}

/* TQ1_0's base-3 bytes unpack to 2-bit codes: 1.22× */
static double packed_ratio(herd_type t)
{
    return t == HERD_TYPE_TQ1_0 ? 1.25 : 1.2;
}

static const fam_types types = {
    ktypes, sizeof ktypes / sizeof ktypes[0], &rng, k_of, elems, random_rows, packed_ratio};

FAM_CHECK_TESTS(types)

TEST(saturation)
{
    fam_check_saturation(&types, max_rows);
}

/* The VNNI decode path (M = 1 of Q4_K, Q5_K, Q6_K) reads the header section first, Q6_K's
 * through a stack copy of up to 16 KB: K of the model shapes and one past the copy (Q6_K's
 * headers then read in place), with the saturating codes too. */
TEST(gemv_long_k)
{
    herd_pool *pools[2];
    CHECK(herd_pool_create(2, &pools[0]) == HERD_OK);
    CHECK(herd_pool_create(3, &pools[1]) == HERD_OK);
    const herd_type ts[] = {HERD_TYPE_Q4_K, HERD_TYPE_Q5_K, HERD_TYPE_Q6_K};
    const int sbs[] = {8, 20, 64};
    for (int ti = 0; ti < 3; ti++)
        for (int ki = 0; ki < 3; ki++)
            for (int mx = 0; mx < 2; mx++) {
                const int N = 19, K = 256 * sbs[ki];
                float *A = malloc((size_t)K * 4);
                for (int i = 0; i < K; i++)
                    A[i] = harness_randf(&rng) * (i % 61 == 0 ? 20.0f : 2.0f);
                uint8_t *g = rows(ts[ti], N, K, mx), *u = rows(ts[ti], N, K, mx);
                fam_compare(&types, ts[ti], 1, N, K, A, g, u, false, false, pools);
                free(A), free(g), free(u);
            }
    herd_pool_destroy(pools[0]);
    herd_pool_destroy(pools[1]);
    herd_set_isa(HERD_ISA_COUNT);
}

int main(void)
{
    RUN(pack_roundtrip);
    RUN(ref_vs_double);
    RUN(all_families);
    RUN(saturation);
    RUN(gemv_long_k);
    return harness_finish();
}
