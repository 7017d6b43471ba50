/* Plain C twin of the Q8_K family (math in q8k.h): the oracle of the tests and the
 * HERD_ISA=ref path. The integer sum is exact and the float step is the fast tile's, so every
 * ISA returns these bits. */
#include "kernels/q8k.h"

#include <math.h>

void k8_tile_int_ref(const ktile *t)
{
    const uint8_t *panel = t->b, *codes = panel + k8_d_section(t->k);
    float acc[KMAX_MR][K8_NR] = {{0}};
    for (int64_t b = 0; b < t->k / K8_ELEMS; b++) {
        const uint8_t *c = codes + (size_t)b * K8_CODES;
        float d[K8_NR];
        memcpy(d, panel + (size_t)b * K8_NR * 4, sizeof d);
        for (int i = 0; i < t->m; i++) {
            const uint8_t *rec =
                (const uint8_t *)t->a + (size_t)i * t->a_stride + (size_t)b * K8_AREC;
            const int8_t *qa = (const int8_t *)rec;
            float da;
            int32_t corr;
            memcpy(&da, rec + K8_ELEMS, 4);
            memcpy(&corr, rec + K8_ELEMS + 4, 4);
            for (int j = 0; j < K8_NR; j++) {
                int32_t isum = corr;
                for (int e = 0; e < K8_ELEMS; e++)
                    isum += (int32_t)c[64 * (e / 4) + 4 * j + e % 4] * qa[e];
                acc[i][j] = fmaf((float)isum, d[j] * da, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < K8_NR; j++)
            t->c[i * K8_NR + j] = acc[i][j];
}

static void tile_exact(const ktile *t)
{
    kk_tile_decoded_ref(k8_decode_f32, HERD_TYPE_Q8_K, K8_ELEMS, t);
}

const kfamily kfam_q8_k_ref = {
    .name = "q8_k.ref",
    .type = HERD_TYPE_Q8_K,
    .isa = HERD_ISA_REF,
    .mr = KMAX_MR,
    .nr = K8_NR,
    .panel_bytes = k8_panel_bytes,
    .pack = k8_pack,
    .unpack = k8_unpack,
    .a_row_bytes = k8_aprep_bytes,
    .a_prep = k8_aprep,
    .a_desc = "int8 per super-block",
    .tile = k8_tile_int_ref,
    .tile_exact = tile_exact,
    .epilogue = kepi_ref,
};
