/* herd io: safetensors files (memory-mapped, validated) and Hugging Face checkpoint directories
 * (`model.safetensors`, or shards listed in `model.safetensors.index.json`). No model knowledge. */
#ifndef HERD_IO_SAFETENSORS_H
#define HERD_IO_SAFETENSORS_H

#include "herd/base.h"
#include "herd/formats.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { HERD_ST_MAX_DIMS = 8 };

typedef struct herd_st_tensor {
    const char *name;
    const char *file; /* the path of the file holding it, for messages */
    char dtype[12];   /* as written: "BF16", "F32", "I64", ... */
    bool has_type;    /* dtype is one herd computes with (F32, F16, BF16) */
    herd_type type;   /* valid when has_type */
    int ndim;
    int64_t shape[HERD_ST_MAX_DIMS];
    int64_t nelems;
    const uint8_t *data; /* into the mapping; may be unaligned (other writers do not pad) */
    size_t nbytes;
} herd_st_tensor;

typedef struct herd_safetensors herd_safetensors;

/* Maps and validates one file by the reference reader's rules: header ≤ 100 MB of JSON, every
 * tensor's byte size matches dtype × shape, the tensors tile the data exactly (a truncated file
 * is reported as such). */
herd_status herd_safetensors_open(const char *path, herd_safetensors **out);
void herd_safetensors_close(herd_safetensors *f);
size_t herd_safetensors_count(const herd_safetensors *f);
const herd_st_tensor *herd_safetensors_at(const herd_safetensors *f, size_t i); /* sorted by name */
const herd_st_tensor *herd_safetensors_find(const herd_safetensors *f, const char *name);

/* A checkpoint directory: all its tensors in one name-sorted table. */
typedef struct herd_st_dir herd_st_dir;
herd_status herd_st_dir_open(const char *dir, herd_st_dir **out);
void herd_st_dir_close(herd_st_dir *d);
size_t herd_st_dir_count(const herd_st_dir *d);
const herd_st_tensor *herd_st_dir_at(const herd_st_dir *d, size_t i);
const herd_st_tensor *herd_st_dir_find(const herd_st_dir *d, const char *name);
size_t herd_st_dir_bytes(const herd_st_dir *d); /* sum of the files' sizes */

#ifdef __cplusplus
}
#endif
#endif
