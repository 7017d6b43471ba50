/* The inner kernels of attention (attention.c drives them), in a plain C version and per-ISA
 * versions (attn_simd_avx512.c, ...), picked at run time from herd_isa(). All versions run
 * the same algorithm; results differ from the plain one only by summation order and exp
 * rounding.
 *
 * The driver cuts the keys of one kv head into tiles of `stride` absolute positions. A tile is
 * gathered once (resolving cache ring rows against the piece's new rows) and transposed, so
 * that 16 consecutive keys of one component d are one vector: kt[d·stride + j]. Query rows
 * then meet the tile a few at a time: scores for 16 keys at once with no horizontal sums, an
 * online softmax (running max m and sum l per row, the output rescaled only when m grows),
 * and out += p_j · v_j with the value rows read in place. */
#ifndef HERD_OPS_ATTN_SIMD_H
#define HERD_OPS_ATTN_SIMD_H

#include "herd/formats.h"

#include <stdint.h>

enum {
    ATTN_ROWS = 4,        /* query rows per attend call */
    ATTN_STATE_HEAD = 16, /* a row's state: m, l, padding to 64 bytes, then the output */
};

/* One tile of keys of one kv head. kt: stride × dim floats, column j holds the key at tile
 * position j (64-byte aligned, stride a multiple of 32); v[j]: its value row (dim floats);
 * p: scratch of ATTN_ROWS × stride floats. */
typedef struct attn_tile {
    const float *kt;
    int64_t stride, dim;
    const float *const *v;
    float scale; /* 1/sqrt(dim), applied to every score */
    float *p;
    /* Cache rows the caller reads next (in decode: the next head's slices, the next tile's),
     * asked for while the value loop works: entry j is taken at tile position j, pf[2j] (key
     * row, pf_bytes[0] bytes) and pf[2j + 1] (value row, pf_bytes[1]); either may be NULL, and
     * so may pf. Only the speed depends on it. */
    const uint8_t *const *pf;
    size_t pf_bytes[2];
} attn_tile;

/* Entry j of the tile's prefetch stream, into L2: spread over the value loop, the requests
 * overlap the arithmetic instead of stalling it in a burst. */
static inline void attn_prefetch_at(const attn_tile *t, int64_t j)
{
    if (!t->pf)
        return;
    const uint8_t *k = t->pf[2 * j], *v = t->pf[2 * j + 1];
    for (size_t b = 0; k && b < t->pf_bytes[0]; b += 64) {
        __builtin_prefetch(k + b, 0, 2);
        __asm__ volatile(""); /* keeps GCC from dropping a loop that only prefetches */
    }
    for (size_t b = 0; v && b < t->pf_bytes[1]; b += 64) {
        __builtin_prefetch(v + b, 0, 2);
        __asm__ volatile("");
    }
}

/* ATTN_ROWS query rows against one tile: row r sees tile positions [a[r], b[r]), which may
 * be empty (a padding row or a row that sees nothing of this tile). st[r] is its state:
 * st[0] = m, st[1] = l, st + ATTN_STATE_HEAD = the unnormalized output (dim floats). */
typedef struct attn_rows {
    const float *q[ATTN_ROWS];
    float *st[ATTN_ROWS];
    int64_t a[ATTN_ROWS], b[ATTN_ROWS];
} attn_rows;

typedef struct attn_kernels {
    /* kt[d·stride + j] = k[j][d] for tile positions j in [j0, j1); a vector version may also
     * write (any values) the rest of the 16-key blocks it touches. */
    void (*gather)(float *kt, int64_t stride, const float *const *k, int64_t j0, int64_t j1,
                   int64_t dim);
    /* folds the tile into the rows' online-softmax states */
    void (*attend)(const attn_tile *t, const attn_rows *r);
    /* one cached head row of type t (BF16 or Q8_0: herd_type_row_bytes(t, dim) bytes) -> dim
     * floats, exactly as herd_row_to_f32 converts it */
    void (*to_f32)(herd_type t, const uint8_t *src, float *dst, int64_t dim);
    /* dst[i] = src[i] · s for i < n: a row's output, its sum divided out (one rounding each) */
    void (*scale)(float *dst, const float *src, float s, int64_t n);
} attn_kernels;

extern const attn_kernels herd_attn_avx2, herd_attn_avx512;

#endif
