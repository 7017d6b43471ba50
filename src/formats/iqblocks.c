/* ggml's grid i-quant blocks (layouts in iqblocks.h): decoding into parts, encoding back, and
 * row dequantization, which gives ggml's floats bit for bit. herd has no quantizer for these
 * types (their grids need an importance-weighted search to be useful): it computes with the
 * blocks a file holds. */
#include "formats/iqblocks.h"

#include <string.h>

static const iq_info infos[] = {
    {HERD_TYPE_IQ2_XXS, 66, 32, 8, 8, 3, false, iq_grid_iq2xxs},
    {HERD_TYPE_IQ2_XS, 74, 16, 8, 9, 3, false, iq_grid_iq2xs},
    {HERD_TYPE_IQ2_S, 82, 16, 8, 10, 3, false, iq_grid_iq2s},
    {HERD_TYPE_IQ3_XXS, 98, 32, 4, 8, 2, false, iq_grid_iq3xxs},
    {HERD_TYPE_IQ3_S, 110, 32, 4, 9, 0, false, iq_grid_iq3s},
    {HERD_TYPE_IQ1_S, 50, 32, 8, 11, 3, true, iq_grid_iq1s},
    {HERD_TYPE_IQ1_M, 56, 16, 8, 11, 3, true, iq_grid_iq1s},
};

const iq_info *iq_info_get(herd_type t)
{
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (infos[i].type == t)
            return &infos[i];
    return NULL;
}

static unsigned u16_at(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}
static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)u16_at(p) | (uint32_t)u16_at(p + 2) << 16;
}
static void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, v & 0xffff);
    put_u16(p + 2, v >> 16);
}
/* ggml's 7-bit sign codes: the eighth sign makes the count of negatives even. */
static uint8_t signs_of7(unsigned s7)
{
    return (uint8_t)(s7 | (unsigned)(__builtin_popcount(s7) & 1) << 7);
}

void iq_decode(const iq_info *I, const uint8_t *x, iq_block *b)
{
    memset(b, 0, sizeof *b);
    b->d16 = (uint16_t)u16_at(x);
    switch (I->type) {
    case HERD_TYPE_IQ2_XXS:
        for (int c = 0; c < 8; c++) {
            uint32_t aux = u32_at(x + 2 + 8 * c + 4);
            b->sc[c] = (uint8_t)(2 * (aux >> 28) + 1);
            for (int l = 0; l < 4; l++) {
                b->idx[4 * c + l] = x[2 + 8 * c + l];
                b->sign[4 * c + l] = signs_of7((aux >> (7 * l)) & 127);
            }
        }
        break;
    case HERD_TYPE_IQ2_XS:
        for (int c = 0; c < 8; c++) {
            b->sc[2 * c] = (uint8_t)(2 * (x[66 + c] & 15) + 1);
            b->sc[2 * c + 1] = (uint8_t)(2 * (x[66 + c] >> 4) + 1);
            for (int l = 0; l < 4; l++) {
                unsigned q = u16_at(x + 2 + 2 * (4 * c + l));
                b->idx[4 * c + l] = (uint16_t)(q & 511);
                b->sign[4 * c + l] = signs_of7(q >> 9);
            }
        }
        break;
    case HERD_TYPE_IQ2_S:
        for (int c = 0; c < 8; c++) {
            b->sc[2 * c] = (uint8_t)(2 * (x[74 + c] & 15) + 1);
            b->sc[2 * c + 1] = (uint8_t)(2 * (x[74 + c] >> 4) + 1);
            for (int l = 0; l < 4; l++) {
                b->idx[4 * c + l] =
                    (uint16_t)(x[2 + 4 * c + l] | ((x[66 + c] >> (2 * l)) & 3) << 8);
                b->sign[4 * c + l] = x[34 + 4 * c + l];
            }
        }
        break;
    case HERD_TYPE_IQ3_XXS:
        for (int c = 0; c < 8; c++) {
            uint32_t aux = u32_at(x + 66 + 4 * c);
            b->sc[c] = (uint8_t)(2 * (aux >> 28) + 1);
            for (int l = 0; l < 4; l++)
                b->sign[4 * c + l] = signs_of7((aux >> (7 * l)) & 127);
            for (int g = 0; g < 8; g++)
                b->idx[8 * c + g] = x[2 + 8 * c + g];
        }
        break;
    case HERD_TYPE_IQ3_S:
        for (int c = 0; c < 8; c++) {
            b->sc[c] = (uint8_t)(2 * ((x[106 + c / 2] >> (4 * (c % 2))) & 15) + 1);
            for (int l = 0; l < 4; l++)
                b->sign[4 * c + l] = x[74 + 4 * c + l];
            for (int g = 0; g < 8; g++)
                b->idx[8 * c + g] = (uint16_t)(x[2 + 8 * c + g] | ((x[66 + c] >> g) & 1) << 8);
        }
        break;
    case HERD_TYPE_IQ1_S:
        for (int c = 0; c < 8; c++) {
            unsigned qh = u16_at(x + 34 + 2 * c);
            b->sc[c] = (uint8_t)(2 * ((qh >> 12) & 7) + 1);
            for (int l = 0; l < 4; l++) {
                b->idx[4 * c + l] = (uint16_t)(x[2 + 4 * c + l] | ((qh >> (3 * l)) & 7) << 8);
                b->dneg[4 * c + l] = (uint8_t)(qh >> 15);
            }
        }
        break;
    case HERD_TYPE_IQ1_M: {
        unsigned sc[4];
        for (int i = 0; i < 4; i++)
            sc[i] = u16_at(x + 48 + 2 * i);
        b->d16 = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                            (sc[3] & 0xf000));
        for (int c = 0; c < 8; c++) {
            b->sc[2 * c] = (uint8_t)(2 * ((sc[c / 2] >> (6 * (c % 2))) & 7) + 1);
            b->sc[2 * c + 1] = (uint8_t)(2 * ((sc[c / 2] >> (6 * (c % 2) + 3)) & 7) + 1);
            for (int l = 0; l < 4; l++) {
                unsigned qh = x[32 + 2 * c + l / 2] >> (4 * (l % 2));
                b->idx[4 * c + l] = (uint16_t)(x[4 * c + l] | (qh & 7) << 8);
                b->dneg[4 * c + l] = (uint8_t)((qh >> 3) & 1);
            }
        }
        break;
    }
    default: break;
    }
}

void iq_encode(const iq_info *I, const iq_block *b, uint8_t *x)
{
    memset(x, 0, (size_t)I->bytes);
    if (I->type != HERD_TYPE_IQ1_M)
        put_u16(x, b->d16);
    switch (I->type) {
    case HERD_TYPE_IQ2_XXS:
        for (int c = 0; c < 8; c++) {
            uint32_t aux = (uint32_t)(b->sc[c] >> 1) << 28;
            for (int l = 0; l < 4; l++) {
                x[2 + 8 * c + l] = (uint8_t)b->idx[4 * c + l];
                aux |= (uint32_t)(b->sign[4 * c + l] & 127) << (7 * l);
            }
            put_u32(x + 2 + 8 * c + 4, aux);
        }
        break;
    case HERD_TYPE_IQ2_XS:
        for (int c = 0; c < 8; c++) {
            x[66 + c] = (uint8_t)((b->sc[2 * c] >> 1) | (b->sc[2 * c + 1] >> 1) << 4);
            for (int l = 0; l < 4; l++)
                put_u16(x + 2 + 2 * (4 * c + l),
                        (unsigned)b->idx[4 * c + l] | (unsigned)(b->sign[4 * c + l] & 127) << 9);
        }
        break;
    case HERD_TYPE_IQ2_S:
        for (int c = 0; c < 8; c++) {
            x[74 + c] = (uint8_t)((b->sc[2 * c] >> 1) | (b->sc[2 * c + 1] >> 1) << 4);
            for (int l = 0; l < 4; l++) {
                x[2 + 4 * c + l] = (uint8_t)b->idx[4 * c + l];
                x[66 + c] |= (uint8_t)((b->idx[4 * c + l] >> 8) << (2 * l));
                x[34 + 4 * c + l] = b->sign[4 * c + l];
            }
        }
        break;
    case HERD_TYPE_IQ3_XXS:
        for (int c = 0; c < 8; c++) {
            uint32_t aux = (uint32_t)(b->sc[c] >> 1) << 28;
            for (int l = 0; l < 4; l++)
                aux |= (uint32_t)(b->sign[4 * c + l] & 127) << (7 * l);
            put_u32(x + 66 + 4 * c, aux);
            for (int g = 0; g < 8; g++)
                x[2 + 8 * c + g] = (uint8_t)b->idx[8 * c + g];
        }
        break;
    case HERD_TYPE_IQ3_S:
        for (int c = 0; c < 8; c++) {
            x[106 + c / 2] |= (uint8_t)((b->sc[c] >> 1) << (4 * (c % 2)));
            for (int l = 0; l < 4; l++)
                x[74 + 4 * c + l] = b->sign[4 * c + l];
            for (int g = 0; g < 8; g++) {
                x[2 + 8 * c + g] = (uint8_t)b->idx[8 * c + g];
                x[66 + c] |= (uint8_t)((b->idx[8 * c + g] >> 8) << g);
            }
        }
        break;
    case HERD_TYPE_IQ1_S:
        for (int c = 0; c < 8; c++) {
            unsigned qh = (unsigned)(b->sc[c] >> 1) << 12 | (unsigned)b->dneg[4 * c] << 15;
            for (int l = 0; l < 4; l++) {
                x[2 + 4 * c + l] = (uint8_t)b->idx[4 * c + l];
                qh |= (unsigned)(b->idx[4 * c + l] >> 8) << (3 * l);
            }
            put_u16(x + 34 + 2 * c, qh);
        }
        break;
    case HERD_TYPE_IQ1_M: {
        unsigned sc[4] = {0};
        for (int c = 0; c < 8; c++) {
            sc[c / 2] |= (unsigned)(b->sc[2 * c] >> 1) << (6 * (c % 2));
            sc[c / 2] |= (unsigned)(b->sc[2 * c + 1] >> 1) << (6 * (c % 2) + 3);
            for (int l = 0; l < 4; l++) {
                x[4 * c + l] = (uint8_t)b->idx[4 * c + l];
                x[32 + 2 * c + l / 2] |=
                    (uint8_t)(((b->idx[4 * c + l] >> 8) | b->dneg[4 * c + l] << 3)
                              << (4 * (l % 2)));
            }
        }
        for (int i = 0; i < 4; i++)
            put_u16(x + 48 + 2 * i, sc[i] | (unsigned)((b->d16 >> (4 * i)) & 15) << 12);
        break;
    }
    default: break;
    }
}

int iq_grid_value(const iq_info *I, unsigned idx, int j)
{
    if (I->gvals == 4)
        return (int)((((const uint32_t *)I->grid)[idx] >> (8 * j)) & 255);
    uint8_t v = (uint8_t)(((const uint64_t *)I->grid)[idx] >> (8 * j));
    return I->iq1 ? (int)(int8_t)v : (int)v;
}

int iq_q(const iq_info *I, const iq_block *b, int e)
{
    int g = iq_grid_value(I, b->idx[e / I->gvals], e % I->gvals);
    if (I->iq1)
        return 8 * g + (b->dneg[e / 8] ? -1 : 1);
    return (b->sign[e / 8] >> (e % 8)) & 1 ? -g : g;
}

float iq_dprime(const iq_info *I, const iq_block *b)
{
    return herd_f16_to_f32(b->d16) * (1.0f / (float)(1 << I->dshift));
}

void herd_iq_dequantize(herd_type t, const void *src, float *dst, size_t n)
{
    const iq_info *I = iq_info_get(t);
    iq_block b;
    for (size_t o = 0; o < n; o += 256) {
        iq_decode(I, (const uint8_t *)src + o / 256 * (size_t)I->bytes, &b);
        const float d = iq_dprime(I, &b);
        for (int e = 0; e < 256 && o + (size_t)e < n; e++) {
            float dl = d * (float)b.sc[e / I->sub];
            dst[o + (size_t)e] = dl * (float)iq_q(I, &b, e);
        }
    }
}
