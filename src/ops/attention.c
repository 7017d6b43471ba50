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

static void scale_ref(float *dst, const float *src, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i] * s;
}

static const attn_kernels kernels_ref = {gather_ref, attend_ref, to_f32_ref, scale_ref};

/* ---- the driver ------------------------------------------------------------------------- */

/* PF_AHEAD: how many (tile, head) units ahead of the one computed decode asks for cache rows */
enum { MAX_HEAD_DIM = 1024, ROWS_PER_ITEM = 64, PF_AHEAD = 2 };
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
    int64_t heads;     /* kv heads per work item, a divisor of n_kv_heads */
    bool prefetch;     /* whether items prefetch their cache rows (few tokens, many keys) */
    int64_t tile;      /* keys per tile (a multiple of 32) */
    int64_t st_len;    /* floats per row state */
    size_t ws_floats;  /* workspace per thread */
    atomic_llong next; /* the next unclaimed work item */
} attn_job;

static int64_t first_key(const herd_attn_shape *s, int64_t p)
{
    return s->chunk > 0 ? p / s->chunk * s->chunk : 0;
}

/* Asks for the cache rows of positions [p0, p1) of kv heads [ga, gb), keys and values, in
 * order of memory: one item's heads are a contiguous slice of each row, which the hardware
 * prefetchers do not follow from row to row. */
static void prefetch_rows(const attn_job *j, int64_t p0, int64_t p1, int64_t ga, int64_t gb)
{
    const herd_kv_view *kv = j->kv;
    int64_t n = j->s->n_kv_heads, D = j->s->head_dim;
    size_t hk = herd_type_row_bytes(kv->type_k, (size_t)D),
           hv = herd_type_row_bytes(kv->type_v, (size_t)D);
    p1 = p1 < kv->start ? p1 : kv->start; /* the piece's own rows are not in the cache */
    for (int64_t pos = p0; pos < p1; pos++) {
        size_t r = (size_t)(pos % kv->ring);
        const char *k = (const char *)kv->cache_k + r * (size_t)n * hk + (size_t)ga * hk,
                   *v = (const char *)kv->cache_v + r * (size_t)n * hv + (size_t)ga * hv;
        for (size_t b = 0; b < (size_t)(gb - ga) * hk; b += 64)
            __builtin_prefetch(k + b, 0, 2);
        for (size_t b = 0; b < (size_t)(gb - ga) * hv; b += 64)
            __builtin_prefetch(v + b, 0, 2);
    }
}

/* Tokens t0 .. t1-1 against kv heads ga .. gb-1: query rows (t, h) of each head in
 * token-major order, meeting the key tiles in order of position, ATTN_ROWS rows at a time.
 * The tiles are the outer loop and the heads the inner one, so a tile's cache rows are read
 * while the rows are near the core (and the next tile's are prefetched meanwhile); a row's
 * arithmetic depends only on its own tiles, so the loop order and the head split change no
 * bits. */
static void attn_item(attn_job *j, int64_t t0, int64_t t1, int64_t ga, int64_t gb, float *ws)
{
    const herd_attn_shape *s = j->s;
    const herd_kv_view *kv = j->kv;
    int64_t D = s->head_dim, KT = j->tile, group = s->n_heads / s->n_kv_heads;
    int64_t rows = (t1 - t0) * group, nh = gb - ga;
    /* bytes of one head row and of one cache row, in each type */
    size_t hk = herd_type_row_bytes(kv->type_k, (size_t)D),
           hv = herd_type_row_bytes(kv->type_v, (size_t)D);
    size_t row_k = (size_t)s->n_kv_heads * hk, row_v = (size_t)s->n_kv_heads * hv,
           row = (size_t)(s->n_kv_heads * D);
    bool fk = kv->type_k == HERD_TYPE_F32, fv = kv->type_v == HERD_TYPE_F32;
    float *kt = ws, *p = kt + KT * D, *dummy = p + ATTN_ROWS * KT, *states = dummy + j->st_len;
    const float **kp = (const float **)(void *)(states + nh * rows * j->st_len), **vp = kp + KT;
    float *kbuf = (float *)(void *)(vp + KT), *vbuf = kbuf + KT * D; /* converted cache rows */
    const uint8_t **pf = (const uint8_t **)(void *)(vbuf + KT * D);
    for (int64_t i = 0; i < nh * rows; i++) {
        float *st = states + i * j->st_len;
        st[0] = -INFINITY;
        st[1] = 0;
        memset(st + ATTN_STATE_HEAD, 0, (size_t)(j->st_len - ATTN_STATE_HEAD) * sizeof(float));
    }
    memset(dummy, 0, (size_t)j->st_len * sizeof(float));
    attn_tile tile = {kt, KT, D, vp, 1.0f / sqrtf((float)D), p, NULL, {hk, hv}};
    int64_t p_first = kv->start + t0, p_last = kv->start + t1 - 1, lo = first_key(s, p_first);
    int64_t first = lo / KT * KT;
    if (j->prefetch) /* the first units; each unit's value loop asks for the one PF_AHEAD on */
        for (int64_t u = 0; u < PF_AHEAD; u++) {
            int64_t tb = first + u / nh * KT, q0 = lo > tb ? lo : tb;
            prefetch_rows(j, q0, tb + KT < p_last + 1 ? tb + KT : p_last + 1, ga + u % nh,
                          ga + u % nh + 1);
        }
    for (int64_t base = first; base <= p_last; base += KT) {
        int64_t g0 = lo > base ? lo : base, g1 = p_last + 1 < base + KT ? p_last + 1 : base + KT;
        /* the ring row of g0, and of later positions without a division per row */
        int64_t rg0 = g0 < kv->start ? g0 % kv->ring : 0;
        for (int64_t g = ga; g < gb; g++) {
            tile.pf = j->prefetch ? pf : NULL;
            if (j->prefetch) { /* head h of tile tb: PF_AHEAD units (tile, head) on */
                int64_t u = (base - first) / KT * nh + (g - ga) + PF_AHEAD;
                int64_t tb = first + u / nh * KT, h = ga + u % nh;
                int64_t q0 = lo > tb ? lo : tb, q1 = tb + KT < p_last + 1 ? tb + KT : p_last + 1;
                q1 = q1 < kv->start ? q1 : kv->start;
                int64_t rq = q0 < q1 ? q0 % kv->ring : 0; /* the ring row of q0 */
                for (int64_t i = 0; i < g1 - g0 || q0 + i < q1; i++) {
                    const uint8_t *kr = NULL, *vr = NULL;
                    if (q0 + i < q1) {
                        size_t r = (size_t)(rq + i < kv->ring ? rq + i : (rq + i) % kv->ring);
                        kr = (const uint8_t *)kv->cache_k + r * row_k + (size_t)h * hk;
                        vr = (const uint8_t *)kv->cache_v + r * row_v + (size_t)h * hv;
                    }
                    if (i < g1 - g0) {
                        pf[2 * (g0 - base + i)] = kr;
                        pf[2 * (g0 - base + i) + 1] = vr;
                    } else { /* more rows than this tile's value loop takes */
                        prefetch_rows(j, q0 + i, q0 + i + 1, h, h + 1);
                    }
                }
            }
            for (int64_t pos = g0; pos < g1; pos++) {
                int64_t i = pos - base;
                if (pos >= kv->start) { /* the piece's own rows, floats */
                    size_t r = (size_t)(pos - kv->start) * row + (size_t)(g * D);
                    kp[i] = kv->new_k + r;
                    vp[i] = kv->new_v + r;
                    continue;
                }
                int64_t rp = rg0 + (pos - g0);
                size_t r = (size_t)(rp < kv->ring ? rp : rp % kv->ring);
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
            float *hs = states + (g - ga) * rows * j->st_len;
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
                    rs.st[i] = r0 + i < rows ? hs + ri * j->st_len : dummy;
                    rs.a[i] = a;
                    rs.b[i] = b;
                }
                if (any)
                    j->f->attend(&tile, &rs);
                tile.pf = NULL; /* taken by the first rows' value loop */
            }
        }
    }
    for (int64_t g = ga; g < gb; g++)
        for (int64_t i = 0; i < rows; i++) {
            int64_t t = t0 + i / group, h = i % group;
            const float *st = states + ((g - ga) * rows + i) * j->st_len;
            float *o = j->out + (size_t)t * j->ldo + (size_t)((g * group + h) * D);
            j->f->scale(o, st + ATTN_STATE_HEAD, 1 / st[1], D);
        }
}

/* Items (token block b, run of kv heads k) in order b·runs + k, claimed from a shared counter:
 * a late or descheduled thread never holds up the others, and whoever computes an item, its
 * result is the same. */
static void attn_part(void *ctx, int tid, int nthreads)
{
    (void)tid;
    (void)nthreads;
    attn_job *j = ctx;
    int64_t runs = j->s->n_kv_heads / j->heads, items = (j->T + j->tokens - 1) / j->tokens * runs;
    /* contents undefined: the vector kernels may compute on stale values, but only in lanes
     * they mask off */
    float *ws = herd_scratch(HERD_SCRATCH_ATTN, j->ws_floats * sizeof(float));
    if (!ws) /* leave the items to the others; herd_attention fails if none are left */
        return;
    for (int64_t i; (i = atomic_fetch_add(&j->next, 1)) < items;) {
        int64_t t0 = i / runs * j->tokens, t1 = t0 + j->tokens < j->T ? t0 + j->tokens : j->T;
        int64_t ga = i % runs * j->heads;
        attn_item(j, t0, t1, ga, ga + j->heads, ws);
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
    int64_t D = s->head_dim, group = s->n_heads / s->n_kv_heads, nkv = s->n_kv_heads;
    /* a tile of keys is about 32 KB (D = 64: 128 keys), so it stays near the core */
    int64_t tile = 8192 / D / 32 * 32, tokens = ROWS_PER_ITEM / group;
    tile = tile < 32 ? 32 : tile > 256 ? 256 : tile;
    tokens = tokens < 1 ? 1 : tokens > T ? T : tokens;
    /* Small work runs on the caller: waking a sleeping worker costs microseconds, as much as
     * ~1e6 multiply-adds of the tiled kernels (decode of 32 heads of 64 up to ~500 positions),
     * so handing such work to the pool makes decode attention slower, not faster. */
    double work = 0;
    for (int64_t t = 0; t < T && work < SMALL_WORK; t++) {
        int64_t p = kv->start + t;
        work += (double)(p - first_key(s, p) + 1) * (double)(s->n_heads * D);
    }
    herd_pool *run_on = work < SMALL_WORK ? NULL : pool;
    /* One block of tokens (decode): its keys come from the cache, so an item takes as many kv
     * heads as leaves each thread two items to claim (all of them on one thread) and reads
     * each cache row's slice of its heads at once; else one kv head an item. */
    int64_t heads = 1;
    if (tokens == T) {
        int64_t want = run_on ? 2 * (int64_t)herd_pool_size(run_on) : 1;
        for (heads = nkv; heads % 2 == 0 && nkv / heads < want;)
            heads /= 2;
    }
    int64_t st_len = ATTN_STATE_HEAD + (D + 15) / 16 * 16;
    /* kt, p, dummy state, row states, key and value row pointers, converted key and value
     * rows (cache types other than f32), then the prefetch stream's row pointers */
    size_t ws_floats =
        (size_t)(tile * D + ATTN_ROWS * tile + (1 + tokens * group * heads) * st_len) +
        2 * (size_t)tile * 2 + 2 * (size_t)(tile * D) + 2 * (size_t)tile * 2;
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
                  heads,
                  tokens == T,
                  tile,
                  st_len,
                  ws_floats,
                  0};
    herd_pool_run_claims(run_on, attn_part, &j);
    if (atomic_load(&j.next) < (T + tokens - 1) / tokens * (nkv / heads))
        return herd_fail(HERD_ERR_NOMEM, "attention: out of memory for the workspace");
    return HERD_OK;
}
