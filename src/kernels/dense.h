/* The packed layout the x86 dense families (F32, F16, BF16, INT8 weights with f32 A) share;
 * only the panel width differs between ISA levels. k-major: for each k the nr weights of the
 * panel's columns in the weight's own type (INT8: int8, then nr f32 row scales after all of K).
 * Packing is plain C (it runs once per weight), so it lives here and not in the ISA files. */
#ifndef HERD_KERNELS_DENSE_H
#define HERD_KERNELS_DENSE_H

#include "kernels/family.h"

typedef enum { KD_F32, KD_F16, KD_BF16, KD_I8 } kdense_type;

size_t kdense_panel_bytes(kdense_type type, int nr, int64_t k);
herd_status kdense_pack(const kpack_src *s, void *panel, kdense_type type, int nr);
void kdense_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd, kdense_type type,
                   int nr);

/* The family functions of one ISA file, for panels nr wide: <prefix>_bytes, _pack, _unpack. */
#define KDENSE_PACK_FNS(prefix, type, nr)                                                          \
    static size_t prefix##_bytes(int64_t k)                                                        \
    {                                                                                              \
        return kdense_panel_bytes(type, nr, k);                                                    \
    }                                                                                              \
    static herd_status prefix##_pack(const kpack_src *s, void *panel)                              \
    {                                                                                              \
        return kdense_pack(s, panel, type, nr);                                                    \
    }                                                                                              \
    static void prefix##_unpack(const void *panel, int64_t k, int rows, float *dst, size_t ldd)    \
    {                                                                                              \
        kdense_unpack(panel, k, rows, dst, ldd, type, nr);                                         \
    }

#endif
