/* The generation loop: prefill the prompt as one batch, then sample and decode one token at a
 * time, stopping on length, a stop token, a full context, or the callback's word. */
#include "herd/runtime.h"

herd_status herd_generate(herd_model *m, herd_kv_cache *kv, const int32_t *prompt, int64_t n_prompt,
                          const herd_gen_params *p, herd_token_fn fn, void *user,
                          herd_gen_result *res)
{
    const herd_llama4_config *c = herd_model_config(m);
    *res = (herd_gen_result){.n_prompt = n_prompt};
    if (n_prompt < 1)
        return herd_fail(HERD_ERR_ARG, "generate: the prompt is empty");
    herd_sampler *s;
    herd_status st = herd_sampler_create(&p->sampler, c->vocab, &s);
    if (st)
        return st;
    float *logits = herd_alloc((size_t)c->vocab * sizeof(float), "logits");
    if (!logits) {
        herd_sampler_free(s);
        return HERD_ERR_NOMEM;
    }
    const int32_t *stop = p->stop_ids;
    int n_stop = p->n_stop;
    int32_t eos[HERD_MAX_EOS];
    if (!stop) {
        for (int i = 0; i < c->n_eos; i++)
            eos[i] = (int32_t)c->eos[i];
        stop = eos;
        n_stop = c->n_eos;
    }
    for (int64_t i = 0; i < n_prompt; i++)
        herd_sampler_accept(s, prompt[i]);
    double t0 = herd_now();
    if (herd_kv_pos(kv) + n_prompt > herd_kv_ctx(kv))
        st = herd_fail(HERD_ERR_RANGE,
                       "the prompt (%lld tokens) does not fit the context of %lld tokens (%lld "
                       "left); give a larger -c",
                       (long long)n_prompt, (long long)herd_kv_ctx(kv),
                       (long long)(herd_kv_ctx(kv) - herd_kv_pos(kv)));
    else
        st = herd_model_forward(m, kv, prompt, n_prompt, logits, false);
    double t1 = herd_now();
    res->prefill_seconds = t1 - t0;
    while (!st) {
        if (res->n_generated >= p->n_predict) {
            res->reason = HERD_STOP_LENGTH;
            break;
        }
        int32_t tok = herd_sample(s, logits);
        herd_sampler_accept(s, tok);
        res->n_generated++;
        bool more = fn ? fn(user, tok) : true;
        bool is_stop = false;
        for (int i = 0; i < n_stop; i++)
            is_stop |= stop[i] == tok;
        if (is_stop) {
            res->reason = HERD_STOP_EOS;
            break;
        }
        if (!more) {
            res->reason = HERD_STOP_CALLBACK;
            break;
        }
        if (res->n_generated >= p->n_predict) {
            res->reason = HERD_STOP_LENGTH;
            break;
        }
        if (herd_kv_pos(kv) >= herd_kv_ctx(kv)) {
            res->reason = HERD_STOP_CTX;
            break;
        }
        st = herd_model_forward(m, kv, &tok, 1, logits, false);
    }
    res->decode_seconds = herd_now() - t1;
    herd_free(logits);
    herd_sampler_free(s);
    return st;
}
