/* The embeddable engine: a model, its KV cache and the generation loop behind one handle. */
#include "herd/herd.h"
#include "herd/model_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct herd_engine {
    herd_model *model;
    herd_context *kv;
    herd_tokenizer *tok;
    bool tok_tried; /* herd_engine_tokenizer ran (tok stays NULL when there is none) */
    char *path;
};

void herd_engine_opts_default(herd_engine_opts *o)
{
    herd_model_opts_default(&o->model);
    o->ctx = 0;
    o->type_k = o->type_v = HERD_TYPE_F32;
}

herd_status herd_engine_load(const char *path, const herd_engine_opts *o, herd_engine **out)
{
    *out = NULL;
    herd_engine_opts def;
    if (!o) {
        herd_engine_opts_default(&def);
        o = &def;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return herd_fail(HERD_ERR_IO, "%s: no such file or directory", path);
    if (!S_ISDIR(sb.st_mode)) {
        int fd;
        size_t size;
        herd_status st = herd_open_input(path, &fd, &size); /* a FIFO, a device: says which */
        if (st)
            return st;
        close(fd);
        if (!herd_is_gguf_file(path))
            return herd_fail(HERD_ERR_UNSUPPORTED,
                             "%s is a file but not a GGUF; pass the folder that holds config.json "
                             "and the *.safetensors shards",
                             path);
    }
    herd_engine *e = herd_calloc(sizeof *e, "engine");
    if (!e)
        return HERD_ERR_NOMEM;
    e->path = strdup(path);
    if (!e->path) {
        herd_free(e);
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    }
    herd_status st = herd_model_load(path, &o->model, &e->model);
    if (!st) {
        int64_t ctx = o->ctx > 0 ? o->ctx
                                 : herd_engine_default_ctx(herd_model_config(e->model),
                                                           herd_model_weight_bytes(e->model));
        herd_context_opts co;
        herd_context_opts_default(&co);
        co.ctx = ctx;
        co.threads = o->model.threads;
        co.type_k = o->type_k;
        co.type_v = o->type_v;
        st = herd_context_create(e->model, &co, &e->kv);
    }
    if (st) {
        herd_engine_free(e);
        return st;
    }
    *out = e;
    return HERD_OK;
}

void herd_engine_free(herd_engine *e)
{
    if (!e)
        return;
    herd_kv_free(e->kv);
    herd_model_free(e->model);
    herd_tokenizer_free(e->tok);
    free(e->path);
    herd_free(e);
}

herd_status herd_engine_generate(herd_engine *e, const int32_t *prompt, int64_t n,
                                 const herd_gen_params *p, herd_token_fn fn, void *user,
                                 herd_gen_result *res)
{
    const herd_tokenizer *tok = NULL;
    if (!e->tok_tried && herd_engine_tokenizer(e, &tok)) /* none: ids only */
        herd_log(HERD_LOG_DEBUG, "%s", herd_last_error());
    return herd_generate(e->kv, 0, e->tok, prompt, n, p, fn, user, res);
}

void herd_engine_reset(herd_engine *e)
{
    herd_kv_reset(e->kv);
}
herd_status herd_engine_tokenizer(herd_engine *e, const herd_tokenizer **out)
{
    *out = NULL;
    if (!e->tok) {
        e->tok_tried = true;
        herd_status st = herd_tokenizer_load_dir(e->path, &e->tok);
        if (st)
            return st;
    }
    *out = e->tok;
    return HERD_OK;
}

herd_model *herd_engine_model(herd_engine *e)
{
    return e->model;
}
herd_context *herd_engine_context(herd_engine *e)
{
    return e->kv;
}

static void human(double bytes, char *buf, size_t n)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.2f %s" : "%.0f %s", bytes, unit[u]);
}

void herd_engine_memory_plan(const herd_engine *e, char *buf, size_t n)
{
    const herd_llama4_config *c = herd_model_config(e->model);
    int64_t ctx = herd_kv_ctx(e->kv);
    herd_type tk, tv;
    herd_context_kv_types(e->kv, &tk, &tv);
    size_t w = herd_model_weight_bytes(e->model), k = herd_kv_bytes_for_types(c, ctx, tk, tv);
    char a[32], b[32], t[32], types[256], kvt[48] = "";
    if (tk != HERD_TYPE_F32 || tv != HERD_TYPE_F32)
        snprintf(kvt, sizeof kvt, " (k %s, v %s)", herd_type_name(tk), herd_type_name(tv));
    herd_model_types(e->model, types, sizeof types);
    human((double)w, a, sizeof a);
    human((double)k, b, sizeof b);
    human((double)w + (double)k, t, sizeof t);
    snprintf(buf, n, "memory plan: weights %s (%s), KV cache %s%s at ctx %lld, total %s", a, types,
             b, kvt, (long long)ctx, t);
}
