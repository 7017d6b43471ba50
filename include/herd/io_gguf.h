/* herd io: GGUF v3 files (ggml's model container), read mapped and written atomically.
 *
 * Layout (spec/formats.md section 2): header, key-value metadata, tensor infos, padding to
 * `general.alignment` (default 32), then the tensor data section. Standard tensor types use
 * ggml's ids and block layouts so files interoperate with llama.cpp; herd's MX and int8 types
 * that ggml lacks use herd-specific ids (docs/GGUF.md). The reader checks every count, size,
 * offset and string length against the file size before using it, and fails with one line
 * naming the file and the problem. */
#ifndef HERD_IO_GGUF_H
#define HERD_IO_GGUF_H

#include "herd/base.h"
#include "herd/formats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types (gguf_type). */
typedef enum herd_gguf_vtype {
    HERD_GGUF_UINT8 = 0,
    HERD_GGUF_INT8 = 1,
    HERD_GGUF_UINT16 = 2,
    HERD_GGUF_INT16 = 3,
    HERD_GGUF_UINT32 = 4,
    HERD_GGUF_INT32 = 5,
    HERD_GGUF_FLOAT32 = 6,
    HERD_GGUF_BOOL = 7,
    HERD_GGUF_STRING = 8,
    HERD_GGUF_ARRAY = 9,
    HERD_GGUF_UINT64 = 10,
    HERD_GGUF_INT64 = 11,
    HERD_GGUF_FLOAT64 = 12,
    HERD_GGUF_VTYPE_COUNT
} herd_gguf_vtype;
const char *herd_gguf_vtype_name(herd_gguf_vtype t);
/* Bytes of one scalar of type t (0 for STRING and ARRAY). */
size_t herd_gguf_vtype_size(herd_gguf_vtype t);

/* Tensor type ids in GGUF files. ggml's (0..39) plus herd's own, from 1000 up. */
enum {
    HERD_GGML_F32 = 0,
    HERD_GGML_F16 = 1,
    HERD_GGML_Q4_0 = 2,
    HERD_GGML_Q8_0 = 8,
    HERD_GGML_BF16 = 30,
    HERD_GGML_MXFP4 = 39,
    HERD_GGUF_ID_INT8 = 1000,
    HERD_GGUF_ID_MXFP8_E4M3 = 1001,
    HERD_GGUF_ID_MXFP8_E5M2 = 1002,
    HERD_GGUF_ID_MXFP6_E3M2 = 1003,
    HERD_GGUF_ID_MXFP6_E2M3 = 1004,
    HERD_GGUF_ID_MXINT8 = 1005,
    HERD_GGUF_ID_FP8_E4M3 = 1006, /* rows of an f32 scale + E4M3 codes (fbgemm_fp8) */
};
/* The GGUF id of a herd type. */
uint32_t herd_gguf_type_id(herd_type t);
/* Name of a GGUF tensor type id ("q4_K", "mxfp6_e3m2", ...), or NULL if unknown. */
const char *herd_gguf_type_id_name(uint32_t id);

/* ---- reading ------------------------------------------------------------------------------ */

/* One metadata value. Scalars and numeric arrays point at their little-endian bytes in the
 * mapped file; string arrays carry an index of element offsets. */
typedef struct herd_gguf_kv {
    char *key; /* NUL-terminated copy */
    herd_gguf_vtype type;
    herd_gguf_vtype elem_type; /* arrays only */
    uint64_t count;            /* arrays: elements; otherwise 1 */
    const uint8_t *raw;        /* scalar bytes / string bytes / first array element */
    uint64_t str_len;          /* STRING only */
    const uint8_t **strs;      /* string arrays: each element's u64 length, then its bytes */
} herd_gguf_kv;

typedef struct herd_gguf_tensor {
    char *name;
    uint32_t type_id; /* as stored in the file */
    herd_type type;   /* HERD_TYPE_COUNT if herd cannot compute in it (e.g. ggml Q4_K) */
    int n_dims;
    int64_t ne[4];   /* ne[0] innermost (row length); unused dimensions are 1 */
    uint64_t offset; /* inside the data section */
    size_t bytes;
    const void *data; /* mapped, read-only */
} herd_gguf_tensor;

typedef struct herd_gguf {
    herd_mapped_file file;
    uint32_t version;
    uint32_t alignment;
    size_t data_offset; /* start of the tensor data section in the file */
    size_t n_kv, n_tensors;
    herd_gguf_kv *kv;
    herd_gguf_tensor *tensors;
    size_t *by_name; /* tensor indices sorted by name */
    size_t *by_key;  /* kv indices sorted by key */
} herd_gguf;

/* Maps and validates `path`. On failure nothing is left open. */
herd_status herd_gguf_open(const char *path, herd_gguf *g);
void herd_gguf_close(herd_gguf *g);

const herd_gguf_kv *herd_gguf_find_kv(const herd_gguf *g, const char *key);
const herd_gguf_tensor *herd_gguf_find_tensor(const herd_gguf *g, const char *name);

/* Typed getters. Integers of any width are accepted where an integer is asked for (failing if
 * the value does not fit); floats accept FLOAT32/FLOAT64. A missing key or a wrong type fails
 * with a message naming the file and key. */
herd_status herd_gguf_get_int(const herd_gguf *g, const char *key, int64_t *out);
herd_status herd_gguf_get_float(const herd_gguf *g, const char *key, double *out);
herd_status herd_gguf_get_bool(const herd_gguf *g, const char *key, bool *out);
herd_status herd_gguf_get_str(const herd_gguf *g, const char *key, const char **s, size_t *len);
/* The same on one value (any kv of the right type). */
bool herd_gguf_kv_int(const herd_gguf_kv *kv, int64_t *out);
bool herd_gguf_kv_float(const herd_gguf_kv *kv, double *out);
/* Array elements, i < kv->count. Integer/float readers convert like the getters above. */
bool herd_gguf_arr_int(const herd_gguf_kv *kv, uint64_t i, int64_t *out);
bool herd_gguf_arr_float(const herd_gguf_kv *kv, uint64_t i, double *out);
bool herd_gguf_arr_str(const herd_gguf_kv *kv, uint64_t i, const char **s, size_t *len);

/* A model split over several files, NAME-00001-of-0000N.gguf (llama.cpp's gguf-split): part
 * 1's metadata and every part's tensors in one index, `merged` (use it like any herd_gguf; its
 * file is part 1's). A file without split.count is a split of one. Opening must start from the
 * first part; each part is checked (split.no, split.count) and tensors are unique across parts. */
typedef struct herd_gguf_split {
    herd_gguf *parts;
    size_t n_parts;
    herd_gguf merged;
} herd_gguf_split;
herd_status herd_gguf_open_split(const char *path, herd_gguf_split *out);
void herd_gguf_close_split(herd_gguf_split *s);

/* ---- writing ------------------------------------------------------------------------------
 * Set metadata, declare tensors (names, types, shapes), then begin (writes the header to a
 * temporary file), stream each tensor's bytes in declaration order (any chunking; padding is
 * added between tensors), and commit (rename). Freeing an uncommitted writer removes the
 * temporary file. Setting a key twice replaces the value, keeping its position. */
typedef struct herd_gguf_writer herd_gguf_writer;
herd_status herd_gguf_writer_create(herd_gguf_writer **out);
void herd_gguf_writer_free(herd_gguf_writer *w);

/* A scalar of any non-string, non-array type; `value` points at a C value of that type
 * (uint8_t, int16_t, float, double, bool as uint8_t ...). */
herd_status herd_gguf_set(herd_gguf_writer *w, const char *key, herd_gguf_vtype type,
                          const void *value);
herd_status herd_gguf_set_u32(herd_gguf_writer *w, const char *key, uint32_t v);
herd_status herd_gguf_set_f32(herd_gguf_writer *w, const char *key, float v);
herd_status herd_gguf_set_bool(herd_gguf_writer *w, const char *key, bool v);
herd_status herd_gguf_set_str(herd_gguf_writer *w, const char *key, const char *s);
herd_status herd_gguf_set_strn(herd_gguf_writer *w, const char *key, const char *s, size_t len);
/* A numeric or bool array: `count` packed C values of elem_type. */
herd_status herd_gguf_set_arr(herd_gguf_writer *w, const char *key, herd_gguf_vtype elem_type,
                              const void *values, size_t count);
/* A string array; lens may be NULL for NUL-terminated strings. */
herd_status herd_gguf_set_str_arr(herd_gguf_writer *w, const char *key, const char *const *strs,
                                  const size_t *lens, size_t count);
/* Copies one value read from another file. */
herd_status herd_gguf_set_kv(herd_gguf_writer *w, const herd_gguf_kv *kv);
bool herd_gguf_writer_has(const herd_gguf_writer *w, const char *key);

/* Declares the next tensor; ne[0] is the row length (a multiple of the type's block). */
herd_status herd_gguf_add_tensor(herd_gguf_writer *w, const char *name, herd_type type, int n_dims,
                                 const int64_t *ne);
/* Bytes of tensor i as declared. */
size_t herd_gguf_writer_tensor_bytes(const herd_gguf_writer *w, size_t i);

herd_status herd_gguf_writer_begin(herd_gguf_writer *w, const char *path);
herd_status herd_gguf_writer_write(herd_gguf_writer *w, const void *data, size_t bytes);
herd_status herd_gguf_writer_commit(herd_gguf_writer *w);
/* With `finished` set (before commit), commit only finishes the file (herd_atomic_finish) and
 * hands it over in *finished, for the caller to install or abort; NULL: commit installs it. */
void herd_gguf_writer_finish_only(herd_gguf_writer *w, herd_atomic_file *finished);
/* The temporary file's path while writing (for a signal handler that removes it), or NULL. */
const char *herd_gguf_writer_tmp_path(const herd_gguf_writer *w);

#ifdef __cplusplus
}
#endif
#endif
