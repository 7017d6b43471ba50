/* The A records of the K-quant, grid i-quant and Q8_K families (AUTO mode) are ggml's Q8_K
 * activations bit for bit (IQ4_NL's, 32 wide, its Q8_0): the same int8 codes up to the sign
 * convention and the same |d|, so
 * herd's integer dot products see what llama.cpp's CPU backend sees (docs/GGUF.md, "Checked
 * against llama.cpp"). Checked against a plain C twin of ggml's rounding rule, written here from
 * its definition, on blocks with exact ties, negatives, zeros, opposite-signed maxima and scales
 * where amax/127 and 1/(127/amax) differ; the C, AVX2 and AVX-512 record writers. */
#include "harness.h"
#include "herd/base.h"
#include "herd/formats.h"
#include "kernels/kquant.h"

static uint64_t rng = 0x713a8c3b5e2d91ull;

/* ggml's rule for one block of 256 (quantize_row_q8_K_ref): max = the first value of largest
 * magnitude, iscale = −127/max, q = min(127, round-half-even(iscale·x)), d = 1/iscale; an
 * all-zero block has d = 0 and zero codes. Round-half-even by adding 1.5·2^23, as ggml does. */
static float twin_q8k(const float *x, int8_t *q)
{
    float amax = 0, max = 0;
    for (int j = 0; j < 256; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    if (amax == 0) {
        memset(q, 0, 256);
        return 0;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; j++) {
        float v = iscale * x[j] + 12582912.0f;
        int32_t bits;
        memcpy(&bits, &v, 4);
        int n = (bits & 0x007fffff) - 0x00400000;
        q[j] = (int8_t)(n > 127 ? 127 : n);
    }
    return 1.0f / iscale;
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, 4) == 0;
}

typedef void (*fill_fn)(const float *x, int elems, int sub, int qoff, bool sums, uint8_t *rec);

/* One block through `fill` with a sub-block size and weight offset of each family. */
static void check_block(const char *what, fill_fn fill, const float *x)
{
    int8_t qg[256];
    const float d = twin_q8k(x, qg);
    const int sign = d < 0 ? -1 : 1; /* herd's codes are ggml's times −sign(max) = sign(d) */
    static const int subs[] = {16, 32, 256}, qoffs[] = {4, 0, 128};
    for (int c = 0; c < 3; c++) {
        const int sub = subs[c], ns = 256 / sub;
        uint8_t rec[256 + 4 + 8 * 16];
        memset(rec, 0xA5, sizeof rec);
        fill(x, 256, sub, qoffs[c], true, rec);
        float da;
        memcpy(&da, rec + 256, 4);
        CHECK_MSG(same_bits(da, fabsf(d)), "%s sub %d: da %.9g, ggml |d| %.9g", what, sub, da,
                  fabsf(d));
        int bad = -1;
        for (int j = 0; j < 256 && bad < 0; j++)
            if ((int8_t)rec[j] != sign * qg[j])
                bad = j;
        CHECK_MSG(bad < 0, "%s sub %d: q[%d] = %d, ggml %d (x %.9g)", what, sub, bad,
                  bad < 0 ? 0 : (int8_t)rec[bad], bad < 0 ? 0 : qg[bad], bad < 0 ? 0 : x[bad]);
        for (int s = 0; s < ns; s++) {
            int32_t want = 0, corr, sum;
            for (int j = s * sub; j < (s + 1) * sub; j++)
                want += sign * qg[j];
            memcpy(&corr, rec + 260 + 4 * s, 4);
            memcpy(&sum, rec + 260 + 4 * (ns + s), 4);
            CHECK_MSG(sum == want && corr == -qoffs[c] * want, "%s sub %d: sums of %d", what, sub,
                      s);
        }
    }
}

/* The blocks: each one a case where a different rounding or scale would show. */
static int make_blocks(float (*b)[256])
{
    int n = 0;
    /* exact ties: max 127, so iscale·x = ∓x and the halves k + 0.5 round to even, both signs */
    for (int j = 0; j < 256; j++)
        b[n][j] = (float)((j % 64) - 32) + 0.5f * (j % 3 != 0);
    b[n][7] = 127.0f;
    n++;
    for (int j = 0; j < 256; j++)
        b[n][j] = -b[n - 1][j]; /* the same with max = −127 */
    n++;
    /* opposite-signed maxima of equal magnitude: ggml takes the first one's sign */
    for (int j = 0; j < 256; j++)
        b[n][j] = (float)(j % 9) * 0.3f - 1.2f;
    b[n][10] = -5.0f;
    b[n][200] = 5.0f;
    n++;
    /* zeros, and the all-zero block */
    for (int j = 0; j < 256; j++)
        b[n][j] = j % 4 ? 0.0f : (float)(j % 13) * 0.01f - 0.06f;
    n++;
    memset(b[n], 0, sizeof b[n]);
    n++;
    /* a single non-zero value; tiny and huge magnitudes */
    memset(b[n], 0, sizeof b[n]);
    b[n][255] = -3.0e-30f;
    n++;
    for (int j = 0; j < 256; j++)
        b[n][j] = (float)(j % 7 - 3) * 1.0e30f;
    n++;
    /* random blocks of random scale: many have amax/127 != 1/(127/amax) in the last bit */
    while (n < 64) {
        float scale = ldexpf(1.0f, (int)(harness_rand(&rng) % 40) - 20);
        for (int j = 0; j < 256; j++)
            b[n][j] = scale * (float)((int64_t)(harness_rand(&rng) % 200001) - 100000) / 3.0e4f;
        n++;
    }
    return n;
}

TEST(records_equal_ggml_q8k)
{
    static float b[64][256];
    const int n = make_blocks(b);
    int differ = 0; /* blocks where the older da = amax/127 would have been off */
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "block %d (C)", i);
        check_block(what, kk_arec_fill, b[i]);
#if defined(__x86_64__)
        if (herd_cpu_isa() >= HERD_ISA_AVX2) {
            snprintf(what, sizeof what, "block %d (AVX2)", i);
            check_block(what, kk_arec_fill_avx2, b[i]);
        }
        if (herd_cpu_isa() >= HERD_ISA_AVX512) {
            snprintf(what, sizeof what, "block %d (AVX-512)", i);
            check_block(what, kk_arec_fill_avx512, b[i]);
        }
#endif
        int8_t q[256];
        float d = fabsf(twin_q8k(b[i], q)), amax = 0;
        for (int j = 0; j < 256; j++)
            amax = fmaxf(amax, fabsf(b[i][j]));
        differ += !same_bits(amax / 127.0f, d);
    }
    CHECK_MSG(differ > 0, "no block tells the two scale roundings apart");
}

/* ggml's Q8_0 activations on x86 (quantize_row_q8_0's AVX path, and the repacked kernels'),
 * the A of IQ4_NL: d = amax/127 rounded to fp16, q = round-half-even(x·127/amax). */
static float twin_q8_0(const float *x, int8_t *q)
{
    float amax = 0;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)nearbyintf(x[j] * id);
    return herd_f16_to_f32(herd_f32_to_f16(amax / 127.0f));
}

TEST(records_of_32_equal_ggml_q8_0)
{
    static float b[64][256];
    const int n = make_blocks(b);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < 256; o += 32) {
            int8_t q[32];
            const float d = twin_q8_0(b[i] + o, q);
            fill_fn fills[3] = {kk_arec_fill, NULL, NULL};
            static const char *names[3] = {"C", "AVX2", "AVX-512"};
#if defined(__x86_64__)
            if (herd_cpu_isa() >= HERD_ISA_AVX2)
                fills[1] = kk_arec_fill_avx2;
            if (herd_cpu_isa() >= HERD_ISA_AVX512)
                fills[2] = kk_arec_fill_avx512;
#endif
            for (int f = 0; f < 3; f++) {
                if (!fills[f])
                    continue;
                uint8_t rec[32 + 4 + 8];
                fills[f](b[i] + o, 32, 32, 128, true, rec);
                float da;
                memcpy(&da, rec + 32, 4);
                CHECK_MSG(same_bits(da, d) && memcmp(rec, q, 32) == 0, "block %d+%d (%s)", i, o,
                          names[f]);
            }
        }
}

/* Blocks whose largest value is subnormal (127/amax overflows to Inf; ggml's rounding trick
 * then gives no meaningful codes, so there is no ggml twin to match): every ISA's record is the
 * C one's, bit for bit. */
TEST(subnormal_blocks_same_on_every_isa)
{
    static float b[3][256];
    for (int j = 0; j < 256; j++) {
        b[0][j] = (float)(j % 11 - 5) * 1.0e-40f;
        b[1][j] = (float)(j % 11 - 5) * 1.0e-41f;
        b[2][j] = j == 100 ? -1.0e-39f : 0.0f;
    }
    b[1][100] = 2.0e-38f; /* the max alone is normal */
#if defined(__x86_64__)
    const fill_fn fills[2] = {herd_cpu_isa() >= HERD_ISA_AVX2 ? kk_arec_fill_avx2 : NULL,
                              herd_cpu_isa() >= HERD_ISA_AVX512 ? kk_arec_fill_avx512 : NULL};
    for (int i = 0; i < 3; i++)
        for (int f = 0; f < 2; f++)
            for (int sub = 16; sub <= 256; sub *= 2) {
                if (!fills[f])
                    continue;
                uint8_t want[256 + 4 + 8 * 16], got[sizeof want];
                memset(want, 0xA5, sizeof want);
                memset(got, 0xA5, sizeof got);
                kk_arec_fill(b[i], 256, sub, 4, true, want);
                fills[f](b[i], 256, sub, 4, true, got);
                CHECK_MSG(memcmp(want, got, sizeof want) == 0, "block %d, sub %d: %s differs", i,
                          sub, f ? "AVX-512" : "AVX2");
            }
#endif
}

/* herd's own Q8_K writer (GGUF tensors of type Q8_K) follows the same rule. */
TEST(row_writer_equals_twin)
{
    static float b[64][256];
    const int n = make_blocks(b);
    for (int i = 0; i < n; i++) {
        uint8_t blk[292];
        CHECK(herd_row_from_f32(HERD_TYPE_Q8_K, b[i], blk, 256) == HERD_OK);
        int8_t q[256];
        float d = twin_q8k(b[i], q), dh;
        memcpy(&dh, blk, 4);
        CHECK_MSG(same_bits(d, dh) && memcmp(q, blk + 4, 256) == 0, "block %d", i);
    }
}

int main(void)
{
    RUN(records_equal_ggml_q8k);
    RUN(records_of_32_equal_ggml_q8_0);
    RUN(row_writer_equals_twin);
    RUN(subnormal_blocks_same_on_every_isa);
    return harness_finish();
}
