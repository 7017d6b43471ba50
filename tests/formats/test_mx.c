/* formats/mx: bit-exact against the microxcaling golden vectors (tests/data/mx, see its
 * README.md) on every path (reference C and AVX-512), plus the element tables, exact block dot
 * products and random fast-vs-reference comparisons with every tail length. */
#include "harness.h"
#include "herd/formats.h"

static const char *const dirs[HERD_MX_FORMAT_COUNT] = {"fp8_e4m3", "fp8_e5m2", "fp6_e3m2",
                                                       "fp6_e2m3", "fp4_e2m1", "int8"};
static const char *const modes[2] = {"even", "nearest"}; /* HERD_MX_ROUND_EVEN, _AWAY */

static void *load(size_t *n, size_t elem, const char *fmt, const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "mx/%s/%s", fmt, file);
    size_t bytes;
    void *p = harness_read_file(path, &bytes);
    *n = bytes / elem;
    return p;
}

static void *loadf(size_t *n, size_t elem, const char *fmt, const char *set, const char *mode,
                   const char *kind)
{
    char file[128];
    if (mode)
        snprintf(file, sizeof file, "%s.%s.%s", set, mode, kind);
    else
        snprintf(file, sizeof file, "%s.%s", set, kind);
    return load(n, elem, fmt, file);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Equal bit for bit, any NaN matching any NaN; zeros_signless also lets -0 match +0. */
static bool same(float a, float b, bool zeros_signless)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (zeros_signless && a == 0 && b == 0)
        return true;
    return bits(a) == bits(b);
}

/* Quantizes a golden set and compares scales, codes, records and values. Returns mismatches. */
static int check_set(herd_mx_format f, const char *set, int mode, bool exact_ref)
{
    const char *d = dirs[f], *m = modes[mode];
    herd_mx_rounding r = (herd_mx_rounding)mode;
    size_t n, nscale, ncodes, nout;
    float *x = loadf(&n, 4, d, set, NULL, "input.f32.bin");
    size_t row = strcmp(set, "tail") == 0 ? 70 : 32, rows = n / row;
    size_t nb = (row + 31) / 32, rb = herd_mx_row_bytes(f, row);
    uint8_t *scale = loadf(&nscale, 1, d, set, m, "scale_e8m0.u8.bin");
    uint8_t *codes = loadf(&ncodes, 1, d, set, m, "codes.u8.bin");
    float *out =
        loadf(&nout, 4, d, set, m, exact_ref ? "exact_ref.output.f32.bin" : "output.f32.bin");
    CHECK(nscale == rows * nb && ncodes == n && nout == n);
    uint8_t *rec = calloc(rows, rb);
    float *y = calloc(n, 4), *z = calloc(n, 4);
    int bad = 0;
    for (size_t i = 0; i < rows; i++) {
        herd_mx_quantize(f, r, x + i * row, rec + i * rb, row);
        herd_mx_cast(f, r, x + i * row, y + i * row, row);
        herd_mx_dequantize(f, rec + i * rb, z + i * row, row);
        for (size_t b = 0; b < nb; b++) {
            uint8_t s, c[32];
            herd_mx_unpack_block(f, rec + i * rb + b * (size_t)herd_mx_block_bytes(f), &s, c);
            size_t want_scale = scale[i * nb + b];
            if (exact_ref) { /* the exact shared exponents, as floats */
                size_t ns;
                float *se = loadf(&ns, 4, d, set, m, "exact_ref.shared_exp.f32.bin");
                want_scale = isnan(se[i * nb + b]) ? 255 : (size_t)(se[i * nb + b] + 127);
                free(se);
            }
            if (s != want_scale && bad++ < 5)
                fprintf(stderr, "%s/%s.%s: row %zu block %zu: scale %u, want %zu\n", d, set, m, i,
                        b, s, want_scale);
            for (size_t j = 0; j < 32 && b * 32 + j < row && !exact_ref; j++) {
                size_t k = i * row + b * 32 + j;
                if (c[j] != codes[k] && bad++ < 5)
                    fprintf(stderr, "%s/%s.%s: element %zu (%a): code %#x, want %#x\n", d, set, m,
                            k, x[k], c[j], codes[k]);
            }
        }
        for (size_t j = 0; j < row; j++) {
            size_t k = i * row + j;
            if (!same(y[k], out[k], false) && bad++ < 5)
                fprintf(stderr, "%s/%s.%s: element %zu (%a): cast %a, want %a\n", d, set, m, k,
                        x[k], y[k], out[k]);
            /* Decoding records gives the same values; INT8 codes cannot carry -0. */
            if (!same(z[k], out[k], f == HERD_MX_INT8) && bad++ < 5)
                fprintf(stderr, "%s/%s.%s: element %zu: dequantized %a, want %a\n", d, set, m, k,
                        z[k], out[k]);
        }
    }
    if (strcmp(set, "main") == 0) {
        size_t np, nd;
        uint8_t *packed = loadf(&np, 1, d, set, m, "packed_blocks.u8.bin");
        double *dots = loadf(&nd, 8, d, set, m, "dot_pairs.f64.bin");
        CHECK(np == rows * rb && memcmp(packed, rec, np) == 0);
        for (size_t j = 0; j < nd; j++) {
            double got = herd_mx_block_dot(f, rec + 2 * j * rb, rec + (2 * j + 1) * rb);
            /* The golden E5M2 dots were summed in float64, which is not exact when the 32
             * products span more than 53 bits (up to 69 for E5M2); ours are the exact sums
             * rounded once (checked with Python fractions): they differ by at most 1 ulp. */
            if (f == HERD_MX_FP8_E5M2 && fabs(got - dots[j]) <= fabs(dots[j]) * 0x1p-52)
                continue;
            if (memcmp(&got, &dots[j], 8) != 0 && bad++ < 5)
                fprintf(stderr, "%s/main.%s: dot pair %zu: %a, want %a\n", d, m, j, got, dots[j]);
        }
        /* Decoding the golden records directly gives the golden values. */
        for (size_t i = 0; i < rows; i++)
            herd_mx_dequantize(f, packed + i * rb, z + i * row, row);
        for (size_t k = 0; k < n; k++)
            if (!same(z[k], out[k], f == HERD_MX_INT8) && bad++ < 5)
                fprintf(stderr, "%s/main.%s: golden record element %zu: %a, want %a\n", d, m, k,
                        z[k], out[k]);
        free(packed);
        free(dots);
    }
    free(x);
    free(scale);
    free(codes);
    free(out);
    free(rec);
    free(y);
    free(z);
    return bad;
}

static void check_golden(void)
{
    static const char *const sets[] = {"main", "specials", "tail"};
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        for (int mode = 0; mode < 2; mode++) {
            for (int s = 0; s < 3; s++)
                CHECK_MSG(check_set((herd_mx_format)f, sets[s], mode, false) == 0, "%s %s %s",
                          dirs[f], sets[s], modes[mode]);
            CHECK_MSG(check_set((herd_mx_format)f, "edge", mode, true) == 0, "%s edge %s", dirs[f],
                      modes[mode]);
        }
}

TEST(test_golden_ref)
{
    herd_set_isa(HERD_ISA_REF);
    check_golden();
}

/* The SIMD paths this CPU can run (AVX2, AVX-512); prints the ones it cannot. */
static const herd_isa_level simd_levels[] = {HERD_ISA_AVX2, HERD_ISA_AVX512};
enum { NSIMD = 2 };

static bool use_level(herd_isa_level l)
{
    if (herd_set_isa(l) == l)
        return true;
    printf("%s not available on this CPU: its path is not tested\n", herd_isa_name(l));
    return false;
}

TEST(test_golden_fast)
{
    for (int i = 0; i < NSIMD; i++)
        if (use_level(simd_levels[i]))
            check_golden();
}

/* The edge set: where our exact results differ from microxcaling is exactly the differs mask
 * (the float32 log2 and floor(x+0.5) artifacts we do not reproduce, docs/formats.md). */
TEST(test_edge_artifacts)
{
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        for (int mode = 0; mode < 2; mode++) {
            size_t n, nm, nd;
            float *x = loadf(&n, 4, dirs[f], "edge", NULL, "input.f32.bin");
            float *mx = loadf(&nm, 4, dirs[f], "edge", modes[mode], "output.f32.bin");
            uint8_t *differs = loadf(&nd, 1, dirs[f], "edge", modes[mode], "differs.u8.bin");
            float *y = malloc(n * 4);
            herd_mx_cast((herd_mx_format)f, (herd_mx_rounding)mode, x, y, n);
            size_t wrong = 0;
            for (size_t k = 0; k < n; k++)
                wrong += !same(y[k], mx[k], false) != (differs[k] != 0);
            CHECK_MSG(wrong == 0, "%s edge %s: %zu elements off the differs mask", dirs[f],
                      modes[mode], wrong);
            free(x);
            free(mx);
            free(differs);
            free(y);
        }
}

/* Every code decodes to the golden table value, and every finite value encodes back to its
 * code (both rounding modes). */
TEST(test_element_tables)
{
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++) {
        char file[64];
        snprintf(file, sizeof file, "%s.values.f32.bin", dirs[f]);
        size_t n;
        float *tab = load(&n, 4, "tables", file);
        for (size_t c = 0; c < n; c++) {
            float v = herd_mx_decode((herd_mx_format)f, (uint8_t)c);
            CHECK_MSG(same(v, tab[c], false), "%s code %#zx: %a, want %a", dirs[f], c, v, tab[c]);
            if (isnan(v) || isinf(v) || (f == HERD_MX_INT8 && c == 0x80))
                continue;
            for (int r = 0; r < 2; r++) {
                uint8_t back = herd_mx_encode((herd_mx_format)f, v, (herd_mx_rounding)r);
                uint8_t want = (uint8_t)c;
                if (f == HERD_MX_INT8 || v != 0 || !signbit(v))
                    CHECK_MSG(back == want, "%s %a: code %#x, want %#zx", dirs[f], v, back, c);
            }
        }
        float mn = herd_mx_max_normal((herd_mx_format)f);
        CHECK(herd_mx_decode((herd_mx_format)f, herd_mx_encode((herd_mx_format)f, INFINITY,
                                                               HERD_MX_ROUND_EVEN)) == mn);
        CHECK(herd_mx_decode((herd_mx_format)f,
                             herd_mx_encode((herd_mx_format)f, -1e30f, HERD_MX_ROUND_EVEN)) == -mn);
        free(tab);
    }
    /* FP4 midpoints (spec section 2): RNE and ties away. */
    static const float mid[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
    static const float even[] = {0, 1, 1, 2, 2, 4, 4}, away[] = {0.5f, 1, 1.5f, 2, 3, 4, 6};
    for (int i = 0; i < 7; i++) {
        CHECK(herd_mx_decode(HERD_MX_FP4_E2M1, herd_mx_encode(HERD_MX_FP4_E2M1, mid[i],
                                                              HERD_MX_ROUND_EVEN)) == even[i]);
        CHECK(herd_mx_decode(HERD_MX_FP4_E2M1, herd_mx_encode(HERD_MX_FP4_E2M1, -mid[i],
                                                              HERD_MX_ROUND_AWAY)) == -away[i]);
    }
    CHECK(herd_e8m0_to_f32(0) == 0x1p-127f && herd_e8m0_to_f32(254) == 0x1p127f);
    CHECK(isnan(herd_e8m0_to_f32(255)));
    herd_mx_format fm;
    CHECK(herd_mx_format_parse("mxfp4_e2m1", &fm) && fm == HERD_MX_FP4_E2M1);
    CHECK(herd_mx_format_parse("MXFP4", &fm) && fm == HERD_MX_FP4_E2M1); /* the type name */
    CHECK(herd_mx_format_parse("MxInt8", &fm) && fm == HERD_MX_INT8);
    CHECK(!herd_mx_format_parse("q8_0", &fm) && !herd_mx_format_parse("mxfp5", &fm));
    CHECK(herd_mx_format_type(HERD_MX_INT8) == HERD_TYPE_MXINT8);
    CHECK(herd_mx_format_of_type(HERD_TYPE_MXFP4, &fm) && fm == HERD_MX_FP4_E2M1);
}

/* Random rows of every length 1..200 with awkward values: AVX-512 gives the same bytes and
 * values as the reference, and cast == dequantize(quantize) up to INT8's -0. */
static float awkward(uint64_t *s)
{
    uint64_t r = harness_rand(s);
    switch (r % 16) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: {
        uint32_t u = (uint32_t)(r >> 20); /* any bit pattern, Inf and NaN included */
        float v;
        memcpy(&v, &u, 4);
        return v;
    }
    case 3: return ldexpf(harness_randf(s), (int)(r >> 8) % 300 - 150);
    case 4: return (float)((int)(r >> 8) % 33 - 16) * 0.25f; /* grid points and ties */
    default: return harness_randf(s) * 8.0f;
    }
}

static void fast_matches_ref(herd_isa_level level)
{
    uint64_t seed = 12345;
    float x[200], y1[200], y2[200];
    uint8_t r1[7 * 33], r2[7 * 33];
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        for (size_t n = 1; n <= 200; n++)
            for (int rep = 0; rep < 4; rep++) {
                bool specials = rep & 1;
                for (size_t i = 0; i < n; i++)
                    x[i] = specials ? awkward(&seed) : harness_randf(&seed) * 3.0f;
                if (rep == 2) /* same scale, values around 2^-140: float32 underflow of x/X */
                    for (size_t i = 0; i < n; i++)
                        x[i] = i % 7 ? ldexpf(harness_randf(&seed), -140) : 1e30f;
                herd_mx_rounding r = (herd_mx_rounding)(rep >> 1 & 1);
                size_t bytes = herd_mx_row_bytes((herd_mx_format)f, n);
                herd_set_isa(HERD_ISA_REF);
                herd_mx_quantize((herd_mx_format)f, r, x, r1, n);
                herd_mx_dequantize((herd_mx_format)f, r1, y1, n);
                herd_set_isa(level);
                memset(r2, 0xAA, sizeof r2);
                herd_mx_quantize((herd_mx_format)f, r, x, r2, n);
                herd_mx_dequantize((herd_mx_format)f, r1, y2, n);
                CHECK_MSG(memcmp(r1, r2, bytes) == 0, "%s n=%zu rep %d: records differ", dirs[f], n,
                          rep);
                bool ok = true;
                for (size_t i = 0; i < n; i++)
                    ok &= same(y1[i], y2[i], false);
                CHECK_MSG(ok, "%s n=%zu rep %d: dequantized values differ", dirs[f], n, rep);
                herd_mx_cast((herd_mx_format)f, r, x, y2, n);
                for (size_t i = 0; i < n; i++)
                    ok &= same(y1[i], y2[i], f == HERD_MX_INT8);
                CHECK_MSG(ok, "%s n=%zu rep %d: cast differs", dirs[f], n, rep);
            }
}

TEST(test_fast_matches_ref)
{
    for (int i = 0; i < NSIMD; i++)
        if (use_level(simd_levels[i]))
            fast_matches_ref(simd_levels[i]);
}

/* ggml interop: decoding our MXFP4 records the way ggml's dequantize_row_mxfp4 does (doubled
 * E2M1 values times 2^(e-128), written here from its description in spec/mx.md section 9) gives
 * the golden values, up to the sign of zero and ggml's lack of a NaN scale. */
TEST(test_ggml_mxfp4_interop)
{
    static const int8_t kvalues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    for (int mode = 0; mode < 2; mode++) {
        size_t n, nout;
        float *x = loadf(&n, 4, "fp4_e2m1", "main", NULL, "input.f32.bin");
        float *out = loadf(&nout, 4, "fp4_e2m1", "main", modes[mode], "output.f32.bin");
        uint8_t *rec = malloc(n / 32 * 17);
        herd_mx_quantize(HERD_MX_FP4_E2M1, (herd_mx_rounding)mode, x, rec, n);
        int bad = 0;
        for (size_t b = 0; b < n / 32; b++) {
            const uint8_t *r = rec + b * 17;
            uint32_t dbits = r[0] < 2 ? 0x00200000u << r[0] : (uint32_t)(r[0] - 1) << 23;
            float d;
            memcpy(&d, &dbits, 4);
            for (int j = 0; j < 16; j++) {
                float lo = kvalues[r[1 + j] & 15] * d, hi = kvalues[r[1 + j] >> 4] * d;
                bad += !same(lo, out[b * 32 + j], true) + !same(hi, out[b * 32 + j + 16], true);
            }
        }
        CHECK_EQ_INT(bad, 0);
        free(x);
        free(out);
        free(rec);
    }
}

/* Dot products: exact against a double computation on small random blocks; NaN scales. */
TEST(test_dot)
{
    uint64_t seed = 99;
    float a[64], b[64];
    uint8_t ra[2 * 33], rb[2 * 33];
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++) {
        for (int rep = 0; rep < 50; rep++) {
            for (int i = 0; i < 64; i++) {
                a[i] = harness_randf(&seed) * 10.0f;
                b[i] = harness_randf(&seed) * 0.1f;
            }
            herd_mx_quantize((herd_mx_format)f, HERD_MX_ROUND_EVEN, a, ra, 64);
            herd_mx_quantize((herd_mx_format)f, HERD_MX_ROUND_EVEN, b, rb, 64);
            float da[64], db[64];
            herd_mx_dequantize((herd_mx_format)f, ra, da, 64);
            herd_mx_dequantize((herd_mx_format)f, rb, db, 64);
            double want = 0;
            for (int i = 0; i < 64; i++)
                want += (double)da[i] * db[i];
            CHECK_NEAR(herd_mx_dot((herd_mx_format)f, ra, rb, 64), want, 1e-9 * fabs(want));
        }
        a[3] = NAN;
        herd_mx_quantize((herd_mx_format)f, HERD_MX_ROUND_EVEN, a, ra, 32);
        CHECK(isnan(herd_mx_block_dot((herd_mx_format)f, ra, rb)));
    }
}

int main(void)
{
    RUN(test_golden_ref);
    RUN(test_golden_fast);
    RUN(test_edge_artifacts);
    RUN(test_element_tables);
    RUN(test_fast_matches_ref);
    RUN(test_ggml_mxfp4_interop);
    RUN(test_dot);
    return harness_finish();
}
