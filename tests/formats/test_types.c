/* formats/types: the type table, row conversions for every type, ggml Q8_0/Q4_0 and int8 rows. */
#include "harness.h"
#include "herd/formats.h"

TEST(test_row_bytes)
{
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_F32, 10), 40);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_Q8_0, 64), 68);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_Q4_0, 33), 36);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_MXFP4, 70), 51);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_MXFP6_E3M2, 64), 50);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_MXINT8, 32), 33);
    CHECK_EQ_INT(herd_type_row_bytes(HERD_TYPE_INT8, 10), 14);
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        CHECK_EQ_INT(herd_type_row_bytes(herd_mx_format_type((herd_mx_format)f), 96),
                     herd_mx_row_bytes((herd_mx_format)f, 96));
}

/* ggml layouts by hand: x = j - 16 for j = 0..31. */
TEST(test_ggml_layouts)
{
    float x[32], y[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    uint8_t q8[34], q4[18];
    herd_q8_0_quantize(x, q8, 32);
    CHECK_EQ_INT(q8[0] | q8[1] << 8, herd_f32_to_f16(16.0f / 127.0f));
    CHECK_EQ_INT((int8_t)q8[2], -127);
    CHECK_EQ_INT((int8_t)q8[2 + 16], 0);
    CHECK_EQ_INT((int8_t)q8[2 + 31], 119); /* round(15 * 127/16) */
    herd_q4_0_quantize(x, q4, 32);
    /* The largest magnitude is -16, so d = -16 / -8 = 2 and codes are x/2 + 8. */
    CHECK_EQ_INT(q4[0] | q4[1] << 8, herd_f32_to_f16(2.0f));
    CHECK_EQ_INT(q4[2] & 15, 0);   /* x[0] = -16 */
    CHECK_EQ_INT(q4[2] >> 4, 8);   /* x[16] = 0 */
    CHECK_EQ_INT(q4[17] >> 4, 15); /* x[31] = 15: 15/2 + 8.5 = 16 -> clamped to 15 */
    herd_q4_0_dequantize(q4, y, 32);
    CHECK(y[0] == -16.0f && y[16] == 0.0f && y[31] == 14.0f);
}

static float err_bound(herd_type t, const float *x, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    switch (t) {
    case HERD_TYPE_F32: return 0;
    case HERD_TYPE_F16: return amax * 0x1p-11f;
    case HERD_TYPE_BF16: return amax * 0x1p-8f;
    case HERD_TYPE_Q8_0: return amax / 127 * 0.6f;
    case HERD_TYPE_Q4_0: return amax / 8 * 1.01f;
    case HERD_TYPE_INT8: return amax / 127 * 0.5001f;
    default: return amax; /* MX: checked against herd_mx_cast instead */
    }
}

TEST(test_row_round_trips)
{
    static const size_t lens[] = {1, 5, 31, 32, 33, 64, 70, 100, 257};
    uint64_t seed = 7;
    for (int t = 0; t < HERD_TYPE_COUNT; t++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            float x[257], y[257], z[257];
            uint8_t buf[257 * 4 + 64];
            for (size_t i = 0; i < n; i++)
                x[i] = harness_randf(&seed) * 4.0f;
            size_t bytes = herd_type_row_bytes((herd_type)t, n);
            memset(buf, 0xEE, sizeof buf);
            herd_status st = herd_row_from_f32((herd_type)t, x, buf, n);
            if (st == HERD_ERR_UNSUPPORTED && herd_type_get((herd_type)t)->block_elems == 256)
                continue; /* computed with, never written: the grid i-quants */
            CHECK(st == HERD_OK);
            CHECK_MSG(buf[bytes] == 0xEE, "%s n=%zu: wrote past row_bytes", herd_type_name(t), n);
            CHECK(herd_row_to_f32((herd_type)t, buf, y, n) == HERD_OK);
            herd_mx_format f;
            float bound = err_bound((herd_type)t, x, n), worst = 0;
            bool mx = herd_mx_format_of_type((herd_type)t, &f);
            if (mx)
                herd_mx_cast(f, HERD_MX_ROUND_EVEN, x, z, n);
            for (size_t i = 0; i < n; i++) {
                if (mx)
                    CHECK_MSG(y[i] == z[i], "%s n=%zu i=%zu", herd_type_name(t), n, i);
                else
                    worst = fmaxf(worst, fabsf(y[i] - x[i]));
            }
            CHECK_MSG(worst <= bound, "%s n=%zu: error %g > %g", herd_type_name(t), n, worst,
                      bound);
        }
    CHECK(herd_row_to_f32(HERD_TYPE_COUNT, NULL, NULL, 0) == HERD_ERR_ARG);
}

TEST(test_int8_rows)
{
    float x[5] = {1.0f, -2.0f, 0.5f, 0.0f, 1.27f}, y[5];
    uint8_t buf[9];
    herd_int8_row_quantize(x, buf, 5);
    float scale;
    memcpy(&scale, buf, 4);
    CHECK(scale == 2.0f / 127.0f);
    CHECK_EQ_INT((int8_t)buf[4 + 1], -127);
    CHECK_EQ_INT((int8_t)buf[4 + 3], 0);
    herd_int8_row_dequantize(buf, y, 5);
    CHECK(y[1] == -127 * scale);
    /* All zeros: scale 0, no division by zero. Inf/NaN: NaN scale, all NaN. */
    float zero[3] = {0, 0, 0}, bad[3] = {1, INFINITY, 2};
    herd_int8_row_quantize(zero, buf, 3);
    herd_int8_row_dequantize(buf, y, 3);
    CHECK(y[0] == 0 && y[2] == 0);
    herd_int8_row_quantize(bad, buf, 3);
    herd_int8_row_dequantize(buf, y, 3);
    CHECK(isnan(y[0]) && isnan(y[2]));
    /* NaN/Inf into ggml blocks must not crash (UBSan checks float-to-int conversions). */
    float nasty[32];
    for (int i = 0; i < 32; i++)
        nasty[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -1.0f;
    uint8_t q[34];
    herd_q8_0_quantize(nasty, q, 32);
    herd_q4_0_quantize(nasty, q, 32);
}

/* One spelling accepted everywhere: any case, and the MX format names. */
TEST(test_type_names)
{
    herd_type t;
    CHECK(herd_type_parse("Q8_0", &t) && t == HERD_TYPE_Q8_0);
    CHECK(herd_type_parse("BF16", &t) && t == HERD_TYPE_BF16);
    CHECK(herd_type_parse("mxfp4_e2m1", &t) && t == HERD_TYPE_MXFP4);
    CHECK(herd_type_parse("MXFP4", &t) && t == HERD_TYPE_MXFP4);
    CHECK(!herd_type_parse("q9_0", &t) && !herd_type_parse("", &t));
    for (int i = 0; i < HERD_TYPE_COUNT; i++) {
        CHECK(herd_type_parse(herd_type_name((herd_type)i), &t) && t == (herd_type)i);
        CHECK(strstr(herd_type_names(), herd_type_name((herd_type)i)) != NULL);
    }
}

int main(void)
{
    RUN(test_type_names);
    RUN(test_row_bytes);
    RUN(test_ggml_layouts);
    RUN(test_row_round_trips);
    RUN(test_int8_rows);
    return harness_finish();
}
