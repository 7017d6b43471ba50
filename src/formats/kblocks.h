/* ggml's K-quant and i-quant blocks (Q2_K..Q6_K, IQ4_NL, IQ4_XS), decoded into one shape that
 * both the row (de)quantizers (kblocks.c) and the kernel families (kernels/kquant_pack.c) use.
 *
 * Every one of these types stores, per super-block of `elems` values (256; IQ4_NL 32), an fp16
 * scale d (and, for Q2_K/Q4_K/Q5_K, an fp16 dmin), per sub-block of `sub` values (16 or 32) a
 * small integer scale sc (and min m), and per value a small integer q:
 *
 *     value = (d · sc) · q − (dmin · m)            (f32, each product rounded once)
 *
 * which is the order ggml's dequantizers evaluate it in, so decoding through this shape gives
 * ggml's floats bit for bit. Per type:
 *     type     elems sub  q            sc          m       bytes
 *     Q2_K     256   16   0..3         0..15       0..15   84
 *     Q3_K     256   16   -4..3        -32..31     -       110
 *     Q4_K     256   32   0..15        0..63       0..63   144
 *     Q5_K     256   32   0..31        0..63       0..63   176
 *     Q6_K     256   16   -32..31      -128..127   -       210
 *     IQ4_NL   32    32   table (16)   1           -       18
 *     IQ4_XS   256   32   table (16)   -32..31     -       136
 *     TQ1_0    256   32   -1..1        1           -       54  (base-3 digits, 5 per byte)
 *     TQ2_0    256   32   -1..2        1           -       66
 * where "table" is ggml's non-linear grid kvalues_iq4nl (values −127..113). */
#ifndef HERD_FORMATS_KBLOCKS_H
#define HERD_FORMATS_KBLOCKS_H

#include "herd/formats.h"

enum { KB_MAX_ELEMS = 256, KB_MAX_SUBS = 16 };

typedef struct kb_info {
    herd_type type;
    int elems, sub; /* values per super-block, per sub-block */
    int bytes;      /* bytes per super-block */
    int bits;       /* bits per q (table index for the i-quants) */
    int qoff;       /* q + qoff is the unsigned code 0..2^bits-1 (table types: the index) */
    bool has_min;
    bool table; /* q is kb_iq4_grid[code] */
} kb_info;

typedef struct kb_block {
    float d, dmin; /* dmin 0 without mins */
    int8_t sc[KB_MAX_SUBS];
    uint8_t m[KB_MAX_SUBS];
    int8_t q[KB_MAX_ELEMS];
    uint8_t code[KB_MAX_ELEMS]; /* the stored code: q + qoff, or the grid index */
} kb_block;

extern const int8_t kb_iq4_grid[16];
extern const float kb_iq4_mid[15]; /* midpoints between its neighbouring levels */

const kb_info *kb_info_get(herd_type t); /* NULL if t is not a K/i-quant type */
/* One super-block of bytes -> its integers (never fails: every bit pattern is a block). */
void kb_decode(const kb_info *I, const uint8_t *src, kb_block *out);
/* Its inverse: the integers (in range, with `code` filled) -> bytes. */
void kb_encode(const kb_info *I, const kb_block *b, uint8_t *dst);
/* Quantizes one super-block of floats (the row quantizers below do this per block). */
void kb_quantize_block(const kb_info *I, const float *x, kb_block *out);

/* The sub-block searches of the quantizers (kblocks.c): x ≈ s·L − mn with L in 0..nmax
 * (Q2_K, Q4_K, Q5_K), and x ≈ s·L with L in −nmax..nmax−1 (Q3_K, Q6_K; returns s). */
void kb_fit_asym(int n, const float *x, const float *w, int nmax, float *s, float *mn);
float kb_fit_sym(int n, const float *x, const float *w, int nmax);
float kb_fit_grid(int n, const float *x, const float *w); /* x ≈ s·kb_iq4_grid[idx] (IQ4_*) */
/* Their AVX-512 twins (kblocks_fit_avx512.c): 8 sub-blocks of n <= 32 values at once, sub-block
 * j at x + j*n, results in s[j] (and mn[j]); the C search's bits. */
void kb_fit_asym_avx512(int n, const float *x, const float *w, int nmax, float *s, float *mn);
void kb_fit_sym_avx512(int n, const float *x, const float *w, int nmax, float *s);
void kb_fit_grid_avx512(int n, const float *x, const float *w, float *s);

#endif
