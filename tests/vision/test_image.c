/* Image decoding and preprocessing (spec llama4.md §11.3) against tiny-vision's golden data:
 * pixel values from both PNGs bit-identical, the bf16 pixel table, the canvas plans of the
 * spec's table, JPEG round trips, and damaged or oversized files failing with one line. */
#include "harness.h"
#include "herd/io_json.h"
#include "herd/io_npy.h"
#include "herd/vision.h"

#include <stdio.h>

#include <jpeglib.h>

#define DIR "llama4/tiny-vision/"

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

TEST(pixel_table_matches_golden)
{
    json_t *g = NULL;
    CHECK(herd_json_load_file(DIR "golden.json", &g) == HERD_OK);
    if (!g)
        return;
    const json_t *lut = json_object_get(g, "pixel_lut");
    CHECK_EQ_INT(json_array_size(lut), 256);
    herd_vision_prep p;
    herd_vision_prep_default(&p, 112);
    int bad = 0;
    for (int u = 0; u < 256; u++)
        for (int c = 0; c < 3; c++)
            bad += herd_vision_pixel(&p, c, (uint8_t)u) !=
                   (float)json_number_value(json_array_get(lut, (size_t)u));
    CHECK_EQ_INT(bad, 0);
    CHECK(herd_vision_pixel(&p, 0, 128) == 0.0078125f);
    CHECK(herd_vision_pixel(&p, 0, 127) == -0.00390625f);
    json_decref(g);
}

TEST(plans_of_the_spec_table)
{
    static const int64_t cases[][6] = {
        /* h, w, rows, cols, resized h, resized w */
        {336, 336, 1, 1, 336, 336},   {200, 300, 1, 1, 224, 336},    {500, 500, 2, 2, 500, 500},
        {768, 1024, 3, 4, 768, 1024}, {1080, 1920, 3, 5, 945, 1680}, {3000, 4000, 3, 4, 1008, 1344},
        {100, 1000, 1, 3, 100, 1000}, {1, 1, 1, 1, 336, 336},        {1, 16384, 1, 16, 1, 5376},
    };
    herd_vision_prep p;
    herd_vision_prep_default(&p, 336);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t r, c, nh, nw;
        herd_vision_plan(&p, cases[i][0], cases[i][1], &r, &c, &nh, &nw);
        CHECK_MSG(r == cases[i][2] && c == cases[i][3] && nh == cases[i][4] && nw == cases[i][5],
                  "%lldx%lld: grid %lldx%lld resized %lldx%lld", (long long)cases[i][0],
                  (long long)cases[i][1], (long long)r, (long long)c, (long long)nh, (long long)nw);
    }
}

static void check_pixels(const char *png, const char *npy, int64_t rows, int64_t cols, int64_t n)
{
    herd_image im;
    herd_vision_prep p;
    herd_vision_prep_default(&p, 112);
    CHECK(herd_vision_prep_load(DIR "preprocessor_config.json", &p) == HERD_OK);
    CHECK_EQ_INT(p.tile, 112);
    if (herd_image_load(png, &im)) {
        CHECK_MSG(0, "%s", herd_last_error());
        return;
    }
    herd_image_tiles t;
    CHECK(herd_image_preprocess(&im, &p, &t) == HERD_OK);
    CHECK_EQ_INT(t.rows, rows);
    CHECK_EQ_INT(t.cols, cols);
    CHECK_EQ_INT(t.n_tiles, n);
    float *gold;
    size_t shape[HERD_NPY_MAX_DIMS];
    int nd;
    CHECK(herd_npy_read_f32(npy, &gold, shape, &nd) == HERD_OK);
    CHECK_EQ_INT(nd, 4);
    CHECK_EQ_INT(shape[0], n);
    size_t count = (size_t)n * 3 * 112 * 112, diff = 0;
    for (size_t i = 0; i < count && t.pixels; i++)
        diff += memcmp(&t.pixels[i], &gold[i], 4) != 0;
    CHECK_MSG(diff == 0, "%s: %zu of %zu pixel values differ", png, diff, count);
    herd_free(gold);
    herd_image_tiles_free(&t);
    herd_image_free(&im);
}

TEST(pixel_values_bit_identical)
{
    check_pixels(DIR "image0.png", DIR "image0.pixel_values.npy", 1, 1, 1);
    check_pixels(DIR "image1.png", DIR "image1.pixel_values.npy", 2, 4, 9);
}

/* Encodes rgb (h × w) as a JPEG in memory. */
static unsigned char *encode_jpeg(const uint8_t *rgb, int w, int h, int comps, int quality,
                                  bool progressive, unsigned long *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&c, &buf, size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1; /* no chroma subsampling */
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *line = malloc((size_t)w * 3);
    while (c.next_scanline < c.image_height) {
        const uint8_t *src = rgb + (size_t)c.next_scanline * (size_t)w * 3;
        for (int x = 0; x < w; x++)
            line[x] = comps == 3 ? src[3 * x] : src[3 * x + 1];
        JSAMPROW row = comps == 3 ? (JSAMPROW)src : line;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(line);
    return buf;
}

TEST(jpeg_round_trip)
{
    herd_image im;
    if (herd_image_load(DIR "image1.png", &im)) {
        CHECK(0);
        return;
    }
    for (int k = 0; k < 3; k++) {
        unsigned long n = 0;
        int comps = k == 2 ? 1 : 3;
        unsigned char *j =
            encode_jpeg(im.rgb, (int)im.width, (int)im.height, comps, 98, k == 1, &n);
        herd_image back;
        herd_status st = herd_image_decode(j, n, "mem.jpg", &back);
        CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
        if (!st) {
            CHECK_EQ_INT(back.width, im.width);
            CHECK_EQ_INT(back.height, im.height);
            double err = 0;
            size_t count = (size_t)im.width * (size_t)im.height * 3;
            for (size_t i = 0; i < count; i++) {
                int ref = comps == 3 ? im.rgb[i] : im.rgb[i / 3 * 3 + 1];
                err += fabs((double)back.rgb[i] - ref);
            }
            CHECK_MSG(err / (double)count < 4, "mean error %.2f levels", err / (double)count);
            herd_image_free(&back);
        }
        /* cut short: a one-line error, no image */
        st = herd_image_decode(j, n / 2, "cut.jpg", &back);
        CHECK(st != HERD_OK && back.rgb == NULL && strchr(herd_last_error(), '\n') == NULL);
        CHECK_MSG(strstr(herd_last_error(), "cut.jpg") != NULL, "%s", herd_last_error());
        free(j);
    }
    herd_image_free(&im);
}

TEST(damaged_files_fail_with_one_line)
{
    size_t n;
    uint8_t *png = read_all(DIR "image0.png", &n);
    if (!png) {
        CHECK(0);
        return;
    }
    herd_image im;
    size_t cuts[] = {0, 7, 8, 20, 33, 60, n / 2, n - 13, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        herd_status st = herd_image_decode(png, cuts[i], "cut.png", &im);
        CHECK_MSG(st != HERD_OK && im.rgb == NULL, "cut at %zu decoded", cuts[i]);
        CHECK(strchr(herd_last_error(), '\n') == NULL && *herd_last_error());
    }
    /* a flipped byte in the pixel data: the CRC catches it */
    uint8_t *bad = malloc(n);
    memcpy(bad, png, n);
    bad[n / 2] ^= 0x55;
    CHECK(herd_image_decode(bad, n, "flip.png", &im) != HERD_OK);
    /* an absurd width in IHDR (its CRC fixed up is not needed: the limit is checked first or
     * the CRC fails; either way an error) */
    memcpy(bad, png, n);
    bad[16] = 0x7f;
    CHECK(herd_image_decode(bad, n, "wide.png", &im) != HERD_OK);
    CHECK(herd_image_decode("GIF89a......", 12, "x.gif", &im) == HERD_ERR_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "not a PNG or JPEG") != NULL);
    CHECK(herd_image_load("no/such/file.png", &im) != HERD_OK);
    free(bad);
    free(png);
}

TEST(huge_jpeg_refused_before_decoding)
{
    /* a 20000×20000 grey JPEG header: refused on its size, without decoding pixels */
    uint8_t px[3] = {1, 2, 3};
    unsigned long n = 0;
    unsigned char *j = encode_jpeg(px, 1, 1, 3, 90, false, &n);
    for (unsigned long i = 0; i + 8 < n; i++)
        if (j[i] == 0xFF && (j[i + 1] == 0xC0)) { /* SOF0: height and width at +5 and +7 */
            j[i + 5] = 0x4E, j[i + 6] = 0x20, j[i + 7] = 0x4E, j[i + 8] = 0x20;
            break;
        }
    herd_image im;
    CHECK(herd_image_decode(j, n, "huge.jpg", &im) == HERD_ERR_RANGE);
    CHECK(strstr(herd_last_error(), "too large") != NULL);
    free(j);
}

TEST(resize_identity_and_constant)
{
    uint8_t px[4 * 6 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = 77;
    herd_image in = {6, 4, px}, out;
    int64_t sizes[][2] = {{4, 6}, {1, 1}, {9, 13}, {2, 3}, {40, 1}};
    for (size_t k = 0; k < 5; k++) {
        CHECK(herd_image_resize(&in, sizes[k][0], sizes[k][1], &out) == HERD_OK);
        size_t bad = 0;
        for (size_t i = 0; i < (size_t)(sizes[k][0] * sizes[k][1] * 3); i++)
            bad += out.rgb[i] != 77;
        CHECK_EQ_INT(bad, 0);
        herd_image_free(&out);
    }
}

/* A copy of the JPEG j with an APP1 EXIF segment (orientation o, byte order II or MM) after
 * its SOI marker. */
static unsigned char *with_exif(const unsigned char *j, unsigned long n, int o, bool le,
                                unsigned long *out_n)
{
    unsigned char seg[2 + 2 + 6 + 8 + 2 + 12 + 4] = {0xFF, 0xE1, 0, sizeof seg - 2, 'E', 'x', 'i',
                                                     'f',  0,    0};
    unsigned char *t = seg + 10;
    const unsigned char ii[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0};
    const unsigned char mm[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1};
    memcpy(t, le ? ii : mm, sizeof ii);
    t[18 + (le ? 0 : 1)] = (unsigned char)o; /* the SHORT value, then padding and next IFD 0 */
    unsigned char *r = malloc(n + sizeof seg);
    memcpy(r, j, 2);
    memcpy(r + 2, seg, sizeof seg);
    memcpy(r + 2 + sizeof seg, j + 2, n - 2);
    *out_n = n + sizeof seg;
    return r;
}

/* EXIF orientation: the image comes out upright, as PIL's exif_transpose (HF's loader) gives. */
TEST(jpeg_exif_orientation)
{
    enum { W = 6, H = 4 };
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H;
         i++) /* flat blocks of distinct colours survive JPEG exactly enough */
        rgb[3 * i] = (uint8_t)(i * 10), rgb[3 * i + 1] = (uint8_t)(255 - i * 10),
                rgb[3 * i + 2] = 128;
    unsigned long n = 0;
    unsigned char *j = encode_jpeg(rgb, W, H, 3, 100, false, &n);
    herd_image plain;
    CHECK(herd_image_decode(j, n, "plain.jpg", &plain) == HERD_OK);
    for (int o = 1; o <= 8; o++)
        for (int le = 0; le < 2; le++) {
            unsigned long m;
            unsigned char *x = with_exif(j, n, o, le, &m);
            herd_image im;
            herd_status st = herd_image_decode(x, m, "exif.jpg", &im);
            CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
            free(x);
            if (st)
                continue;
            bool swap = o >= 5;
            CHECK_EQ_INT(im.width, swap ? H : W);
            CHECK_EQ_INT(im.height, swap ? W : H);
            int bad = 0;
            for (int y = 0; y < im.height; y++)
                for (int xx = 0; xx < im.width; xx++) {
                    /* where output (xx, y) is in the stored image: mirror, then transpose */
                    int u = swap ? y : xx, v = swap ? xx : y; /* undo the transpose */
                    int su = u, sv = v;
                    if (o == 2 || o == 3 || o == 7 || o == 8)
                        su = W - 1 - u;
                    if (o == 3 || o == 4 || o == 6 || o == 7)
                        sv = H - 1 - v;
                    bad += memcmp(im.rgb + 3 * (y * im.width + xx), plain.rgb + 3 * (sv * W + su),
                                  3) != 0;
                }
            CHECK_MSG(bad == 0, "orientation %d (%s): %d pixels misplaced", o, le ? "II" : "MM",
                      bad);
            if (o == 6) /* turned clockwise: the stored bottom-left corner is now top-left */
                CHECK(!memcmp(im.rgb, plain.rgb + 3 * ((H - 1) * W), 3));
            herd_image_free(&im);
        }
    herd_image_free(&plain);
    free(j);
}

int main(void)
{
    RUN(pixel_table_matches_golden);
    RUN(plans_of_the_spec_table);
    RUN(pixel_values_bit_identical);
    RUN(jpeg_round_trip);
    RUN(jpeg_exif_orientation);
    RUN(damaged_files_fail_with_one_line);
    RUN(huge_jpeg_refused_before_decoding);
    RUN(resize_identity_and_constant);
    return harness_finish();
}
