/* Meta's FP8 checkpoints (config.json quantization_config.quant_method "fbgemm_fp8"): which
 * tensors are FP8, where their row scales are, and the activation scale bound. Shared by the
 * model's HF weight source and `herd quantize`. */
#ifndef HERD_MODEL_HF_FP8_H
#define HERD_MODEL_HF_FP8_H

#include "herd/io_json.h"
#include "herd/io_safetensors.h"

#include <string.h>

typedef struct hf_fp8 {
    bool on;           /* quant_method fbgemm_fp8 */
    float ub;          /* activation_scale_ub (0: none) */
    json_t *keep_bf16; /* modules_to_not_convert (array of strings) or NULL */
} hf_fp8;

/* Reads quantization_config of DIR/config.json (top level or text_config); none: q->on false.
 * Another quant_method fails (herd reads fbgemm_fp8 only). */
herd_status hf_fp8_open(const char *dir, hf_fp8 *q);
void hf_fp8_close(hf_fp8 *q);

static inline bool hf_is_fp8(const herd_st_tensor *t)
{
    return strcmp(t->dtype, "F8_E4M3") == 0;
}

/* The row scale of FP8 tensor t (name + "_scale"), checked: F32/BF16/F16, one value per output
 * row: [out, 1] or [out] for a 2-D [out, in] weight; [E, 1, out] or [E, out, 1] for the fused
 * expert tensors [E, in, out]. Also fails if the checkpoint is not fbgemm_fp8 or lists t's
 * module in modules_to_not_convert. */
herd_status hf_fp8_scale(const herd_st_dir *d, const hf_fp8 *q, const herd_st_tensor *t,
                         const herd_st_tensor **scale);
/* Every FP8 tensor of the directory through hf_fp8_scale (quantize checks before planning). */
herd_status hf_fp8_check_all(const herd_st_dir *d, const hf_fp8 *q);
/* Value i of a scale tensor, as f32. */
float hf_fp8_scale_at(const herd_st_tensor *s, int64_t i);
/* E4M3 code -> value (OCP, float8_e4m3fn). */
float hf_e4m3(uint8_t code);

#endif
