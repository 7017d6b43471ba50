/* The trainer: master weights, gradients and AdamW moments in flat float32 arrays laid out by
 * the layout (layout.c), one step = forward, backward, clipping, AdamW on the schedule. */
#include "train/train_internal.h"

#include "herd/io_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void herd_train_hparams_default(herd_train_hparams *h)
{
    *h = (herd_train_hparams){.seq = 128,
                              .batch = 8,
                              .steps = 1000,
                              .warmup = 50,
                              .lr = 3e-3,
                              .lr_min = 0.1,
                              .weight_decay = 0.1,
                              .beta1 = 0.9,
                              .beta2 = 0.95,
                              .adam_eps = 1e-8,
                              .clip = 1.0,
                              .aux_coef = 0.01,
                              .init_std = 0.02,
                              .seed = 1,
                              .eval_every = 100,
                              .eval_batches = 8,
                              .ckpt_every = 100,
                              .log_every = 1};
}

herd_status herd_train_hparams_parse(const json_t *o, const char *what, herd_train_hparams *h)
{
    if (!o)
        return HERD_OK;
    if (!json_is_object(o))
        return herd_fail(HERD_ERR_FORMAT, "%s: \"training\" must be an object", what);
    int64_t seed = (int64_t)h->seed;
    herd_status st = herd_json_get_int(o, "seq_len", h->seq, what, &h->seq);
    if (!st)
        st = herd_json_get_int(o, "batch", h->batch, what, &h->batch);
    if (!st)
        st = herd_json_get_int(o, "steps", h->steps, what, &h->steps);
    if (!st)
        st = herd_json_get_int(o, "warmup", h->warmup, what, &h->warmup);
    if (!st)
        st = herd_json_get_real(o, "lr", h->lr, what, &h->lr);
    if (!st)
        st = herd_json_get_real(o, "lr_min", h->lr_min, what, &h->lr_min);
    if (!st)
        st = herd_json_get_real(o, "weight_decay", h->weight_decay, what, &h->weight_decay);
    if (!st)
        st = herd_json_get_real(o, "beta1", h->beta1, what, &h->beta1);
    if (!st)
        st = herd_json_get_real(o, "beta2", h->beta2, what, &h->beta2);
    if (!st)
        st = herd_json_get_real(o, "clip", h->clip, what, &h->clip);
    if (!st)
        st = herd_json_get_real(o, "aux_coef", h->aux_coef, what, &h->aux_coef);
    if (!st)
        st = herd_json_get_real(o, "init_std", h->init_std, what, &h->init_std);
    if (!st)
        st = herd_json_get_int(o, "seed", seed, what, &seed);
    if (!st)
        st = herd_json_get_int(o, "eval_every", h->eval_every, what, &h->eval_every);
    if (!st)
        st = herd_json_get_int(o, "eval_batches", h->eval_batches, what, &h->eval_batches);
    if (!st)
        st = herd_json_get_int(o, "checkpoint_every", h->ckpt_every, what, &h->ckpt_every);
    if (!st)
        st = herd_json_get_int(o, "log_every", h->log_every, what, &h->log_every);
    h->seed = (uint64_t)seed;
    if (!st && (h->seq < 2 || h->seq > 65536 || h->batch < 1 || h->batch > 65536 || h->steps < 1 ||
                h->warmup < 0 || !(h->lr > 0) || h->eval_batches < 0))
        st = herd_fail(HERD_ERR_RANGE,
                       "%s: training needs seq_len 2..65536, batch >= 1, steps >= 1, lr > 0", what);
    return st;
}

double herd_train_lr(const herd_train_hparams *h, int64_t s)
{
    if (s < h->warmup)
        return h->lr * (double)(s + 1) / (double)h->warmup;
    double span = (double)(h->steps - h->warmup), p = span > 0 ? (double)(s - h->warmup) / span : 1;
    p = p > 1 ? 1 : p;
    double floor = h->lr * h->lr_min;
    return floor + (h->lr - floor) * 0.5 * (1 + cos(M_PI * p));
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double normal(uint64_t *s)
{
    double u1 = ((double)(splitmix(s) >> 11) + 1) * 0x1p-53,
           u2 = (double)(splitmix(s) >> 11) * 0x1p-53;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

herd_status herd_trainer_create(const herd_llama4_config *c, const herd_train_hparams *hp,
                                const herd_train_precision *prec, herd_pool *pool,
                                herd_trainer **out)
{
    herd_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the trainer");
    t->hp = *hp;
    t->pc.p = *prec;
    t->pc.pool = pool;
    herd_status st = tl_layout_init(&t->lo, c, hp->seq);
    size_t n = t->lo.total * sizeof(float);
    if (!st) {
        t->w = herd_calloc(n, "master weights");
        t->g = herd_calloc(n, "gradients");
        t->m = herd_calloc(n, "Adam moments");
        t->v = herd_calloc(n, "Adam moments");
        st = t->w && t->g && t->m && t->v ? HERD_OK : HERD_ERR_NOMEM;
    }
    if (!st)
        st = tg_acts_create_f32(&t->lo, hp->batch, &t->acts);
    if (st) {
        herd_trainer_free(t);
        return st;
    }
    /* init: norms 1, matrices N(0, std), output projections std/sqrt(2L) (GPT-2's residual
     * scaling), each tensor from its own stream of the seed */
    for (size_t i = 0; i < t->lo.n_tensors; i++) {
        const herd_tparam *p = &t->lo.tensors[i];
        uint64_t s = hp->seed * 0x9E3779B97F4A7C15ull + i * 0x632BE59BD9B4E019ull + 1;
        bool proj = strstr(p->name, "attn_output") || strstr(p->name, "ffn_down");
        double std = hp->init_std / (proj ? sqrt(2.0 * (double)(t->lo.L > 0 ? t->lo.L : 1)) : 1);
        for (size_t j = 0; j < p->n; j++)
            t->w[p->off + j] = p->matrix ? (float)(std * normal(&s)) : 1.0f;
    }
    *out = t;
    return HERD_OK;
}

void herd_trainer_free(herd_trainer *t)
{
    if (!t)
        return;
    tg_acts_free_f32(t->acts);
    tprec_free(&t->pc);
    herd_free(t->w);
    herd_free(t->g);
    herd_free(t->m);
    herd_free(t->v);
    tl_layout_free(&t->lo);
    free(t);
}

const herd_tparam *herd_trainer_tensors(const herd_trainer *t, size_t *n)
{
    *n = t->lo.n_tensors;
    return t->lo.tensors;
}
float *herd_trainer_params(herd_trainer *t)
{
    return t->w;
}
size_t herd_trainer_param_count(const herd_trainer *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->lo.n_tensors; i++)
        n += t->lo.tensors[i].n;
    return n;
}
int64_t herd_trainer_step_no(const herd_trainer *t)
{
    return t->step;
}

static herd_status check_ids(const herd_trainer *t, const int32_t *ids, const int32_t *tg)
{
    int64_t N = t->hp.batch * t->hp.seq;
    for (int64_t i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= t->lo.V || (tg && tg[i] >= t->lo.V))
            return herd_fail(HERD_ERR_RANGE,
                             "token id %d is outside the model's vocabulary of %lld",
                             ids[i] < 0 || ids[i] >= t->lo.V ? ids[i] : tg[i], (long long)t->lo.V);
    return HERD_OK;
}

herd_status herd_trainer_eval(herd_trainer *t, const int32_t *ids, const int32_t *targets,
                              double *loss)
{
    herd_status st = check_ids(t, ids, targets);
    if (!st)
        st =
            tg_forward_f32(&t->lo, &t->pc, t->w, t->acts, ids, targets, t->hp.batch, 0, loss, NULL);
    return st;
}

herd_status herd_trainer_step(herd_trainer *t, const int32_t *ids, const int32_t *targets,
                              double *loss, double *grad_norm, double *lr_out)
{
    herd_status st = check_ids(t, ids, targets);
    if (st)
        return st;
    const herd_train_hparams *h = &t->hp;
    size_t n = t->lo.total;
    memset(t->g, 0, n * sizeof *t->g);
    st = tg_forward_f32(&t->lo, &t->pc, t->w, t->acts, ids, targets, h->batch, h->aux_coef, loss,
                        NULL);
    if (!st)
        st = tg_backward_f32(&t->lo, &t->pc, t->w, t->g, t->acts, ids, h->batch, h->aux_coef);
    if (st)
        return st;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)t->g[i] * t->g[i];
    double norm = sqrt(ss), clip = h->clip > 0 && norm > h->clip ? h->clip / norm : 1;
    if (!isfinite(norm))
        return herd_fail(HERD_ERR_RANGE, "step %lld: the gradient is not finite (loss %.4g)",
                         (long long)t->step + 1, *loss);
    double lr = herd_train_lr(h, t->step);
    t->step++;
    double bc1 = 1 - pow(h->beta1, (double)t->step), bc2 = 1 - pow(h->beta2, (double)t->step);
    float b1 = (float)h->beta1, b2 = (float)h->beta2;
    for (size_t k = 0; k < t->lo.n_tensors; k++) {
        const herd_tparam *p = &t->lo.tensors[k];
        float decay = p->matrix ? (float)(lr * h->weight_decay) : 0;
        float *w = t->w + p->off, *g = t->g + p->off, *m = t->m + p->off, *v = t->v + p->off;
        for (size_t i = 0; i < p->n; i++) {
            float gi = g[i] * (float)clip;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            double upd = ((double)m[i] / bc1) / (sqrt((double)v[i] / bc2) + h->adam_eps);
            w[i] = (float)((double)w[i] * (1 - decay) - lr * upd);
        }
    }
    *grad_norm = norm;
    *lr_out = lr;
    return HERD_OK;
}
