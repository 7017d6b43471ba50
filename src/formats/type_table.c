/* The one table that describes every tensor type, and row conversions through it. */
#include "herd/formats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const herd_type_info type_table[HERD_TYPE_COUNT] = {
    [HERD_TYPE_F32] = {"f32", 1, 4},
    [HERD_TYPE_F16] = {"f16", 1, 2},
    [HERD_TYPE_BF16] = {"bf16", 1, 2},
    [HERD_TYPE_Q8_0] = {"q8_0", 32, 34},
    [HERD_TYPE_Q4_0] = {"q4_0", 32, 18},
    [HERD_TYPE_INT8] = {"int8", 1, 1},
    [HERD_TYPE_FP8_E4M3] = {"fp8_e4m3", 1, 1},
    [HERD_TYPE_MXFP8_E4M3] = {"mxfp8_e4m3", 32, 33},
    [HERD_TYPE_MXFP8_E5M2] = {"mxfp8_e5m2", 32, 33},
    [HERD_TYPE_MXFP6_E3M2] = {"mxfp6_e3m2", 32, 25},
    [HERD_TYPE_MXFP6_E2M3] = {"mxfp6_e2m3", 32, 25},
    [HERD_TYPE_MXFP4] = {"mxfp4", 32, 17},
    [HERD_TYPE_MXINT8] = {"mxint8", 32, 33},
    [HERD_TYPE_Q2_K] = {"q2_k", 256, 84},
    [HERD_TYPE_Q3_K] = {"q3_k", 256, 110},
    [HERD_TYPE_Q4_K] = {"q4_k", 256, 144},
    [HERD_TYPE_Q5_K] = {"q5_k", 256, 176},
    [HERD_TYPE_Q6_K] = {"q6_k", 256, 210},
    [HERD_TYPE_IQ4_NL] = {"iq4_nl", 32, 18},
    [HERD_TYPE_IQ4_XS] = {"iq4_xs", 256, 136},
    [HERD_TYPE_IQ3_S] = {"iq3_s", 256, 110},
    [HERD_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98},
    [HERD_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66},
    [HERD_TYPE_IQ2_XS] = {"iq2_xs", 256, 74},
    [HERD_TYPE_IQ2_S] = {"iq2_s", 256, 82},
    [HERD_TYPE_IQ1_S] = {"iq1_s", 256, 50},
    [HERD_TYPE_IQ1_M] = {"iq1_m", 256, 56},
    [HERD_TYPE_TQ1_0] = {"tq1_0", 256, 54},
    [HERD_TYPE_TQ2_0] = {"tq2_0", 256, 66},
    [HERD_TYPE_Q8_K] = {"q8_k", 256, 292},
};

const herd_type_info *herd_type_get(herd_type t)
{
    return (unsigned)t < HERD_TYPE_COUNT ? &type_table[t] : NULL;
}

const char *herd_type_name(herd_type t)
{
    return (unsigned)t < HERD_TYPE_COUNT ? type_table[t].name : "?";
}

/* Other spellings users meet: the MX format name of a type (`herd mx --format`), so every
 * command takes both. Matching ignores case (ggml writes "q4_K", llama.cpp takes "Q4_K_M"). */
static const struct {
    const char *name;
    herd_type type;
} aliases[] = {
    {"mxfp4_e2m1", HERD_TYPE_MXFP4},
};

bool herd_type_parse(const char *name, herd_type *out)
{
    for (int i = 0; i < HERD_TYPE_COUNT; i++)
        if (strcasecmp(name, type_table[i].name) == 0) {
            *out = (herd_type)i;
            return true;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].name) == 0) {
            *out = aliases[i].type;
            return true;
        }
    return false;
}

static char names_list[512]; /* every name is short: a fixed buffer holds them all */
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void build_names(void)
{
    size_t o = 0;
    for (int i = 0; i < HERD_TYPE_COUNT && o < sizeof names_list; i++)
        o += (size_t)snprintf(names_list + o, sizeof names_list - o, "%s%s", i ? " " : "",
                              type_table[i].name);
}

const char *herd_type_names(void)
{
    pthread_once(&names_once, build_names);
    return names_list;
}

size_t herd_type_row_bytes(herd_type t, size_t n)
{
    const herd_type_info *ti = herd_type_get(t);
    if (!ti)
        return 0;
    size_t be = (size_t)ti->block_elems;
    return (n + be - 1) / be * (size_t)ti->block_bytes +
           (t == HERD_TYPE_INT8 || t == HERD_TYPE_FP8_E4M3 ? 4 : 0);
}

herd_status herd_row_to_f32(herd_type t, const void *src, float *dst, size_t n)
{
    herd_mx_format f;
    if (herd_mx_format_of_type(t, &f)) {
        herd_mx_dequantize(f, src, dst, n);
        return HERD_OK;
    }
    switch (t) {
    case HERD_TYPE_F32: memcpy(dst, src, n * sizeof(float)); return HERD_OK;
    case HERD_TYPE_BF16: herd_bf16_to_f32_row(src, dst, n); return HERD_OK;
    case HERD_TYPE_F16: herd_f16_to_f32_row(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q8_0: herd_q8_0_dequantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q4_0: herd_q4_0_dequantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_INT8: herd_int8_row_dequantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q8_K: herd_q8_k_dequantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_FP8_E4M3: herd_fp8_row_dequantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q2_K:
    case HERD_TYPE_Q3_K:
    case HERD_TYPE_Q4_K:
    case HERD_TYPE_Q5_K:
    case HERD_TYPE_Q6_K:
    case HERD_TYPE_IQ4_NL:
    case HERD_TYPE_TQ1_0:
    case HERD_TYPE_TQ2_0:
    case HERD_TYPE_IQ4_XS: herd_kq_dequantize(t, src, dst, n); return HERD_OK;
    case HERD_TYPE_IQ3_S:
    case HERD_TYPE_IQ3_XXS:
    case HERD_TYPE_IQ2_XXS:
    case HERD_TYPE_IQ2_XS:
    case HERD_TYPE_IQ2_S:
    case HERD_TYPE_IQ1_S:
    case HERD_TYPE_IQ1_M: herd_iq_dequantize(t, src, dst, n); return HERD_OK;
    default: return herd_fail(HERD_ERR_ARG, "unknown tensor type %d", (int)t);
    }
}

bool herd_type_can_quantize(herd_type t)
{
    return (unsigned)t < HERD_TYPE_COUNT && (t < HERD_TYPE_IQ3_S || t > HERD_TYPE_IQ1_M);
}

herd_status herd_row_from_f32(herd_type t, const float *src, void *dst, size_t n)
{
    herd_mx_format f;
    if (herd_mx_format_of_type(t, &f)) {
        herd_mx_quantize(f, HERD_MX_ROUND_EVEN, src, dst, n);
        return HERD_OK;
    }
    switch (t) {
    case HERD_TYPE_F32: memcpy(dst, src, n * sizeof(float)); return HERD_OK;
    case HERD_TYPE_BF16: herd_f32_to_bf16_row(src, dst, n); return HERD_OK;
    case HERD_TYPE_F16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = herd_f32_to_f16(src[i]);
        return HERD_OK;
    case HERD_TYPE_Q8_0: herd_q8_0_quantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q4_0: herd_q4_0_quantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_INT8: herd_int8_row_quantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q8_K: herd_q8_k_quantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_FP8_E4M3: herd_fp8_row_quantize(src, dst, n); return HERD_OK;
    case HERD_TYPE_Q2_K:
    case HERD_TYPE_Q3_K:
    case HERD_TYPE_Q4_K:
    case HERD_TYPE_Q5_K:
    case HERD_TYPE_Q6_K:
    case HERD_TYPE_IQ4_NL:
    case HERD_TYPE_TQ1_0:
    case HERD_TYPE_TQ2_0:
    case HERD_TYPE_IQ4_XS: herd_kq_quantize(t, src, dst, n); return HERD_OK;
    case HERD_TYPE_IQ3_S:
    case HERD_TYPE_IQ3_XXS:
    case HERD_TYPE_IQ2_XXS:
    case HERD_TYPE_IQ2_XS:
    case HERD_TYPE_IQ2_S:
    case HERD_TYPE_IQ1_S:
    case HERD_TYPE_IQ1_M:
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "herd computes with %s but cannot quantize to it (it reads the blocks "
                         "a GGUF file holds)",
                         herd_type_name(t));
    default: return herd_fail(HERD_ERR_ARG, "unknown tensor type %d", (int)t);
    }
}
