/* The KV cache. Chunked (RoPE) layers keep a ring of min(chunk, ctx) positions: a query at p
 * only reads keys from floor(p/C)·C .. p, all among the last C positions, so the ring is exact.
 * Global (NoPE) layers keep every position. Buffers grow by doubling up to their maximum, so a
 * large --ctx costs memory only as it fills. */
#include "model_internal.h"

#include <string.h>

herd_status herd_kv_create(const herd_model *m, int64_t ctx, herd_kv_cache **out)
{
    *out = NULL;
    const herd_llama4_config *c = &m->cfg;
    if (ctx < 1)
        return herd_fail(HERD_ERR_ARG, "context size must be at least 1 (got %lld)",
                         (long long)ctx);
    herd_kv_cache *kv = herd_calloc(sizeof *kv, "KV cache");
    if (!kv)
        return HERD_ERR_NOMEM;
    kv->layers = herd_calloc((size_t)c->n_layers * sizeof *kv->layers, "KV cache");
    if (!kv->layers) {
        herd_free(kv);
        return HERD_ERR_NOMEM;
    }
    kv->m = m;
    kv->ctx = ctx;
    kv->row = (size_t)(c->n_kv_heads * c->head_dim);
    for (int64_t l = 0; l < c->n_layers; l++) {
        bool chunked = c->layer_rope[l] && c->chunk > 0;
        kv->layers[l].max = chunked && c->chunk < ctx ? c->chunk : ctx;
        kv->layers[l].ring = chunked ? kv->layers[l].max : INT64_MAX;
    }
    *out = kv;
    return HERD_OK;
}

void herd_kv_free(herd_kv_cache *kv)
{
    if (!kv)
        return;
    for (int64_t l = 0; l < kv->m->cfg.n_layers; l++) {
        herd_free(kv->layers[l].k);
        herd_free(kv->layers[l].v);
    }
    herd_free(kv->layers);
    herd_free(kv);
}

void herd_kv_reset(herd_kv_cache *kv)
{
    kv->pos = 0;
}
int64_t herd_kv_pos(const herd_kv_cache *kv)
{
    return kv->pos;
}
int64_t herd_kv_ctx(const herd_kv_cache *kv)
{
    return kv->ctx;
}

size_t herd_kv_bytes(const herd_kv_cache *kv)
{
    size_t n = 0;
    for (int64_t l = 0; l < kv->m->cfg.n_layers; l++)
        n += (size_t)kv->layers[l].cap * kv->row * 2 * sizeof(float);
    return n;
}

static herd_status grow(kv_layer *L, size_t row, int64_t need)
{
    int64_t cap = L->cap ? L->cap : 16;
    while (cap < need)
        cap = cap > INT64_MAX / 2 ? need : cap * 2;
    if (cap > L->max)
        cap = L->max;
    size_t bytes;
    if (!herd_mul_size((size_t)cap, row * sizeof(float), &bytes))
        return herd_fail(HERD_ERR_RANGE, "KV cache too large");
    float *k = herd_alloc(bytes, "KV cache"), *v = herd_alloc(bytes, "KV cache");
    if (!k || !v) {
        herd_free(k);
        herd_free(v);
        return HERD_ERR_NOMEM;
    }
    /* positions below the old cap sit at their own index (cap < ring until the ring is full) */
    if (L->cap) {
        memcpy(k, L->k, (size_t)L->cap * row * sizeof(float));
        memcpy(v, L->v, (size_t)L->cap * row * sizeof(float));
    }
    herd_free(L->k);
    herd_free(L->v);
    L->k = k;
    L->v = v;
    L->cap = cap;
    return HERD_OK;
}

herd_status herd_kv_reserve(herd_kv_cache *kv, int64_t end)
{
    for (int64_t l = 0; l < kv->m->cfg.n_layers; l++) {
        kv_layer *L = &kv->layers[l];
        int64_t need = end < L->max ? end : L->max;
        if (need > L->cap) {
            herd_status st = grow(L, kv->row, need);
            if (st)
                return st;
        }
    }
    return HERD_OK;
}
