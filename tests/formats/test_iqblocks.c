/* formats/iqblocks: ggml's grid i-quants (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M).
 *  - Dequantization is ggml's, bit for bit: tests/data/ggml/iquant_blocks.bin holds, per type,
 *    8 super-blocks written by ggml's own quantizer (ggml_quantize_chunk, with an importance
 *    matrix where the type needs one) and 8 of random bytes, each with the floats ggml's
 *    to_float gives (made by a small program linked against node-llama-cpp 3.21.1's
 *    libggml-base, outside the repo; docs/GGUF.md). Same record layout as kquant_blocks.bin.
 *  - Decoding into parts and encoding back gives the same bytes.
 *  - Quantizing to these types fails cleanly (herd computes with them, it does not write them). */
#include "formats/iqblocks.h"
#include "harness.h"

#include <math.h>

static herd_type from_ggml(uint32_t id)
{
    switch (id) {
    case 16: return HERD_TYPE_IQ2_XXS;
    case 17: return HERD_TYPE_IQ2_XS;
    case 18: return HERD_TYPE_IQ3_XXS;
    case 19: return HERD_TYPE_IQ1_S;
    case 21: return HERD_TYPE_IQ3_S;
    case 22: return HERD_TYPE_IQ2_S;
    case 29: return HERD_TYPE_IQ1_M;
    default: return HERD_TYPE_COUNT;
    }
}

TEST(test_ggml_bits)
{
    FILE *f = fopen("ggml/iquant_blocks.bin", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    uint32_t h[4];
    int types = 0;
    while (fread(h, 4, 4, f) == 4) {
        herd_type t = from_ggml(h[0]);
        const iq_info *I = iq_info_get(t);
        CHECK(I && (uint32_t)I->bytes == h[2] && h[3] == 256);
        if (!I || h[1] > 16)
            break;
        uint8_t raw[16 * 256], back[256];
        float want[16 * 256], got[16 * 256];
        CHECK(fread(raw, h[2], h[1], f) == h[1]);
        CHECK(fread(want, 4 * h[3], h[1], f) == h[1]);
        size_t n = (size_t)h[1] * h[3];
        CHECK(herd_row_to_f32(t, raw, got, n) == HERD_OK);
        int bad = 0;
        for (size_t i = 0; i < n; i++)
            if (memcmp(&got[i], &want[i], 4) != 0 && !(isnan(got[i]) && isnan(want[i])) &&
                bad++ == 0)
                CHECK_MSG(0, "%s value %zu: %.9g, ggml %.9g", herd_type_name(t), i, got[i],
                          want[i]);
        for (uint32_t b = 0; b < h[1]; b++) {
            iq_block ib;
            iq_decode(I, raw + b * h[2], &ib);
            iq_encode(I, &ib, back);
            CHECK_MSG(memcmp(back, raw + b * h[2], h[2]) == 0,
                      "%s block %u: encode(decode) differs", herd_type_name(t), b);
        }
        types++;
    }
    fclose(f);
    CHECK_EQ_INT(types, 7);
}

/* The shape's bounds the kernels rely on: |q| ≤ 62, sc odd ≤ 31, grid values in range. */
TEST(test_ranges)
{
    static const herd_type ts[] = {HERD_TYPE_IQ3_S,  HERD_TYPE_IQ3_XXS, HERD_TYPE_IQ2_XXS,
                                   HERD_TYPE_IQ2_XS, HERD_TYPE_IQ2_S,   HERD_TYPE_IQ1_S,
                                   HERD_TYPE_IQ1_M};
    for (size_t ti = 0; ti < sizeof ts / sizeof ts[0]; ti++) {
        const iq_info *I = iq_info_get(ts[ti]);
        int lo = 1000, hi = -1000;
        for (unsigned idx = 0; idx < 1u << I->idx_bits; idx++)
            for (int j = 0; j < I->gvals; j++) {
                int v = iq_grid_value(I, idx, j);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        CHECK_MSG(I->iq1 ? lo == -1 && hi == 1 : lo >= 1 && hi <= 62, "%s grid %d..%d",
                  herd_type_name(ts[ti]), lo, hi);
        float x[256] = {0};
        uint8_t q[256];
        CHECK(herd_row_from_f32(ts[ti], x, q, 256) == HERD_ERR_UNSUPPORTED);
    }
}

int main(void)
{
    RUN(test_ggml_bits);
    RUN(test_ranges);
    return harness_finish();
}
