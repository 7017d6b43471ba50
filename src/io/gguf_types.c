/* GGUF type tables: metadata value types, and tensor type ids (ggml's and herd's) with their
 * block geometry, so a reader can size and validate every tensor of a foreign file even when
 * herd cannot compute in its type. */
#include "io/gguf_internal.h"

static const char *const vtype_names[HERD_GGUF_VTYPE_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};
static const unsigned char vtype_sizes[HERD_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4,
                                                                 1, 0, 0, 8, 8, 8};

const char *herd_gguf_vtype_name(herd_gguf_vtype t)
{
    return (unsigned)t < HERD_GGUF_VTYPE_COUNT ? vtype_names[t] : "?";
}

size_t herd_gguf_vtype_size(herd_gguf_vtype t)
{
    return (unsigned)t < HERD_GGUF_VTYPE_COUNT ? vtype_sizes[t] : 0;
}

typedef struct ggml_type_row {
    uint32_t id;
    const char *name;
    int block_elems, block_bytes;
    herd_type herd; /* HERD_TYPE_COUNT: herd reads the file but cannot compute in it */
} ggml_type_row;

/* ggml's types (ggml.h, ggml-common.h), and herd's own ids from 1000 up. */
static const ggml_type_row id_table[] = {
    {0, "f32", 1, 4, HERD_TYPE_F32},
    {1, "f16", 1, 2, HERD_TYPE_F16},
    {2, "q4_0", 32, 18, HERD_TYPE_Q4_0},
    {3, "q4_1", 32, 20, HERD_TYPE_COUNT},
    {6, "q5_0", 32, 22, HERD_TYPE_COUNT},
    {7, "q5_1", 32, 24, HERD_TYPE_COUNT},
    {8, "q8_0", 32, 34, HERD_TYPE_Q8_0},
    {9, "q8_1", 32, 36, HERD_TYPE_COUNT},
    {10, "q2_K", 256, 84, HERD_TYPE_Q2_K},
    {11, "q3_K", 256, 110, HERD_TYPE_Q3_K},
    {12, "q4_K", 256, 144, HERD_TYPE_Q4_K},
    {13, "q5_K", 256, 176, HERD_TYPE_Q5_K},
    {14, "q6_K", 256, 210, HERD_TYPE_Q6_K},
    {15, "q8_K", 256, 292, HERD_TYPE_Q8_K},
    {16, "iq2_xxs", 256, 66, HERD_TYPE_IQ2_XXS},
    {17, "iq2_xs", 256, 74, HERD_TYPE_IQ2_XS},
    {18, "iq3_xxs", 256, 98, HERD_TYPE_IQ3_XXS},
    {19, "iq1_s", 256, 50, HERD_TYPE_IQ1_S},
    {20, "iq4_nl", 32, 18, HERD_TYPE_IQ4_NL},
    {21, "iq3_s", 256, 110, HERD_TYPE_IQ3_S},
    {22, "iq2_s", 256, 82, HERD_TYPE_IQ2_S},
    {23, "iq4_xs", 256, 136, HERD_TYPE_IQ4_XS},
    {24, "i8", 1, 1, HERD_TYPE_COUNT},
    {25, "i16", 1, 2, HERD_TYPE_COUNT},
    {26, "i32", 1, 4, HERD_TYPE_COUNT},
    {27, "i64", 1, 8, HERD_TYPE_COUNT},
    {28, "f64", 1, 8, HERD_TYPE_COUNT},
    {29, "iq1_m", 256, 56, HERD_TYPE_IQ1_M},
    {30, "bf16", 1, 2, HERD_TYPE_BF16},
    {34, "tq1_0", 256, 54, HERD_TYPE_TQ1_0},
    {35, "tq2_0", 256, 66, HERD_TYPE_TQ2_0},
    {39, "mxfp4", 32, 17, HERD_TYPE_MXFP4},
    {HERD_GGUF_ID_INT8, NULL, 0, 0, HERD_TYPE_INT8},
    {HERD_GGUF_ID_MXFP8_E4M3, NULL, 0, 0, HERD_TYPE_MXFP8_E4M3},
    {HERD_GGUF_ID_MXFP8_E5M2, NULL, 0, 0, HERD_TYPE_MXFP8_E5M2},
    {HERD_GGUF_ID_MXFP6_E3M2, NULL, 0, 0, HERD_TYPE_MXFP6_E3M2},
    {HERD_GGUF_ID_MXFP6_E2M3, NULL, 0, 0, HERD_TYPE_MXFP6_E2M3},
    {HERD_GGUF_ID_MXINT8, NULL, 0, 0, HERD_TYPE_MXINT8},
    {HERD_GGUF_ID_FP8_E4M3, NULL, 0, 0, HERD_TYPE_FP8_E4M3},
};
enum { N_IDS = sizeof id_table / sizeof id_table[0] };

static const ggml_type_row *find_id(uint32_t id)
{
    for (int i = 0; i < N_IDS; i++)
        if (id_table[i].id == id)
            return &id_table[i];
    return NULL;
}

uint32_t herd_gguf_type_id(herd_type t)
{
    for (int i = 0; i < N_IDS; i++)
        if (id_table[i].herd == t)
            return id_table[i].id;
    return UINT32_MAX;
}

const char *herd_gguf_type_id_name(uint32_t id)
{
    const ggml_type_row *r = find_id(id);
    if (!r)
        return NULL;
    return r->name ? r->name : herd_type_name(r->herd);
}

bool gguf_type_geometry(uint32_t id, herd_type *herd, int *block_elems, int *block_bytes)
{
    const ggml_type_row *r = find_id(id);
    if (!r)
        return false;
    *herd = r->herd;
    if (r->name) {
        *block_elems = r->block_elems;
        *block_bytes = r->block_bytes;
    } else { /* herd's own types: the format layer's table is the truth */
        const herd_type_info *ti = herd_type_get(r->herd);
        *block_elems = ti->block_elems;
        *block_bytes = ti->block_bytes;
    }
    return true;
}

bool gguf_row_bytes(uint32_t id, uint64_t ne0, uint64_t *out)
{
    herd_type herd;
    int be, bb;
    if (!gguf_type_geometry(id, &herd, &be, &bb) || ne0 % (uint64_t)be != 0)
        return false;
    uint64_t r;
    if (__builtin_mul_overflow(ne0 / (uint64_t)be, (uint64_t)bb, &r))
        return false;
    /* herd's own types: the format layer decides (a row may carry its own scale) */
    if (id >= HERD_GGUF_ID_INT8 && herd != HERD_TYPE_COUNT) {
        if (ne0 > ((uint64_t)1 << 40))
            return false;
        r = herd_type_row_bytes(herd, (size_t)ne0);
    }
    *out = r;
    return true;
}
