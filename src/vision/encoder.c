/* The Llama 4 vision tower, pixel shuffle, adapter and projector (spec §11.5–11.6) on the
 * kernel layer. Tiles run in batches: every projection is one packed GEMM over all rows of the
 * batch (M = tiles·(P+1)), with bias and residual fused into the epilogue; attention is
 * bidirectional within a tile, one (tile, head) item per claim: Kᵀ and V are packed as
 * small f32 weights so Q·Kᵀ and P·V run on the same GEMM kernels. */
#include "vision/vision_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct vlayer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    herd_packed *qkv, *o, *fc1, *fc2;
    float *bqkv, *bo, *b1, *b2;
} vlayer;

struct herd_vision_model {
    herd_vision_config cfg;
    herd_vision_opts opts;
    herd_pool *pool;
    bool own_pool;
    herd_packed *patch, *ad_fc1, *ad_fc2, *proj;
    float *class_emb, *pos, *pre_w, *pre_b, *post_w, *post_b;
    vlayer *layers;
    float *rope_cos, *rope_sin;               /* [P+1][d/2]: the class token's row is angle 0 */
    float *h, *a, *qkv, *att, *mid, *z1, *z2; /* activations of one batch */
    vision_act act;                           /* GELU and softmax for herd_isa() at load */
    size_t bytes;
};

void herd_vision_opts_default(herd_vision_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = HERD_TYPE_COUNT;
    o->aprep = HERD_APREP_AUTO;
}

const herd_vision_config *herd_vision_model_config(const herd_vision_model *m)
{
    return &m->cfg;
}

size_t herd_vision_model_bytes(const herd_vision_model *m)
{
    return m->bytes;
}

/* ---- loading ------------------------------------------------------------------------------- */
typedef struct loader {
    herd_vision_model *m;
    herd_vision_get_fn get;
    void *ctx;
} loader;

static herd_status load_vec(loader *L, const char *name, int64_t n, float **out)
{
    herd_vision_tensor t;
    herd_status st = L->get(L->ctx, name, n, 1, &t);
    if (st)
        return st;
    if (!(*out = herd_alloc((size_t)n * sizeof(float), name)))
        return HERD_ERR_NOMEM;
    L->m->bytes += (size_t)n * sizeof(float);
    return herd_row_to_f32(t.type, t.data, *out, (size_t)n);
}

static herd_type pack_type(const herd_vision_model *m, herd_type src)
{
    return m->opts.dtype != HERD_TYPE_COUNT ? m->opts.dtype : src;
}

static herd_status load_mat(loader *L, const char *name, int64_t rows, int64_t cols,
                            herd_packed **out)
{
    herd_vision_tensor t;
    herd_status st = L->get(L->ctx, name, rows, cols, &t);
    if (st)
        return st;
    st = herd_pack(pack_type(L->m, t.type), rows, cols, (herd_wsrc){t.type, t.data, 0}, out);
    if (st)
        return herd_fail(st, "vision weight %s: %s", name, herd_last_error());
    L->m->bytes += herd_packed_bytes(*out);
    return HERD_OK;
}

/* q, k and v of a layer as one [3·Dv, Dv] matrix (one GEMM), with their biases. */
static herd_status load_qkv(loader *L, int64_t l, vlayer *w)
{
    int64_t D = L->m->cfg.hidden;
    static const char *const names[3] = {"q_proj", "k_proj", "v_proj"};
    herd_vision_tensor t[3];
    char name[128];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "model.layers.%lld.self_attn.%s.weight", (long long)l,
                 names[i]);
        herd_status st = L->get(L->ctx, name, D, D, &t[i]);
        if (st)
            return st;
        if (t[i].type != t[0].type)
            return herd_fail(HERD_ERR_UNSUPPORTED, "vision layer %lld: q, k and v differ in type",
                             (long long)l);
    }
    size_t rb = herd_type_row_bytes(t[0].type, (size_t)D), part = rb * (size_t)D;
    uint8_t *cat = herd_alloc(3 * part, "vision qkv");
    if (!cat)
        return HERD_ERR_NOMEM;
    for (int i = 0; i < 3; i++)
        memcpy(cat + (size_t)i * part, t[i].data, part);
    herd_status st =
        herd_pack(pack_type(L->m, t[0].type), 3 * D, D, (herd_wsrc){t[0].type, cat, 0}, &w->qkv);
    herd_free(cat);
    if (st)
        return herd_fail(st, "vision layer %lld qkv: %s", (long long)l, herd_last_error());
    L->m->bytes += herd_packed_bytes(w->qkv);
    if (!(w->bqkv = herd_alloc((size_t)(3 * D) * sizeof(float), "vision qkv bias")))
        return HERD_ERR_NOMEM;
    for (int i = 0; i < 3; i++) {
        float *b;
        snprintf(name, sizeof name, "model.layers.%lld.self_attn.%s.bias", (long long)l, names[i]);
        if ((st = load_vec(L, name, D, &b)))
            return st;
        memcpy(w->bqkv + i * D, b, (size_t)D * sizeof(float));
        herd_free(b);
    }
    return HERD_OK;
}

static herd_status load_layer(loader *L, int64_t l, vlayer *w)
{
    const herd_vision_config *c = &L->m->cfg;
    char n[128];
#define NAME(fmt) (snprintf(n, sizeof n, "model.layers.%lld." fmt, (long long)l), n)
    herd_status st;
    if ((st = load_vec(L, NAME("input_layernorm.weight"), c->hidden, &w->ln1_w)) ||
        (st = load_vec(L, NAME("input_layernorm.bias"), c->hidden, &w->ln1_b)) ||
        (st = load_qkv(L, l, w)) ||
        (st = load_mat(L, NAME("self_attn.o_proj.weight"), c->hidden, c->hidden, &w->o)) ||
        (st = load_vec(L, NAME("self_attn.o_proj.bias"), c->hidden, &w->bo)) ||
        (st = load_vec(L, NAME("post_attention_layernorm.weight"), c->hidden, &w->ln2_w)) ||
        (st = load_vec(L, NAME("post_attention_layernorm.bias"), c->hidden, &w->ln2_b)) ||
        (st = load_mat(L, NAME("mlp.fc1.weight"), c->inter, c->hidden, &w->fc1)) ||
        (st = load_vec(L, NAME("mlp.fc1.bias"), c->inter, &w->b1)) ||
        (st = load_mat(L, NAME("mlp.fc2.weight"), c->hidden, c->inter, &w->fc2)) ||
        (st = load_vec(L, NAME("mlp.fc2.bias"), c->hidden, &w->b2)))
        return st;
#undef NAME
    return HERD_OK;
}

static herd_status make_rope(herd_vision_model *m)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, half = c->head_dim / 2, F = c->head_dim / 4;
    size_t n = (size_t)(N * half);
    m->rope_cos = herd_alloc(n * sizeof(float), "vision rope");
    m->rope_sin = herd_alloc(n * sizeof(float), "vision rope");
    if (!m->rope_cos || !m->rope_sin)
        return HERD_ERR_NOMEM;
    for (int64_t t = 0; t < N; t++)
        for (int64_t j = 0; j < half; j++) {
            double angle = 0; /* the class token (t = P) is not rotated */
            if (t < c->n_patches) {
                int64_t x = t % c->grid, y = t / c->grid, jj = j < F ? j : j - F;
                double f = pow(c->rope_theta, -4.0 * (double)jj / (double)c->head_dim);
                angle = (double)((j < F ? x : y) + 1) * f;
            }
            m->rope_cos[t * half + j] = (float)cos(angle);
            m->rope_sin[t * half + j] = (float)sin(angle);
        }
    return HERD_OK;
}

static herd_status alloc_buffers(herd_vision_model *m)
{
    const herd_vision_config *c = &m->cfg;
    size_t B = (size_t)m->opts.max_batch, rows = B * (size_t)(c->n_patches + 1);
    size_t tok = B * (size_t)c->tokens_per_tile;
    size_t patch_in = (size_t)(3 * c->patch_size * c->patch_size) * (size_t)c->n_patches;
    size_t mid = rows * (size_t)c->inter;
    mid = mid > patch_in ? mid : patch_in;
    struct {
        float **p;
        size_t n;
    } bufs[] = {{&m->h, rows * (size_t)c->hidden},
                {&m->a, rows * (size_t)c->hidden},
                {&m->qkv, rows * 3 * (size_t)c->hidden},
                {&m->att, rows * (size_t)c->hidden},
                {&m->mid, mid},
                {&m->z1, tok * (size_t)c->adapter_dim},
                {&m->z2, tok * (size_t)c->adapter_dim}};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!(*bufs[i].p = herd_alloc(bufs[i].n * sizeof(float), "vision activations")))
            return HERD_ERR_NOMEM;
    return HERD_OK;
}

herd_status herd_vision_model_create(const herd_vision_config *c, herd_vision_get_fn get, void *ctx,
                                     const herd_vision_opts *o, herd_vision_model **out)
{
    *out = NULL;
    herd_status st = herd_vision_config_check(c, "vision model");
    if (st)
        return st;
    herd_vision_model *m = herd_calloc(sizeof *m, "vision model");
    if (!m)
        return HERD_ERR_NOMEM;
    m->cfg = *c;
    m->opts = *o;
    m->act = vision_act_for(herd_isa());
    if (m->opts.max_batch < 1)
        m->opts.max_batch = 4;
    m->pool = o->pool;
    if (!m->pool) {
        int n = o->threads > 0 ? o->threads : herd_cpu_count();
        if ((st = herd_pool_create(n, &m->pool))) {
            herd_vision_model_free(m);
            return st;
        }
        m->own_pool = true;
    }
    loader L = {m, get, ctx};
    int64_t D = c->hidden, pin = 3 * c->patch_size * c->patch_size;
    if (!(m->layers = herd_calloc(sizeof(vlayer) * (size_t)c->n_layers, "vision layers")))
        st = HERD_ERR_NOMEM;
    if (!st)
        st = load_mat(&L, "patch_embedding.linear.weight", D, pin, &m->patch);
    if (!st)
        st = load_vec(&L, "class_embedding", D, &m->class_emb);
    if (!st) { /* [P+1, Dv] asked for as one vector */
        herd_vision_tensor t;
        int64_t n = (c->n_patches + 1) * D;
        if (!(st = get(ctx, "positional_embedding_vlm", c->n_patches + 1, D, &t))) {
            if (!(m->pos = herd_alloc((size_t)n * sizeof(float), "vision positions")))
                st = HERD_ERR_NOMEM;
            else
                st = herd_row_to_f32(t.type, t.data, m->pos, (size_t)n);
            m->bytes += (size_t)n * sizeof(float);
        }
    }
    if (!st)
        st = load_vec(&L, "layernorm_pre.weight", D, &m->pre_w);
    if (!st)
        st = load_vec(&L, "layernorm_pre.bias", D, &m->pre_b);
    if (!st)
        st = load_vec(&L, "layernorm_post.weight", D, &m->post_w);
    if (!st)
        st = load_vec(&L, "layernorm_post.bias", D, &m->post_b);
    for (int64_t l = 0; l < c->n_layers && !st; l++)
        st = load_layer(&L, l, &m->layers[l]);
    if (!st)
        st = load_mat(&L, "vision_adapter.mlp.fc1.weight", c->adapter_dim, c->inter, &m->ad_fc1);
    if (!st)
        st = load_mat(&L, "vision_adapter.mlp.fc2.weight", c->adapter_dim, c->adapter_dim,
                      &m->ad_fc2);
    if (!st)
        st = load_mat(&L, "multi_modal_projector.linear_1.weight", c->text_hidden, c->adapter_dim,
                      &m->proj);
    if (!st)
        st = make_rope(m);
    if (!st)
        st = alloc_buffers(m);
    if (st) {
        herd_vision_model_free(m);
        return st;
    }
    *out = m;
    return HERD_OK;
}

void herd_vision_model_free(herd_vision_model *m)
{
    if (!m)
        return;
    for (int64_t l = 0; m->layers && l < m->cfg.n_layers; l++) {
        vlayer *w = &m->layers[l];
        herd_packed_free(w->qkv);
        herd_packed_free(w->o);
        herd_packed_free(w->fc1);
        herd_packed_free(w->fc2);
        float *v[] = {w->ln1_w, w->ln1_b, w->ln2_w, w->ln2_b, w->bqkv, w->bo, w->b1, w->b2};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            herd_free(v[i]);
    }
    herd_free(m->layers);
    herd_packed_free(m->patch);
    herd_packed_free(m->ad_fc1);
    herd_packed_free(m->ad_fc2);
    herd_packed_free(m->proj);
    float *v[] = {m->class_emb, m->pos,      m->pre_w,    m->pre_b, m->post_w,
                  m->post_b,    m->rope_cos, m->rope_sin, m->h,     m->a,
                  m->qkv,       m->att,      m->mid,      m->z1,    m->z2};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        herd_free(v[i]);
    if (m->own_pool)
        herd_pool_destroy(m->pool);
    herd_free(m);
}

/* ---- forward ------------------------------------------------------------------------------- */
static herd_status gemm(herd_vision_model *m, const herd_packed *w, const float *a, size_t lda,
                        int64_t rows, float *c, size_t ldc, const float *bias, bool residual)
{
    herd_gemm_args g = {.M = rows,
                        .A = a,
                        .lda = lda,
                        .C = c,
                        .ldc = ldc,
                        .bias = bias,
                        .residual = residual ? c : NULL,
                        .ldr = ldc,
                        .aprep = m->opts.aprep};
    return herd_gemm(w, &g, m->pool);
}

/* LayerNorm over rows of n (biased variance, eps 1e-5 whatever the config says). */
static void layernorm(const float *x, const float *w, const float *b, float *y, int64_t rows,
                      int64_t n)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++)
            mean += xr[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++)
            var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        float inv = (float)(1.0 / sqrt(var / (double)n + 1e-5)), mu = (float)mean;
        for (int64_t i = 0; i < n; i++)
            yr[i] = (xr[i] - mu) * inv * w[i] + b[i];
    }
}

typedef struct gelu_job {
    float *x;
    size_t n;
    void (*fn)(float *x, size_t n);
} gelu_job;

static void gelu_part(void *ctx, int tid, int nthreads)
{
    gelu_job *j = ctx;
    size_t b, e;
    herd_split_range(j->n, 64, tid, nthreads, &b, &e);
    if (e > b)
        j->fn(j->x + b, e - b);
}

static void gelu(herd_vision_model *m, float *x, size_t n)
{
    gelu_job j = {x, n, m->act.gelu};
    herd_pool_run(m->pool, gelu_part, &j);
}

/* Adjacent pairs of every head of q and k, for the tokens of each tile. */
static void rope2d(const herd_vision_model *m, float *qkv, int64_t tiles)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, D = c->hidden, half = c->head_dim / 2;
    for (int64_t r = 0; r < tiles * N; r++) {
        int64_t t = r % N;
        if (t == c->n_patches)
            continue;
        const float *cs = m->rope_cos + t * half, *sn = m->rope_sin + t * half;
        float *row = qkv + r * 3 * D;
        for (int64_t part = 0; part < 2; part++) /* q, then k */
            for (int64_t h = 0; h < c->n_heads; h++) {
                float *v = row + part * D + h * c->head_dim;
                for (int64_t j = 0; j < half; j++) {
                    float x0 = v[2 * j], x1 = v[2 * j + 1];
                    v[2 * j] = x0 * cs[j] - x1 * sn[j];
                    v[2 * j + 1] = x0 * sn[j] + x1 * cs[j];
                }
            }
    }
}

typedef struct attn_job {
    herd_vision_model *m;
    int64_t items;
    atomic_llong next;
    atomic_int status;
} attn_job;

/* One (tile, head): S = q·kᵀ, row softmax, out = S·v. */
static herd_status attn_item(herd_vision_model *m, int64_t tile, int64_t head, float *s, float *vt)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, D = c->hidden, d = c->head_dim;
    size_t ld = (size_t)(3 * D);
    const float *q = m->qkv + (size_t)(tile * N) * ld + (size_t)(head * d);
    const float *k = q + D, *v = q + 2 * D;
    herd_packed *kp = NULL, *vp = NULL;
    herd_status st =
        herd_pack(HERD_TYPE_F32, N, d, (herd_wsrc){HERD_TYPE_F32, k, ld * sizeof(float)}, &kp);
    herd_gemm_args g = {
        .M = N, .A = q, .lda = ld, .C = s, .ldc = (size_t)N, .aprep = HERD_APREP_EXACT};
    if (!st)
        st = herd_gemm(kp, &g, NULL);
    herd_packed_free(kp);
    if (st)
        return st;
    float scale = 1.0f / sqrtf((float)d);
    for (int64_t i = 0; i < N; i++)
        m->act.softmax(s + i * N, N, scale);
    for (int64_t j = 0; j < N; j++)
        for (int64_t i = 0; i < d; i++)
            vt[i * N + j] = v[(size_t)j * ld + (size_t)i];
    if ((st = herd_pack(HERD_TYPE_F32, d, N, (herd_wsrc){HERD_TYPE_F32, vt, 0}, &vp)))
        return st;
    g = (herd_gemm_args){.M = N,
                         .A = s,
                         .lda = (size_t)N,
                         .C = m->att + (size_t)(tile * N * D + head * d),
                         .ldc = (size_t)D,
                         .aprep = HERD_APREP_EXACT};
    st = herd_gemm(vp, &g, NULL);
    herd_packed_free(vp);
    return st;
}

static void attn_part(void *ctx, int tid, int nthreads)
{
    attn_job *j = ctx;
    const herd_vision_config *c = &j->m->cfg;
    int64_t N = c->n_patches + 1;
    float *s = herd_scratch(HERD_SCRATCH_ATTN, (size_t)(N * N + c->head_dim * N) * sizeof(float));
    if (!s) {
        atomic_store(&j->status, HERD_ERR_NOMEM);
        return;
    }
    for (int64_t i; (i = atomic_fetch_add(&j->next, 1)) < j->items;) {
        herd_status st = attn_item(j->m, i / c->n_heads, i % c->n_heads, s, s + N * N);
        if (st)
            atomic_store(&j->status, (int)st);
    }
}

static herd_status attention(herd_vision_model *m, int64_t tiles)
{
    attn_job j = {.m = m, .items = tiles * m->cfg.n_heads};
    atomic_init(&j.next, 0);
    atomic_init(&j.status, HERD_OK);
    herd_pool_run_claims(m->pool, attn_part, &j);
    herd_status st = (herd_status)atomic_load(&j.status);
    return st ? herd_fail(st, "vision attention failed (%s)", herd_status_name(st)) : HERD_OK;
}

/* Patch embedding, class token, positions and layernorm_pre for `tiles` tiles into m->h. */
static herd_status embed(herd_vision_model *m, const float *pixels, int64_t tiles)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, D = c->hidden, p = c->patch_size, g = c->grid, S = c->image_size;
    int64_t pin = 3 * p * p;
    for (int64_t b = 0; b < tiles; b++) {
        const float *x = pixels + (size_t)(b * 3 * S * S);
        for (int64_t t = 0; t < c->n_patches; t++) { /* unfold: channel, row, column */
            int64_t py = t / g, px = t % g;
            float *o = m->mid + t * pin;
            for (int64_t ch = 0; ch < 3; ch++)
                for (int64_t ky = 0; ky < p; ky++)
                    memcpy(o + (ch * p + ky) * p, x + (ch * S + py * p + ky) * S + px * p,
                           (size_t)p * sizeof(float));
        }
        float *h = m->h + (size_t)(b * N * D);
        herd_status st =
            gemm(m, m->patch, m->mid, (size_t)pin, c->n_patches, h, (size_t)D, NULL, false);
        if (st)
            return st;
        memcpy(h + c->n_patches * D, m->class_emb, (size_t)D * sizeof(float));
        for (int64_t i = 0; i < N * D; i++)
            h[i] += m->pos[i];
    }
    layernorm(m->h, m->pre_w, m->pre_b, m->h, tiles * N, D);
    return HERD_OK;
}

static herd_status layer(herd_vision_model *m, const vlayer *w, int64_t tiles)
{
    const herd_vision_config *c = &m->cfg;
    int64_t rows = tiles * (c->n_patches + 1), D = c->hidden;
    herd_status st;
    layernorm(m->h, w->ln1_w, w->ln1_b, m->a, rows, D);
    if ((st = gemm(m, w->qkv, m->a, (size_t)D, rows, m->qkv, (size_t)(3 * D), w->bqkv, false)))
        return st;
    rope2d(m, m->qkv, tiles);
    if ((st = attention(m, tiles)) ||
        (st = gemm(m, w->o, m->att, (size_t)D, rows, m->h, (size_t)D, w->bo, true)))
        return st;
    layernorm(m->h, w->ln2_w, w->ln2_b, m->a, rows, D);
    if ((st = gemm(m, w->fc1, m->a, (size_t)D, rows, m->mid, (size_t)c->inter, w->b1, false)))
        return st;
    gelu(m, m->mid, (size_t)(rows * c->inter));
    return gemm(m, w->fc2, m->mid, (size_t)c->inter, rows, m->h, (size_t)D, w->b2, true);
}

/* Drops the class token and gathers each s×s block of patches into one row (TL, TR, BL, BR
 * for s = 2): out[R·(g/s) + C][(n·s + mm)·Dv + ch] = h[(R·s + n)·g + (C·s + mm)][ch]. */
static void pixel_shuffle(const herd_vision_model *m, const float *h, float *out, int64_t tiles)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, D = c->hidden, g = c->grid, s = c->shuffle, G = g / s;
    for (int64_t b = 0; b < tiles; b++)
        for (int64_t R = 0; R < G; R++)
            for (int64_t C = 0; C < G; C++) {
                float *o = out + ((b * G + R) * G + C) * s * s * D;
                for (int64_t n = 0; n < s; n++)
                    for (int64_t mm = 0; mm < s; mm++)
                        memcpy(o + (n * s + mm) * D, h + (b * N + (R * s + n) * g + C * s + mm) * D,
                               (size_t)D * sizeof(float));
            }
}

herd_status herd_vision_encode(herd_vision_model *m, const float *pixels, int64_t n_tiles,
                               float *encoder, float *adapter, float *features)
{
    const herd_vision_config *c = &m->cfg;
    int64_t N = c->n_patches + 1, D = c->hidden, S = c->image_size, T = c->tokens_per_tile;
    herd_status st = HERD_OK;
    for (int64_t done = 0; done < n_tiles && !st; done += m->opts.max_batch) {
        int64_t B = n_tiles - done < m->opts.max_batch ? n_tiles - done : m->opts.max_batch;
        if ((st = embed(m, pixels + (size_t)(done * 3 * S * S), B)))
            break;
        for (int64_t l = 0; l < c->n_layers && !st; l++)
            st = layer(m, &m->layers[l], B);
        if (st)
            break;
        layernorm(m->h, m->post_w, m->post_b, m->a, B * N, D);
        if (encoder)
            memcpy(encoder + (size_t)(done * N * D), m->a, (size_t)(B * N * D) * sizeof(float));
        pixel_shuffle(m, m->a, m->mid, B);
        int64_t rows = B * T, Dp = c->adapter_dim;
        if ((st = gemm(m, m->ad_fc1, m->mid, (size_t)c->inter, rows, m->z1, (size_t)Dp, NULL,
                       false)))
            break;
        gelu(m, m->z1, (size_t)(rows * Dp));
        if ((st = gemm(m, m->ad_fc2, m->z1, (size_t)Dp, rows, m->z2, (size_t)Dp, NULL, false)))
            break;
        gelu(m, m->z2, (size_t)(rows * Dp));
        if (adapter)
            memcpy(adapter + (size_t)(done * T * Dp), m->z2, (size_t)(rows * Dp) * sizeof(float));
        if (features)
            st = gemm(m, m->proj, m->z2, (size_t)Dp, rows,
                      features + (size_t)(done * T * c->text_hidden), (size_t)c->text_hidden, NULL,
                      false);
    }
    return st;
}

/* ---- prompt expansion ---------------------------------------------------------------------- */
int64_t herd_vision_expand(const herd_vision_config *c, int64_t rows, int64_t cols, int32_t *out,
                           int64_t cap)
{
    int64_t n = 0;
#define PUT(id)                                                                                    \
    do {                                                                                           \
        if (out && n < cap)                                                                        \
            out[n] = (int32_t)(id);                                                                \
        n++;                                                                                       \
    } while (0)
    PUT(c->image_start_id);
    if (rows * cols > 1)
        for (int64_t y = 0; y < rows; y++) {
            for (int64_t x = 0; x < cols; x++) {
                if (x)
                    PUT(c->tile_x_id);
                for (int64_t t = 0; t < c->tokens_per_tile; t++)
                    PUT(c->patch_id);
            }
            PUT(c->tile_y_id);
        }
    PUT(c->image_id);
    for (int64_t t = 0; t < c->tokens_per_tile; t++)
        PUT(c->patch_id);
    PUT(c->image_end_id);
#undef PUT
    return n;
}
