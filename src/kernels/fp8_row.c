/* FP8 E4M3 weights with one f32 scale per output row (HERD_TYPE_FP8_E4M3: fbgemm's rowwise FP8,
 * Meta's Llama 4 FP8 release). Built on the MXFP8 E4M3 families: the codes are the same OCP E4M3
 * elements, so a panel is
 *     [16 f32 row scales, 64 bytes][the MXFP8 E4M3 panel of the codes, every block scale 2^0]
 * and the row scale is one multiply per output after the MXFP8 tile (block scale 1 is exact, so
 * the tile's dot products are those of the bare codes).
 *
 * Activations, as fbgemm's f8f8bf16_rowwise sees them:
 *   AUTO  each A row is quantized per token to E4M3, sa = min(max|a|, ub) / 448 (ub: the
 *         checkpoint's activation_scale_ub, none if 0), qa = round-even(a / sa) saturated to
 *         +-448; the tile takes the qa values (exact in bf16 and f32) and the output is
 *         dot(qa, w) · sa · sw.
 *   EXACT A stays f32: dot(a, w) · sw.
 * One family per ISA wraps the MXFP8 E4M3 family of the same ISA (its tile, A format, mr, nr and
 * epilogue); ref wraps the ref family, so the plain C twin is the same construction. */
#include "kernels/family.h"

#include <math.h>
#include <string.h>

enum { HDR = 64, NR = 16 };

static size_t fp8_panel_bytes(const kfamily *in, int64_t k)
{
    return HDR + in->panel_bytes(k);
}

static herd_status fp8_pack(const kfamily *in, const kpack_src *s, void *panel)
{
    const int64_t k = s->k, nb = k / 32;
    const size_t rec = 33 * (size_t)nb;
    uint8_t *mx = herd_alloc((size_t)NR * rec + (size_t)k + 4, "fp8 packing scratch");
    if (!mx)
        return HERD_ERR_NOMEM;
    uint8_t *own = mx + (size_t)NR * rec; /* one FP8 row when the source is another type */
    float *scales = panel;
    herd_status st = HERD_OK;
    for (int r = 0; r < s->rows && !st; r++) {
        const uint8_t *row;
        if (s->src.type == HERD_TYPE_FP8_E4M3) {
            row = kpack_row_raw(s, r);
        } else {
            st = kpack_row_f32(s, r, s->row);
            if (st)
                break;
            herd_fp8_row_quantize(s->row, own, (size_t)k);
            row = own;
        }
        float sc;
        memcpy(&sc, row, 4);
        if (!isfinite(sc)) {
            st = herd_fail(HERD_ERR_FORMAT, "herd_pack: fp8_e4m3 weight row %lld: scale %g",
                           (long long)(s->row0 + r), (double)sc);
            break;
        }
        scales[r] = sc;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *d = mx + (size_t)r * rec + 33 * (size_t)b;
            d[0] = 127; /* 2^0 */
            memcpy(d + 1, row + 4 + 32 * b, 32);
        }
    }
    if (!st) {
        kpack_src m = *s;
        m.src = (herd_wsrc){HERD_TYPE_MXFP8_E4M3, mx, rec};
        m.row0 = 0;
        m.via = HERD_TYPE_F32;
        st = in->pack(&m, (uint8_t *)panel + HDR);
        if (st == HERD_ERR_FORMAT) /* a NaN code: say which row of the source */
            st = herd_fail(HERD_ERR_FORMAT, "herd_pack: fp8_e4m3 weight rows %lld..%lld: %s",
                           (long long)s->row0, (long long)(s->row0 + s->rows - 1),
                           strstr(herd_last_error(), "NaN") ? "NaN element (E4M3 0x7F/0xFF)"
                                                            : herd_last_error());
    }
    herd_free(mx);
    return st;
}

static void fp8_unpack(const kfamily *in, const void *panel, int64_t k, int rows, float *dst,
                       size_t ldd)
{
    in->unpack((const uint8_t *)panel + HDR, k, rows, dst, ldd);
    const float *sc = panel;
    for (int r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++)
            dst[(size_t)r * ldd + (size_t)i] *= sc[r];
}

/* A rows for AUTO: the inner family's A row (bf16 if it prepares A, else f32) holding the qa
 * values, then at a 64-byte boundary the f32 sa. */
static bool a_is_bf16(const kfamily *in)
{
    return in->a_prep != NULL;
}
static size_t a_scale_at(const kfamily *in, int64_t k)
{
    size_t b = a_is_bf16(in) ? kaprep_bf16_bytes(k) : (size_t)k * sizeof(float);
    return (b + 63) & ~(size_t)63;
}
static size_t fp8_a_bytes(const kfamily *in, int64_t k)
{
    return a_scale_at(in, k) + 64;
}

static float e4m3_round(float v)
{
    return herd_mx_decode(HERD_MX_FP8_E4M3,
                          herd_mx_encode(HERD_MX_FP8_E4M3, v, HERD_MX_ROUND_EVEN));
}

static void fp8_a_prep(const kfamily *in, const float *a, int64_t k, float ub, void *dst)
{
    float amax = 0;
    for (int64_t i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(a[i])); /* fmaxf drops NaN: a NaN a gives a NaN qa below */
    if (ub > 0)
        amax = fminf(amax, ub);
    float sa = amax / 448.0f, inv = sa > 0 ? 1.0f / sa : 0.0f;
    bool bf = a_is_bf16(in);
    uint16_t *h = dst;
    float *f = dst;
    for (int64_t i = 0; i < k; i++) {
        float q = e4m3_round(a[i] * inv);
        if (bf)
            h[i] = herd_f32_to_bf16(q); /* exact: 4 significant bits */
        else
            f[i] = q;
    }
    if (bf && (k & 1))
        h[k] = 0;
    memcpy((uint8_t *)dst + a_scale_at(in, k), &sa, 4);
}

static void fp8_tile(const kfamily *in, const ktile *t)
{
    ktile u = *t;
    u.b = (const uint8_t *)t->b + HDR;
    u.b_next = t->b_next ? (const uint8_t *)t->b_next + HDR : NULL;
    in->tile(&u);
    const float *sw = t->b;
    size_t at = a_scale_at(in, t->k);
    for (int i = 0; i < t->m; i++) {
        float sa;
        memcpy(&sa, (const uint8_t *)t->a + (size_t)i * t->a_stride + at, 4);
        for (int j = 0; j < NR; j++)
            t->c[i * NR + j] *= sa * sw[j];
    }
}

static void fp8_tile_exact(const kfamily *in, const ktile *t)
{
    ktile u = *t;
    u.b = (const uint8_t *)t->b + HDR;
    u.b_next = t->b_next ? (const uint8_t *)t->b_next + HDR : NULL;
    (in->tile_exact ? in->tile_exact : in->tile)(&u);
    const float *sw = t->b;
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < NR; j++)
            t->c[i * NR + j] *= sw[j];
}

#define FP8_FAMILY(id, ISA, MR, EPI)                                                               \
    static size_t panel_bytes_##id(int64_t k)                                                      \
    {                                                                                              \
        return fp8_panel_bytes(&kfam_mxfp8_e4m3_##id, k);                                          \
    }                                                                                              \
    static herd_status pack_##id(const kpack_src *s, void *panel)                                  \
    {                                                                                              \
        return fp8_pack(&kfam_mxfp8_e4m3_##id, s, panel);                                          \
    }                                                                                              \
    static void unpack_##id(const void *panel, int64_t k, int rows, float *dst, size_t ldd)        \
    {                                                                                              \
        fp8_unpack(&kfam_mxfp8_e4m3_##id, panel, k, rows, dst, ldd);                               \
    }                                                                                              \
    static size_t a_bytes_##id(int64_t k)                                                          \
    {                                                                                              \
        return fp8_a_bytes(&kfam_mxfp8_e4m3_##id, k);                                              \
    }                                                                                              \
    static void a_prep_##id(const float *a, int64_t k, void *dst)                                  \
    {                                                                                              \
        fp8_a_prep(&kfam_mxfp8_e4m3_##id, a, k, 0, dst);                                           \
    }                                                                                              \
    static void a_prep_ub_##id(const float *a, int64_t k, float ub, void *dst)                     \
    {                                                                                              \
        fp8_a_prep(&kfam_mxfp8_e4m3_##id, a, k, ub, dst);                                          \
    }                                                                                              \
    static void tile_##id(const ktile *t)                                                          \
    {                                                                                              \
        fp8_tile(&kfam_mxfp8_e4m3_##id, t);                                                        \
    }                                                                                              \
    static void tile_exact_##id(const ktile *t)                                                    \
    {                                                                                              \
        fp8_tile_exact(&kfam_mxfp8_e4m3_##id, t);                                                  \
    }                                                                                              \
    const kfamily kfam_fp8_e4m3_##id = {                                                           \
        .name = "fp8_e4m3." #id,                                                                   \
        .type = HERD_TYPE_FP8_E4M3,                                                                \
        .isa = ISA,                                                                                \
        .mr = MR, /* the inner family's */                                                         \
        .nr = NR,                                                                                  \
        .panel_bytes = panel_bytes_##id,                                                           \
        .pack = pack_##id,                                                                         \
        .unpack = unpack_##id,                                                                     \
        .a_row_bytes = a_bytes_##id,                                                               \
        .a_prep = a_prep_##id,                                                                     \
        .a_prep_ub = a_prep_ub_##id,                                                               \
        .a_desc = "e4m3 per row",                                                                  \
        .tile = tile_##id,                                                                         \
        .tile_exact = tile_exact_##id,                                                             \
        .epilogue = EPI,                                                                           \
    };

FP8_FAMILY(ref, HERD_ISA_REF, KMAX_MR, kepi_ref)
FP8_FAMILY(avx2, HERD_ISA_AVX2, 12, kepi_avx2)
FP8_FAMILY(avx512, HERD_ISA_AVX512, 14, kepi_avx512)
FP8_FAMILY(avx512bf16, HERD_ISA_AVX512BF16, 12, kepi_avx512)
