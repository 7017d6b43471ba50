/* Contexts and their sequences' KV caches. Chunked (RoPE) layers keep a ring of
 * min(chunk + HERD_BATCH_MAX, ctx) positions: a query at p only reads keys from
 * floor(p/C)·C .. p, all among the last C positions, and the extra HERD_BATCH_MAX rows let a
 * batch write its rows without touching any row the sequence still needs should the batch fail
 * (a batch writes positions len .. len+n-1, n ≤ HERD_BATCH_MAX: each lands on the row of
 * position p - ring < floor(len/C)·C, which no later query reads). Global (NoPE) layers keep
 * every position. Buffers grow by doubling up to their maximum, so a large ctx costs memory
 * only as it fills. Keys and values are stored as the context's types (f32, bf16, q8_0), one
 * padded head row after another, so attention can read any head of any position in place. */
#include "model_internal.h"

#include <string.h>

void herd_context_opts_default(herd_context_opts *o)
{
    memset(o, 0, sizeof *o);
    o->type_k = o->type_v = HERD_TYPE_F32;
}

/* The cache types: f32 exact; bf16 half the bytes; q8_0 (8.5 bits, one fp16 scale per 32)
 * chosen among the 8-bit candidates by measurement (docs/MODEL.md, "KV cache types"). */
static const herd_type kv_types[] = {HERD_TYPE_F32, HERD_TYPE_BF16, HERD_TYPE_Q8_0};

bool herd_kv_type_ok(herd_type t)
{
    for (size_t i = 0; i < sizeof kv_types / sizeof *kv_types; i++)
        if (kv_types[i] == t)
            return herd_attn_type_ok(t);
    return false;
}

bool herd_kv_type_parse(const char *name, herd_type *out)
{
    herd_type t;
    if (!name || !herd_type_parse(name, &t) || !herd_kv_type_ok(t))
        return false;
    *out = t;
    return true;
}

const char *herd_kv_type_names(void)
{
    return "f32 bf16 q8_0";
}

static void free_seq(herd_context *c, seq_cache *s)
{
    if (!s->layers)
        return;
    for (int64_t l = 0; l < c->m->cfg.n_layers; l++) {
        herd_free(s->layers[l].k);
        herd_free(s->layers[l].v);
        s->layers[l].k = s->layers[l].v = NULL;
        s->layers[l].cap = 0;
    }
}

void herd_context_free(herd_context *c)
{
    if (!c)
        return;
    for (int i = 0; c->seqs && i < c->n_seqs; i++) {
        free_seq(c, &c->seqs[i]);
        herd_free(c->seqs[i].layers);
    }
    herd_free(c->seqs);
    herd_free(c->order);
    herd_free(c->inv);
    herd_free(c->pos);
    herd_free(c->runs);
    herd_free(c->count);
    if (c->own_pool)
        herd_pool_destroy(c->pool);
    herd_free(c);
}

herd_status herd_context_create(const herd_model *m, const herd_context_opts *o, herd_context **out)
{
    *out = NULL;
    herd_context_opts def;
    if (!o) {
        herd_context_opts_default(&def);
        o = &def;
    }
    const herd_llama4_config *cfg = &m->cfg;
    int64_t ctx = o->ctx > 0 ? o->ctx : cfg->max_pos;
    int n_seqs = o->n_seqs > 0 ? o->n_seqs : 1;
    if (o->ctx < 0 || ctx < 1)
        return herd_fail(HERD_ERR_ARG, "context size must be at least 1 (got %lld)",
                         (long long)o->ctx);
    if (o->n_seqs < 0 || o->n_seqs > 1 << 20)
        return herd_fail(HERD_ERR_ARG, "sequence count %d out of range 1..%d", o->n_seqs, 1 << 20);
    if (!herd_kv_type_ok(o->type_k) || !herd_kv_type_ok(o->type_v)) {
        herd_type bad = herd_kv_type_ok(o->type_k) ? o->type_v : o->type_k;
        return herd_fail(HERD_ERR_ARG, "KV cache type %s is not one of: %s",
                         (unsigned)bad < HERD_TYPE_COUNT ? herd_type_name(bad) : "(unknown)",
                         herd_kv_type_names());
    }
    herd_context *c = herd_calloc(sizeof *c, "context");
    if (!c)
        return HERD_ERR_NOMEM;
    c->m = m;
    c->ctx = ctx;
    c->n_seqs = n_seqs;
    c->type_k = o->type_k;
    c->type_v = o->type_v;
    c->row_k = (size_t)cfg->n_kv_heads * herd_type_row_bytes(o->type_k, (size_t)cfg->head_dim);
    c->row_v = (size_t)cfg->n_kv_heads * herd_type_row_bytes(o->type_v, (size_t)cfg->head_dim);
    c->cancel = o->cancel;
    c->cancel_user = o->cancel_user;
    int n_runs = n_seqs < HERD_BATCH_MAX ? n_seqs : HERD_BATCH_MAX;
    c->seqs = herd_calloc((size_t)n_seqs * sizeof *c->seqs, "context");
    c->order = herd_alloc(HERD_BATCH_MAX * sizeof *c->order, "context");
    c->inv = herd_alloc(HERD_BATCH_MAX * sizeof *c->inv, "context");
    c->pos = herd_alloc(HERD_BATCH_MAX * sizeof *c->pos, "context");
    c->runs = herd_alloc((size_t)n_runs * sizeof *c->runs, "context");
    c->count = herd_calloc((size_t)n_seqs * sizeof *c->count, "context");
    herd_status st =
        c->seqs && c->order && c->inv && c->pos && c->runs && c->count ? HERD_OK : HERD_ERR_NOMEM;
    int64_t ring = cfg->chunk + HERD_BATCH_MAX;
    c->ring = cfg->chunk > 0 && ring < ctx ? ring : INT64_MAX;
    for (int i = 0; i < n_seqs && !st; i++) {
        seq_cache *s = &c->seqs[i];
        s->layers = herd_calloc((size_t)cfg->n_layers * sizeof *s->layers, "KV cache");
        if (!s->layers) {
            st = HERD_ERR_NOMEM;
            break;
        }
        for (int64_t l = 0; l < cfg->n_layers; l++) {
            bool chunked = cfg->layer_rope[l] && cfg->chunk > 0;
            s->layers[l].max = chunked && ring < ctx ? ring : ctx;
            s->layers[l].ring = chunked ? s->layers[l].max : INT64_MAX;
        }
    }
    if (!st && o->pool) {
        c->pool = o->pool;
    } else if (!st) {
        c->own_pool = true;
        st = herd_pool_create(o->threads > 0 ? o->threads : herd_cpu_count(), &c->pool);
    }
    if (st) {
        herd_context_free(c);
        return st;
    }
    *out = c;
    return HERD_OK;
}

const herd_model *herd_context_model(const herd_context *c)
{
    return c->m;
}
void herd_context_kv_types(const herd_context *c, herd_type *k, herd_type *v)
{
    *k = c->type_k;
    *v = c->type_v;
}
int64_t herd_context_ctx(const herd_context *c)
{
    return c->ctx;
}
int herd_context_seqs(const herd_context *c)
{
    return c->n_seqs;
}
herd_pool *herd_context_pool(herd_context *c)
{
    return c->pool;
}

static bool bad_seq(const herd_context *c, int seq)
{
    return seq < 0 || seq >= c->n_seqs;
}

int64_t herd_seq_len(const herd_context *c, int seq)
{
    return bad_seq(c, seq) ? 0 : c->seqs[seq].len;
}

size_t herd_seq_bytes(const herd_context *c, int seq)
{
    if (bad_seq(c, seq))
        return 0;
    size_t n = 0;
    for (int64_t l = 0; l < c->m->cfg.n_layers; l++)
        n += (size_t)c->seqs[seq].layers[l].cap * (c->row_k + c->row_v);
    return n;
}

void herd_seq_clear(herd_context *c, int seq)
{
    if (bad_seq(c, seq))
        return;
    free_seq(c, &c->seqs[seq]);
    c->seqs[seq].len = c->seqs[seq].lo = 0;
}

/* Whether the sequence's ring layers still hold what a query at p reads below p. */
static bool holds_prefix(const herd_context *c, const seq_cache *s, int64_t p)
{
    int64_t C = c->m->cfg.chunk;
    return C <= 0 || p % C == 0 || p / C * C >= s->lo;
}

static herd_status check_prefix(const herd_context *c, int seq, int64_t p, const char *what)
{
    if (bad_seq(c, seq))
        return herd_fail(HERD_ERR_ARG, "%s: no sequence %d (the context has %d)", what, seq,
                         c->n_seqs);
    const seq_cache *s = &c->seqs[seq];
    if (p < 0 || p > s->len)
        return herd_fail(HERD_ERR_RANGE, "%s: position %lld is outside sequence %d (length %lld)",
                         what, (long long)p, seq, (long long)s->len);
    if (!holds_prefix(c, s, p))
        return herd_fail(HERD_ERR_RANGE,
                         "%s: sequence %d no longer holds positions %lld..%lld of the chunked "
                         "layers (clear it and feed the prefix again)",
                         what, seq, (long long)(p / c->m->cfg.chunk * c->m->cfg.chunk),
                         (long long)p - 1);
    return HERD_OK;
}

herd_status herd_seq_truncate(herd_context *c, int seq, int64_t p)
{
    herd_status st = check_prefix(c, seq, p, "truncate");
    if (st)
        return st;
    c->seqs[seq].len = p;
    if (c->seqs[seq].lo > p) /* nothing below p was lost */
        c->seqs[seq].lo = p;
    return HERD_OK;
}

herd_status herd_seq_copy(herd_context *c, int src, int dst, int64_t p)
{
    herd_status st = check_prefix(c, src, p, "copy");
    if (st)
        return st;
    if (bad_seq(c, dst))
        return herd_fail(HERD_ERR_ARG, "copy: no sequence %d (the context has %d)", dst, c->n_seqs);
    if (src == dst)
        return herd_seq_truncate(c, src, p);
    if ((st = herd_seq_reserve(c, dst, p)))
        return st;
    const seq_cache *a = &c->seqs[src];
    seq_cache *b = &c->seqs[dst];
    int64_t lo = a->lo;
    for (int64_t l = 0; l < c->m->cfg.n_layers; l++) {
        const kv_layer *from = &a->layers[l];
        kv_layer *to = &b->layers[l];
        int64_t first = p > from->max ? p - from->max : 0;
        if (from->ring != INT64_MAX && first < a->lo)
            first = a->lo;
        if (from->ring != INT64_MAX && first > lo)
            lo = first;
        /* same ring size in both: position j sits in row j % ring of each */
        for (int64_t j = first; j < p; j++) {
            size_t r = (size_t)(j % from->ring);
            memcpy(to->k + r * c->row_k, from->k + r * c->row_k, c->row_k);
            memcpy(to->v + r * c->row_v, from->v + r * c->row_v, c->row_v);
        }
    }
    b->len = p;
    b->lo = lo < p ? lo : p;
    return HERD_OK;
}

static herd_status grow(kv_layer *L, size_t row_k, size_t row_v, int64_t need)
{
    int64_t cap = L->cap ? L->cap : 16;
    while (cap < need)
        cap = cap > INT64_MAX / 2 ? need : cap * 2;
    if (cap > L->max)
        cap = L->max;
    size_t bk, bv;
    if (!herd_mul_size((size_t)cap, row_k, &bk) || !herd_mul_size((size_t)cap, row_v, &bv))
        return herd_fail(HERD_ERR_RANGE, "KV cache too large");
    uint8_t *k = herd_alloc(bk, "KV cache"), *v = herd_alloc(bv, "KV cache");
    if (!k || !v) {
        herd_free(k);
        herd_free(v);
        return HERD_ERR_NOMEM;
    }
    /* positions below the old cap sit at their own index (cap < ring until the ring is full) */
    if (L->cap) {
        memcpy(k, L->k, (size_t)L->cap * row_k);
        memcpy(v, L->v, (size_t)L->cap * row_v);
    }
    herd_free(L->k);
    herd_free(L->v);
    L->k = k;
    L->v = v;
    L->cap = cap;
    return HERD_OK;
}

herd_status herd_seq_reserve(herd_context *c, int seq, int64_t end)
{
    seq_cache *s = &c->seqs[seq];
    for (int64_t l = 0; l < c->m->cfg.n_layers; l++) {
        kv_layer *L = &s->layers[l];
        int64_t need = end < L->max ? end : L->max;
        if (need > L->cap) {
            herd_status st = grow(L, c->row_k, c->row_v, need);
            if (st)
                return st;
        }
    }
    return HERD_OK;
}

/* ---- one sequence, the short way ---------------------------------------------------------- */

herd_status herd_kv_create(const herd_model *m, int64_t ctx, herd_kv_cache **out)
{
    *out = NULL;
    if (ctx < 1)
        return herd_fail(HERD_ERR_ARG, "context size must be at least 1 (got %lld)",
                         (long long)ctx);
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.ctx = ctx;
    o.threads = m->opts.threads;
    return herd_context_create(m, &o, out);
}

void herd_kv_free(herd_kv_cache *kv)
{
    herd_context_free(kv);
}
void herd_kv_reset(herd_kv_cache *kv)
{
    kv->seqs[0].len = 0;
    kv->seqs[0].lo = 0;
}
int64_t herd_kv_pos(const herd_kv_cache *kv)
{
    return kv->seqs[0].len;
}
int64_t herd_kv_ctx(const herd_kv_cache *kv)
{
    return kv->ctx;
}
size_t herd_kv_bytes(const herd_kv_cache *kv)
{
    size_t n = 0;
    for (int i = 0; i < kv->n_seqs; i++)
        n += herd_seq_bytes(kv, i);
    return n;
}
