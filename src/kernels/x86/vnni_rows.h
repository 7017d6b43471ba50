/* Addressing the rows of A at one stride from a few registers, for VNNI tiles whose A operand is
 * a broadcast from memory (VPDPBUSD's {1to16}, VPBROADCASTD, VPADDD {1to16}): row i is
 * base + index·scale with base ∈ {b, b3 = b + 3s} and index ∈ {s, s3 = 3s, s5 = 5s}. Row
 * pointers (with a tile's other pointers) would spill, and every folded broadcast would first
 * reload its pointer from the stack. Up to 8 rows take four registers (vnni_dp_row: the K-quant
 * and grid i-quant tiles), up to 12 rows five (the *_row12 functions: the int tile and IQ4).
 * The asm reads A without naming it as an operand: nothing in a tile writes A, and A is
 * complete before any tile runs. d, the byte offset within a row, is a constant. */
#ifndef HERD_KERNELS_X86_VNNI_ROWS_H
#define HERD_KERNELS_X86_VNNI_ROWS_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VNNI_INLINE static inline __attribute__((always_inline))

typedef struct vnni_rows {
    const uint8_t *b, *b3;
    size_t s, s3, s5;
} vnni_rows;

VNNI_INLINE vnni_rows vnni_rows_at(const uint8_t *b, size_t s)
{
    return (vnni_rows){b, b + 3 * s, s, 3 * s, 5 * s};
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define VNNI_OPS8  [b] "r"(b), [b3] "r"(b3), [s] "r"(s), [s3] "r"(s3), [d] "i"(d)
#define VNNI_OPS12 VNNI_OPS8, [s5] "r"(s5)
#define VNNI_ROWS_0_TO_6(OP)                                                                       \
    case 0: OP("%c[d](%[b])"); break;                                                              \
    case 1: OP("%c[d](%[b],%[s],1)"); break;                                                       \
    case 2: OP("%c[d](%[b],%[s],2)"); break;                                                       \
    case 3: OP("%c[d](%[b3])"); break;                                                             \
    case 4: OP("%c[d](%[b],%[s],4)"); break;                                                       \
    case 5: OP("%c[d](%[b3],%[s],2)"); break;                                                      \
    case 6: OP("%c[d](%[b],%[s3],2)"); break;
/* OP with row i's address as its memory operand, rows 0..7 / 0..11 */
#define VNNI_ROW8_ASM(i, OP)                                                                       \
    switch (i) {                                                                                   \
        VNNI_ROWS_0_TO_6(OP)                                                                       \
    default: OP("%c[d](%[b3],%[s],4)"); break;                                                     \
    }
#define VNNI_ROW12_ASM(i, OP)                                                                      \
    switch (i) {                                                                                   \
        VNNI_ROWS_0_TO_6(OP)                                                                       \
    case 7: OP("%c[d](%[b3],%[s],4)"); break;                                                      \
    case 8: OP("%c[d](%[b],%[s],8)"); break;                                                       \
    case 9: OP("%c[d](%[b3],%[s3],2)"); break;                                                     \
    case 10: OP("%c[d](%[b],%[s5],2)"); break;                                                     \
    default: OP("%c[d](%[b3],%[s],8)"); break;                                                     \
    }
#define VNNI_REGS                                                                                  \
    const uint8_t *b = r.b, *b3 = r.b3;                                                            \
    size_t s = r.s, s3 = r.s3, s5 = r.s5;                                                          \
    (void)s5

#define VNNI_DP(OPS, addr)                                                                         \
    __asm__("vpdpbusd " addr "%{1to16%}, %[w], %[acc]" : [acc] "+v"(acc) : [w] "v"(w), OPS)
#define VNNI_DP8(addr)  VNNI_DP(VNNI_OPS8, addr)
#define VNNI_DP12(addr) VNNI_DP(VNNI_OPS12, addr)
#define VNNI_BC12(addr) __asm__("vpbroadcastd " addr ", %[v]" : [v] "=v"(v) : VNNI_OPS12)
#define VNNI_AD12(addr)                                                                            \
    __asm__("vpaddd " addr "%{1to16%}, %[x], %[v]" : [v] "=v"(v) : [x] "v"(x), VNNI_OPS12)
#define VNNI_ADZ12(addr)                                                                           \
    __asm__("vpaddd " addr "%{1to16%}, %[x], %[v]%{%[k]%}%{z%}"                                    \
            : [v] "=v"(v)                                                                          \
            : [x] "v"(x), [k] "Yk"(nz), VNNI_OPS12)

/* acc += w · (row i's s8 quad at offset d, broadcast), i < 8 */
VNNI_INLINE __m512i vnni_dp_row(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    VNNI_REGS;
    VNNI_ROW8_ASM(i, VNNI_DP8)
    return acc;
}
/* the same, i < 12 */
VNNI_INLINE __m512i vnni_dp_row12(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    VNNI_REGS;
    VNNI_ROW12_ASM(i, VNNI_DP12)
    return acc;
}
/* row i's int32 at offset d, broadcast */
VNNI_INLINE __m512i vnni_bcast_row12(vnni_rows r, const int i, const int d)
{
    VNNI_REGS;
    __m512i v;
    VNNI_ROW12_ASM(i, VNNI_BC12)
    return v;
}
/* x + row i's int32 at offset d, broadcast */
VNNI_INLINE __m512i vnni_add_row12(__m512i x, vnni_rows r, const int i, const int d)
{
    VNNI_REGS;
    __m512i v;
    VNNI_ROW12_ASM(i, VNNI_AD12)
    return v;
}
/* (x + row i's int32 at offset d, broadcast), lanes outside nz zero */
VNNI_INLINE __m512i vnni_add_row12_z(__m512i x, __mmask16 nz, vnni_rows r, const int i, const int d)
{
    VNNI_REGS;
    __m512i v;
    VNNI_ROW12_ASM(i, VNNI_ADZ12)
    return v;
}
#else
/* Clang checks an "i" operand before inlining, and GCC without optimization does not propagate
 * d: the same operations as intrinsics, row i at b + i·s. */
VNNI_INLINE __m512i vnni_bcast_row12(vnni_rows r, const int i, const int d)
{
    int32_t q;
    memcpy(&q, r.b + (size_t)i * r.s + d, 4);
    return _mm512_set1_epi32(q);
}
VNNI_INLINE __m512i vnni_dp_row12(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    return _mm512_dpbusd_epi32(acc, w, vnni_bcast_row12(r, i, d));
}
VNNI_INLINE __m512i vnni_dp_row(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    return vnni_dp_row12(acc, w, r, i, d);
}
VNNI_INLINE __m512i vnni_add_row12(__m512i x, vnni_rows r, const int i, const int d)
{
    return _mm512_add_epi32(x, vnni_bcast_row12(r, i, d));
}
VNNI_INLINE __m512i vnni_add_row12_z(__m512i x, __mmask16 nz, vnni_rows r, const int i, const int d)
{
    return _mm512_maskz_add_epi32(nz, x, vnni_bcast_row12(r, i, d));
}
#endif

#endif
