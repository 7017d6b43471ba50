/* What each class of tensor became when the model was packed, for the memory plan: a GGUF made
 * by llama-quantize mixes types per tensor (Q4_K_M: most matrices Q4_K, some Q6_K), and each
 * tensor keeps its own. */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

static void add(uint64_t *mask, const herd_packed *w)
{
    if (w)
        *mask |= 1ull << herd_packed_type(w);
}

static size_t put_class(char *buf, size_t n, size_t o, const char *name, uint64_t mask)
{
    if (!mask || o >= n)
        return o;
    o += (size_t)snprintf(buf + o, n - o, "%s%s ", o ? ", " : "", name);
    for (int t = 0, first = 1; t < HERD_TYPE_COUNT && o < n; t++)
        if (mask & 1ull << t) {
            o += (size_t)snprintf(buf + o, n - o, "%s%s", first ? "" : "+",
                                  herd_type_name((herd_type)t));
            first = 0;
        }
    return o;
}

void herd_model_types(const herd_model *m, char *buf, size_t n)
{
    enum { EMBED, ATTN, ROUTER, EXPERTS, SHARED, MLP, OUTPUT, NCLASS };
    static const char *const names[NCLASS] = {"embedding",     "attention", "router", "experts",
                                              "shared expert", "mlp",       "output"};
    uint64_t mask[NCLASS] = {0};
    mask[EMBED] = 1ull << m->embed.type;
    add(&mask[OUTPUT], m->output);
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        const layer_weights *w = &m->layers[l];
        add(&mask[ATTN], w->qkv), add(&mask[ATTN], w->q), add(&mask[ATTN], w->k);
        add(&mask[ATTN], w->v), add(&mask[ATTN], w->o);
        add(&mask[ROUTER], w->router);
        for (int64_t e = 0; w->exp_gate_up && e < m->cfg.n_experts; e++) {
            add(&mask[EXPERTS], w->exp_gate_up[e]);
            add(&mask[EXPERTS], w->exp_down[e]);
        }
        add(&mask[SHARED], w->sh_gate_up), add(&mask[SHARED], w->sh_down);
        add(&mask[MLP], w->mlp_gate_up), add(&mask[MLP], w->mlp_down);
    }
    uint64_t all = 0;
    for (int c = 0; c < NCLASS; c++)
        all |= mask[c];
    if (n)
        buf[0] = 0;
    if (!(all & (all - 1))) { /* one type everywhere */
        snprintf(buf, n, "%s", herd_type_name((herd_type)__builtin_ctzll(all | 1ull << 63)));
        return;
    }
    size_t o = 0;
    for (int c = 0; c < NCLASS; c++)
        o = put_class(buf, n, o, names[c], mask[c]);
}

static void add_fallback(char *buf, size_t n, const herd_packed *w)
{
    if (!w)
        return;
    char name[64];
    const char *k = herd_packed_kernel(w);
    size_t l = strlen(k);
    if (strcmp(k, "emulated") == 0)
        snprintf(name, sizeof name, "%s emulated", herd_type_name(herd_packed_type(w)));
    else if (l > 4 && strcmp(k + l - 4, ".ref") == 0)
        snprintf(name, sizeof name, "%s", k);
    else
        return;
    size_t o = strlen(buf), nl = strlen(name);
    for (const char *p = buf; (p = strstr(p, name)); p += nl)
        if ((p == buf || p[-1] == ' ') && (p[nl] == ' ' || p[nl] == 0))
            return; /* listed already */
    if (o < n)
        snprintf(buf + o, n - o, "%s%s", o ? " " : "", name);
}

void herd_model_fallback_kernels(const herd_model *m, char *buf, size_t n)
{
    if (!n)
        return;
    buf[0] = 0;
    add_fallback(buf, n, m->output);
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        const layer_weights *w = &m->layers[l];
        const herd_packed *each[] = {w->qkv,        w->q,       w->k,           w->v,       w->o,
                                     w->sh_gate_up, w->sh_down, w->mlp_gate_up, w->mlp_down};
        for (size_t i = 0; i < sizeof each / sizeof each[0]; i++)
            add_fallback(buf, n, each[i]);
        for (int64_t e = 0; w->exp_gate_up && e < m->cfg.n_experts; e++) {
            add_fallback(buf, n, w->exp_gate_up[e]);
            add_fallback(buf, n, w->exp_down[e]);
        }
    }
}
