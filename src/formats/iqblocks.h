/* ggml's grid i-quants (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M): their blocks
 * decoded into one shape that the row dequantizer and the kernel families both use.
 *
 * Each super-block of 256 values stores an fp16 scale d, per sub-block of `sub` values a small
 * scale s, and per group of 8 values (IQ3: 4) an index into a grid of ggml's (iq_grids.c),
 * plus per 8 values either 8 sign bits (IQ2, IQ3) or one delta sign (IQ1). ggml evaluates
 *     IQ2:  (d·(0.5 + s)·0.25)·g·(±1)       IQ3_XXS: (d·(0.5 + s)·0.5)·g·(±1)
 *     IQ3_S: (d·(1 + 2s))·g·(±1)            IQ1:     (d·(1 + 2s))·(g ± 0.125)
 * which, because scaling by a power of two is exact in f32, is bit for bit
 *     value = (d' · sc) · q,  d' = d · 2^-dshift,  sc = 2s + 1,  q a signed integer:
 *     IQ2: q = ±g (g 8..43), dshift 3      IQ3_XXS: q = ±g (4..62), dshift 2
 *     IQ3_S: q = ±g (1..15), dshift 0      IQ1: q = 8g ± 1 (−9..9), dshift 3
 *
 *     type     sub  grid (entries × values)  index bits  signs        bytes
 *     IQ2_XXS  32   256 × 8                  8           7 + parity   66
 *     IQ2_XS   16   512 × 8                  9           7 + parity   74
 *     IQ2_S    16   1024 × 8                 10          8            82
 *     IQ3_XXS  32   256 × 4                  8           7 + parity   98
 *     IQ3_S    32   512 × 4                  9           8            110
 *     IQ1_S    32   2048 × 8                 11          delta / 32   50
 *     IQ1_M    16   2048 × 8                 11          delta / 8    56 */
#ifndef HERD_FORMATS_IQBLOCKS_H
#define HERD_FORMATS_IQBLOCKS_H

#include "herd/formats.h"

typedef struct iq_info {
    herd_type type;
    int bytes;        /* per super-block of 256 */
    int sub;          /* values per sub-block scale */
    int gvals;        /* values per grid entry: 8, or 4 (IQ3) */
    int idx_bits;     /* bits of a grid index */
    int dshift;       /* d' = d · 2^-dshift */
    bool iq1;         /* q = 8g ± 1 (delta) instead of ±g (signs) */
    const void *grid; /* uint64_t[] (gvals 8) or uint32_t[] (gvals 4) */
} iq_info;

typedef struct iq_block {
    uint16_t d16;     /* the fp16 super-block scale as stored (IQ1_M: reassembled) */
    uint8_t sc[16];   /* 2s + 1 per sub-block */
    uint16_t idx[64]; /* grid index per group of gvals values */
    uint8_t sign[32]; /* per 8 values: bit t set = value t negated (IQ2, IQ3) */
    uint8_t dneg[32]; /* per 8 values: 1 when the delta is −0.125 (IQ1) */
} iq_block;

extern const uint64_t iq_grid_iq2xxs[256], iq_grid_iq2xs[512], iq_grid_iq2s[1024],
    iq_grid_iq1s[2048];
extern const uint32_t iq_grid_iq3xxs[256], iq_grid_iq3s[512];

const iq_info *iq_info_get(herd_type t); /* NULL if t is not a grid i-quant */
/* One super-block of bytes -> its parts (every bit pattern is a block). */
void iq_decode(const iq_info *I, const uint8_t *src, iq_block *out);
/* The parts -> bytes (the inverse of iq_decode for blocks whose signs have ggml's parity). */
void iq_encode(const iq_info *I, const iq_block *b, uint8_t *dst);
/* Grid value j (0..gvals-1) of entry idx: IQ2/IQ3 a magnitude, IQ1 −1/0/1. */
int iq_grid_value(const iq_info *I, unsigned idx, int j);
/* q of value e (0..255) of a decoded block. */
int iq_q(const iq_info *I, const iq_block *b, int e);
/* d' of a decoded block (exact). */
float iq_dprime(const iq_info *I, const iq_block *b);

#endif
