/* Meta's FP8 checkpoints: the quantization_config and the row scales (hf_fp8.h). The layout is
 * fbgemm's rowwise FP8 as transformers' fbgemm_fp8 integration stores it: a Linear's weight is
 * F8_E4M3 [out, in] with weight_scale [out, 1]; the fused expert tensors [E, in, out] carry
 * <name>_scale with one value per (expert, out). */
#include "model/hf_fp8.h"

#include "herd/formats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

herd_status hf_fp8_open(const char *dir, hf_fp8 *q)
{
    memset(q, 0, sizeof *q);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *root;
    herd_status st = herd_json_load_file(path, &root);
    if (st)
        return st;
    json_t *qc = json_object_get(root, "quantization_config");
    if (!json_is_object(qc))
        qc = json_object_get(json_object_get(root, "text_config"), "quantization_config");
    if (json_is_object(qc)) {
        const char *method = NULL;
        double ub = 0;
        st = herd_json_get_string(qc, "quant_method", path, &method);
        if (!st && (!method || strcmp(method, "fbgemm_fp8") != 0))
            st = herd_fail(HERD_ERR_UNSUPPORTED,
                           "%s: quantization_config.quant_method '%s' (herd reads fbgemm_fp8)",
                           path, method ? method : "(none)");
        if (!st)
            st = herd_json_get_real(qc, "activation_scale_ub", 0, path, &ub);
        if (!st && !(ub >= 0 && ub < 1e30))
            st = herd_fail(HERD_ERR_FORMAT, "%s: activation_scale_ub %g is not a bound", path, ub);
        json_t *keep = json_object_get(qc, "modules_to_not_convert");
        if (!st && keep && !json_is_null(keep) && !json_is_array(keep))
            st = herd_fail(HERD_ERR_FORMAT, "%s: modules_to_not_convert is not a list", path);
        if (!st) {
            q->on = true;
            q->ub = (float)ub;
            q->keep_bf16 = json_is_array(keep) ? json_incref(keep) : NULL;
        }
    }
    json_decref(root);
    return st;
}

void hf_fp8_close(hf_fp8 *q)
{
    json_decref(q->keep_bf16);
    memset(q, 0, sizeof *q);
}

/* transformers' rule: a listed name matches a module it equals, or that it names a part of
 * ("lm_head" matches "lm_head", "layers.0.self_attn" matches "...layers.0.self_attn.q_proj"). */
static bool kept_bf16(const hf_fp8 *q, const char *tensor)
{
    char module[512];
    snprintf(module, sizeof module, "%s", tensor);
    char *dot = strrchr(module, '.');
    if (dot && strcmp(dot, ".weight") == 0)
        *dot = 0;
    size_t i;
    json_t *v;
    json_array_foreach(q->keep_bf16, i, v)
    {
        const char *k = json_string_value(v);
        if (!k || !*k)
            continue;
        const char *at = strstr(module, k);
        size_t n = strlen(k);
        for (; at; at = strstr(at + 1, k))
            if ((at == module || at[-1] == '.') && (at[n] == 0 || at[n] == '.'))
                return true;
    }
    return false;
}

static void shape_str(const herd_st_tensor *t, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

herd_status hf_fp8_scale(const herd_st_dir *d, const hf_fp8 *q, const herd_st_tensor *t,
                         const herd_st_tensor **scale)
{
    *scale = NULL;
    if (!q->on)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: tensor '%s' is F8_E4M3 but config.json has no quantization_config "
                         "with quant_method fbgemm_fp8",
                         t->file, t->name);
    if (kept_bf16(q, t->name))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s' is F8_E4M3 but its module is in modules_to_not_convert",
                         t->file, t->name);
    char name[600], sh[160];
    snprintf(name, sizeof name, "%s_scale", t->name);
    const herd_st_tensor *s = herd_st_dir_find(d, name);
    if (!s)
        return herd_fail(HERD_ERR_FORMAT, "%s: FP8 tensor '%s' has no row scale '%s'", t->file,
                         t->name, name);
    if (!s->has_type)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, expected F32 or BF16",
                         s->file, name, s->dtype);
    bool ok;
    if (t->ndim == 2) {
        int64_t out = t->shape[0];
        ok = (s->ndim == 2 && s->shape[0] == out && s->shape[1] == 1) ||
             (s->ndim == 1 && s->shape[0] == out);
    } else if (t->ndim == 3) {
        int64_t E = t->shape[0], out = t->shape[2];
        ok = s->ndim == 3 && s->shape[0] == E &&
             ((s->shape[1] == 1 && s->shape[2] == out) || (s->shape[1] == out && s->shape[2] == 1));
    } else {
        return herd_fail(HERD_ERR_FORMAT, "%s: FP8 tensor '%s' has %d dims (2 or 3 expected)",
                         t->file, t->name, t->ndim);
    }
    if (!ok) {
        char w[160];
        shape_str(s, sh, sizeof sh);
        shape_str(t, w, sizeof w);
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s' has shape %s, expected one scale per output row of %s %s",
                         s->file, name, sh, t->name, w);
    }
    for (int64_t i = 0; i < s->nelems; i++) {
        float v = hf_fp8_scale_at(s, i);
        if (!isfinite(v))
            return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' holds %g at %lld", s->file, name,
                             (double)v, (long long)i);
    }
    *scale = s;
    return HERD_OK;
}

herd_status hf_fp8_check_all(const herd_st_dir *d, const hf_fp8 *q)
{
    for (size_t i = 0; i < herd_st_dir_count(d); i++) {
        const herd_st_tensor *t = herd_st_dir_at(d, i), *s;
        if (hf_is_fp8(t)) {
            herd_status st = hf_fp8_scale(d, q, t, &s);
            if (st)
                return st;
        }
    }
    return HERD_OK;
}

float hf_fp8_scale_at(const herd_st_tensor *s, int64_t i)
{
    float v = 0;
    size_t es = herd_type_row_bytes(s->type, 1);
    herd_row_to_f32(s->type, s->data + (size_t)i * es, &v, 1);
    return v;
}

float hf_e4m3(uint8_t code)
{
    return herd_mx_decode(HERD_MX_FP8_E4M3, code);
}
