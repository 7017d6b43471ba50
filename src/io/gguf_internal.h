/* Shared between the GGUF reader, writer and type table (not public). */
#ifndef HERD_IO_GGUF_INTERNAL_H
#define HERD_IO_GGUF_INTERNAL_H

#include "herd/io_gguf.h"

#define GGUF_MAGIC             0x46554747u /* "GGUF" */
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_NAME          63 /* ggml's GGML_MAX_NAME (64) minus the NUL */
#define GGUF_MAX_DIMS          4

/* Block geometry of a tensor type id; false if the id is unknown. */
bool gguf_type_geometry(uint32_t id, herd_type *herd, int *block_elems, int *block_bytes);
/* Bytes of a row of ne0 elements of type id (ne0 a multiple of the block); false on overflow. */
bool gguf_row_bytes(uint32_t id, uint64_t ne0, uint64_t *out);

/* Builds idx = 0..n-1 sorted by the name at names + k*stride; fails on a duplicate. */
herd_status gguf_index_names(size_t *idx, size_t n, char *const *names, size_t stride,
                             const char *path, const char *what);

#endif
