/* herd io: NumPy .npy files holding float32 arrays.
 *
 * Reads versions 1.0, 2.0 and 3.0 with dtype '<f4' (or '=f4'), C order. Anything else (another
 * dtype, big-endian, Fortran order, a bad or truncated header, a data size that does not match
 * the shape) fails with one line naming the file and the problem. Writes version 1.0, '<f4',
 * C order, through herd_atomic_* so a failed write never leaves a partial file. */
#ifndef HERD_IO_NPY_H
#define HERD_IO_NPY_H

#include "herd/base.h"
#include "herd/formats.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { HERD_NPY_MAX_DIMS = 8 };

/* Reads `path`. On success *data is a herd_alloc'd array (free it with herd_free; never NULL,
 * even for zero elements), shape[0..*ndim) holds the dimensions (*ndim may be 0: a scalar). */
herd_status herd_npy_read_f32(const char *path, float **data, size_t shape[HERD_NPY_MAX_DIMS],
                              int *ndim);

/* Number of elements of a shape (1 for ndim 0); false on overflow. */
bool herd_npy_count(const size_t *shape, int ndim, size_t *count);

/* Writes data (C order, product(shape) floats) to `path`, replacing it atomically. */
herd_status herd_npy_write_f32(const char *path, const float *data, const size_t *shape, int ndim);

#ifdef __cplusplus
}
#endif
#endif
