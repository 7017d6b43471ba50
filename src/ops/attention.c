/* Attention for a piece of new tokens against cached and new keys, flash-attention style (see
 * attn_simd.h for the kernels): memory never grows with T×T, each key tile is gathered and
 * transposed once per work item and shared by all its query rows.
 *
 * Work items are (block of query tokens, kv head), fixed by the shape and T alone, and tiles
 * start at fixed absolute positions, so every row meets the same tiles in the same groups
 * whatever the thread count: results are bit-identical across thread counts. */
#include "attn_simd.h"
#include "herd/ops.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* ---- the plain C kernels ---------------------------------------------------------------- */

static void gather_ref(float *kt, int64_t stride, const float *const *k, int64_t j0, int64_t j1,
                       int64_t dim)
{
    for (int64_t j = j0; j < j1; j++)
        for (int64_t d = 0; d < dim; d++)
            kt[d * stride + j] = k[j][d];
}

static void attend_ref(const attn_tile *t, const attn_rows *r)
{
    int64_t D = t->dim, KT = t->stride;
    float *s = t->p;
    for (int i = 0; i < ATTN_ROWS; i++) {
        int64_t a = r->a[i], b = r->b[i];
        if (a >= b)
            continue;
        const float *q = r->q[i];
        float *st = r->st[i], *o = st + ATTN_STATE_HEAD;
        for (int64_t j = a; j < b; j++)
            s[j] = 0;
        for (int64_t d = 0; d < D; d++) /* d outside: the keys of one component are contiguous */
            for (int64_t j = a; j < b; j++)
                s[j] += q[d] * t->kt[d * KT + j];
        float mx = -INFINITY;
        for (int64_t j = a; j < b; j++) {
            s[j] *= t->scale;
            mx = fmaxf(mx, s[j]);
        }
        if (mx > st[0]) { /* rescale what was summed under the old maximum */
            float c = expf(st[0] - mx);
            st[1] *= c;
            for (int64_t d = 0; d < D; d++)
                o[d] *= c;
            st[0] = mx;
        }
        for (int64_t j = a; j < b; j++) {
            float e = expf(s[j] - st[0]);
            const float *v = t->v[j];
            st[1] += e;
            for (int64_t d = 0; d < D; d++)
                o[d] += e * v[d];
        }
    }
}

static_assert(sizeof(float *) <= 2 * sizeof(float), "a pointer fits in 2 floats");

/* ---- cache types ------------------------------------------------------------------------ */

bool herd_attn_type_ok(herd_type t)
{
    return t == HERD_TYPE_F32 || t == HERD_TYPE_BF16 || t == HERD_TYPE_Q8_0;
}

/* One head row of a cache in type t -> D floats. Runs once per key tile and work item: the
 * tile's rows are then read from cache-hot floats by every query row of the item. */
static void to_f32_ref(herd_type t, const uint8_t *src, float *dst, int64_t D)
{
    switch (t) {
    case HERD_TYPE_BF16:
        herd_bf16_to_f32_row((const uint16_t *)(const void *)src, dst, (size_t)D);
        break;
    case HERD_TYPE_Q8_0: herd_q8_0_dequantize(src, dst, (size_t)D); break;
    default: /* F32 rows are read in place, never converted */ break;
    }
}

static const attn_kernels kernels_ref = {gather_ref, attend_ref, to_f32_ref};

/* ---- the driver ------------------------------------------------------------------------- */

enum { MAX_HEAD_DIM = 1024, ROWS_PER_ITEM = 64 };
#define SMALL_WORK 1048576.0

typedef struct attn_job {
    const attn_kernels *f;
    const herd_attn_shape *s;
    const float *q;
    size_t ldq;
    int64_t T;
    const herd_kv_view *kv;
    float *out;
    size_t ldo;
    int64_t tokens;    /* query tokens per work item */
    int64_t tile;      /* keys per tile (a multiple of 32) */
    int64_t st_len;    /* floats per row state */
    size_t ws_floats;  /* workspace per thread */
    atomic_llong next; /* the next unclaimed work item */
} attn_job;

static int64_t first_key(const herd_attn_shape *s, int64_t p)
{
    return s->chunk > 0 ? p / s->chunk * s->chunk : 0;
}

/* Tokens t0 .. t1-1 against kv head g: query rows (t, h) in token-major order, meeting the
 * key tiles in order of position, ATTN_ROWS rows at a time. */
static void attn_item(attn_job *j, int64_t t0, int64_t t1, int64_t g, float *ws)
{
    const herd_attn_shape *s = j->s;
    const herd_kv_view *kv = j->kv;
    int64_t D = s->head_dim, KT = j->tile, group = s->n_heads / s->n_kv_heads;
    int64_t rows = (t1 - t0) * group;
    /* bytes of one head row and of one cache row, in each type */
    size_t hk = herd_type_row_bytes(kv->type_k, (size_t)D),
           hv = herd_type_row_bytes(kv->type_v, (size_t)D);
    size_t row_k = (size_t)s->n_kv_heads * hk, row_v = (size_t)s->n_kv_heads * hv,
           row = (size_t)(s->n_kv_heads * D);
    bool fk = kv->type_k == HERD_TYPE_F32, fv = kv->type_v == HERD_TYPE_F32;
    float *kt = ws, *p = kt + KT * D, *dummy = p + ATTN_ROWS * KT, *states = dummy + j->st_len;
    const float **kp = (const float **)(void *)(states + rows * j->st_len), **vp = kp + KT;
    float *kbuf = (float *)(void *)(vp + KT), *vbuf = kbuf + KT * D; /* converted cache rows */
    for (int64_t i = 0; i < rows; i++) {
        float *st = states + i * j->st_len;
        st[0] = -INFINITY;
        st[1] = 0;
        memset(st + ATTN_STATE_HEAD, 0, (size_t)(j->st_len - ATTN_STATE_HEAD) * sizeof(float));
    }
    memset(dummy, 0, (size_t)j->st_len * sizeof(float));
    attn_tile tile = {kt, KT, D, vp, 1.0f / sqrtf((float)D), p};
    int64_t p_first = kv->start + t0, p_last = kv->start + t1 - 1, lo = first_key(s, p_first);
    for (int64_t base = lo / KT * KT; base <= p_last; base += KT) {
        int64_t g0 = lo > base ? lo : base, g1 = p_last + 1 < base + KT ? p_last + 1 : base + KT;
        for (int64_t pos = g0; pos < g1; pos++) {
            int64_t i = pos - base;
            if (pos >= kv->start) { /* the piece's own rows, floats */
                size_t r = (size_t)(pos - kv->start) * row + (size_t)(g * D);
                kp[i] = kv->new_k + r;
                vp[i] = kv->new_v + r;
                continue;
            }
            size_t r = (size_t)(pos % kv->ring);
            const uint8_t *kr = (const uint8_t *)kv->cache_k + r * row_k + (size_t)g * hk;
            const uint8_t *vr = (const uint8_t *)kv->cache_v + r * row_v + (size_t)g * hv;
            if (!fk)
                j->f->to_f32(kv->type_k, kr, kbuf + i * D, D);
            if (!fv)
                j->f->to_f32(kv->type_v, vr, vbuf + i * D, D);
            kp[i] = fk ? (const float *)(const void *)kr : kbuf + i * D;
            vp[i] = fv ? (const float *)(const void *)vr : vbuf + i * D;
        }
        j->f->gather(kt, KT, kp, g0 - base, g1 - base, D);
        for (int64_t r0 = 0; r0 < rows; r0 += ATTN_ROWS) {
            attn_rows rs;
            bool any = false;
            for (int i = 0; i < ATTN_ROWS; i++) {
                int64_t ri = r0 + i < rows ? r0 + i : r0, t = t0 + ri / group, h = ri % group;
                int64_t pq = kv->start + t, a = first_key(s, pq) - base, b = pq + 1 - base;
                a = a > 0 ? a : 0;
                b = b < KT ? b : KT;
                if (r0 + i >= rows || a >= b)
                    a = b = 0;
                any |= a < b;
                rs.q[i] = j->q + (size_t)t * j->ldq + (size_t)((g * group + h) * D);
                rs.st[i] = r0 + i < rows ? states + ri * j->st_len : dummy;
                rs.a[i] = a;
                rs.b[i] = b;
            }
            if (any)
                j->f->attend(&tile, &rs);
        }
    }
    for (int64_t i = 0; i < rows; i++) {
        int64_t t = t0 + i / group, h = i % group;
        const float *st = states + i * j->st_len;
        float *o = j->out + (size_t)t * j->ldo + (size_t)((g * group + h) * D), inv = 1 / st[1];
        for (int64_t d = 0; d < D; d++)
            o[d] = st[ATTN_STATE_HEAD + d] * inv;
    }
}

/* Items (token block b, kv head g) in order b·n_kv_heads + g, claimed from a shared counter:
 * a late or descheduled thread never holds up the others, and whoever computes an item, its
 * result is the same. */
static void attn_part(void *ctx, int tid, int nthreads)
{
    (void)tid;
    (void)nthreads;
    attn_job *j = ctx;
    int64_t nkv = j->s->n_kv_heads, items = (j->T + j->tokens - 1) / j->tokens * nkv;
    /* contents undefined: the vector kernels may compute on stale values, but only in lanes
     * they mask off */
    float *ws = herd_scratch(HERD_SCRATCH_ATTN, j->ws_floats * sizeof(float));
    if (!ws) /* leave the items to the others; herd_attention fails if none are left */
        return;
    for (int64_t i; (i = atomic_fetch_add(&j->next, 1)) < items;) {
        int64_t t0 = i / nkv * j->tokens, t1 = t0 + j->tokens < j->T ? t0 + j->tokens : j->T;
        attn_item(j, t0, t1, i % nkv, ws);
    }
}

herd_status herd_attention(const herd_attn_shape *s, const float *q, size_t ldq, int64_t T,
                           const herd_kv_view *kv, float *out, size_t ldo, herd_pool *pool)
{
    if (s->n_kv_heads <= 0 || s->n_heads <= 0 || s->n_heads % s->n_kv_heads || s->head_dim <= 0 ||
        s->head_dim > MAX_HEAD_DIM)
        return herd_fail(HERD_ERR_ARG, "attention: bad shape (%lld heads, %lld kv heads, dim %lld)",
                         (long long)s->n_heads, (long long)s->n_kv_heads, (long long)s->head_dim);
    if (!herd_attn_type_ok(kv->type_k) || !herd_attn_type_ok(kv->type_v))
        return herd_fail(HERD_ERR_ARG, "attention: cache type %s/%s is not supported",
                         herd_type_name(kv->type_k), herd_type_name(kv->type_v));
    if (T <= 0)
        return HERD_OK;
    int64_t D = s->head_dim, group = s->n_heads / s->n_kv_heads;
    /* a tile of keys is about 32 KB (D = 64: 128 keys), so it stays near the core */
    int64_t tile = 8192 / D / 32 * 32, tokens = ROWS_PER_ITEM / group;
    tile = tile < 32 ? 32 : tile > 256 ? 256 : tile;
    tokens = tokens < 1 ? 1 : tokens;
    int64_t st_len = ATTN_STATE_HEAD + (D + 15) / 16 * 16;
    /* kt, p, dummy state, row states, key and value row pointers, then converted key and value
     * rows (cache types other than f32) */
    size_t ws_floats = (size_t)(tile * D + ATTN_ROWS * tile + (1 + tokens * group) * st_len) +
                       2 * (size_t)tile * 2 + 2 * (size_t)(tile * D);
    herd_isa_level isa = herd_isa();
    attn_job j = {isa >= HERD_ISA_AVX512 ? &herd_attn_avx512
                  : isa >= HERD_ISA_AVX2 ? &herd_attn_avx2
                                         : &kernels_ref,
                  s,
                  q,
                  ldq,
                  T,
                  kv,
                  out,
                  ldo,
                  tokens,
                  tile,
                  st_len,
                  ws_floats,
                  0};
    /* Small work runs on the caller: waking a sleeping worker costs microseconds, as much as
     * ~1e6 multiply-adds of the tiled kernels (decode of 32 heads of 64 up to ~500 positions;
     * measured on l4-3.7b, 2 threads: decode attention 0.24 -> 0.04 ms per token). */
    double work = 0;
    for (int64_t t = 0; t < T && work < SMALL_WORK; t++) {
        int64_t p = kv->start + t;
        work += (double)(p - first_key(s, p) + 1) * (double)(s->n_heads * D);
    }
    herd_pool_run_claims(work < SMALL_WORK ? NULL : pool, attn_part, &j);
    if (atomic_load(&j.next) < (T + tokens - 1) / tokens * s->n_kv_heads)
        return herd_fail(HERD_ERR_NOMEM, "attention: out of memory for the workspace");
    return HERD_OK;
}
