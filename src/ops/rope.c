/* RoPE on interleaved pairs with optional llama3 frequency scaling, and the NoPE-layer query
 * temperature. Angles are formed in double: the reference is float64 and this costs nothing. */
#include "herd/ops.h"
#include "rope_simd.h"

#include <math.h>

herd_status herd_rope_init(herd_rope *r, int64_t head_dim, double theta,
                           const herd_rope_scaling *sc)
{
    r->head_dim = head_dim;
    r->inv_freq = NULL;
    if (head_dim <= 0 || head_dim % 2)
        return herd_fail(HERD_ERR_ARG, "rope: head_dim %lld must be even", (long long)head_dim);
    r->inv_freq = herd_alloc((size_t)head_dim / 2 * sizeof(double), "rope frequencies");
    if (!r->inv_freq)
        return HERD_ERR_NOMEM;
    for (int64_t i = 0; i < head_dim / 2; i++) {
        double f = 1.0 / pow(theta, (double)(2 * i) / (double)head_dim);
        if (sc && sc->llama3) {
            double n0 = sc->original_max_pos, lo = sc->low_freq_factor, hi = sc->high_freq_factor;
            double low_wl = n0 / lo, high_wl = n0 / hi, wl = 2 * M_PI / f;
            if (wl < high_wl) {
                /* high frequencies unchanged */
            } else if (wl > low_wl) {
                f /= sc->factor;
            } else if (hi != lo) { /* the medium band; empty when lo == hi (Scout): no 0/0 */
                double s = (n0 / wl - lo) / (hi - lo);
                f = (1 - s) * f / sc->factor + s * f;
            }
        }
        r->inv_freq[i] = f;
    }
    return HERD_OK;
}

void herd_rope_free(herd_rope *r)
{
    herd_free(r->inv_freq);
    r->inv_freq = NULL;
}

static void rotate(float *x, int64_t nheads, int64_t head_dim, int64_t i, float c, float s)
{
    for (int64_t h = 0; h < nheads; h++) {
        float *p = x + h * head_dim + 2 * i;
        float x0 = p[0], x1 = p[1];
        p[0] = x0 * c - x1 * s;
        p[1] = x0 * s + x1 * c;
    }
}

void herd_rope_apply(const herd_rope *r, float *x, int64_t nheads, int64_t pos)
{
    herd_rope_apply_qk(r, x, nheads, NULL, 0, pos);
}

void herd_rope_apply_qk(const herd_rope *r, float *q, int64_t nq, float *k, int64_t nk, int64_t pos)
{
    int64_t half = r->head_dim / 2;
    for (int64_t i = 0; i < half; i++) {
        double a = (double)pos * r->inv_freq[i];
        float c = (float)cos(a), s = (float)sin(a);
        rotate(q, nq, r->head_dim, i, c, s);
        if (k)
            rotate(k, nk, r->head_dim, i, c, s);
    }
}

void herd_rope_table(const herd_rope *r, int64_t pos, float *cs)
{
    int64_t D = r->head_dim;
    for (int64_t i = 0; i < D / 2; i++) { /* the angles herd_rope_apply_qk forms */
        double a = (double)pos * r->inv_freq[i];
        float c = (float)cos(a), s = (float)sin(a);
        cs[2 * i] = cs[2 * i + 1] = c;
        cs[D + 2 * i] = -s;
        cs[D + 2 * i + 1] = s;
    }
}

void herd_rope_rotate_ref(const float *cs, float *x, int64_t nheads, int64_t D)
{
    for (int64_t i = 0; i < D / 2; i++)
        rotate(x, nheads, D, i, cs[2 * i], cs[D + 2 * i + 1]);
}

void herd_rope_apply_table(const herd_rope *r, const float *cs, float *q, int64_t nq, float *k,
                           int64_t nk)
{
    void (*rot)(const float *, float *, int64_t, int64_t) =
        herd_isa() >= HERD_ISA_AVX512 ? herd_rope_rotate_avx512 : herd_rope_rotate_ref;
    rot(cs, q, nq, r->head_dim);
    if (k)
        rot(cs, k, nk, r->head_dim);
}

float herd_attn_temperature(int64_t pos, double floor_scale, double attn_scale)
{
    return (float)(1.0 + attn_scale * log(1.0 + floor((double)(pos + 1) / floor_scale)));
}
