/* io/npy: round trips of every rank, headers as numpy writes them, and every rejection. */
#include "harness.h"
#include "herd/io_npy.h"

#include <unistd.h>

static char tmp_path[256];

static void write_raw(const void *bytes, size_t n)
{
    FILE *f = fopen(tmp_path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", tmp_path);
        exit(2);
    }
    fclose(f);
}

/* A v1 .npy with the given header dict text (padded like numpy) and `data_bytes` of data. */
static void write_npy_text(const char *dict, size_t data_bytes, int version)
{
    unsigned char buf[4096];
    size_t pre = version == 1 ? 10 : 12;
    size_t len = strlen(dict);
    size_t total = (pre + len + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    size_t hlen = total - pre;
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    if (version != 1)
        buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, len);
    memset(buf + pre + len, ' ', total - pre - len - 1);
    buf[total - 1] = '\n';
    for (size_t i = 0; i < data_bytes; i++)
        buf[total + i] = (unsigned char)(i * 7);
    write_raw(buf, total + data_bytes);
}

static herd_status read_tmp(float **data, size_t *shape, int *ndim)
{
    return herd_npy_read_f32(tmp_path, data, shape, ndim);
}

TEST(test_round_trip)
{
    static const size_t shapes[][4] = {{0}, {5}, {3, 4}, {2, 3, 7}, {0, 3}, {1, 1, 1, 33}};
    static const int ranks[] = {0, 1, 2, 3, 2, 4};
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; s++) {
        size_t n;
        CHECK(herd_npy_count(shapes[s], ranks[s], &n));
        float *x = malloc((n ? n : 1) * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = harness_randf(&seed) * 100.0f;
        CHECK(herd_npy_write_f32(tmp_path, x, shapes[s], ranks[s]) == HERD_OK);
        float *y = NULL;
        size_t shape[HERD_NPY_MAX_DIMS];
        int ndim = -1;
        CHECK(read_tmp(&y, shape, &ndim) == HERD_OK);
        CHECK_EQ_INT(ndim, ranks[s]);
        for (int d = 0; d < ranks[s] && d == ndim; d++)
            CHECK_EQ_INT(shape[d], shapes[s][d]);
        CHECK(y && memcmp(x, y, n * sizeof *x) == 0);
        /* The header is padded so the data starts at a multiple of 64 bytes. */
        size_t size;
        unsigned char *raw = harness_read_file(tmp_path, &size);
        CHECK((size - n * 4) % 64 == 0 && raw[size - n * 4 - 1] == '\n');
        free(raw);
        herd_free(y);
        free(x);
    }
}

TEST(test_numpy_style_headers)
{
    float *y;
    size_t shape[HERD_NPY_MAX_DIMS];
    int ndim;
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 1);
    CHECK(read_tmp(&y, shape, &ndim) == HERD_OK && ndim == 2 && shape[0] == 2 && shape[1] == 3);
    herd_free(y);
    write_npy_text("{\"shape\":(6,),\"fortran_order\":False,\"descr\":\"<f4\"}", 24, 2);
    CHECK(read_tmp(&y, shape, &ndim) == HERD_OK && ndim == 1 && shape[0] == 6);
    herd_free(y);
    /* Fortran order is the same as C order for 1-D data. */
    write_npy_text("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", 16, 1);
    CHECK(read_tmp(&y, shape, &ndim) == HERD_OK && ndim == 1);
    herd_free(y);
}

static void expect_error(const char *what, const char *needle)
{
    float *y = (float *)1;
    size_t shape[HERD_NPY_MAX_DIMS];
    int ndim;
    herd_status st = read_tmp(&y, shape, &ndim);
    CHECK_MSG(st != HERD_OK, "%s: accepted", what);
    CHECK_MSG(y == NULL, "%s: data not NULL on failure", what);
    const char *msg = herd_last_error();
    CHECK_MSG(strstr(msg, tmp_path) && strstr(msg, needle) && !strchr(msg, '\n'),
              "%s: message '%s' lacks '%s'", what, msg, needle);
}

TEST(test_rejections)
{
    write_npy_text("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, 1);
    expect_error("float64", "dtype '<f8'");
    write_npy_text("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_error("int32", "not float32");
    write_npy_text("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_error("big endian", "big-endian");
    write_npy_text("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, 1);
    expect_error("fortran", "Fortran");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, 1);
    expect_error("truncated data", "truncated file");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, 1);
    expect_error("extra data", "trailing bytes");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 24, 1);
    expect_error("bad shape", "bad .npy header");
    write_npy_text("{'descr': '<f4', 'fortran_order': False}", 24, 1);
    expect_error("no shape", "bad .npy header");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, 1);
    expect_error("unknown key", "bad .npy header");
    write_npy_text("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_error("structured", "bad .npy header");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': "
                   "(99999999999, 99999999999, 99999999999), }",
                   0, 1);
    expect_error("huge shape", "too large");
    write_npy_text("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
                   1);
    expect_error("too many dims", "too many dimensions");
    write_raw("\x93NUMPY\x01\x00\x40\x00{'descr'", 17);
    expect_error("truncated header", "truncated .npy header");
    write_raw("\x93NUMP", 5);
    expect_error("tiny", "bad magic");
    write_raw("PK\x03\x04 this is a zip", 18);
    expect_error("not npy", "bad magic");
    write_raw("\x93NUMPY\x09\x00\x10\x00", 10);
    expect_error("version", "version 9.0");
    float *y;
    size_t shape[HERD_NPY_MAX_DIMS];
    int ndim;
    CHECK(herd_npy_read_f32("/nonexistent/x.npy", &y, shape, &ndim) == HERD_ERR_IO);
}

TEST(test_write_failure_leaves_nothing)
{
    float x[2] = {1, 2};
    size_t shape[1] = {2};
    CHECK(herd_npy_write_f32("/nonexistent-dir/out.npy", x, shape, 1) == HERD_ERR_IO);
    CHECK(strstr(herd_last_error(), "/nonexistent-dir/out.npy") != NULL);
}

int main(void)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/herd_test_npy.%ld.npy", (long)getpid());
    RUN(test_round_trip);
    RUN(test_numpy_style_headers);
    RUN(test_rejections);
    RUN(test_write_failure_leaves_nothing);
    unlink(tmp_path);
    return harness_finish();
}
