/* The epilogue in plain C: bias, activation (SiLU, SwiGLU), residual, f32 or bf16 store. The
 * vector versions (x86/epilogue_*.c) perform the same IEEE operations in the same order and
 * the same exp polynomial, so they round identically. */
#include "kernels/family.h"

#include <math.h>

/* exp(x) = 2^n · p(r), n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2), p the degree-6
 * Taylor polynomial (|r| ≤ ln2/2: truncation < 1.2e-7 relative). */
float kexp_ref(float x)
{
    x = fmaxf(x, -87.0f);
    x = fminf(x, 88.0f);
    float n = nearbyintf(x * 1.44269504f);
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.38888889e-3f;
    p = fmaf(p, r, 8.33333333e-3f);
    p = fmaf(p, r, 4.16666667e-2f);
    p = fmaf(p, r, 1.66666667e-1f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    return ldexpf(p, (int)n);
}

void kepi_ref(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u)
{
    const float *res = e->residual ? e->residual + (size_t)row * e->ldr + col : NULL;
    for (int j = 0; j < n; j++) {
        float v = g[j];
        if (e->bias)
            v = v + e->bias[col + j];
        if (e->act == HERD_ACT_SILU)
            v = v / (1.0f + kexp_ref(-v));
        else if (e->act == HERD_ACT_SWIGLU)
            v = v / (1.0f + kexp_ref(-v)) * u[j];
        if (res)
            v = v + res[j];
        if (e->out_bf16)
            ((uint16_t *)e->c)[(size_t)row * e->ldc + (size_t)col + (size_t)j] =
                herd_f32_to_bf16(v);
        else
            ((float *)e->c)[(size_t)row * e->ldc + (size_t)col + (size_t)j] = v;
    }
}
