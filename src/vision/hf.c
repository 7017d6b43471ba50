/* The vision tower and projector of an HF Llama4ForConditionalGeneration checkpoint:
 * `vision_model.*` and `multi_modal_projector.*` by their HF names and shapes. */
#include "herd/io_safetensors.h"
#include "herd/vision.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct hf_ctx {
    herd_st_dir *dir;
    const char *where;
    void *copies[8]; /* aligned copies of tensors stored at odd offsets (a ring: the model packs
                        each tensor before it asks for more than three others) */
    int next;
} hf_ctx;

static herd_status hf_get(void *ctx, const char *name, int64_t rows, int64_t cols,
                          herd_vision_tensor *out)
{
    hf_ctx *h = ctx;
    char full[256];
    bool proj = strncmp(name, "multi_modal_projector.", 22) == 0;
    snprintf(full, sizeof full, "%s%s", proj ? "" : "vision_model.", name);
    const herd_st_tensor *t = herd_st_dir_find(h->dir, full);
    if (!t)
        return herd_fail(HERD_ERR_FORMAT, "%s: missing tensor '%s'", h->where, full);
    bool ok = cols == 1 ? t->ndim == 1 && t->shape[0] == rows
                        : t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok) {
        char got[96] = "";
        for (int i = 0, o = 0; i < t->ndim && o < (int)sizeof got; i++)
            o += snprintf(got + o, sizeof got - (size_t)o, i ? ", %lld" : "%lld",
                          (long long)t->shape[i]);
        if (cols == 1)
            return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]",
                             t->file, full, got, (long long)rows);
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]",
                         t->file, full, got, (long long)rows, (long long)cols);
    }
    if (!t->has_type)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has dtype %s, expected BF16, F16 or F32", t->file, full,
                         t->dtype);
    out->type = t->type;
    out->data = t->data;
    /* other writers do not pad: a tensor may start at any byte */
    if ((uintptr_t)t->data % herd_type_row_bytes(t->type, 1)) {
        int k = h->next++ % 8;
        herd_free(h->copies[k]);
        if (!(h->copies[k] = herd_alloc(t->nbytes, "aligned tensor copy")))
            return HERD_ERR_NOMEM;
        memcpy(h->copies[k], t->data, t->nbytes);
        out->data = h->copies[k];
    }
    return HERD_OK;
}

herd_status herd_vision_load_hf(const char *dir, const herd_vision_opts *o, herd_vision_model **out)
{
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return herd_fail(HERD_ERR_ARG, "%s: path too long", dir);
    herd_vision_config c;
    herd_status st = herd_vision_config_load(path, &c);
    if (st)
        return st;
    hf_ctx h = {.where = dir};
    if ((st = herd_st_dir_open(dir, &h.dir)))
        return st;
    st = herd_vision_model_create(&c, hf_get, &h, o, out);
    herd_st_dir_close(h.dir);
    for (int i = 0; i < 8; i++)
        herd_free(h.copies[i]);
    return st;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool herd_vision_sibling_mmproj(const char *model, char *out, size_t n)
{
    const char *slash = strrchr(model, '/');
    size_t dir = slash ? (size_t)(slash - model) + 1 : 0;
    if (snprintf(out, n, "%.*smmproj-%s", (int)dir, model, model + dir) >= (int)n)
        return false;
    struct stat sb;
    return stat(out, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A GGUF without the vision tower takes it from mmproj-NAME beside it (herd quantize's default
 * layout, as llama.cpp keeps it). */
static const char *vision_file(const char *model, const char *mmproj, char *buf, size_t n)
{
    if (mmproj)
        return mmproj;
    herd_vision_config c;
    if (herd_vision_gguf_config(model, &c) != HERD_OK && herd_vision_sibling_mmproj(model, buf, n))
        return buf;
    return model;
}

herd_status herd_vision_config_for(const char *model, const char *mmproj, herd_vision_config *out)
{
    char sib[4200];
    if (mmproj || !is_dir(model))
        return herd_vision_gguf_config(vision_file(model, mmproj, sib, sizeof sib), out);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", model) >= (int)sizeof path)
        return herd_fail(HERD_ERR_ARG, "%s: path too long", model);
    return herd_vision_config_load(path, out);
}

herd_status herd_vision_load(const char *model, const char *mmproj, const herd_vision_opts *o,
                             herd_vision_model **out)
{
    char sib[4200];
    if (mmproj || !is_dir(model))
        return herd_vision_load_gguf(vision_file(model, mmproj, sib, sizeof sib), o, out);
    return herd_vision_load_hf(model, o, out);
}
