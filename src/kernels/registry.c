/* The kernel registry: one table per ISA level, each listing the families written for it.
 * kfam_select() walks from the requested level down to ref and returns the first family of the
 * type, so a type without a fast version at some level still runs on the best one below.
 * Adding a family: one line in the table of its ISA (and its extern in family.h). */
#include "kernels/family.h"

#include <stddef.h>

static const kfamily *const table_ref[] = {
    &kfam_f32_ref,
    &kfam_f16_ref,
    &kfam_bf16_ref,
    &kfam_int8_ref,
    &kfam_fp8_e4m3_ref,
    /* block-quantized (quant.h) */
    &kfam_q8_0_ref,
    &kfam_q4_0_ref,
    &kfam_mxfp4_ref,
    &kfam_mxfp6_e2m3_ref,
    &kfam_mxint8_ref,
    &kfam_mxfp8_e4m3_ref,
    &kfam_mxfp8_e5m2_ref,
    &kfam_mxfp6_e3m2_ref,
    /* K/i-quants (kquant.h) */
    &kfam_q2_k_ref,
    &kfam_q3_k_ref,
    &kfam_q4_k_ref,
    &kfam_q5_k_ref,
    &kfam_q6_k_ref,
    &kfam_iq4_nl_ref,
    &kfam_iq4_xs_ref,
    /* grid i-quants (iquant.h) */
    &kfam_iq3_s_ref,
    &kfam_iq3_xxs_ref,
    &kfam_iq2_xxs_ref,
    &kfam_iq2_xs_ref,
    &kfam_iq2_s_ref,
    &kfam_iq1_s_ref,
    &kfam_iq1_m_ref,
    /* ternary (kquant.h) */
    &kfam_tq1_0_ref,
    &kfam_tq2_0_ref,
    &kfam_q8_k_ref, /* q8k.h */
    NULL,
};
static const kfamily *const table_avx2[] = {
    &kfam_f32_avx2,
    &kfam_f16_avx2,
    &kfam_bf16_avx2,
    &kfam_int8_avx2,
    &kfam_fp8_e4m3_avx2,
    &kfam_q8_0_avx2,
    &kfam_q4_0_avx2,
    &kfam_mxfp4_avx2,
    &kfam_mxfp6_e2m3_avx2,
    &kfam_mxint8_avx2,
    &kfam_mxfp8_e4m3_avx2,
    &kfam_mxfp8_e5m2_avx2,
    &kfam_mxfp6_e3m2_avx2,
    /* K-quants (kquant.h) */
    &kfam_q2_k_avx2,
    &kfam_q3_k_avx2,
    &kfam_q4_k_avx2,
    &kfam_q5_k_avx2,
    &kfam_q6_k_avx2,
    &kfam_q8_k_avx2, /* q8k.h */
    &kfam_iq4_nl_avx2,
    &kfam_iq4_xs_avx2, /* i-quants (kquant.h) */
    /* grid i-quants (iquant.h) */
    &kfam_iq3_s_avx2,
    &kfam_iq3_xxs_avx2,
    &kfam_iq2_xxs_avx2,
    &kfam_iq2_xs_avx2,
    &kfam_iq2_s_avx2,
    &kfam_iq1_s_avx2,
    &kfam_iq1_m_avx2,
    &kfam_tq1_0_avx2, /* ternary */
    &kfam_tq2_0_avx2,
    NULL,
};
static const kfamily *const table_avx512[] = {
    &kfam_f32_avx512,        &kfam_f16_avx512,        &kfam_bf16_avx512,
    &kfam_int8_avx512,       &kfam_fp8_e4m3_avx512,   &kfam_mxfp8_e4m3_avx512,
    &kfam_mxfp8_e5m2_avx512, &kfam_mxfp6_e3m2_avx512, NULL,
};
static const kfamily *const table_avx512vnni[] = {
    &kfam_int8_avx512vnni,
    &kfam_q8_0_avx512vnni,
    &kfam_q4_0_avx512vnni,
    &kfam_mxfp4_avx512vnni,
    &kfam_mxfp6_e2m3_avx512vnni,
    &kfam_mxint8_avx512vnni,
    &kfam_q2_k_avx512vnni,
    &kfam_q3_k_avx512vnni,
    &kfam_q4_k_avx512vnni,
    &kfam_q5_k_avx512vnni,
    &kfam_q6_k_avx512vnni,
    &kfam_iq4_nl_avx512vnni,
    &kfam_iq4_xs_avx512vnni,
    /* grid i-quants (iquant.h) */
    &kfam_iq3_s_avx512vnni,
    &kfam_iq3_xxs_avx512vnni,
    &kfam_iq2_xxs_avx512vnni,
    &kfam_iq2_xs_avx512vnni,
    &kfam_iq2_s_avx512vnni,
    &kfam_iq1_s_avx512vnni,
    &kfam_iq1_m_avx512vnni,
    /* ternary (kquant.h) */
    &kfam_tq1_0_avx512vnni,
    &kfam_tq2_0_avx512vnni,
    &kfam_q8_k_avx512vnni, /* q8k.h */
    NULL,
};
static const kfamily *const table_avx512bf16[] = {
    &kfam_bf16_avx512bf16,       &kfam_fp8_e4m3_avx512bf16,   &kfam_mxfp8_e4m3_avx512bf16,
    &kfam_mxfp8_e5m2_avx512bf16, &kfam_mxfp6_e3m2_avx512bf16, NULL,
};

static const kfamily *const *const tables[HERD_ISA_COUNT] = {
    [HERD_ISA_REF] = table_ref,
    [HERD_ISA_AVX2] = table_avx2,
    [HERD_ISA_AVX512] = table_avx512,
    [HERD_ISA_AVX512VNNI] = table_avx512vnni,
    [HERD_ISA_AVX512BF16] = table_avx512bf16,
};

const kfamily *kfam_select(herd_type type, herd_isa_level isa)
{
    if ((unsigned)isa >= HERD_ISA_COUNT)
        isa = HERD_ISA_COUNT - 1;
    for (int level = (int)isa; level >= 0; level--)
        for (const kfamily *const *f = tables[level]; *f; f++)
            if ((*f)->type == type)
                return *f;
    return NULL;
}
