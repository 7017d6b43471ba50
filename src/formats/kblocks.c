/* ggml's K-quant and i-quant blocks: decoding to the common shape of kblocks.h, encoding back,
 * row (de)quantization, and our quantizers.
 *
 * The quantizers fit each sub-block by a small search over candidate scales with a weighted
 * least-squares refit (weights favour large values, which matter most for a dot product),
 * then quantize the sub-block scales against the fp16 super-block scale and requantize the
 * values with the scales as stored. Same kind of method as ggml's reference quantizers; the
 * code and its constants are ours. Non-finite inputs are quantized as 0. */
#include "formats/kblocks.h"

#include <math.h>
#include <string.h>

const int8_t kb_iq4_grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                1,    13,   25,  38,  53,  69,  89,  113};

static const kb_info infos[] = {
    {HERD_TYPE_Q2_K, 256, 16, 84, 2, 0, true, false},
    {HERD_TYPE_Q3_K, 256, 16, 110, 3, 4, false, false},
    {HERD_TYPE_Q4_K, 256, 32, 144, 4, 0, true, false},
    {HERD_TYPE_Q5_K, 256, 32, 176, 5, 0, true, false},
    {HERD_TYPE_Q6_K, 256, 16, 210, 6, 32, false, false},
    {HERD_TYPE_IQ4_NL, 32, 32, 18, 4, 0, false, true},
    {HERD_TYPE_IQ4_XS, 256, 32, 136, 4, 0, false, true},
    {HERD_TYPE_TQ1_0, 256, 32, 54, 2, 1, false, false},
    {HERD_TYPE_TQ2_0, 256, 32, 66, 2, 1, false, false},
};

const kb_info *kb_info_get(herd_type t)
{
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (infos[i].type == t)
            return &infos[i];
    return NULL;
}

static float f16_at(const uint8_t *p)
{
    return herd_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}
static void put_f16(uint8_t *p, float v)
{
    uint16_t h = herd_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* Q4_K/Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. */
static void scales_k4_get(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}
static void scales_k4_put(uint8_t *s, const int8_t *sc, const uint8_t *m)
{
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        int a = sc[j] & 63, b = m[j] & 63;
        if (j < 4) {
            s[j] |= (uint8_t)a;
            s[j + 4] |= (uint8_t)b;
        } else {
            s[j + 4] |= (uint8_t)((a & 15) | (b & 15) << 4);
            s[j - 4] |= (uint8_t)((a >> 4) << 6);
            s[j] |= (uint8_t)((b >> 4) << 6);
        }
    }
}

/* Q3_K: 16 six-bit scales (stored +32) in 12 bytes: low nibbles in bytes 0..7, high pairs in
 * bytes 8..11. */
static int scale_q3_get(const uint8_t *s, int j)
{
    int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    return lo | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
}
static void scales_q3_put(uint8_t *s, const int8_t *sc)
{
    memset(s, 0, 12);
    for (int j = 0; j < 16; j++) {
        int v = (sc[j] + 32) & 63;
        s[j < 8 ? j : j - 8] |= (uint8_t)((v & 15) << (j < 8 ? 0 : 4));
        s[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
    }
}

/* TQ1_0: five base-3 digits per byte (four in the last 4 bytes), stored as the byte
 * ceil(v·256/243) so digit n is the top "trit" of byte·3^n: ((uint8_t)(byte·3^n)·3) >> 8.
 * Values 0..159 are digits of bytes 0..31 (value 32n + m), 160..239 of bytes 32..47
 * (160 + 16n + m), 240..255 of bytes 48..51 (240 + 4n + j). */
static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
static void tq1_pos(int e, int *byte, int *digit)
{
    if (e < 160)
        *byte = e % 32, *digit = e / 32;
    else if (e < 240)
        *byte = 32 + (e - 160) % 16, *digit = (e - 160) / 16;
    else
        *byte = 48 + (e - 240) % 4, *digit = (e - 240) / 4;
}
static int tq1_digit(const uint8_t *x, int e)
{
    int byte, digit;
    tq1_pos(e, &byte, &digit);
    uint8_t q = (uint8_t)(x[byte] * pow3[digit]);
    return ((unsigned)q * 3) >> 8;
}

void kb_decode(const kb_info *I, const uint8_t *x, kb_block *b)
{
    b->dmin = 0;
    memset(b->m, 0, sizeof b->m);
    switch (I->type) {
    case HERD_TYPE_Q2_K:
        b->d = f16_at(x + 80);
        b->dmin = f16_at(x + 82);
        for (int s = 0; s < 16; s++) {
            b->sc[s] = (int8_t)(x[s] & 15);
            b->m[s] = (uint8_t)(x[s] >> 4);
        }
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            b->code[e] = (uint8_t)((x[16 + 32 * n + l] >> (2 * j)) & 3);
        }
        break;
    case HERD_TYPE_Q3_K:
        b->d = f16_at(x + 108);
        for (int s = 0; s < 16; s++)
            b->sc[s] = (int8_t)(scale_q3_get(x + 96, s) - 32);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            int lo = (x[32 + 32 * n + l] >> (2 * j)) & 3, hi = (x[l] >> (4 * n + j)) & 1;
            b->code[e] = (uint8_t)(lo | hi << 2);
        }
        break;
    case HERD_TYPE_Q4_K:
    case HERD_TYPE_Q5_K: {
        const bool q5 = I->type == HERD_TYPE_Q5_K;
        const uint8_t *qh = x + 16, *qs = x + (q5 ? 48 : 16);
        b->d = f16_at(x);
        b->dmin = f16_at(x + 2);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            scales_k4_get(x + 4, s, &sc, &m);
            b->sc[s] = (int8_t)sc;
            b->m[s] = (uint8_t)m;
        }
        for (int e = 0; e < 256; e++) {
            int c = e / 64, hi = (e % 64) / 32, l = e % 32;
            int v = (qs[32 * c + l] >> (4 * hi)) & 15;
            if (q5)
                v |= ((qh[l] >> (2 * c + hi)) & 1) << 4;
            b->code[e] = (uint8_t)v;
        }
        break;
    }
    case HERD_TYPE_Q6_K:
        b->d = f16_at(x + 208);
        for (int s = 0; s < 16; s++)
            b->sc[s] = (int8_t)x[192 + s];
        for (int e = 0; e < 256; e++) {
            int n = e / 128, r = (e % 128) / 32, l = e % 32;
            const uint8_t *ql = x + 64 * n, *qh = x + 128 + 32 * n;
            int lo = (ql[l + 32 * (r & 1)] >> (4 * (r >> 1))) & 15;
            b->code[e] = (uint8_t)(lo | ((qh[l] >> (2 * r)) & 3) << 4);
        }
        break;
    case HERD_TYPE_IQ4_NL:
        b->d = f16_at(x);
        b->sc[0] = 1;
        for (int e = 0; e < 32; e++)
            b->code[e] = (uint8_t)((x[2 + e % 16] >> (4 * (e / 16))) & 15);
        break;
    case HERD_TYPE_IQ4_XS: {
        b->d = f16_at(x);
        unsigned h = (unsigned)(x[2] | x[3] << 8);
        for (int s = 0; s < 8; s++)
            b->sc[s] =
                (int8_t)((((x[4 + s / 2] >> (4 * (s % 2))) & 15) | ((h >> (2 * s)) & 3) << 4) - 32);
        for (int e = 0; e < 256; e++)
            b->code[e] = (uint8_t)((x[8 + 16 * (e / 32) + e % 16] >> (4 * ((e % 32) / 16))) & 15);
        break;
    }
    case HERD_TYPE_TQ1_0:
        b->d = f16_at(x + 52);
        for (int e = 0; e < 256; e++)
            b->code[e] = (uint8_t)tq1_digit(x, e);
        break;
    case HERD_TYPE_TQ2_0:
        b->d = f16_at(x + 64);
        for (int e = 0; e < 256; e++)
            b->code[e] = (uint8_t)((x[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3);
        break;
    default: break;
    }
    if (I->type == HERD_TYPE_TQ1_0 || I->type == HERD_TYPE_TQ2_0)
        for (int s = 0; s < 8; s++)
            b->sc[s] = 1; /* no sub-block scales: value = d·(code − 1) */
    for (int e = 0; e < I->elems; e++)
        b->q[e] = I->table ? kb_iq4_grid[b->code[e]] : (int8_t)(b->code[e] - I->qoff);
}

void kb_encode(const kb_info *I, const kb_block *b, uint8_t *x)
{
    memset(x, 0, (size_t)I->bytes);
    switch (I->type) {
    case HERD_TYPE_Q2_K:
        put_f16(x + 80, b->d);
        put_f16(x + 82, b->dmin);
        for (int s = 0; s < 16; s++)
            x[s] = (uint8_t)((b->sc[s] & 15) | (b->m[s] & 15) << 4);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            x[16 + 32 * n + l] |= (uint8_t)((b->code[e] & 3) << (2 * j));
        }
        break;
    case HERD_TYPE_Q3_K:
        put_f16(x + 108, b->d);
        scales_q3_put(x + 96, b->sc);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            x[32 + 32 * n + l] |= (uint8_t)((b->code[e] & 3) << (2 * j));
            x[l] |= (uint8_t)(((b->code[e] >> 2) & 1) << (4 * n + j));
        }
        break;
    case HERD_TYPE_Q4_K:
    case HERD_TYPE_Q5_K: {
        const bool q5 = I->type == HERD_TYPE_Q5_K;
        uint8_t *qh = x + 16, *qs = x + (q5 ? 48 : 16);
        put_f16(x, b->d);
        put_f16(x + 2, b->dmin);
        scales_k4_put(x + 4, b->sc, b->m);
        for (int e = 0; e < 256; e++) {
            int c = e / 64, hi = (e % 64) / 32, l = e % 32;
            qs[32 * c + l] |= (uint8_t)((b->code[e] & 15) << (4 * hi));
            if (q5)
                qh[l] |= (uint8_t)(((b->code[e] >> 4) & 1) << (2 * c + hi));
        }
        break;
    }
    case HERD_TYPE_Q6_K:
        put_f16(x + 208, b->d);
        for (int s = 0; s < 16; s++)
            x[192 + s] = (uint8_t)b->sc[s];
        for (int e = 0; e < 256; e++) {
            int n = e / 128, r = (e % 128) / 32, l = e % 32;
            uint8_t *ql = x + 64 * n, *qh = x + 128 + 32 * n;
            ql[l + 32 * (r & 1)] |= (uint8_t)((b->code[e] & 15) << (4 * (r >> 1)));
            qh[l] |= (uint8_t)(((b->code[e] >> 4) & 3) << (2 * r));
        }
        break;
    case HERD_TYPE_IQ4_NL:
        put_f16(x, b->d);
        for (int e = 0; e < 32; e++)
            x[2 + e % 16] |= (uint8_t)((b->code[e] & 15) << (4 * (e / 16)));
        break;
    case HERD_TYPE_IQ4_XS: {
        put_f16(x, b->d);
        unsigned h = 0;
        for (int s = 0; s < 8; s++) {
            int v = (b->sc[s] + 32) & 63;
            x[4 + s / 2] |= (uint8_t)((v & 15) << (4 * (s % 2)));
            h |= (unsigned)(v >> 4) << (2 * s);
        }
        x[2] = (uint8_t)h;
        x[3] = (uint8_t)(h >> 8);
        for (int e = 0; e < 256; e++)
            x[8 + 16 * (e / 32) + e % 16] |= (uint8_t)((b->code[e] & 15) << (4 * ((e % 32) / 16)));
        break;
    }
    case HERD_TYPE_TQ1_0: {
        put_f16(x + 52, b->d);
        unsigned v[52] = {0};
        for (int byte = 0; byte < 52; byte++) /* digit 0 is the most significant */
            for (int digit = 0; digit < 5; digit++) {
                int e = byte < 32   ? 32 * digit + byte
                        : byte < 48 ? 160 + 16 * digit + (byte - 32)
                                    : 240 + 4 * digit + (byte - 48);
                int c = byte >= 48 && digit == 4 ? 0 : b->code[e] > 2 ? 2 : b->code[e];
                v[byte] = v[byte] * 3 + (unsigned)c;
            }
        for (int byte = 0; byte < 52; byte++)
            x[byte] = (uint8_t)((v[byte] * 256 + 242) / 243);
        break;
    }
    case HERD_TYPE_TQ2_0:
        put_f16(x + 64, b->d);
        for (int e = 0; e < 256; e++)
            x[32 * (e / 128) + e % 32] |= (uint8_t)((b->code[e] & 3) << (2 * ((e % 128) / 32)));
        break;
    default: break;
    }
}

/* ---- quantizers --------------------------------------------------------------------------- */

/* nearbyintf in the default rounding mode (ties to even) without a libm call, for |v| < 2^22:
 * adding 1.5 * 2^23 leaves no fraction bits, and 1.5 * 2^23 is even. */
static inline float round_even(float v)
{
    return (v + 12582912.0f) - 12582912.0f;
}

/* v rounded to the nearest integer in lo..hi; NaN gives 0. Clamping first and rounding then
 * gives the same integer as rounding first (the bounds are integers). */
static inline int iround(float v, int lo, int hi)
{
    if (!(v == v))
        return 0;
    v = v < (float)lo ? (float)lo : v > (float)hi ? (float)hi : v;
    return (int)round_even(v);
}

static float f16_round(float v)
{
    return herd_f16_to_f32(herd_f32_to_f16(v));
}

/* x ≈ s·L − mn with L in 0..nmax, s ≥ 0, mn ≥ 0 (mins of K-quants never go above 0). Candidate
 * scales around nmax/(max − min), each refitted by weighted least squares, in two passes: codes
 * rounded against the block's min, and against the best offset found so far (as ggml's search
 * does: it reaches ggml's error, the first pass alone stays about 2% above it on Q4_K); the best
 * of both wins. */
void kb_fit_asym(int n, const float *x, const float *w, int nmax, float *s_out, float *mn_out)
{
    float xmin = 0, xmax = x[0];
    for (int i = 0; i < n; i++) {
        xmin = x[i] < xmin ? x[i] : xmin;
        xmax = x[i] > xmax ? x[i] : xmax;
    }
    *s_out = 0;
    *mn_out = -xmin;
    if (!(xmax > xmin))
        return;
    double sw = 0, swx = 0; /* the same in every step */
    for (int i = 0; i < n; i++)
        sw += w[i], swx += w[i] * x[i];
    double best = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        double pass_best = INFINITY;
        float lo = xmin; /* the offset codes are rounded against */
        for (int step = -10; step <= 10; step++) {
            float iscale = ((float)nmax + 0.1f * (float)step) / (xmax - lo);
            double swl = 0, swll = 0, swlx = 0;
            int L[32];
            for (int i = 0; i < n; i++) {
                L[i] = iround(iscale * (x[i] - lo), 0, nmax);
                swl += w[i] * L[i], swll += w[i] * L[i] * L[i], swlx += w[i] * L[i] * x[i];
            }
            double det = sw * swll - swl * swl, s, off;
            if (det <= 0)
                continue;
            s = (sw * swlx - swl * swx) / det;
            off = (swll * swx - swl * swlx) / det;
            if (off > 0) {
                off = 0;
                s = swlx / swll;
            }
            double err = 0;
            for (int i = 0; i < n; i++) {
                double d = s * L[i] + off - x[i];
                err += w[i] * d * d;
            }
            if (err < pass_best) {
                pass_best = err;
                if (pass == 1)
                    lo = (float)off;
            }
            if (err < best) {
                best = err;
                *s_out = (float)s;
                *mn_out = (float)-off;
            }
        }
    }
}

/* x ≈ s·L with L in −nmax..nmax−1 (the extreme value goes to −nmax, the longer side). */
float kb_fit_sym(int n, const float *x, const float *w, int nmax)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax == 0)
        return 0;
    float best = -1, s_best = 0;
    for (int step = -9; step <= 9; step++) {
        float iscale = -((float)nmax + 0.1f * (float)step) / max;
        double swlx = 0, swll = 0;
        for (int i = 0; i < n; i++) {
            int L = iround(iscale * x[i], -nmax, nmax - 1);
            swlx += w[i] * L * x[i], swll += w[i] * L * L;
        }
        if (swll > 0 && swlx * swlx / swll > best) {
            best = (float)(swlx * swlx / swll);
            s_best = (float)(swlx / swll);
        }
    }
    return s_best;
}

/* The midpoints between neighbouring levels of kb_iq4_grid (sorted). */
const float kb_iq4_mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                              7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};

/* The grid index nearest v (ties to the lower level): a binary search over the midpoints, which
 * finds how many of them lie below v. NaN goes to index 0. */
static int grid_nearest(float v)
{
    int lo = 0;
    for (int step = 8; step; step >>= 1)
        if (lo + step <= 15 && v > kb_iq4_mid[lo + step - 1])
            lo += step;
    return lo;
}

/* x ≈ s·grid[idx]: a search over s like fit_sym, on the non-linear grid. */
float kb_fit_grid(int n, const float *x, const float *w)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax == 0)
        return 0;
    float best = -1, s_best = max / kb_iq4_grid[0];
    for (int step = -10; step <= 10; step++) {
        float id = ((float)kb_iq4_grid[0] + (float)step) / max;
        double swlx = 0, swll = 0;
        for (int i = 0; i < n; i++) {
            float v = kb_iq4_grid[grid_nearest(id * x[i])];
            swlx += w[i] * v * x[i], swll += w[i] * v * v;
        }
        if (swll > 0 && swlx * swlx / swll > best) {
            best = (float)(swlx * swlx / swll);
            s_best = (float)(swlx / swll);
        }
    }
    return s_best;
}

static void quantize_block(const kb_info *I, const float *in, kb_block *b, bool avx512)
{
    const int n = I->elems, sub = I->sub, ns = n / sub;
    float x[KB_MAX_ELEMS], w[KB_MAX_ELEMS], s[KB_MAX_SUBS], mn[KB_MAX_SUBS];
    memset(b, 0, sizeof *b);
    for (int i = 0; i < n; i++)
        x[i] = isfinite(in[i]) ? in[i] : 0.0f;
    if (I->type == HERD_TYPE_TQ1_0 || I->type == HERD_TYPE_TQ2_0) {
        /* ternary: d = max|x|, t = round(x/d) (these types are for ternary-trained weights) */
        float amax = 0;
        for (int i = 0; i < n; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        b->d = f16_round(amax);
        for (int j = 0; j < ns; j++)
            b->sc[j] = 1;
        for (int i = 0; i < n; i++) {
            b->q[i] = (int8_t)(b->d > 0 ? iround(x[i] / b->d, -1, 1) : 0);
            b->code[i] = (uint8_t)(b->q[i] + 1);
        }
        return;
    }
    /* weights: the value's magnitude plus its sub-block's RMS, so no value is ignored */
    for (int j = 0; j < ns; j++) {
        float ss = 0;
        for (int i = 0; i < sub; i++)
            ss += x[j * sub + i] * x[j * sub + i];
        float rms = sqrtf(ss / (float)sub);
        for (int i = 0; i < sub; i++)
            w[j * sub + i] = rms + fabsf(x[j * sub + i]);
    }
    const int nmax = (1 << I->bits) - 1;
    if (I->has_min) {
        const int smax = I->type == HERD_TYPE_Q2_K ? 15 : 63;
        float smx = 0, mmx = 0;
        const bool asym8 = avx512 && ns % 8 == 0; /* eight sub-blocks per call */
        for (int j = 0; asym8 && j < ns; j += 8)
            kb_fit_asym_avx512(sub, x + j * sub, w + j * sub, nmax, &s[j], &mn[j]);
        for (int j = 0; j < ns; j++) {
            if (!asym8)
                kb_fit_asym(sub, x + j * sub, w + j * sub, nmax, &s[j], &mn[j]);
            smx = fmaxf(smx, s[j]);
            mmx = fmaxf(mmx, mn[j]);
        }
        b->d = f16_round(smx / (float)smax);
        b->dmin = f16_round(mmx / (float)smax);
        for (int j = 0; j < ns; j++) {
            b->sc[j] = (int8_t)(b->d > 0 ? iround(s[j] / b->d, 0, smax) : 0);
            b->m[j] = (uint8_t)(b->dmin > 0 ? iround(mn[j] / b->dmin, 0, smax) : 0);
            float dl = b->d * (float)b->sc[j], ml = b->dmin * (float)b->m[j];
            for (int i = 0; i < sub; i++) {
                int e = j * sub + i;
                b->q[e] = (int8_t)(dl > 0 ? iround((x[e] + ml) / dl, 0, nmax) : 0);
            }
        }
    } else {
        /* signed sub-block scales against d (Q6_K: int8; Q3_K and IQ4_XS: −32..31) */
        const int lo = I->type == HERD_TYPE_Q6_K ? -128 : -32, hi = -lo - 1;
        float smax = 0, sabs = 0;
        const bool sym8 = avx512 && ns % 8 == 0;
        for (int j = 0; sym8 && j < ns; j += 8) {
            if (I->table)
                kb_fit_grid_avx512(sub, x + j * sub, w + j * sub, &s[j]);
            else
                kb_fit_sym_avx512(sub, x + j * sub, w + j * sub, (nmax + 1) / 2, &s[j]);
        }
        for (int j = 0; j < ns; j++) {
            if (!sym8)
                s[j] = I->table ? kb_fit_grid(sub, x + j * sub, w + j * sub)
                                : kb_fit_sym(sub, x + j * sub, w + j * sub, (nmax + 1) / 2);
            if (fabsf(s[j]) > sabs) {
                sabs = fabsf(s[j]);
                smax = s[j];
            }
        }
        if (I->type == HERD_TYPE_IQ4_NL) {
            b->d = f16_round(s[0]);
            b->sc[0] = 1;
        } else {
            b->d = f16_round(smax / (float)lo);
            for (int j = 0; j < ns; j++)
                b->sc[j] = (int8_t)(b->d != 0 ? iround(s[j] / b->d, lo, hi) : 0);
        }
        for (int j = 0; j < ns; j++) {
            float dl = b->d * (float)b->sc[j];
            for (int i = 0; i < sub; i++) {
                int e = j * sub + i;
                if (I->table) {
                    int c = dl != 0 ? grid_nearest(x[e] / dl) : 8;
                    b->code[e] = (uint8_t)c;
                    b->q[e] = kb_iq4_grid[c];
                } else {
                    int h = (nmax + 1) / 2;
                    b->q[e] = (int8_t)(dl != 0 ? iround(x[e] / dl, -h, h - 1) : 0);
                }
            }
        }
    }
    if (!I->table)
        for (int e = 0; e < n; e++)
            b->code[e] = (uint8_t)(b->q[e] + I->qoff);
}

void kb_quantize_block(const kb_info *I, const float *in, kb_block *b)
{
    quantize_block(I, in, b, herd_isa() >= HERD_ISA_AVX512);
}

/* ---- rows --------------------------------------------------------------------------------- */

void herd_kq_dequantize(herd_type t, const void *src, float *dst, size_t n)
{
    const kb_info *I = kb_info_get(t);
    kb_block b;
    for (size_t o = 0; o < n; o += (size_t)I->elems) {
        kb_decode(I, (const uint8_t *)src + o / (size_t)I->elems * (size_t)I->bytes, &b);
        for (int e = 0; e < I->elems && o + (size_t)e < n; e++) {
            float dl = b.d * (float)b.sc[e / I->sub], ml = b.dmin * (float)b.m[e / I->sub];
            dst[o + (size_t)e] = dl * (float)b.q[e] - ml;
        }
    }
}

void herd_kq_quantize(herd_type t, const float *src, void *dst, size_t n)
{
    const kb_info *I = kb_info_get(t);
    kb_block b;
    float x[KB_MAX_ELEMS];
    const bool avx512 = herd_isa() >= HERD_ISA_AVX512;
    for (size_t o = 0; o < n; o += (size_t)I->elems) {
        size_t m = n - o < (size_t)I->elems ? n - o : (size_t)I->elems;
        memset(x, 0, sizeof x);
        memcpy(x, src + o, m * sizeof(float));
        quantize_block(I, x, &b, avx512);
        kb_encode(I, &b, (uint8_t *)dst + o / (size_t)I->elems * (size_t)I->bytes);
    }
}
