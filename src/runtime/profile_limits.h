/* Private to the profile's machine-limits measurement: per-ISA inner loops, each in a file
 * compiled with its own -m flags. Each returns the work done (FLOPs, ops or bytes). */
#ifndef HERD_PROFILE_LIMITS_H
#define HERD_PROFILE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

double herd_limits_fma_avx2(int64_t iters);
double herd_limits_fma_avx512(int64_t iters);
double herd_limits_bf16_avx512bf16(int64_t iters);
double herd_limits_vnni_avx512vnni(int64_t iters);
/* Reads n bytes (n a multiple of 256, p 64-byte aligned) and returns n. */
double herd_limits_read_avx2(const void *p, size_t n);
/* The same with AVX-512 loads and a software prefetch ahead, as the GEMV tiles read. */
double herd_limits_read_pf_avx512(const void *p, size_t n);

#endif
