/* Where each parameter tensor lives in the flat arrays, named and shaped as the llama4 GGUF
 * the model loader reads (experts of a layer stacked {in, out, E}), plus the RoPE tables and
 * the temperature-tuning scales of the training context. */
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t add(tl_layout *lo, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                  int64_t ne2)
{
    herd_tparam *p = &lo->tensors[lo->n_tensors++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n_dims = n_dims;
    p->ne[0] = ne0;
    p->ne[1] = ne1;
    p->ne[2] = ne2;
    p->off = lo->total;
    p->n = (size_t)(ne0 * ne1 * ne2);
    p->matrix = n_dims > 1;
    lo->total += (p->n + 15) / 16 * 16; /* 64-byte aligned tensors */
    return p->off;
}

static size_t add_l(tl_layout *lo, int64_t l, const char *what, int n_dims, int64_t ne0,
                    int64_t ne1, int64_t ne2)
{
    char name[64];
    snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, what);
    return add(lo, name, n_dims, ne0, ne1, ne2);
}

herd_status tl_layout_init(tl_layout *lo, const herd_llama4_config *c, int64_t T)
{
    memset(lo, 0, sizeof *lo);
    if (c->n_experts > 1024 || (c->n_heads % c->n_kv_heads) != 0 || c->head_dim % 2 != 0 ||
        c->attn_bias || c->tie_embeddings || T < 2)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "training supports at most 1024 experts, whole GQA groups, even head "
                         "dims, no attention bias, untied embeddings and a context of 2+");
    lo->V = c->vocab;
    lo->H = c->hidden;
    lo->L = c->n_layers;
    lo->nH = c->n_heads;
    lo->nKV = c->n_kv_heads;
    lo->D = c->head_dim;
    lo->I = c->inter;
    lo->Im = c->inter_mlp;
    lo->E = c->n_experts;
    lo->K = c->top_k;
    lo->C = c->chunk;
    lo->T = T;
    lo->eps = c->eps;
    lo->qk_norm = c->use_qk_norm;
    lo->temp_tuning = c->temp_tuning;
    lo->floor_scale = c->floor_scale;
    lo->attn_scale = c->attn_scale;
    lo->layers = calloc((size_t)lo->L + 1, sizeof *lo->layers);
    lo->tensors = calloc((size_t)lo->L * 16 + 8, sizeof *lo->tensors);
    lo->cos = malloc((size_t)(T * lo->D / 2) * sizeof(double));
    lo->sin = malloc((size_t)(T * lo->D / 2) * sizeof(double));
    lo->temp = malloc((size_t)T * sizeof(double));
    if (!lo->layers || !lo->tensors || !lo->cos || !lo->sin || !lo->temp) {
        tl_layout_free(lo);
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the training layout");
    }
    int64_t H = lo->H, qd = lo->nH * lo->D, kd = lo->nKV * lo->D;
    lo->embed = add(lo, "token_embd.weight", 2, H, lo->V, 1);
    for (int64_t l = 0; l < lo->L; l++) {
        tl_layer *L = &lo->layers[l];
        L->rope = c->layer_rope[l];
        L->moe = c->layer_moe[l];
        L->attn_norm = add_l(lo, l, "attn_norm.weight", 1, H, 1, 1);
        L->wq = add_l(lo, l, "attn_q.weight", 2, H, qd, 1);
        L->wk = add_l(lo, l, "attn_k.weight", 2, H, kd, 1);
        L->wv = add_l(lo, l, "attn_v.weight", 2, H, kd, 1);
        L->wo = add_l(lo, l, "attn_output.weight", 2, qd, H, 1);
        L->ffn_norm = add_l(lo, l, "ffn_norm.weight", 1, H, 1, 1);
        if (L->moe) {
            if (lo->E < 1 || lo->K < 1 || lo->K > lo->E) {
                tl_layout_free(lo);
                return herd_fail(HERD_ERR_ARG, "MoE layers need 1 <= top_k <= experts");
            }
            L->router = add_l(lo, l, "ffn_gate_inp.weight", 2, H, lo->E, 1);
            L->gate_exps = add_l(lo, l, "ffn_gate_exps.weight", 3, H, lo->I, lo->E);
            L->up_exps = add_l(lo, l, "ffn_up_exps.weight", 3, H, lo->I, lo->E);
            L->down_exps = add_l(lo, l, "ffn_down_exps.weight", 3, lo->I, H, lo->E);
            L->gate_sh = add_l(lo, l, "ffn_gate_shexp.weight", 2, H, lo->I, 1);
            L->up_sh = add_l(lo, l, "ffn_up_shexp.weight", 2, H, lo->I, 1);
            L->down_sh = add_l(lo, l, "ffn_down_shexp.weight", 2, lo->I, H, 1);
        } else {
            L->gate = add_l(lo, l, "ffn_gate.weight", 2, H, lo->Im, 1);
            L->up = add_l(lo, l, "ffn_up.weight", 2, H, lo->Im, 1);
            L->down = add_l(lo, l, "ffn_down.weight", 2, lo->Im, H, 1);
        }
    }
    lo->out_norm = add(lo, "output_norm.weight", 1, H, 1, 1);
    lo->output = add(lo, "output.weight", 2, H, lo->V, 1);
    herd_rope rope;
    herd_status st = herd_rope_init(&rope, lo->D, c->rope_theta, &c->rope_scaling);
    if (st) {
        tl_layout_free(lo);
        return st;
    }
    int64_t half = lo->D / 2;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t i = 0; i < half; i++) {
            double th = (double)t * rope.inv_freq[i]; /* as the inference path forms it */
            lo->cos[t * half + i] = cos(th);
            lo->sin[t * half + i] = sin(th);
        }
        lo->temp[t] = herd_attn_temperature(t, c->floor_scale, c->attn_scale);
    }
    herd_rope_free(&rope);
    return HERD_OK;
}

void tl_layout_free(tl_layout *lo)
{
    free(lo->layers);
    free(lo->tensors);
    free(lo->cos);
    free(lo->sin);
    free(lo->temp);
    memset(lo, 0, sizeof *lo);
}
