/* Addressing up to 8 rows of A at one stride from four registers, for VPDPBUSD with A's s8
 * quad broadcast from memory ({1to16}): row i is base + index·scale with base ∈ {b, b3 = b +
 * 3s} and index ∈ {s, s3 = 3s}. Eight row pointers (with a tile's other pointers) spill, and
 * every folded broadcast then first reloads its pointer from the stack. The asm reads A without
 * naming it as an operand: nothing in a tile writes A, and A is complete before any tile runs.
 * (The int tile in quant_avx512vnni.c does the same for 12 rows.) */
#ifndef HERD_KERNELS_X86_VNNI_ROWS_H
#define HERD_KERNELS_X86_VNNI_ROWS_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vnni_rows {
    const uint8_t *b, *b3;
    size_t s, s3;
} vnni_rows;

static inline __attribute__((always_inline)) vnni_rows vnni_rows_at(const uint8_t *b, size_t s)
{
    return (vnni_rows){b, b + 3 * s, s, 3 * s};
}

/* acc += w · (row i's s8 quad at byte offset d (a constant), broadcast) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
static inline __attribute__((always_inline)) __m512i
vnni_dp_row(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    const uint8_t *b = r.b, *b3 = r.b3;
    size_t s = r.s, s3 = r.s3;
#define VNNI_DP(addr)                                                                              \
    __asm__("vpdpbusd " addr "%{1to16%}, %[w], %[acc]"                                             \
            : [acc] "+v"(acc)                                                                      \
            : [w] "v"(w), [b] "r"(b), [b3] "r"(b3), [s] "r"(s), [s3] "r"(s3), [d] "i"(d))
    switch (i) {
    case 0: VNNI_DP("%c[d](%[b])"); break;
    case 1: VNNI_DP("%c[d](%[b],%[s],1)"); break;
    case 2: VNNI_DP("%c[d](%[b],%[s],2)"); break;
    case 3: VNNI_DP("%c[d](%[b3])"); break;
    case 4: VNNI_DP("%c[d](%[b],%[s],4)"); break;
    case 5: VNNI_DP("%c[d](%[b3],%[s],2)"); break;
    case 6: VNNI_DP("%c[d](%[b],%[s3],2)"); break;
    default: VNNI_DP("%c[d](%[b3],%[s],4)"); break;
    }
#undef VNNI_DP
    return acc;
}
#else
/* Clang checks an "i" operand before inlining, and GCC without optimization does not propagate
 * d: the same operation as intrinsics, row i at b + i·s. */
static inline __attribute__((always_inline)) __m512i
vnni_dp_row(__m512i acc, __m512i w, vnni_rows r, const int i, const int d)
{
    int32_t q;
    memcpy(&q, r.b + (size_t)i * r.s + d, 4);
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(q));
}
#endif

#endif
