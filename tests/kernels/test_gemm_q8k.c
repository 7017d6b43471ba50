/* ggml's Q8_K (block_q8_K: f32 d, int8 qs[256], int16 bsums[16]): the row (de)quantizers on
 * hand-made blocks, and the Q8_K families against their plain C twin with the checks of
 * family_check.h (random blocks: random codes including −128, finite f32 scales of either
 * sign). */
#include "family_check.h"

static uint64_t rng = 0x51384b5f4b51ull;

enum { BYTES = 292 };

static void put_d(uint8_t *blk, float d)
{
    memcpy(blk, &d, 4);
}

/* value = d·q, in ggml's order (one f32 product), for every code and both signs of d; the
 * bsums are not read (a block with wrong sums decodes the same). */
TEST(dequantize_hand_made)
{
    uint8_t blk[2 * BYTES];
    memset(blk, 0xA5, sizeof blk); /* garbage bsums */
    put_d(blk, 0.375f);
    put_d(blk + BYTES, -3.0e-3f);
    for (int j = 0; j < 256; j++) {
        blk[4 + j] = (uint8_t)(j - 128); /* q = -128..127 */
        blk[BYTES + 4 + j] = (uint8_t)(int8_t)(j % 2 ? 127 - j / 2 : -j / 2);
    }
    float y[512];
    CHECK(herd_row_to_f32(HERD_TYPE_Q8_K, blk, y, 512) == HERD_OK);
    for (int j = 0; j < 256; j++) {
        CHECK_MSG(y[j] == 0.375f * (float)(j - 128), "y[%d] = %g", j, y[j]);
        float q = (float)(int8_t)(j % 2 ? 127 - j / 2 : -j / 2);
        CHECK_MSG(y[256 + j] == -3.0e-3f * q, "y[%d] = %g", 256 + j, y[256 + j]);
    }
}

/* ggml's quantize_row_q8_K_ref: d = −max/127 (max the value of largest magnitude), q =
 * round-even(−127·x/max) ≤ 127, bsums the sums of 16; a zero block is all zero; a short row is
 * zero-padded; a NaN gives a NaN scale. */
TEST(quantize_hand_made)
{
    float x[256 + 10];
    for (int j = 0; j < 256; j++)
        x[j] = (float)(j % 17) * 0.25f - 1.0f; /* -1 .. 3 */
    x[100] = -4.0f;                            /* the value of largest magnitude */
    for (int j = 256; j < 266; j++)
        x[j] = j == 260 ? 0.5f : 0.0f;
    uint8_t q[2 * BYTES];
    CHECK(herd_row_from_f32(HERD_TYPE_Q8_K, x, q, 266) == HERD_OK);
    float d;
    memcpy(&d, q, 4);
    const float iscale = -127.0f / -4.0f;
    CHECK(d == 1.0f / iscale);
    for (int j = 0; j < 256; j++)
        CHECK_MSG((int8_t)q[4 + j] == (int)nearbyintf(iscale * x[j]), "q[%d] = %d", j,
                  (int8_t)q[4 + j]);
    CHECK((int8_t)q[4 + 100] == -127);
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += (int8_t)q[4 + 16 * g + j];
        int16_t bs;
        memcpy(&bs, q + 4 + 256 + 2 * g, 2);
        CHECK_EQ_INT(bs, sum);
    }
    /* second block: only x[260] = 0.5 is non-zero, so d = -0.5/127 and q = -127 there */
    memcpy(&d, q + BYTES, 4);
    CHECK(d == 1.0f / (-127.0f / 0.5f));
    CHECK((int8_t)q[BYTES + 4 + 4] == -127);
    CHECK((int8_t)q[BYTES + 4 + 5] == 0 && (int8_t)q[BYTES + 4 + 200] == 0);
    float z[256] = {0};
    CHECK(herd_row_from_f32(HERD_TYPE_Q8_K, z, q, 256) == HERD_OK);
    memcpy(&d, q, 4);
    CHECK(d == 0.0f && q[4] == 0 && q[4 + 255] == 0);
    z[3] = NAN;
    CHECK(herd_row_from_f32(HERD_TYPE_Q8_K, z, q, 256) == HERD_OK);
    memcpy(&d, q, 4);
    CHECK(isnan(d));
    /* round trip within half a step */
    float y[256];
    CHECK(herd_row_from_f32(HERD_TYPE_Q8_K, x, q, 256) == HERD_OK);
    CHECK(herd_row_to_f32(HERD_TYPE_Q8_K, q, y, 256) == HERD_OK);
    for (int j = 0; j < 256; j++)
        CHECK_NEAR(y[j], x[j], 4.0 / 127 * 0.5001);
}

static const herd_type ktypes[] = {HERD_TYPE_Q8_K};

static uint8_t *random_rows(herd_type t, int n, int k)
{
    (void)t;
    const size_t nb = (size_t)n * (size_t)(k / 256);
    uint8_t *w = malloc(nb * BYTES);
    for (size_t i = 0; i < nb * BYTES; i++)
        w[i] = (uint8_t)harness_rand(&rng);
    for (size_t b = 0; b < nb; b++)
        put_d(w + b * BYTES, herd_f16_to_f32(fam_random_scale(&rng)) * 1.0001f);
    return w;
}

static double packed_ratio(herd_type t)
{
    (void)t;
    return 1.0; /* the bsums are dropped */
}

static const fam_types types = {ktypes,        1,           &rng,        fam_k_256,
                                fam_elems_256, random_rows, packed_ratio};

FAM_CHECK_TESTS(types)

int main(void)
{
    RUN(dequantize_hand_made);
    RUN(quantize_hand_made);
    RUN(pack_roundtrip);
    RUN(ref_vs_double);
    RUN(all_families);
    return harness_finish();
}
