/* The generation loop (contract in runtime.h): prefill the prompt, then sample, show and feed
 * one token at a time until the library's stop rules or the caller say stop. */
#include "herd/runtime.h"

#include <string.h>

void herd_gen_params_default(herd_gen_params *p)
{
    memset(p, 0, sizeof *p);
    herd_sampler_params_default(&p->sampler);
    p->n_predict = 128;
}

/* Text shown so far is final; `held` keeps what might still turn into a stop string. */
typedef struct text_state {
    const herd_gen_params *p;
    int n_stops;
    herd_decoder dec;
    char *held;
    size_t n_held, cap;
} text_state;

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t partial_stop(const text_state *t, const char *s, size_t n)
{
    size_t best = 0;
    for (int i = 0; i < t->n_stops; i++) {
        size_t L = strlen(t->p->stop[i]);
        for (size_t k = L - 1 < n ? L - 1 : n; k > best; k--)
            if (!memcmp(s + n - k, t->p->stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Adds a token's text; sets *show and *n_show to what can be shown now and *hit when a stop string
 * completed (the text before it is shown, the rest dropped). */
static herd_status add_text(text_state *t, int32_t id, const char **show, size_t *n_show, bool *hit)
{
    const char *piece;
    size_t len;
    herd_status st = herd_decoder_push(&t->dec, id, &piece, &len);
    *hit = false;
    if (st)
        return st;
    if (!t->n_stops) { /* nothing to hold back */
        *show = piece;
        *n_show = len;
        return HERD_OK;
    }
    if (t->n_held + len > t->cap) {
        size_t cap = (t->n_held + len) * 2;
        char *b = herd_alloc(cap, "generated text");
        if (!b)
            return HERD_ERR_NOMEM;
        if (t->n_held)
            memcpy(b, t->held, t->n_held);
        herd_free(t->held);
        t->held = b;
        t->cap = cap;
    }
    if (len)
        memcpy(t->held + t->n_held, piece, len);
    t->n_held += len;
    size_t first = t->n_held; /* where the earliest stop string starts */
    for (int i = 0; i < t->n_stops; i++) {
        size_t L = strlen(t->p->stop[i]);
        for (size_t at = 0; at + L <= t->n_held && at < first; at++)
            if (!memcmp(t->held + at, t->p->stop[i], L)) {
                first = at;
                break;
            }
    }
    size_t keep = first < t->n_held ? 0 : partial_stop(t, t->held, t->n_held);
    *hit = first < t->n_held;
    *n_show = *hit ? first : t->n_held - keep;
    *show = t->held; /* shown from the front of held; shown() drops them after the callback */
    return HERD_OK;
}

/* After the callback saw *show: drops the shown bytes from held. */
static void shown(text_state *t, size_t n)
{
    if (!t->n_stops || !n)
        return;
    memmove(t->held, t->held + n, t->n_held - n);
    t->n_held -= n;
}

static bool is_stop(const herd_llama4_config *c, const herd_tokenizer *tok, int32_t id)
{
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos[i] == id)
            return true;
    return tok && herd_tokenizer_is_stop(tok, id);
}

/* Feeds tokens to the sequence in batches (ids < 0 take their row from embd, [n × hidden]);
 * logits of the last one. */
static herd_status feed(herd_context *c, int seq, const int32_t *ids, const float *embd,
                        int64_t hidden, int64_t n, float *logits)
{
    int32_t seqs[HERD_BATCH_MAX];
    for (int i = 0; i < HERD_BATCH_MAX; i++)
        seqs[i] = seq;
    herd_status st = HERD_OK;
    for (int64_t d = 0; d < n && !st; d += HERD_BATCH_MAX) {
        int64_t k = n - d < HERD_BATCH_MAX ? n - d : HERD_BATCH_MAX;
        herd_batch b = {
            .n = k, .token = ids + d, .seq = seqs, .embd = embd ? embd + d * hidden : NULL};
        st = herd_forward(c, &b, d + k == n ? logits : NULL);
    }
    return st;
}

herd_status herd_generate(herd_context *c, int seq, const herd_tokenizer *tok,
                          const int32_t *prompt, int64_t n_prompt, const herd_gen_params *p,
                          herd_token_fn fn, void *user, herd_gen_result *res)
{
    const herd_llama4_config *cfg = herd_model_config(herd_context_model(c));
    *res = (herd_gen_result){.n_prompt = n_prompt};
    if (n_prompt < 1)
        return herd_fail(HERD_ERR_ARG, "generate: the prompt is empty");
    if (seq < 0 || seq >= herd_context_seqs(c))
        return herd_fail(HERD_ERR_ARG, "generate: no sequence %d (the context has %d)", seq,
                         herd_context_seqs(c));
    text_state t = {.p = p};
    while (t.n_stops < HERD_MAX_STOP_STRINGS && p->stop[t.n_stops]) {
        if (!p->stop[t.n_stops][0])
            return herd_fail(HERD_ERR_ARG, "generate: an empty stop string");
        t.n_stops++;
    }
    if (t.n_stops && !tok)
        return herd_fail(HERD_ERR_ARG, "generate: stop strings need a tokenizer");
    int64_t start = herd_seq_len(c, seq), ctx = herd_context_ctx(c);
    if (start + n_prompt > ctx)
        return herd_fail(HERD_ERR_RANGE,
                         "the prompt (%lld tokens) does not fit the context of %lld tokens (%lld "
                         "left); give a larger -c",
                         (long long)n_prompt, (long long)ctx, (long long)(ctx - start));
    herd_sampler *s;
    herd_status st = herd_sampler_create(&p->sampler, cfg->vocab, &s);
    if (st)
        return st;
    float *logits = herd_alloc((size_t)cfg->vocab * sizeof(float), "logits");
    if (!logits) {
        herd_sampler_free(s);
        return HERD_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n_prompt; i++)
        if (prompt[i] >= 0)
            herd_sampler_accept(s, prompt[i]);
    if (tok)
        herd_decoder_init(&t.dec, tok, p->special ? 0 : HERD_DECODE_SKIP_SPECIAL);
    double t0 = herd_now();
    st = feed(c, seq, prompt, p->prompt_embd, cfg->hidden, n_prompt, logits);
    if (st && herd_seq_truncate(c, seq, start)) /* a long prompt failed in a later batch */
        herd_seq_clear(c, seq);
    double t1 = herd_now();
    res->prefill_seconds = t1 - t0;
    int32_t seqs[1] = {seq}, id;
    herd_batch one = {.n = 1, .token = &id, .seq = seqs};
    bool done = false;
    while (!st && !done) {
        if (res->n_generated >= p->n_predict) {
            res->reason = HERD_STOP_LENGTH;
            break;
        }
        id = herd_sample(s, logits);
        herd_sampler_accept(s, id);
        res->n_generated++;
        bool stop_tok = !p->ignore_eos && is_stop(cfg, tok, id), hit = false;
        herd_gen_token ev = {id, tok ? "" : NULL, 0};
        if (tok && (!stop_tok || p->special))
            st = add_text(&t, id, &ev.text, &ev.len, &hit);
        if (st)
            break;
        bool more = fn ? fn(user, &ev) : true;
        if (tok && (!stop_tok || p->special))
            shown(&t, ev.len);
        done = true;
        if (stop_tok)
            res->reason = HERD_STOP_EOS;
        else if (hit)
            res->reason = HERD_STOP_STRING;
        else if (!more)
            res->reason = HERD_STOP_CALLBACK;
        else if (res->n_generated >= p->n_predict)
            res->reason = HERD_STOP_LENGTH;
        else
            done = false;
        if (herd_seq_len(c, seq) >= ctx) { /* no room to feed it */
            if (!done)
                res->reason = HERD_STOP_CTX;
            break;
        }
        st = herd_forward(c, &one, done ? NULL : logits);
    }
    res->decode_seconds = herd_now() - t1;
    if (tok) { /* what is still held: text short of a stop string, an unfinished character */
        const char *rest;
        size_t len;
        herd_decoder_finish(&t.dec, &rest, &len);
        if (!st && res->reason != HERD_STOP_STRING && fn) {
            herd_gen_token held = {-1, t.held, t.n_held}, tail = {-1, rest, len};
            if (t.n_held)
                fn(user, &held);
            if (len)
                fn(user, &tail);
        }
        herd_decoder_free(&t.dec);
    }
    herd_free(t.held);
    herd_free(logits);
    herd_sampler_free(s);
    return st;
}
