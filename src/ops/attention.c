/* Attention for a piece of new tokens against cached and new keys, one query row at a time
 * with an online (streaming) softmax, so memory never grows with T×T. Each (token, head) is
 * computed independently, so results do not depend on the thread count. */
#include "herd/ops.h"

#include <math.h>
#include <string.h>

typedef struct attn_job {
    const herd_attn_shape *s;
    const float *q;
    size_t ldq;
    int64_t T;
    const herd_kv_view *kv;
    float *out;
    size_t ldo;
} attn_job;

static void attend_one(const attn_job *j, int64_t t, int64_t h, float *acc)
{
    const herd_attn_shape *s = j->s;
    const herd_kv_view *kv = j->kv;
    int64_t D = s->head_dim, group = s->n_heads / s->n_kv_heads, g = h / group;
    size_t row = (size_t)(s->n_kv_heads * D);
    int64_t p = kv->start + t, lo = s->chunk > 0 ? p / s->chunk * s->chunk : 0;
    const float *q = j->q + (size_t)t * j->ldq + (size_t)(h * D);
    float scale = 1.0f / sqrtf((float)D), m = -INFINITY, l = 0;
    memset(acc, 0, (size_t)D * sizeof *acc);
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
        float dot = 0;
        for (int64_t d = 0; d < D; d++)
            dot += q[d] * k[d];
        float sc = dot * scale;
        if (sc > m) { /* rescale what was summed under the old maximum */
            float c = expf(m - sc);
            l *= c;
            for (int64_t d = 0; d < D; d++)
                acc[d] *= c;
            m = sc;
        }
        float e = expf(sc - m);
        l += e;
        for (int64_t d = 0; d < D; d++)
            acc[d] += e * v[d];
    }
    float *o = j->out + (size_t)t * j->ldo + (size_t)(h * D);
    for (int64_t d = 0; d < D; d++)
        o[d] = acc[d] / l;
}

enum { MAX_HEAD_DIM = 1024 };
#define SMALL_WORK 131072.0

static void attn_part(void *ctx, int tid, int nthreads)
{
    const attn_job *j = ctx;
    float acc[MAX_HEAD_DIM];
    size_t b, e;
    herd_split_range((size_t)(j->T * j->s->n_heads), 1, tid, nthreads, &b, &e);
    for (size_t i = b; i < e; i++)
        attend_one(j, (int64_t)i / j->s->n_heads, (int64_t)i % j->s->n_heads, acc);
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
    attn_job j = {s, q, ldq, T, kv, out, ldo};
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
