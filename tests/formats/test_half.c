/* formats/half: fp16 and bf16 conversions (round to nearest even, NaN kept) against the
 * microxcaling element-wise golden vectors (tests/data/mx/elemwise). Our conversions are the
 * hardware-style RNE casts; the only differences allowed are the microxcaling behaviours
 * listed in spec/mx.md section 6 and docs/formats.md:
 *   -0.0 -> +0.0; inputs that round up to 2^128 (bf16: FLT_MAX) -> NaN; for fp16 the
 *   floor(x+0.5) artifact at (0.5-2^-25)*2^-24 -> 2^-24; and in "nearest" mode (ties away
 *   from zero) every exact tie. */
#include "harness.h"
#include "herd/formats.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float rne(bool bf16, float x)
{
    return bf16 ? herd_bf16_to_f32(herd_f32_to_bf16(x)) : herd_f16_to_f32(herd_f32_to_f16(x));
}

/* Checks one golden file; returns the number of differences not explained. */
static int check(bool bf16, bool nearest, int *explained)
{
    char path[64];
    snprintf(path, sizeof path, "mx/elemwise/%s.%s.output.f32.bin", bf16 ? "bf16" : "fp16",
             nearest ? "nearest" : "even");
    size_t nx, ny;
    float *x = harness_read_file("mx/elemwise/input.f32.bin", &nx);
    float *want = harness_read_file(path, &ny);
    CHECK(nx == ny);
    int unexplained = 0;
    for (size_t i = 0; i < nx / 4; i++) {
        float got = rne(bf16, x[i]), w = want[i];
        if (bits(got) == bits(w) || (isnan(got) && isnan(w)))
            continue;
        bool ok = false;
        if (x[i] == 0 && signbit(x[i]) && w == 0 && !signbit(w))
            ok = true; /* -0 -> +0 */
        else if (isinf(got) && isnan(w) && fabsf(x[i]) <= 0x1.fffffep127f)
            ok = true; /* finite input rounding to 2^128: microxcaling's 0 * Inf */
        else if (!bf16 && fabsf(x[i]) == (0.5f - 0x1p-25f) * 0x1p-24f && got == 0 &&
                 fabsf(w) == 0x1p-24f)
            ok = true; /* floor(x + 0.5) in float32 */
        else if (nearest && (double)x[i] == ((double)got + (double)w) / 2 && fabs(w) > fabs(got))
            ok = true; /* an exact tie, rounded away from zero instead of to even */
        if (ok)
            (*explained)++;
        else if (unexplained++ < 5)
            fprintf(stderr, "%s: x=%a: ours %a, microxcaling %a\n", path, x[i], got, w);
    }
    free(x);
    free(want);
    return unexplained;
}

TEST(test_elemwise_golden)
{
    for (int bf = 0; bf < 2; bf++)
        for (int nearest = 0; nearest < 2; nearest++) {
            int explained = 0;
            CHECK_EQ_INT(check(bf, nearest, &explained), 0);
            CHECK(explained > 0);
        }
}

TEST(test_specials)
{
    CHECK(herd_f32_to_bf16(1.0f) == 0x3f80 && herd_f32_to_f16(1.0f) == 0x3c00);
    CHECK(herd_f32_to_f16(65504.0f) == 0x7bff && herd_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(herd_f32_to_f16(0x1p-24f) == 1 && herd_f32_to_f16(0x1p-25f) == 0);
    CHECK(herd_f32_to_f16(0x1.8p-25f) == 1); /* above the tie */
    CHECK(herd_f32_to_bf16(-0.0f) == 0x8000 && herd_f32_to_f16(-0.0f) == 0x8000);
    CHECK(isnan(herd_bf16_to_f32(herd_f32_to_bf16(NAN))));
    CHECK(isnan(herd_f16_to_f32(herd_f32_to_f16(NAN))));
    CHECK(herd_f32_to_bf16(INFINITY) == 0x7f80 && herd_f32_to_f16(-INFINITY) == 0xfc00);
    /* bf16 ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7, goes to even (1). */
    CHECK(herd_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
    CHECK(herd_f32_to_bf16(1.0f + 0x1p-7f + 0x1p-8f) == 0x3f82);
    /* Every fp16 value survives f16 -> f32 -> f16. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = herd_f16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        bad += herd_f32_to_f16(f) != h;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(test_elemwise_golden);
    RUN(test_specials);
    return harness_finish();
}
