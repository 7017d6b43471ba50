/* Attention for a piece of new tokens against cached and new keys, one query row at a time
 * with an online (streaming) softmax, so memory never grows with T×T. Each (token, head) is
 * computed independently, so results do not depend on the thread count. */
#include "attn_simd.h"
#include "herd/ops.h"

#include <math.h>
#include <string.h>

static float dot_ref(const float *a, const float *b, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_ref(float *acc, float e, const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] += e * v[i];
}

static void scale_ref(float *acc, float c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] *= c;
}

static const attn_simd simd_ref = {dot_ref, axpy_ref, scale_ref};

typedef struct attn_job {
    const attn_simd *f;
    const herd_attn_shape *s;
    const float *q;
    size_t ldq;
    int64_t T;
    const herd_kv_view *kv;
    float *out;
    size_t ldo;
} attn_job;

enum { MAX_HEAD_DIM = 1024, HEADS_AT_ONCE = 8 };
#define SMALL_WORK 131072.0

/* Query heads h0 .. h0+nh-1 of token t, which share one kv head g: each key and value row is
 * read once for all of them (GQA), each head keeps its own running max, sum and output. */
static void attend_heads(const attn_job *j, int64_t t, int64_t h0, int64_t nh,
                         float acc[][MAX_HEAD_DIM])
{
    const herd_attn_shape *s = j->s;
    const herd_kv_view *kv = j->kv;
    const attn_simd *f = j->f;
    int64_t D = s->head_dim, g = h0 / (s->n_heads / s->n_kv_heads);
    size_t row = (size_t)(s->n_kv_heads * D);
    int64_t p = kv->start + t, lo = s->chunk > 0 ? p / s->chunk * s->chunk : 0;
    const float *q = j->q + (size_t)t * j->ldq + (size_t)(h0 * D);
    float scale = 1.0f / sqrtf((float)D), m[HEADS_AT_ONCE], l[HEADS_AT_ONCE];
    for (int64_t i = 0; i < nh; i++) {
        m[i] = -INFINITY;
        l[i] = 0;
        memset(acc[i], 0, (size_t)D * sizeof(float));
    }
    for (int64_t pos = lo; pos <= p; pos++) {
        const float *k, *v;
        if (pos < kv->start) {
            size_t r = (size_t)(pos % kv->ring) * row;
            k = kv->cache_k + r;
            v = kv->cache_v + r;
        } else {
            size_t r = (size_t)(pos - kv->start) * row;
            k = kv->new_k + r;
            v = kv->new_v + r;
        }
        k += g * D;
        v += g * D;
        for (int64_t i = 0; i < nh; i++) {
            float sc = f->dot(q + i * D, k, D) * scale;
            if (sc > m[i]) { /* rescale what was summed under the old maximum */
                float c = expf(m[i] - sc);
                l[i] *= c;
                f->scale(acc[i], c, D);
                m[i] = sc;
            }
            float e = expf(sc - m[i]);
            l[i] += e;
            f->axpy(acc[i], e, v, D);
        }
    }
    for (int64_t i = 0; i < nh; i++) {
        float *o = j->out + (size_t)t * j->ldo + (size_t)((h0 + i) * D), inv = 1 / l[i];
        for (int64_t d = 0; d < D; d++)
            o[d] = acc[i][d] * inv;
    }
}

/* Work items: (token, kv head, batch of up to HEADS_AT_ONCE of its query heads). */
static void attn_part(void *ctx, int tid, int nthreads)
{
    const attn_job *j = ctx;
    static _Thread_local float acc[HEADS_AT_ONCE][MAX_HEAD_DIM];
    int64_t group = j->s->n_heads / j->s->n_kv_heads;
    int64_t batches = (group + HEADS_AT_ONCE - 1) / HEADS_AT_ONCE,
            per_t = j->s->n_kv_heads * batches;
    size_t b, e;
    herd_split_range((size_t)(j->T * per_t), 1, tid, nthreads, &b, &e);
    for (size_t i = b; i < e; i++) {
        int64_t t = (int64_t)i / per_t, r = (int64_t)i % per_t;
        int64_t g = r / batches, first = (r % batches) * HEADS_AT_ONCE;
        int64_t nh = group - first < HEADS_AT_ONCE ? group - first : HEADS_AT_ONCE;
        attend_heads(j, t, g * group + first, nh, acc);
    }
}

herd_status herd_attention(const herd_attn_shape *s, const float *q, size_t ldq, int64_t T,
                           const herd_kv_view *kv, float *out, size_t ldo, herd_pool *pool)
{
    if (s->n_kv_heads <= 0 || s->n_heads % s->n_kv_heads || s->head_dim <= 0 ||
        s->head_dim > MAX_HEAD_DIM)
        return herd_fail(HERD_ERR_ARG, "attention: bad shape (%lld heads, %lld kv heads, dim %lld)",
                         (long long)s->n_heads, (long long)s->n_kv_heads, (long long)s->head_dim);
    if (T <= 0)
        return HERD_OK;
    herd_isa_level isa = herd_isa();
    const attn_simd *f = isa >= HERD_ISA_AVX512 ? &herd_attn_simd_avx512
                         : isa >= HERD_ISA_AVX2 ? &herd_attn_simd_avx2
                                                : &simd_ref;
    attn_job j = {f, s, q, ldq, T, kv, out, ldo};
    /* Small work (decode early in a conversation) runs on the caller: waking the pool costs
     * more than ~1e5 multiply-adds. */
    double work = 0;
    for (int64_t t = 0; t < T && work < SMALL_WORK; t++) {
        int64_t p = kv->start + t;
        work +=
            (double)(s->chunk > 0 ? p % s->chunk + 1 : p + 1) * (double)(s->n_heads * s->head_dim);
    }
    herd_pool_run(work < SMALL_WORK ? NULL : pool, attn_part, &j);
    return HERD_OK;
}
