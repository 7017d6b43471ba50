/* CPU feature detection (cpuid + xgetbv: the OS must save the wide registers too) and the
 * ISA level kernels run at. */
#include "herd/base.h"

#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[HERD_ISA_COUNT] = {"ref", "avx2", "avx512", "avx512vnni",
                                                      "avx512bf16"};

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static herd_isa_level detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return HERD_ISA_REF;
    bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
    if (!osxsave)
        return HERD_ISA_REF;
    uint64_t xcr0 = read_xcr0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return HERD_ISA_REF;
    bool avx2 = b & (1u << 5);
    bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
         avx512vl = b & (1u << 31), vnni = c & (1u << 11);
    unsigned a1 = 0, b1, c1, d1;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    bool bf16 = a1 & (1u << 5);
    if (!(ymm_ok && avx2 && fma && f16c))
        return HERD_ISA_REF;
    if (!(zmm_ok && avx512f && avx512dq && avx512bw && avx512vl))
        return HERD_ISA_AVX2;
    if (!vnni)
        return HERD_ISA_AVX512;
    return bf16 ? HERD_ISA_AVX512BF16 : HERD_ISA_AVX512VNNI;
}

static _Atomic int cpu_level = -1;
static _Atomic int forced_level = -1;

herd_isa_level herd_cpu_isa(void)
{
    int l = atomic_load(&cpu_level);
    if (l < 0) {
        l = (int)detect();
        atomic_store(&cpu_level, l);
    }
    return (herd_isa_level)l;
}

/* HERD_NO_VBMI / HERD_NO_GFNI mask those features, so the other path of the tiles that use them
 * runs (and is tested) on a CPU that has them. */
static bool masked(const char *env)
{
    const char *off = getenv(env);
    return off && *off && strcmp(off, "0") != 0;
}

bool herd_cpu_has_vbmi(void)
{
    static _Atomic int vbmi = -1;
    int v = atomic_load(&vbmi);
    if (v < 0) {
        unsigned a, b, c = 0, d;
        v = herd_cpu_isa() >= HERD_ISA_AVX512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
            (c & (1u << 1)) && !masked("HERD_NO_VBMI");
        atomic_store(&vbmi, v);
    }
    return v;
}

bool herd_cpu_has_gfni(void)
{
    static _Atomic int gfni = -1;
    int v = atomic_load(&gfni);
    if (v < 0) {
        unsigned a, b, c = 0, d;
        v = herd_cpu_isa() >= HERD_ISA_AVX512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
            (c & (1u << 8)) && !masked("HERD_NO_GFNI");
        atomic_store(&gfni, v);
    }
    return v;
}

herd_isa_level herd_isa(void)
{
    int f = atomic_load(&forced_level);
    if (f >= 0)
        return (herd_isa_level)f;
    herd_isa_level level = herd_cpu_isa();
    const char *env = getenv("HERD_ISA");
    herd_isa_level want;
    if (env && *env && herd_isa_parse(env, &want) && want < level)
        level = want;
    return level;
}

herd_isa_level herd_set_isa(herd_isa_level level)
{
    herd_isa_level cpu = herd_cpu_isa();
    if (level > cpu)
        level = cpu;
    atomic_store(&forced_level, (int)level);
    return level;
}

const char *herd_isa_name(herd_isa_level level)
{
    return (unsigned)level < HERD_ISA_COUNT ? isa_names[level] : "?";
}

bool herd_isa_parse(const char *name, herd_isa_level *out)
{
    for (int i = 0; i < HERD_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (herd_isa_level)i;
            return true;
        }
    return false;
}
