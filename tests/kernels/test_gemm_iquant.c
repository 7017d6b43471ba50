/* The grid i-quant families (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M) against
 * their plain C twins, with the checks of family_check.h; pack → unpack equals the formats
 * layer's dequantization (ggml's floats, tests/formats/test_iqblocks.c); packing from f32
 * fails cleanly (herd does not quantize to them).
 *
 * Weights are random super-blocks of the type itself (random bytes, fp16 scales made finite
 * and O(0.01)), so every index, sign, delta and scale pattern occurs. */
#include "family_check.h"
#include "formats/iqblocks.h"

static uint64_t rng = 0x4951554e54ull;

static const herd_type ktypes[] = {HERD_TYPE_IQ3_S,  HERD_TYPE_IQ3_XXS, HERD_TYPE_IQ2_XXS,
                                   HERD_TYPE_IQ2_XS, HERD_TYPE_IQ2_S,   HERD_TYPE_IQ1_S,
                                   HERD_TYPE_IQ1_M};

static uint8_t *random_rows(herd_type t, int n, int k)
{
    const iq_info *I = iq_info_get(t);
    const size_t nb = (size_t)n * (size_t)(k / 256);
    uint8_t *w = malloc(nb * (size_t)I->bytes);
    for (size_t i = 0; i < nb * (size_t)I->bytes; i++)
        w[i] = (uint8_t)harness_rand(&rng);
    for (size_t b = 0; b < nb; b++) {
        uint8_t *x = w + b * (size_t)I->bytes;
        uint16_t h = fam_random_scale(&rng);
        if (t == HERD_TYPE_IQ1_M) /* the fp16 scale is the top nibbles of the 4 scale words */
            for (int i = 0; i < 4; i++)
                x[48 + 2 * i + 1] =
                    (uint8_t)((x[48 + 2 * i + 1] & 15) | ((h >> (4 * i)) & 15) << 4);
        else
            x[0] = (uint8_t)h, x[1] = (uint8_t)(h >> 8);
    }
    return w;
}

static double packed_ratio(herd_type t)
{
    (void)t;
    return 1.25;
}

static const fam_types types = {
    ktypes,      sizeof ktypes / sizeof ktypes[0], &rng, fam_k_256, fam_elems_256, random_rows,
    packed_ratio};

FAM_CHECK_TESTS(types)

int main(void)
{
    RUN(pack_roundtrip);
    RUN(ref_vs_double);
    RUN(all_families);
    return harness_finish();
}
