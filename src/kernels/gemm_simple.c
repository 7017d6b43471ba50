/* Placeholder kernel layer: packs every weight as float32 rows and runs a plain loop.
 * The real fbgemm-style layer (packing per type, micro-kernels per ISA) replaces this file. */
#include "herd/kernels.h"

#include <math.h>
#include <string.h>

struct herd_packed {
    herd_type type;
    int64_t n, k, rows;
    float *w; /* rows×k */
};

static herd_status convert_rows(float *dst, int64_t n, int64_t k, herd_wsrc src)
{
    size_t rb = src.row_bytes ? src.row_bytes : herd_type_row_bytes(src.type, (size_t)k);
    for (int64_t r = 0; r < n; r++) {
        herd_status st = herd_row_to_f32(src.type, (const uint8_t *)src.data + (size_t)r * rb,
                                         dst + (size_t)r * (size_t)k, (size_t)k);
        if (st)
            return st;
    }
    return HERD_OK;
}

static herd_status pack_rows(herd_type type, int64_t n, int64_t k, const herd_wsrc *srcs, int nsrc,
                             herd_packed **out)
{
    *out = NULL;
    if (n <= 0 || k <= 0)
        return herd_fail(HERD_ERR_ARG, "pack: bad weight shape %lld×%lld", (long long)n,
                         (long long)k);
    herd_packed *w = herd_calloc(sizeof *w, "packed weight");
    if (!w)
        return HERD_ERR_NOMEM;
    size_t elems;
    if (!herd_mul_size((size_t)n * (size_t)nsrc, (size_t)k, &elems) ||
        !herd_mul_size(elems, sizeof(float), &elems)) {
        herd_free(w);
        return herd_fail(HERD_ERR_RANGE, "pack: weight too large");
    }
    w->w = herd_alloc(elems, "packed weight");
    if (!w->w) {
        herd_free(w);
        return HERD_ERR_NOMEM;
    }
    w->type = type;
    w->n = n;
    w->k = k;
    w->rows = n * nsrc;
    for (int s = 0; s < nsrc; s++) {
        herd_status st = convert_rows(w->w + (size_t)s * (size_t)n * (size_t)k, n, k, srcs[s]);
        if (st) {
            herd_packed_free(w);
            return st;
        }
    }
    *out = w;
    return HERD_OK;
}

herd_status herd_pack(herd_type type, int64_t N, int64_t K, herd_wsrc src, herd_packed **out)
{
    return pack_rows(type, N, K, &src, 1, out);
}

herd_status herd_pack_swiglu(herd_type type, int64_t N, int64_t K, herd_wsrc gate, herd_wsrc up,
                             herd_packed **out)
{
    herd_wsrc srcs[2] = {gate, up};
    return pack_rows(type, N, K, srcs, 2, out);
}

void herd_packed_free(herd_packed *w)
{
    if (w) {
        herd_free(w->w);
        herd_free(w);
    }
}

herd_type herd_packed_type(const herd_packed *w)
{
    return w->type;
}
int64_t herd_packed_n(const herd_packed *w)
{
    return w->n;
}
int64_t herd_packed_k(const herd_packed *w)
{
    return w->k;
}
size_t herd_packed_bytes(const herd_packed *w)
{
    return (size_t)(w->rows * w->k) * sizeof(float);
}

herd_status herd_unpack(const herd_packed *w, float *dst)
{
    memcpy(dst, w->w, (size_t)(w->rows * w->k) * sizeof(float));
    return HERD_OK;
}

typedef struct gemm_job {
    const herd_packed *w;
    const herd_gemm_args *a;
} gemm_job;

static float dot(const float *x, const float *y, int64_t k)
{
    float s = 0;
    for (int64_t i = 0; i < k; i++)
        s += x[i] * y[i];
    return s;
}

static void gemm_part(void *ctx, int tid, int nthreads)
{
    const gemm_job *job = ctx;
    const herd_packed *w = job->w;
    const herd_gemm_args *a = job->a;
    size_t n0, n1;
    herd_split_range((size_t)w->n, 16, tid, nthreads, &n0, &n1);
    for (int64_t m = 0; m < a->M; m++) {
        const float *x = a->A + (size_t)m * a->lda;
        for (size_t n = n0; n < n1; n++) {
            float v = dot(x, w->w + n * (size_t)w->k, w->k);
            if (a->bias)
                v += a->bias[n];
            if (a->act == HERD_ACT_SILU) {
                v = v / (1.0f + expf(-v));
            } else if (a->act == HERD_ACT_SWIGLU) {
                float u = dot(x, w->w + ((size_t)w->n + n) * (size_t)w->k, w->k);
                v = v / (1.0f + expf(-v)) * u;
            }
            if (a->residual)
                v += a->residual[(size_t)m * a->ldr + n];
            if (a->out_bf16)
                ((uint16_t *)a->C)[(size_t)m * a->ldc + n] = herd_f32_to_bf16(v);
            else
                ((float *)a->C)[(size_t)m * a->ldc + n] = v;
        }
    }
}

herd_status herd_gemm(const herd_packed *w, const herd_gemm_args *args, herd_pool *pool)
{
    if (args->M < 0 || (args->act == HERD_ACT_SWIGLU) != (w->rows == 2 * w->n))
        return herd_fail(HERD_ERR_ARG, "gemm: bad arguments");
    gemm_job job = {w, args};
    herd_pool_run(pool, gemm_part, &job);
    return HERD_OK;
}
