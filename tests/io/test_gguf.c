/* GGUF reader/writer: round trips of every metadata type and tensor type, and malformed files
 * (truncated at every byte, bad magic, absurd counts, bad offsets, unknown types), each of
 * which must fail with one line naming the problem. */
#include "harness.h"
#include "herd/io_gguf.h"

#include <unistd.h>

static char tmp_path[64];

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* The file must be rejected with a one-line message containing `want` (if non-NULL). */
static void expect_bad(const void *bytes, size_t n, const char *want, int line)
{
    write_bytes(tmp_path, bytes, n);
    herd_gguf g;
    herd_status st = herd_gguf_open(tmp_path, &g);
    const char *msg = herd_last_error();
    CHECK_MSG(st != HERD_OK, "line %d: accepted a bad file (%zu bytes)", line, n);
    if (st == HERD_OK) {
        herd_gguf_close(&g);
        return;
    }
    CHECK_MSG(strchr(msg, '\n') == NULL && *msg, "line %d: message not one line: %s", line, msg);
    CHECK_MSG(strstr(msg, tmp_path) != NULL, "line %d: message does not name the file: %s", line,
              msg);
    if (want)
        CHECK_MSG(strstr(msg, want) != NULL, "line %d: '%s' not in: %s", line, want, msg);
}
#define EXPECT_BAD(b, n, want) expect_bad(b, n, want, __LINE__)

/* ---- a reference file: every value type, every tensor type ------------------------------- */
static const herd_type all_types[] = {
    HERD_TYPE_F32,        HERD_TYPE_F16,        HERD_TYPE_BF16,       HERD_TYPE_Q8_0,
    HERD_TYPE_Q4_0,       HERD_TYPE_INT8,       HERD_TYPE_MXFP8_E4M3, HERD_TYPE_MXFP8_E5M2,
    HERD_TYPE_MXFP6_E3M2, HERD_TYPE_MXFP6_E2M3, HERD_TYPE_MXFP4,      HERD_TYPE_MXINT8,
};
enum { NTYPES = sizeof all_types / sizeof all_types[0] };

static uint8_t *tensor_bytes[NTYPES];

static void write_reference(const char *path, uint32_t alignment)
{
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int32_t i32 = -2000000000;
    uint64_t u64 = 0xFEDCBA9876543210ull;
    int64_t i64 = -(int64_t)0x123456789ABCll;
    double f64 = 3.141592653589793;
    CHECK(herd_gguf_set_str(w, "general.architecture", "llama4") == HERD_OK);
    CHECK(herd_gguf_set(w, "t.u8", HERD_GGUF_UINT8, &u8) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.i8", HERD_GGUF_INT8, &i8) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.u16", HERD_GGUF_UINT16, &u16) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.i16", HERD_GGUF_INT16, &i16) == HERD_OK);
    CHECK(herd_gguf_set_u32(w, "t.u32", 4000000000u) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.i32", HERD_GGUF_INT32, &i32) == HERD_OK);
    CHECK(herd_gguf_set_f32(w, "t.f32", 1e-5f) == HERD_OK);
    CHECK(herd_gguf_set_bool(w, "t.bool", true) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.u64", HERD_GGUF_UINT64, &u64) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.i64", HERD_GGUF_INT64, &i64) == HERD_OK);
    CHECK(herd_gguf_set(w, "t.f64", HERD_GGUF_FLOAT64, &f64) == HERD_OK);
    CHECK(herd_gguf_set_strn(w, "t.str0", "", 0) == HERD_OK);
    int32_t ia[5] = {1, -2, 3, -4, 5};
    float fa[3] = {0.5f, -1.5f, 1e30f};
    const char *sa[4] = {"a", "", "h\xc3\xa9llo", "<|eot|>"};
    CHECK(herd_gguf_set_arr(w, "t.arr_i32", HERD_GGUF_INT32, ia, 5) == HERD_OK);
    CHECK(herd_gguf_set_arr(w, "t.arr_f32", HERD_GGUF_FLOAT32, fa, 3) == HERD_OK);
    CHECK(herd_gguf_set_arr(w, "t.arr_empty", HERD_GGUF_UINT8, NULL, 0) == HERD_OK);
    CHECK(herd_gguf_set_str_arr(w, "t.arr_str", sa, NULL, 4) == HERD_OK);
    CHECK(herd_gguf_set_u32(w, "t.replaced", 1) == HERD_OK);
    CHECK(herd_gguf_set_u32(w, "t.replaced", 2) == HERD_OK);
    if (alignment)
        CHECK(herd_gguf_set_u32(w, "general.alignment", alignment) == HERD_OK);
    uint64_t seed = 7;
    for (int i = 0; i < NTYPES; i++) {
        char name[32];
        snprintf(name, sizeof name, "blk.%d.%s", i, herd_type_name(all_types[i]));
        int64_t ne[3] = {64, 3, 1 + i % 2};
        CHECK(herd_gguf_add_tensor(w, name, all_types[i], 3, ne) == HERD_OK);
        size_t n = herd_gguf_writer_tensor_bytes(w, (size_t)i);
        CHECK(n == herd_type_row_bytes(all_types[i], 64) * 3 * (size_t)(1 + i % 2));
        free(tensor_bytes[i]);
        tensor_bytes[i] = malloc(n);
        for (size_t k = 0; k < n; k++)
            tensor_bytes[i][k] = (uint8_t)harness_rand(&seed);
    }
    CHECK(herd_gguf_writer_begin(w, path) == HERD_OK);
    for (int i = 0; i < NTYPES; i++) { /* in uneven chunks, to exercise the streaming */
        size_t n = herd_gguf_writer_tensor_bytes(w, (size_t)i), done = 0;
        while (done < n) {
            size_t k = 1 + harness_rand(&seed) % 100;
            k = k < n - done ? k : n - done;
            CHECK(herd_gguf_writer_write(w, tensor_bytes[i] + done, k) == HERD_OK);
            done += k;
        }
    }
    CHECK(herd_gguf_writer_commit(w) == HERD_OK);
    herd_gguf_writer_free(w);
}

static void check_reference(const char *path, uint32_t alignment)
{
    herd_gguf g;
    herd_status st = herd_gguf_open(path, &g);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    if (st != HERD_OK)
        return;
    CHECK_EQ_INT(g.version, 3);
    CHECK_EQ_INT(g.alignment, alignment ? alignment : 32);
    CHECK_EQ_INT(g.data_offset % g.alignment, 0);
    int64_t v;
    double d;
    bool b;
    const char *s;
    size_t len;
    CHECK(herd_gguf_get_str(&g, "general.architecture", &s, &len) == HERD_OK && len == 6 &&
          memcmp(s, "llama4", 6) == 0);
    CHECK(herd_gguf_get_int(&g, "t.u8", &v) == HERD_OK && v == 200);
    CHECK(herd_gguf_get_int(&g, "t.i8", &v) == HERD_OK && v == -100);
    CHECK(herd_gguf_get_int(&g, "t.u16", &v) == HERD_OK && v == 60000);
    CHECK(herd_gguf_get_int(&g, "t.i16", &v) == HERD_OK && v == -30000);
    CHECK(herd_gguf_get_int(&g, "t.u32", &v) == HERD_OK && v == 4000000000ll);
    CHECK(herd_gguf_get_int(&g, "t.i32", &v) == HERD_OK && v == -2000000000ll);
    CHECK(herd_gguf_get_float(&g, "t.f32", &d) == HERD_OK && (float)d == 1e-5f);
    CHECK(herd_gguf_get_bool(&g, "t.bool", &b) == HERD_OK && b);
    CHECK(herd_gguf_get_int(&g, "t.u64", &v) != HERD_OK); /* does not fit int64 */
    CHECK(strstr(herd_last_error(), "t.u64") != NULL);
    const herd_gguf_kv *kv = herd_gguf_find_kv(&g, "t.u64");
    uint64_t u64;
    CHECK(kv && kv->type == HERD_GGUF_UINT64 &&
          (memcpy(&u64, kv->raw, 8), u64) == 0xFEDCBA9876543210ull);
    CHECK(herd_gguf_get_int(&g, "t.i64", &v) == HERD_OK && v == -(int64_t)0x123456789ABCll);
    CHECK(herd_gguf_get_float(&g, "t.f64", &d) == HERD_OK && d == 3.141592653589793);
    CHECK(herd_gguf_get_str(&g, "t.str0", &s, &len) == HERD_OK && len == 0);
    CHECK(herd_gguf_get_int(&g, "t.replaced", &v) == HERD_OK && v == 2);
    CHECK(herd_gguf_get_int(&g, "t.missing", &v) == HERD_ERR_FORMAT);
    CHECK(strstr(herd_last_error(), "t.missing") != NULL);
    CHECK(herd_gguf_get_int(&g, "general.architecture", &v) == HERD_ERR_FORMAT);
    CHECK(herd_gguf_get_str(&g, "t.u8", &s, &len) == HERD_ERR_FORMAT);

    kv = herd_gguf_find_kv(&g, "t.arr_i32");
    CHECK(kv && kv->type == HERD_GGUF_ARRAY && kv->elem_type == HERD_GGUF_INT32 && kv->count == 5);
    for (uint64_t i = 0; kv && i < 5; i++)
        CHECK(herd_gguf_arr_int(kv, i, &v) && v == (i % 2 ? -(int64_t)(i + 1) : (int64_t)i + 1));
    CHECK(kv && !herd_gguf_arr_int(kv, 5, &v));
    kv = herd_gguf_find_kv(&g, "t.arr_f32");
    CHECK(kv && kv->count == 3 && herd_gguf_arr_float(kv, 2, &d) && (float)d == 1e30f);
    kv = herd_gguf_find_kv(&g, "t.arr_empty");
    CHECK(kv && kv->count == 0 && kv->elem_type == HERD_GGUF_UINT8);
    kv = herd_gguf_find_kv(&g, "t.arr_str");
    CHECK(kv && kv->elem_type == HERD_GGUF_STRING && kv->count == 4);
    const char *want[4] = {"a", "", "h\xc3\xa9llo", "<|eot|>"};
    for (uint64_t i = 0; kv && i < 4; i++)
        CHECK(herd_gguf_arr_str(kv, i, &s, &len) && len == strlen(want[i]) &&
              memcmp(s, want[i], len) == 0);

    CHECK_EQ_INT(g.n_tensors, NTYPES);
    for (int i = 0; i < NTYPES && (size_t)i < g.n_tensors; i++) {
        char name[32];
        snprintf(name, sizeof name, "blk.%d.%s", i, herd_type_name(all_types[i]));
        const herd_gguf_tensor *t = herd_gguf_find_tensor(&g, name);
        CHECK_MSG(t != NULL, "tensor %s missing", name);
        if (!t)
            continue;
        CHECK(t == &g.tensors[i]);
        CHECK_EQ_INT(t->type, all_types[i]);
        CHECK_EQ_INT(t->type_id, herd_gguf_type_id(all_types[i]));
        CHECK_EQ_INT(t->n_dims, 3);
        CHECK(t->ne[0] == 64 && t->ne[1] == 3 && t->ne[2] == 1 + i % 2 && t->ne[3] == 1);
        CHECK_EQ_INT(t->offset % g.alignment, 0);
        CHECK_EQ_INT(((const uint8_t *)t->data - g.file.data) % g.alignment, 0);
        CHECK(memcmp(t->data, tensor_bytes[i], t->bytes) == 0);
    }
    CHECK(herd_gguf_find_tensor(&g, "nope") == NULL);
    herd_gguf_close(&g);
}

TEST(round_trip)
{
    write_reference(tmp_path, 0);
    check_reference(tmp_path, 0);
    write_reference(tmp_path, 64);
    check_reference(tmp_path, 64);
    /* a copy through herd_gguf_set_kv keeps every value */
    herd_gguf g;
    CHECK(herd_gguf_open(tmp_path, &g) == HERD_OK);
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    for (size_t i = 0; i < g.n_kv; i++)
        CHECK(herd_gguf_set_kv(w, &g.kv[i]) == HERD_OK);
    for (size_t i = 0; i < g.n_tensors; i++)
        CHECK(herd_gguf_add_tensor(w, g.tensors[i].name, g.tensors[i].type, g.tensors[i].n_dims,
                                   g.tensors[i].ne) == HERD_OK);
    char copy[80];
    snprintf(copy, sizeof copy, "%s.copy", tmp_path);
    CHECK(herd_gguf_writer_begin(w, copy) == HERD_OK);
    for (size_t i = 0; i < g.n_tensors; i++)
        CHECK(herd_gguf_writer_write(w, g.tensors[i].data, g.tensors[i].bytes) == HERD_OK);
    CHECK(herd_gguf_writer_write(w, "x", 1) != HERD_OK); /* more than declared */
    CHECK(herd_gguf_writer_commit(w) == HERD_OK);
    herd_gguf_writer_free(w);
    herd_gguf_close(&g);
    check_reference(copy, 64);
    size_t na, nb;
    void *a = harness_read_file(tmp_path, &na), *b = harness_read_file(copy, &nb);
    CHECK(na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    unlink(copy);
}

TEST(writer_rejects_and_aborts)
{
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    int64_t ne[2] = {33, 2};
    CHECK(herd_gguf_add_tensor(w, "x", HERD_TYPE_Q8_0, 2, ne) == HERD_ERR_ARG); /* not /32 */
    ne[0] = 32;
    CHECK(herd_gguf_add_tensor(w, "", HERD_TYPE_F32, 2, ne) == HERD_ERR_ARG);
    CHECK(herd_gguf_add_tensor(w, "x", HERD_TYPE_F32, 5, ne) == HERD_ERR_ARG);
    CHECK(herd_gguf_add_tensor(w,
                               "0123456789012345678901234567890123456789012345678901234567890123",
                               HERD_TYPE_F32, 2, ne) == HERD_ERR_ARG);
    CHECK(herd_gguf_add_tensor(w, "x", HERD_TYPE_F32, 2, ne) == HERD_OK);
    CHECK(herd_gguf_add_tensor(w, "x", HERD_TYPE_F32, 2, ne) == HERD_ERR_ARG);
    CHECK(herd_gguf_set_str(w, "bad\nkey", "v") == HERD_ERR_ARG);
    CHECK(herd_gguf_writer_begin(w, tmp_path) == HERD_OK);
    const char *tmp = herd_gguf_writer_tmp_path(w);
    CHECK(tmp && access(tmp, F_OK) == 0);
    char saved[128];
    snprintf(saved, sizeof saved, "%s", tmp ? tmp : "");
    CHECK(herd_gguf_writer_commit(w) != HERD_OK); /* data missing */
    herd_gguf_writer_free(w);                     /* removes the temporary file */
    CHECK(access(saved, F_OK) != 0);
}

/* ---- malformed files ------------------------------------------------------------------------ */

static uint8_t *ref_bytes;
static size_t ref_size;

/* Offset just after the first occurrence of the string field `s` (u64 len + bytes). */
static size_t after_str(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 8; i + n <= ref_size; i++) {
        uint64_t len;
        memcpy(&len, ref_bytes + i - 8, 8);
        if (len == n && memcmp(ref_bytes + i, s, n) == 0)
            return i + n;
    }
    fprintf(stderr, "string %s not in the reference file\n", s);
    exit(2);
}

static uint8_t *patched(size_t at, const void *v, size_t n)
{
    uint8_t *b = malloc(ref_size);
    memcpy(b, ref_bytes, ref_size);
    memcpy(b + at, v, n);
    return b;
}
#define PATCH_BAD(at, value, want)                                                                 \
    do {                                                                                           \
        __typeof__(value) v_ = (value);                                                            \
        uint8_t *b_ = patched(at, &v_, sizeof v_);                                                 \
        EXPECT_BAD(b_, ref_size, want);                                                            \
        free(b_);                                                                                  \
    } while (0)

TEST(truncated_everywhere)
{
    /* the last tensor ends exactly at the end of the file, so every shorter length is bad:
     * every byte of the header, then every 7th byte of the data and its last bytes */
    herd_gguf g;
    CHECK(herd_gguf_open(tmp_path, &g) == HERD_OK);
    const herd_gguf_tensor *last = &g.tensors[g.n_tensors - 1];
    size_t end = g.data_offset + (size_t)last->offset + last->bytes, data = g.data_offset;
    herd_gguf_close(&g);
    for (size_t n = 0; n < end; n += n < data || n + 8 >= end ? 1 : 7)
        EXPECT_BAD(ref_bytes, n, n < 4 ? "truncated" : NULL);
}

TEST(bad_headers)
{
    PATCH_BAD(0, (uint32_t)0x46554746, "bad magic");
    PATCH_BAD(4, (uint32_t)1, "version 1");
    PATCH_BAD(4, (uint32_t)4, "version 4");
    PATCH_BAD(8, (uint64_t)1 << 62, "cannot fit");  /* tensors */
    PATCH_BAD(16, (uint64_t)1 << 62, "cannot fit"); /* kvs */
    PATCH_BAD(8, UINT64_MAX, "cannot fit");
    PATCH_BAD(16, (uint64_t)INT64_MAX, "cannot fit");
    PATCH_BAD(24, UINT64_MAX, "past the end"); /* first key's length */
    PATCH_BAD(24, (uint64_t)0, "empty");
    size_t v = after_str("general.architecture");
    PATCH_BAD(v, (uint32_t)13, "unknown value type 13");
    PATCH_BAD(v + 4, (uint64_t)1 << 60, "past the end"); /* string value length */
    PATCH_BAD(after_str("t.u8") - 1, (uint8_t)'\n', "control byte");
    /* arrays: absurd counts, unknown or nested element types */
    size_t a = after_str("t.arr_i32");
    PATCH_BAD(a + 8, (uint64_t)1 << 61, "runs past the end");
    PATCH_BAD(a + 8, UINT64_MAX, "runs past the end");
    PATCH_BAD(a + 4, (uint32_t)HERD_GGUF_ARRAY, "array of arrays");
    PATCH_BAD(a + 4, (uint32_t)77, "unknown values");
    a = after_str("t.arr_str");
    PATCH_BAD(a + 8, (uint64_t)1 << 59, "runs past the end");
    PATCH_BAD(a + 16, (uint64_t)1 << 40, "past the end"); /* first element's length */
    /* duplicate key: rename t.i16 to t.i8 + a byte that makes it equal is not possible with the
     * same length, so rename "t.u16" to "t.u32" */
    uint8_t *b = patched(after_str("t.u16") - 2, "32", 2);
    EXPECT_BAD(b, ref_size, "duplicate key 't.u32'");
    free(b);
    b = patched(after_str("general.alignment") + 4, &(uint32_t){48}, 4);
    EXPECT_BAD(b, ref_size, "power of two");
    free(b);
}

TEST(bad_tensor_infos)
{
    char name[32];
    snprintf(name, sizeof name, "blk.%d.%s", 3, herd_type_name(all_types[3])); /* q8_0 */
    size_t t = after_str(name);                                                /* n_dims */
    PATCH_BAD(t, (uint32_t)0, "0 dimensions");
    PATCH_BAD(t, (uint32_t)5, "5 dimensions");
    PATCH_BAD(t + 4, (uint64_t)33, "not a multiple");
    PATCH_BAD(t + 4, (uint64_t)1 << 62, NULL);
    PATCH_BAD(t + 12, (uint64_t)1 << 62, "too large");
    PATCH_BAD(t + 12, UINT64_MAX, "dimension 1");
    PATCH_BAD(t + 28, (uint32_t)4, "unknown type id 4");
    PATCH_BAD(t + 28, (uint32_t)999, name); /* the message names the tensor */
    size_t off = t + 32;
    uint64_t cur;
    memcpy(&cur, ref_bytes + off, 8);
    PATCH_BAD(off, cur + 1, "not aligned");
    PATCH_BAD(off, cur + 64, "expected");    /* gap */
    PATCH_BAD(off, cur - 64, "expected");    /* overlap with the previous tensor */
    PATCH_BAD(off, (uint64_t)0, "expected"); /* overlap with the first tensor */
    PATCH_BAD(off, UINT64_MAX - 63, "expected");
    uint8_t *b = patched(after_str("blk.4.q4_0") - 10, "blk.3.q8_0", 10);
    EXPECT_BAD(b, ref_size, "duplicate tensor 'blk.3.q8_0'");
    free(b);
}

TEST(random_corruption)
{
    /* flipped bytes anywhere: any outcome but a crash or a multi-line message */
    uint64_t seed = 99;
    uint8_t *b = malloc(ref_size);
    for (int iter = 0; iter < 1000; iter++) {
        memcpy(b, ref_bytes, ref_size);
        int flips = 1 + (int)(harness_rand(&seed) % 4);
        size_t hdr = 700 < ref_size ? 700 : ref_size; /* mostly in the header */
        for (int k = 0; k < flips; k++)
            b[harness_rand(&seed) % hdr] = (uint8_t)harness_rand(&seed);
        write_bytes(tmp_path, b, ref_size);
        herd_gguf g;
        if (herd_gguf_open(tmp_path, &g) == HERD_OK)
            herd_gguf_close(&g);
        else
            CHECK(strchr(herd_last_error(), '\n') == NULL);
    }
    free(b);
}

TEST(type_ids)
{
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_F32), 0);
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_F16), 1);
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_Q4_0), 2);
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_Q8_0), 8);
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_BF16), 30);
    CHECK_EQ_INT(herd_gguf_type_id(HERD_TYPE_MXFP4), 39);
    for (int i = 0; i < HERD_TYPE_COUNT; i++)
        CHECK(herd_gguf_type_id((herd_type)i) != UINT32_MAX);
    CHECK(strcmp(herd_gguf_type_id_name(12), "q4_K") == 0);
    CHECK(strcmp(herd_gguf_type_id_name(HERD_GGUF_ID_MXFP6_E3M2), "mxfp6_e3m2") == 0);
    CHECK(herd_gguf_type_id_name(4) == NULL);
}

int main(void)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/herd_test_gguf_%ld.gguf", (long)getpid());
    RUN(type_ids);
    RUN(round_trip);
    RUN(writer_rejects_and_aborts);
    write_reference(tmp_path, 64);
    ref_bytes = harness_read_file(tmp_path, &ref_size);
    RUN(truncated_everywhere);
    RUN(bad_headers);
    RUN(bad_tensor_infos);
    RUN(random_corruption);
    free(ref_bytes);
    for (int i = 0; i < NTYPES; i++)
        free(tensor_bytes[i]);
    unlink(tmp_path);
    return harness_finish();
}
