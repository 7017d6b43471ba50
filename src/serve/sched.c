/* The scheduler: one thread owns a herd_context with one sequence per slot and runs continuous
 * batching. Each step is ONE forward pass over a batch holding every decoding slot's last
 * sampled token and at most one prefill chunk of one new prompt, so a request that arrives while
 * others decode starts within one step, and the others stall at most one chunk for it. Requests
 * past the slots wait in a bounded queue.
 *
 * The prompt cache: each slot remembers the ids its sequence holds, during and after its job. A
 * new job goes to a free slot, and starts from the longest prefix of its prompt that any slot —
 * free or busy — holds: truncated in place when that slot is the one it gets, else copied from
 * the holder (herd_seq_copy), so only the rest is prefilled.
 *
 * A client that leaves is noticed by its HTTP thread, which marks the job; the forward's cancel
 * callback sees the mark between layers, the step is undone (the engine leaves every sequence
 * as before), and the slot is freed before the next step. */
#include "serve/serve_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct srv_slot {
    int seq;            /* its sequence in the context */
    herd_tokens cached; /* the ids the sequence holds, in order */
    srv_job *job;
    size_t fed;       /* prompt tokens in the cache for this job */
    int64_t rows_fed; /* image rows among them (prompt ids < 0) */
    bool decoding;    /* the prompt is in; `next` waits to be fed */
    int32_t next;
    herd_sampler *smp;
    herd_decoder dec;
    srv_jstate js;
    bool choosing;    /* the reply is still spelling one of the job's choices */
    char chosen[160]; /* its bytes so far */
    size_t n_chosen;
    double last_used;
} srv_slot;

struct srv_sched {
    herd_context *ctx;
    const herd_tokenizer *tok;
    srv_sched_opts o;
    int64_t vocab, tok_vocab; /* the model's rows; the tokenizer's ids (may be fewer) */
    int32_t python_start_id;
    srv_slot *slots;
    float *logits; /* [parallel + 1][vocab]: one row per slot that wants logits */
    srv_jmask *jm;
    /* the batch of one step */
    int32_t *b_token, *b_seq;
    float *b_embd; /* [HERD_BATCH_MAX × hidden] image rows, made at the first image */
    bool *b_want;
    srv_slot **b_owner; /* the slot of each row that wants logits */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    srv_job **queue; /* ring of cap */
    int q_head, q_n, q_cap;
    int busy;

    /* counters, under mu */
    uint64_t n_requests, n_rejected, n_cancelled, n_errors, n_cache_hits;
    uint64_t prompt_tokens, cached_tokens, gen_tokens, prefill_tokens, decode_tokens;
    double prefill_s, decode_s;
    int64_t kv_cells;
};

/* ---- jobs ------------------------------------------------------------------------------------ */
srv_job *srv_job_new(void)
{
    srv_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->python_start = -1;
    j->max_tokens = INT64_MAX;
    atomic_init(&j->cancelled, false);
    atomic_init(&j->refs, 1);
    j->text = calloc(1, 1);
    j->cap = 1;
    return j;
}

void srv_job_release(srv_job *j)
{
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    herd_tokens_free(&j->prompt);
    herd_free(j->img_rows);
    for (int i = 0; i < j->n_stop; i++)
        free(j->stop[i]);
    for (int i = 0; i < j->n_choices; i++)
        free(j->choices[i]);
    free(j->choices);
    free(j->text);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static bool job_append(srv_job *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap * 2 > j->len + n + 1 ? j->cap * 2 : j->len + n + 1;
        char *t = realloc(j->text, cap);
        if (!t)
            return false;
        j->text = t;
        j->cap = cap;
    }
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = 0;
    return true;
}

/* Cuts the text at the first stop string, or holds back a tail that may still become one.
 * True when a stop string was found. */
static bool job_apply_stops(srv_job *j)
{
    size_t longest = 0;
    for (int i = 0; i < j->n_stop; i++)
        longest = strlen(j->stop[i]) > longest ? strlen(j->stop[i]) : longest;
    size_t from = j->visible > longest ? j->visible - longest : 0;
    size_t cut = SIZE_MAX;
    for (int i = 0; i < j->n_stop; i++) {
        const char *p = strstr(j->text + from, j->stop[i]);
        if (p && (size_t)(p - j->text) < cut)
            cut = (size_t)(p - j->text);
    }
    if (cut != SIZE_MAX) {
        j->len = cut;
        j->text[cut] = 0;
        j->visible = cut;
        return true;
    }
    size_t hold = 0;
    for (int i = 0; i < j->n_stop; i++) {
        size_t n = strlen(j->stop[i]);
        for (size_t k = n - 1; k > hold; k--)
            if (k <= j->len && memcmp(j->text + j->len - k, j->stop[i], k) == 0) {
                hold = k;
                break;
            }
    }
    j->visible = j->len - hold;
    return false;
}

/* ---- slots ----------------------------------------------------------------------------------- */
static size_t common_prefix(const herd_tokens *a, const herd_tokens *b)
{
    size_t n = a->n < b->n ? a->n : b->n, i = 0;
    while (i < n && a->ids[i] == b->ids[i])
        i++;
    return i;
}

/* Where j starts: a free slot, and the longest prefix of j's prompt held by any slot (at least
 * one prompt token must remain, to produce logits). Prefers the holder itself when it is free,
 * then a free slot holding nothing worth keeping (least recently used). */
static srv_slot *pick_slot(srv_sched *s, srv_job *j, srv_slot **holder, size_t *reuse)
{
    srv_slot *lru = NULL;
    *holder = NULL;
    *reuse = 0;
    for (int i = 0; i < s->o.parallel; i++) {
        srv_slot *sl = &s->slots[i];
        size_t n = common_prefix(&sl->cached, &j->prompt);
        if (n >= j->prompt.n)
            n = j->prompt.n - 1;
        if (n > *reuse || (n == *reuse && n > 0 && !sl->job))
            *holder = sl, *reuse = n;
        if (!sl->job && (!lru || sl->last_used < lru->last_used))
            lru = sl;
    }
    if (*holder && !(*holder)->job)
        return *holder;
    return lru;
}

static void finish(srv_sched *s, srv_slot *sl, srv_finish why, const char *err)
{
    srv_job *j = sl->job;
    /* the slot counts as free before the client hears the end (metrics agree with replies) */
    pthread_mutex_lock(&s->mu);
    s->busy--;
    s->n_cancelled += why == SRV_FINISH_CANCEL;
    s->n_errors += why == SRV_FINISH_ERROR;
    pthread_mutex_unlock(&s->mu);
    const char *rest;
    size_t n;
    herd_decoder_finish(&sl->dec, &rest, &n);
    pthread_mutex_lock(&j->mu);
    if (n && why != SRV_FINISH_CANCEL && why != SRV_FINISH_ERROR) {
        job_append(j, rest, n);
        if (job_apply_stops(j))
            why = SRV_FINISH_STOP;
    }
    j->visible = j->len;
    j->finish = why;
    if (err)
        snprintf(j->error, sizeof j->error, "%s", err);
    j->t_done = herd_now();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    herd_decoder_free(&sl->dec);
    herd_sampler_free(sl->smp);
    sl->smp = NULL;
    sl->job = NULL;
    sl->decoding = false;
    sl->last_used = herd_now();
    srv_job_release(j);
}

/* Makes slot sl hold the first `reuse` ids of j's prompt (from `holder`); the count it got. */
static size_t reuse_prefix(srv_sched *s, srv_slot *sl, srv_slot *holder, srv_job *j, size_t reuse)
{
    herd_status st = HERD_OK;
    if (reuse && holder == sl)
        st = herd_seq_truncate(s->ctx, sl->seq, (int64_t)reuse);
    else if (reuse)
        st = herd_seq_copy(s->ctx, holder->seq, sl->seq, (int64_t)reuse);
    if (!reuse || st) {
        herd_seq_clear(s->ctx, sl->seq); /* too far back for the chunked layers: start over */
        reuse = 0;
    }
    sl->cached.n = 0;
    herd_tokens_append(&sl->cached, j->prompt.ids, reuse); /* fits: cap >= reuse */
    return reuse;
}

static void start(srv_sched *s, srv_slot *sl, srv_job *j, srv_slot *holder, size_t reuse)
{
    sl->job = j;
    if (sl->cached.cap < reuse && herd_tokens_append(&sl->cached, j->prompt.ids, reuse))
        reuse = 0;
    reuse = reuse_prefix(s, sl, holder, j, reuse);
    sl->fed = reuse;
    sl->rows_fed = 0;
    for (size_t i = 0; i < reuse; i++)
        sl->rows_fed += j->prompt.ids[i] < 0;
    sl->decoding = false;
    herd_decoder_init(&sl->dec, s->tok, HERD_DECODE_SKIP_SPECIAL);
    srv_jstate_init(&sl->js);
    sl->choosing = j->n_choices > 0;
    sl->n_chosen = 0;
    j->cached_tokens = (int64_t)reuse;
    s->busy++;
    s->n_requests++;
    s->prompt_tokens += j->prompt.n;
    s->cached_tokens += reuse;
    s->n_cache_hits += reuse > 0;
    herd_status st = herd_sampler_create(&j->sampler, s->vocab, &sl->smp);
    for (size_t i = 0; !st && i < j->prompt.n; i++) /* the penalties' window starts in the prompt */
        if (j->prompt.ids[i] >= 0)                  /* (image rows are no tokens) */
            herd_sampler_accept(sl->smp, j->prompt.ids[i]);
    if (!st && j->json_mode && !s->jm)
        st = srv_jmask_create(s->tok, s->vocab, &s->jm);
    if (st) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", herd_last_error());
        pthread_mutex_unlock(&s->mu);
        finish(s, sl, SRV_FINISH_ERROR, msg);
        pthread_mutex_lock(&s->mu);
    }
}

/* While the reply spells one of the job's choices: only tokens whose bytes continue one. False
 * when none does. */
static bool choice_mask(srv_sched *s, srv_slot *sl, float *logits)
{
    const srv_job *j = sl->job;
    const char *live[64];
    size_t live_len[64];
    int n = 0;
    for (int c = 0; c < j->n_choices && n < 64; c++) {
        size_t l = strlen(j->choices[c]);
        if (l > sl->n_chosen && !memcmp(j->choices[c], sl->chosen, sl->n_chosen))
            live[n] = j->choices[c] + sl->n_chosen, live_len[n++] = l - sl->n_chosen;
    }
    bool any = false;
    for (int64_t t = 0; t < s->tok_vocab; t++) {
        size_t l = 0;
        const uint8_t *b = herd_tokenizer_token_bytes(s->tok, (int32_t)t, &l);
        bool ok = false;
        for (int c = 0; b && l && !ok && c < n; c++)
            ok = l <= live_len[c] && !memcmp(live[c], b, l);
        if (!ok)
            logits[t] = -INFINITY;
        any |= ok;
    }
    return any;
}

/* Adds token t's bytes to what the choice phase spelled; ends the phase on a whole choice. */
static void choice_advance(srv_sched *s, srv_slot *sl, int32_t t)
{
    size_t l = 0;
    const uint8_t *b = herd_tokenizer_token_bytes(s->tok, t, &l);
    if (!b || sl->n_chosen + l >= sizeof sl->chosen)
        return;
    memcpy(sl->chosen + sl->n_chosen, b, l);
    sl->n_chosen += l;
    for (int c = 0; c < sl->job->n_choices; c++)
        if (strlen(sl->job->choices[c]) == sl->n_chosen &&
            !memcmp(sl->job->choices[c], sl->chosen, sl->n_chosen))
            sl->choosing = false;
}

/* Samples from logits (this slot's row) for the slot's job and hands the token to the client. */
static void take_token(srv_sched *s, srv_slot *sl, float *logits)
{
    srv_job *j = sl->job;
    int64_t left = j->max_tokens - j->n_generated, room = s->o.ctx - (int64_t)sl->cached.n;
    bool choosing = sl->choosing;
    if (choosing && !choice_mask(s, sl, logits)) {
        finish(s, sl, SRV_FINISH_ERROR, "tool_choice: no token can continue a tool's name");
        return;
    }
    if (!choosing && j->json_mode &&
        !srv_jmask_apply(s->jm, &sl->js, left < room ? left : room, logits)) {
        finish(s, sl, SRV_FINISH_ERROR, "JSON mode: no token can continue the output");
        return;
    }
    /* rows past the tokenizer's ids (a padded embedding) are not tokens: never sample them */
    for (int64_t i = s->tok_vocab; i < s->vocab; i++)
        logits[i] = -INFINITY;
    int32_t t = herd_sample(sl->smp, logits);
    bool stop_token = !j->ignore_eos && herd_tokenizer_is_stop(s->tok, t);
    herd_sampler_accept(sl->smp, t);
    if (choosing)
        choice_advance(s, sl, t);
    else if (j->json_mode && !stop_token)
        srv_jmask_advance(s->jm, &sl->js, t);
    const char *text = "";
    size_t n = 0;
    herd_status st = stop_token ? HERD_OK : herd_decoder_push(&sl->dec, t, &text, &n);
    pthread_mutex_lock(&j->mu);
    if (j->n_generated++ == 0)
        j->t_first = herd_now();
    if (t == s->python_start_id && j->python_start < 0)
        j->python_start = (int64_t)j->len;
    bool ok = !st && job_append(j, text, n);
    bool stopped = ok && job_apply_stops(j);
    pthread_cond_broadcast(&j->cv);
    int64_t gen = j->n_generated;
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_lock(&s->mu);
    s->gen_tokens++;
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        finish(s, sl, SRV_FINISH_ERROR, st ? herd_last_error() : "out of memory for the reply");
    else if (stop_token || stopped || (j->json_mode && srv_jstate_done(&sl->js)))
        finish(s, sl, SRV_FINISH_STOP, NULL);
    else if (gen >= j->max_tokens || (int64_t)sl->cached.n >= s->o.ctx)
        finish(s, sl, SRV_FINISH_LENGTH, NULL);
    else {
        sl->next = t;
        sl->decoding = true;
    }
}

static void step_fail(srv_sched *s, srv_slot *sl, const char *msg)
{
    finish(s, sl, SRV_FINISH_ERROR, msg);
}

static bool any_cancelled(void *user)
{
    srv_sched *s = user;
    for (int i = 0; i < s->o.parallel; i++)
        if (s->slots[i].job && atomic_load(&s->slots[i].job->cancelled))
            return true;
    return false;
}

/* One step: one forward over every decoding slot's next token and one prefill chunk. */
static void step_run(srv_sched *s)
{
    /* jobs whose client left end here, before any work for them */
    for (int i = 0; i < s->o.parallel; i++)
        if (s->slots[i].job && atomic_load(&s->slots[i].job->cancelled))
            finish(s, &s->slots[i], SRV_FINISH_CANCEL, NULL);
    int64_t n = 0;
    int k = 0, decoded = 0;
    for (int i = 0; i < s->o.parallel; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job || !sl->decoding)
            continue;
        s->b_token[n] = sl->next, s->b_seq[n] = sl->seq, s->b_want[n] = true;
        s->b_owner[k++] = sl;
        n++;
        decoded++;
    }
    /* the oldest job still prefilling gets one chunk, in what room the batch has left */
    srv_slot *pre = NULL;
    for (int i = 0; i < s->o.parallel; i++) {
        srv_slot *sl = &s->slots[i];
        if (sl->job && !sl->decoding && (!pre || sl->job->t_submit < pre->job->t_submit))
            pre = sl;
    }
    size_t chunk = 0;
    bool images = false;
    if (pre) {
        chunk = pre->job->prompt.n - pre->fed;
        if (chunk > (size_t)s->o.prefill_chunk)
            chunk = (size_t)s->o.prefill_chunk;
        if (chunk > (size_t)(HERD_BATCH_MAX - n))
            chunk = (size_t)(HERD_BATCH_MAX - n);
        srv_job *j = pre->job;
        if (j->n_img_rows && !s->b_embd) /* the rows of a batch with image rows */
            s->b_embd = herd_alloc((size_t)HERD_BATCH_MAX * (size_t)j->hidden * sizeof(float),
                                   "image input rows");
        int64_t row = pre->rows_fed;
        for (size_t t = 0; t < chunk; t++, n++) {
            int32_t id = j->prompt.ids[pre->fed + t];
            s->b_token[n] = id < 0 ? -1 : id;
            s->b_seq[n] = pre->seq;
            s->b_want[n] = false;
            if (id < 0) { /* an image row: its features, in the order the ids < 0 come */
                images = true;
                if (s->b_embd && row < j->n_img_rows)
                    memcpy(s->b_embd + (size_t)n * (size_t)j->hidden,
                           j->img_rows + (size_t)row * (size_t)j->hidden,
                           (size_t)j->hidden * sizeof(float));
                row++;
            }
        }
        if (images && (!s->b_embd || row > j->n_img_rows)) {
            step_fail(s, pre,
                      !s->b_embd ? "out of memory for the image rows"
                                 : "more image positions than image rows");
            return;
        }
        if (chunk && pre->fed + chunk == pre->job->prompt.n) {
            s->b_want[n - 1] = true;
            s->b_owner[k++] = pre;
        }
    }
    if (!n)
        return;
    double t0 = herd_now();
    herd_batch b = {.n = n,
                    .token = s->b_token,
                    .seq = s->b_seq,
                    .logits = s->b_want,
                    .embd = images ? s->b_embd : NULL};
    herd_status st = herd_forward(s->ctx, &b, s->logits);
    double dt = herd_now() - t0;
    if (st == HERD_ERR_CANCELLED)
        return; /* nothing changed; the next step drops the departed job */
    if (st) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", herd_last_error());
        for (int i = 0; i < k; i++)
            if (s->b_owner[i]->job)
                step_fail(s, s->b_owner[i], msg);
        if (pre && pre->job)
            step_fail(s, pre, msg);
        return;
    }
    for (int64_t r = 0; r < n - (int64_t)chunk; r++) { /* decode rows first, then the chunk */
        srv_slot *sl = &s->slots[s->b_seq[r]];
        herd_tokens_push(&sl->cached, s->b_token[r]);
    }
    if (pre) { /* the prompt's ids (an image row's id < 0 names the image) for the cache */
        herd_tokens_append(&pre->cached, pre->job->prompt.ids + pre->fed, chunk);
        for (size_t t = 0; t < chunk; t++)
            pre->rows_fed += pre->job->prompt.ids[pre->fed + t] < 0;
        pre->fed += chunk;
    }
    for (int i = 0; i < k; i++)
        take_token(s, s->b_owner[i], s->logits + (size_t)i * (size_t)s->vocab);
    pthread_mutex_lock(&s->mu);
    /* a mixed step's time is split by rows: a decode row and a prompt row cost about alike */
    s->decode_tokens += (uint64_t)decoded;
    s->decode_s += dt * (double)decoded / (double)n;
    s->prefill_tokens += chunk;
    s->prefill_s += dt * (double)chunk / (double)n;
    int64_t cells = 0;
    for (int i = 0; i < s->o.parallel; i++)
        cells += herd_seq_len(s->ctx, s->slots[i].seq);
    s->kv_cells = cells;
    pthread_mutex_unlock(&s->mu);
}

static void *sched_main(void *arg)
{
    srv_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* admit queued jobs into free slots; drop the ones whose client already left */
        while (s->q_n && s->busy < s->o.parallel) {
            srv_job *j = s->queue[s->q_head];
            s->q_head = (s->q_head + 1) % s->q_cap;
            s->q_n--;
            if (atomic_load(&j->cancelled)) {
                pthread_mutex_lock(&j->mu);
                j->finish = SRV_FINISH_CANCEL;
                pthread_cond_broadcast(&j->cv);
                pthread_mutex_unlock(&j->mu);
                s->n_cancelled++;
                srv_job_release(j);
                continue;
            }
            size_t reuse;
            srv_slot *holder;
            srv_slot *sl = pick_slot(s, j, &holder, &reuse);
            start(s, sl, j, holder, reuse);
        }
        if (s->quit)
            break;
        if (!s->busy) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        step_run(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->o.parallel; i++)
        if (s->slots[i].job)
            finish(s, &s->slots[i], SRV_FINISH_CANCEL, NULL);
    return NULL;
}

herd_status srv_sched_create(const herd_model *m, const herd_tokenizer *tok,
                             const srv_sched_opts *o, srv_sched **out)
{
    *out = NULL;
    srv_sched *s = calloc(1, sizeof *s);
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the scheduler");
    s->tok = tok;
    s->o = *o;
    s->vocab = herd_model_config(m)->vocab;
    s->tok_vocab =
        herd_tokenizer_vocab_size(tok) < s->vocab ? herd_tokenizer_vocab_size(tok) : s->vocab;
    s->python_start_id = herd_tokenizer_special_id(tok, "<|python_start|>");
    s->q_cap = o->max_queue + o->parallel;
    s->queue = calloc((size_t)s->q_cap, sizeof *s->queue);
    s->slots = calloc((size_t)o->parallel, sizeof *s->slots);
    s->logits = herd_alloc((size_t)(o->parallel + 1) * (size_t)s->vocab * sizeof(float), "logits");
    s->b_token = calloc(HERD_BATCH_MAX, sizeof *s->b_token);
    s->b_seq = calloc(HERD_BATCH_MAX, sizeof *s->b_seq);
    s->b_want = calloc(HERD_BATCH_MAX, sizeof *s->b_want);
    s->b_owner = calloc((size_t)o->parallel + 1, sizeof *s->b_owner);
    herd_status st =
        s->queue && s->slots && s->logits && s->b_token && s->b_seq && s->b_want && s->b_owner
            ? HERD_OK
            : herd_fail(HERD_ERR_NOMEM, "out of memory for the scheduler");
    for (int i = 0; s->slots && i < o->parallel; i++)
        s->slots[i].seq = i;
    herd_context_opts co;
    herd_context_opts_default(&co);
    co.ctx = o->ctx;
    co.n_seqs = o->parallel;
    co.threads = o->threads;
    co.type_k = o->type_k;
    co.type_v = o->type_v;
    co.cancel = any_cancelled;
    co.cancel_user = s;
    if (!st)
        st = herd_context_create(m, &co, &s->ctx);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!st && pthread_create(&s->thread, NULL, sched_main, s) != 0)
        st = herd_fail(HERD_ERR_INTERNAL, "cannot start the scheduler thread");
    if (st) {
        herd_context_free(s->ctx);
        free(s->slots);
        free(s->queue);
        free(s->b_token);
        free(s->b_seq);
        free(s->b_want);
        free(s->b_owner);
        herd_free(s->logits);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return st;
    }
    *out = s;
    return HERD_OK;
}

void srv_sched_stop(srv_sched *s)
{
    pthread_mutex_lock(&s->mu);
    bool was = s->quit;
    s->quit = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!was)
        pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->mu);
    while (s->q_n) {
        srv_job *j = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_n--;
        pthread_mutex_lock(&j->mu);
        j->finish = SRV_FINISH_CANCEL;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        srv_job_release(j);
    }
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_free(srv_sched *s)
{
    if (!s)
        return;
    srv_sched_stop(s);
    for (int i = 0; i < s->o.parallel; i++)
        herd_tokens_free(&s->slots[i].cached);
    herd_context_free(s->ctx);
    srv_jmask_free(s->jm);
    free(s->b_token);
    free(s->b_seq);
    free(s->b_want);
    free(s->b_owner);
    free(s->slots);
    free(s->queue);
    herd_free(s->b_embd);
    herd_free(s->logits);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

bool srv_sched_submit(srv_sched *s, srv_job *j)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->quit && s->q_n < s->o.max_queue + (s->o.parallel - s->busy);
    if (ok) {
        j->t_submit = herd_now();
        atomic_fetch_add(&j->refs, 1);
        s->queue[(s->q_head + s->q_n) % s->q_cap] = j;
        s->q_n++;
        pthread_cond_signal(&s->cv);
    } else {
        s->n_rejected++;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void srv_sched_poke(srv_sched *s)
{
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int64_t srv_sched_ctx(const srv_sched *s)
{
    return s->o.ctx;
}

char *srv_sched_metrics(srv_sched *s)
{
    pthread_mutex_lock(&s->mu);
    struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        {"herd_requests_total", "counter", "generation requests started", (double)s->n_requests},
        {"herd_requests_rejected_total", "counter", "requests refused with 503 (queue full)",
         (double)s->n_rejected},
        {"herd_requests_cancelled_total", "counter", "requests whose client went away",
         (double)s->n_cancelled},
        {"herd_requests_failed_total", "counter", "requests ended by an error",
         (double)s->n_errors},
        {"herd_prompt_tokens_total", "counter", "prompt tokens of started requests",
         (double)s->prompt_tokens},
        {"herd_generated_tokens_total", "counter", "tokens generated", (double)s->gen_tokens},
        {"herd_prompt_cache_hits_total", "counter", "requests that reused a cached prefix",
         (double)s->n_cache_hits},
        {"herd_prompt_cache_tokens_total", "counter", "prompt tokens reused from the cache",
         (double)s->cached_tokens},
        {"herd_prefill_tokens_per_second", "gauge", "prompt tokens per second of prefill work",
         s->prefill_s > 0 ? (double)s->prefill_tokens / s->prefill_s : 0},
        {"herd_decode_tokens_per_second", "gauge", "tokens per second of decode work",
         s->decode_s > 0 ? (double)s->decode_tokens / s->decode_s : 0},
        {"herd_queue_depth", "gauge", "requests waiting for a slot", (double)s->q_n},
        {"herd_slots_busy", "gauge", "slots running a request", (double)s->busy},
        {"herd_slots_total", "gauge", "slots (--parallel)", (double)s->o.parallel},
        {"herd_kv_cells_used", "gauge", "token positions held in the KV caches",
         (double)s->kv_cells},
    };
    pthread_mutex_unlock(&s->mu);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        len += (size_t)snprintf(out + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n%s %.6g\n",
                                m[i].name, m[i].help, m[i].name, m[i].type, m[i].name, m[i].v);
    return out;
}
