/* Packing weights (B) once, per type, in the layout of the family chosen for herd_isa(). */
#include "kernels/family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

herd_status kpack_row_f32(const kpack_src *s, int r, float *dst)
{
    herd_status st = herd_row_to_f32(s->src.type, kpack_row_raw(s, r), dst, (size_t)s->k);
    if (st)
        return st;
    if (s->via != HERD_TYPE_F32 && s->via != s->src.type) {
        /* Emulated type: round the weights through it so results match its precision. */
        st = herd_row_from_f32(s->via, dst, s->tmp, (size_t)s->k);
        if (!st)
            st = herd_row_to_f32(s->via, s->tmp, dst, (size_t)s->k);
    }
    return st;
}

const void *kpack_row_raw(const kpack_src *s, int r)
{
    return (const uint8_t *)s->src.data + (size_t)(s->row0 + r) * s->src.row_bytes;
}

static herd_status check_src(herd_type type, int64_t N, int64_t K, herd_wsrc *src, const char *what)
{
    const herd_type_info *ti = herd_type_get(src->type), *to = herd_type_get(type);
    if (!ti || !to)
        return herd_fail(HERD_ERR_ARG, "herd_pack: unknown weight type %d", (int)src->type);
    if (!src->data)
        return herd_fail(HERD_ERR_ARG, "herd_pack: %s has no data", what);
    if (src->type == HERD_TYPE_INT8)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "herd_pack: %s: int8 source rows carry no scale; pass f32, f16 or bf16",
                         what);
    if (K % ti->block_elems || K % to->block_elems)
        return herd_fail(HERD_ERR_ARG, "herd_pack: %s: K = %lld is not a multiple of the %s block",
                         what, (long long)K,
                         K % ti->block_elems ? herd_type_name(src->type) : herd_type_name(type));
    size_t rb = herd_type_row_bytes(src->type, (size_t)K);
    if (src->row_bytes == 0)
        src->row_bytes = rb;
    if (src->row_bytes < rb)
        return herd_fail(HERD_ERR_ARG, "herd_pack: %s: row stride %zu bytes < row size %zu", what,
                         src->row_bytes, rb);
    (void)N;
    return HERD_OK;
}

static herd_status pack_any(herd_type type, int64_t N, int64_t K, herd_wsrc *srcs, int nmat,
                            herd_packed **out)
{
    *out = NULL;
    if (N <= 0 || K <= 0 || N > ((int64_t)1 << 40) || K > ((int64_t)1 << 30))
        return herd_fail(HERD_ERR_ARG, "herd_pack: bad weight shape %lld×%lld", (long long)N,
                         (long long)K);
    if (!herd_type_get(type))
        return herd_fail(HERD_ERR_ARG, "herd_pack: unknown weight type %d", (int)type);
    for (int i = 0; i < nmat; i++) {
        herd_status st = check_src(type, N, K, &srcs[i], nmat == 1 ? "weight" : i ? "up" : "gate");
        if (st)
            return st;
    }
    const kfamily *fam = kfam_select(type, herd_isa());
    if (type == HERD_TYPE_FP8_E4M3 && K % 32)
        fam = NULL; /* its families run on 32-blocks; other K are emulated (exact values) */
    bool emulated = false;
    if (!fam) {
        /* No family for this type yet: run the f32 kernels on weights rounded through the
         * type, if the formats layer can convert it both ways (checked on one row below). */
        fam = kfam_select(HERD_TYPE_F32, herd_isa());
        emulated = true;
    }
    if (type == HERD_TYPE_INT8 && K > 65536)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "herd_pack: int8 weights need K <= 65536 (int32 accumulators), got %lld",
                         (long long)K);
    herd_packed *w = herd_calloc(sizeof *w, "packed weight");
    if (!w)
        return HERD_ERR_NOMEM;
    w->type = type;
    w->fam = fam;
    w->n = N;
    w->k = K;
    w->nmat = nmat;
    w->emulated = emulated;
    w->npanels = (N + fam->nr - 1) / fam->nr;
    w->panel_stride = (fam->panel_bytes(K) + 63) & ~(size_t)63;
    size_t total;
    if (!herd_mul_size(w->panel_stride, (size_t)w->npanels * (size_t)nmat, &total)) {
        herd_free(w);
        return herd_fail(HERD_ERR_RANGE, "herd_pack: weight %lld×%lld too large", (long long)N,
                         (long long)K);
    }
    w->data = kpacked_alloc(total, &w->slab);
    float *tmp = herd_alloc((size_t)K * sizeof(float) * 3, "packing scratch");
    float *row = tmp ? tmp + K : NULL;
    herd_status st = w->data && tmp ? HERD_OK : HERD_ERR_NOMEM;
    for (int64_t p = 0; p < w->npanels && !st; p++) {
        for (int m = 0; m < nmat && !st; m++) {
            kpack_src s = {
                .src = srcs[m],
                .row0 = p * fam->nr,
                .rows = (int)(N - p * fam->nr < fam->nr ? N - p * fam->nr : fam->nr),
                .k = K,
                .row = row,
                .via = emulated ? type : HERD_TYPE_F32,
                .tmp = tmp,
            };
            st = fam->pack(&s, w->data + (size_t)(p * nmat + m) * w->panel_stride);
        }
    }
    herd_free(tmp);
    if (st) {
        if (emulated && st == HERD_ERR_UNSUPPORTED)
            st = herd_fail(HERD_ERR_UNSUPPORTED,
                           "herd_pack: no kernel family for weight type %s yet (%s)",
                           herd_type_name(type), herd_last_error());
        herd_packed_free(w);
        return st;
    }
    if (emulated)
        herd_log(HERD_LOG_DEBUG, "herd_pack: %s has no kernel family; emulated with %s",
                 herd_type_name(type), fam->name);
    *out = w;
    return HERD_OK;
}

herd_status herd_pack(herd_type type, int64_t N, int64_t K, herd_wsrc src, herd_packed **out)
{
    if (!out)
        return herd_fail(HERD_ERR_ARG, "herd_pack: no output pointer");
    return pack_any(type, N, K, &src, 1, out);
}

herd_status herd_pack_swiglu(herd_type type, int64_t N, int64_t K, herd_wsrc gate, herd_wsrc up,
                             herd_packed **out)
{
    if (!out)
        return herd_fail(HERD_ERR_ARG, "herd_pack_swiglu: no output pointer");
    herd_wsrc srcs[2] = {gate, up};
    return pack_any(type, N, K, srcs, 2, out);
}

void herd_packed_free(herd_packed *w)
{
    if (w) {
        kpacked_free(w->data, w->slab);
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

void herd_packed_set_act_scale_ub(herd_packed *w, float ub)
{
    if (w)
        w->act_ub = ub > 0 && isfinite(ub) ? ub : 0;
}

size_t herd_packed_bytes(const herd_packed *w)
{
    return w->panel_stride * (size_t)w->npanels * (size_t)w->nmat;
}

const char *herd_packed_kernel(const herd_packed *w)
{
    return w->emulated ? "emulated" : w->fam->name;
}

herd_status herd_unpack(const herd_packed *w, float *dst)
{
    if (!w || !dst)
        return herd_fail(HERD_ERR_ARG, "herd_unpack: null argument");
    const kfamily *fam = w->fam;
    for (int64_t p = 0; p < w->npanels; p++) {
        int rows = (int)(w->n - p * fam->nr < fam->nr ? w->n - p * fam->nr : fam->nr);
        for (int m = 0; m < w->nmat; m++)
            fam->unpack(w->data + (size_t)(p * w->nmat + m) * w->panel_stride, w->k, rows,
                        dst + ((size_t)m * (size_t)w->n + (size_t)(p * fam->nr)) * (size_t)w->k,
                        (size_t)w->k);
    }
    return HERD_OK;
}
