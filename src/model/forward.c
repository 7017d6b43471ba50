/* The Llama 4 forward pass (spec llama4.md §3) over a batch: rows of any sequences, each at
 * its own position. Every projection is one GEMM over all rows (decode of N sequences is one
 * M = N GEMM per weight), the MoE groups the rows by expert, and attention runs each
 * sequence's rows against that sequence's cache. Rows are processed grouped by sequence (the
 * order of GEMM rows changes nothing); logits come back in batch order. */
#include "herd/prof.h"
#include "model_internal.h"

#include <stdatomic.h>
#include <string.h>

typedef struct scratch {
    float *x, *h, *qkv, *q, *k, *v, *att;
    float *rope; /* per row, its position's RoPE table (2·head_dim floats) */
} scratch;

/* One call's state: rows are in the internal order (c->order), runs[n_runs] group them. */
typedef struct pass {
    herd_context *c;
    const herd_model *m;
    int64_t n;
    int n_runs;
    int64_t first_rope; /* the first RoPE layer: it fills the rows' RoPE tables */
    scratch s;
} pass;

/* One GEMM over the rows, recorded by the profiler as `op`. */
static herd_status gemm(const pass *f, herd_prof_op op, const herd_packed *w, const float *a,
                        size_t lda, int64_t rows, float *c, size_t ldc, const float *bias,
                        bool residual)
{
    double t0 = HERD_PROF_START();
    herd_gemm_args g = {.M = rows,
                        .A = a,
                        .lda = lda,
                        .C = c,
                        .ldc = ldc,
                        .bias = bias,
                        .residual = residual ? c : NULL,
                        .ldr = ldc,
                        .aprep = f->m->opts.aprep};
    herd_status st = herd_gemm(w, &g, f->c->pool);
    HERD_PROF_GEMM(op, t0, w, &g);
    return st;
}

/* Row-wise work (norms, RoPE, the cache stores) on the pool: threads claim ROWS_CLAIM rows at
 * a time. Each row is computed alone, the same way on any number of threads. */
enum { ROWS_CLAIM = 16 };

typedef struct rows_job rows_job;
struct rows_job {
    void (*fn)(const rows_job *j, int64_t r0, int64_t r1);
    pass *f;
    int64_t l, n;
    const float *x, *w; /* norm_part */
    float *y;
    int64_t dim;
    atomic_llong next;
};

static void rows_part(void *ctx, int tid, int nthreads)
{
    rows_job *j = ctx;
    (void)tid;
    (void)nthreads;
    for (int64_t r0; (r0 = atomic_fetch_add(&j->next, ROWS_CLAIM)) < j->n;)
        j->fn(j, r0, r0 + ROWS_CLAIM < j->n ? r0 + ROWS_CLAIM : j->n);
}

static void run_rows(herd_pool *pool, rows_job *j)
{
    atomic_init(&j->next, 0);
    if (j->n > ROWS_CLAIM && herd_pool_size(pool) > 1)
        herd_pool_run_claims(pool, rows_part, j);
    else
        j->fn(j, 0, j->n);
}

static void norm_part(const rows_job *j, int64_t r0, int64_t r1)
{
    size_t ld = (size_t)j->dim;
    herd_rmsnorm_rows(j->x + (size_t)r0 * ld, ld, j->w, j->y + (size_t)r0 * ld, ld, r1 - r0, j->dim,
                      (float)j->f->m->cfg.eps);
}

static void norm_rows(pass *f, const float *x, const float *w, float *y, int64_t rows, int64_t n)
{
    double t0 = HERD_PROF_START();
    rows_job j = {.fn = norm_part, .f = f, .n = rows, .x = x, .w = w, .y = y, .dim = n};
    run_rows(f->c->pool, &j);
    HERD_PROF_END(HERD_OP_NORM, t0, herd_prof_norm_cost(rows, n, w != NULL));
}

/* Run r's rows against its sequence's cache. */
static herd_status seq_attention(const pass *f, int64_t l, const herd_attn_shape *shape, int r,
                                 herd_pool *pool)
{
    const herd_context *ctx = f->c;
    const scratch *s = &f->s;
    size_t qd = (size_t)(shape->n_heads * shape->head_dim);
    size_t kvd = (size_t)(shape->n_kv_heads * shape->head_dim);
    const seq_run *run = &ctx->runs[r];
    kv_layer *L = &ctx->seqs[run->seq].layers[l];
    herd_kv_view view = {.cache_k = L->k,
                         .cache_v = L->v,
                         .ring = L->ring,
                         .start = run->start,
                         .new_k = s->k + (size_t)run->row0 * kvd,
                         .new_v = s->v + (size_t)run->row0 * kvd,
                         .type_k = ctx->type_k,
                         .type_v = ctx->type_v};
    return herd_attention(shape, s->q + (size_t)run->row0 * qd, qd, run->n, &view,
                          s->att + (size_t)run->row0 * qd, qd, pool);
}

/* One row of n_kv_heads head rows of D floats into the cache's type, each head row padded to
 * whole blocks; then, if the type rounds, the floats become what the cache holds, so the
 * batch's own rows are seen as they will be seen from the cache later. */
static void store_row(herd_type t, float *x, uint8_t *dst, int64_t nkv, int64_t D)
{
    if (t == HERD_TYPE_F32) {
        memcpy(dst, x, (size_t)(nkv * D) * sizeof(float));
        return;
    }
    size_t hb = herd_type_row_bytes(t, (size_t)D);
    for (int64_t h = 0; h < nkv; h++) {
        herd_row_from_f32(t, x + h * D, dst + (size_t)h * hb, (size_t)D);
        herd_row_to_f32(t, dst + (size_t)h * hb, x + h * D, (size_t)D);
    }
}

/* Row t of run r made ready for attention: q, k and v split out of the fused QKV row (if
 * any); on RoPE layers q and k rotated, then (Scout only) the weightless QK RMS norm of each
 * head row; on NoPE layers that tune it, q scaled by the temperature; then k and v join the
 * sequence's cache. The row is computed alone, the same way on any thread.
 *
 * The cache rows land on positions the sequences do not hold yet, and on a ring only on rows
 * no query of this batch reads (a ring's extra HERD_BATCH_MAX rows), so a failure later
 * leaves every sequence as it was. */
static void prep_row(const pass *f, int64_t l, int64_t t, int r)
{
    herd_context *ctx = f->c;
    const herd_model *m = f->m;
    const herd_llama4_config *c = &m->cfg;
    const scratch *s = &f->s;
    int64_t nq = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    size_t qd = (size_t)(nq * D), kvd = (size_t)(nkv * D);
    float *q = s->q + (size_t)t * qd, *k = s->k + (size_t)t * kvd, *v = s->v + (size_t)t * kvd;
    if (m->layers[l].qkv) {
        const float *row = s->qkv + (size_t)t * (qd + 2 * kvd);
        memcpy(q, row, qd * sizeof(float));
        memcpy(k, row + qd, kvd * sizeof(float));
        memcpy(v, row + qd + kvd, kvd * sizeof(float));
    }
    int64_t p = ctx->pos[t];
    if (c->layer_rope[l]) {
        float *cs = s->rope + (size_t)t * (size_t)(2 * D);
        if (l == f->first_rope) /* every RoPE layer rotates a row by the same angles */
            herd_rope_table(&m->rope, p, cs);
        herd_rope_apply_table(&m->rope, cs, q, nq, k, nkv);
        if (c->use_qk_norm) {
            herd_rmsnorm_rows(q, (size_t)D, NULL, q, (size_t)D, nq, D, (float)c->eps);
            herd_rmsnorm_rows(k, (size_t)D, NULL, k, (size_t)D, nkv, D, (float)c->eps);
        }
    } else if (c->temp_tuning) { /* NoPE layer: scale queries only, by (p + 1) */
        float tf = herd_attn_temperature(p, c->floor_scale, c->attn_scale);
        for (size_t i = 0; i < qd; i++)
            q[i] *= tf;
    }
    const seq_run *run = &ctx->runs[r];
    kv_layer *L = &ctx->seqs[run->seq].layers[l];
    size_t dst = (size_t)((run->start + t - run->row0) % L->ring);
    store_row(ctx->type_k, k, L->k + dst * ctx->row_k, nkv, D);
    store_row(ctx->type_v, v, L->v + dst * ctx->row_v, nkv, D);
}

static void prep_part(const rows_job *j, int64_t r0, int64_t r1)
{
    const herd_context *ctx = j->f->c;
    int r = 0;
    for (int64_t t = r0; t < r1; t++) {
        while (t >= ctx->runs[r].row0 + ctx->runs[r].n) /* rows are grouped by run */
            r++;
        prep_row(j->f, j->l, t, r);
    }
}

/* What the profiler counts for prep_row over n rows. */
static herd_prof_cost prep_cost(const pass *f, int64_t l, int64_t n)
{
    const herd_llama4_config *c = &f->m->cfg;
    int64_t nq = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    size_t kvd = (size_t)(nkv * D);
    herd_prof_cost a = c->layer_rope[l] ? herd_prof_rope_cost(n, (nq + nkv) * D)
                                        : herd_prof_norm_cost(n, nq * D, false);
    if (c->layer_rope[l] && c->use_qk_norm) {
        herd_prof_cost b = herd_prof_norm_cost(n * (nq + nkv), D, false);
        a.flops += b.flops;
        a.act_bytes += b.act_bytes;
    }
    a.act_bytes += (double)n * (8.0 * (double)kvd + (double)(f->c->row_k + f->c->row_v));
    return a;
}

/* Decode of several sequences, one pool run a layer: the sequences are the claims, and whoever
 * claims one makes its rows ready (prep_row) and runs its attention against its cache, which
 * herd_attention keeps on that thread (small work). Each sequence is computed the same way by
 * whichever thread claims it. */
typedef struct seqs_attn {
    const pass *f;
    int64_t l;
    const herd_attn_shape *shape;
    atomic_int next;
    _Atomic herd_status st; /* the first failure */
} seqs_attn;

/* Asks for the cache rows run r's attention reads (keys and values of every head, in order of
 * memory) while this thread works on something else: a sequence's attention alone touches
 * each kv head's slice of a row at a stride, which the hardware prefetchers do not follow. */
static void prefetch_cache(const pass *f, int64_t l, const herd_attn_shape *shape, int r)
{
    const herd_context *ctx = f->c;
    const seq_run *run = &ctx->runs[r];
    const kv_layer *L = &ctx->seqs[run->seq].layers[l];
    int64_t lo = shape->chunk > 0 ? run->start / shape->chunk * shape->chunk : 0;
    for (int64_t p = lo; p < run->start; p++) {
        size_t row = (size_t)(p % L->ring);
        const uint8_t *k = L->k + row * ctx->row_k, *v = L->v + row * ctx->row_v;
        for (size_t b = 0; b < ctx->row_k; b += 64)
            __builtin_prefetch(k + b, 0, 2);
        for (size_t b = 0; b < ctx->row_v; b += 64)
            __builtin_prefetch(v + b, 0, 2);
        __asm__ volatile(""); /* keeps GCC from dropping a loop that only prefetches */
    }
}

static void seqs_attn_part(void *ctx, int tid, int nthreads)
{
    seqs_attn *j = ctx;
    (void)tid;
    bool first = true;
    for (int r; (r = atomic_fetch_add(&j->next, 1)) < j->f->n_runs; first = false) {
        const seq_run *run = &j->f->c->runs[r];
        /* this sequence's rows if nothing asked for them yet, then the ones this thread
         * likely claims next (threads take turns); which rows are prefetched changes only
         * the speed */
        if (first)
            prefetch_cache(j->f, j->l, j->shape, r);
        if (r + nthreads < j->f->n_runs)
            prefetch_cache(j->f, j->l, j->shape, r + nthreads);
        for (int64_t t = run->row0; t < run->row0 + run->n; t++)
            prep_row(j->f, j->l, t, r);
        herd_status st = seq_attention(j->f, j->l, j->shape, r, NULL);
        herd_status ok = HERD_OK;
        if (st)
            atomic_compare_exchange_strong(&j->st, &ok, st);
    }
}

static herd_status attention_block(pass *f, int64_t l)
{
    herd_context *ctx = f->c;
    const herd_model *m = f->m;
    const herd_llama4_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    scratch *s = &f->s;
    int64_t n = f->n, H = c->hidden, D = c->head_dim, nq = c->n_heads, nkv = c->n_kv_heads;
    size_t qd = (size_t)(nq * D), kvd = (size_t)(nkv * D);
    herd_status st;
    norm_rows(f, s->x, w->attn_norm, s->h, n, H);
    if (w->qkv) { /* one GEMM; q, k and v are split into their own rows with the RoPE below */
        size_t ld = qd + 2 * kvd;
        if ((st = gemm(f, HERD_OP_QKV, w->qkv, s->h, (size_t)H, n, s->qkv, ld, w->bqkv, false)))
            return st;
    } else if ((st = gemm(f, HERD_OP_Q, w->q, s->h, (size_t)H, n, s->q, qd, w->bq, false)) ||
               (st = gemm(f, HERD_OP_K, w->k, s->h, (size_t)H, n, s->k, kvd, w->bk, false)) ||
               (st = gemm(f, HERD_OP_V, w->v, s->h, (size_t)H, n, s->v, kvd, w->bv, false))) {
        return st;
    }
    bool rope = c->layer_rope[l];
    herd_attn_shape shape = {nq, nkv, D, rope ? c->chunk : 0};
    herd_prof_cost cost = {0};
    /* the cost model counts f32 rows; the cache holds row_k + row_v bytes a position */
    double kv_scale = (double)(ctx->row_k + ctx->row_v) / (8.0 * (double)kvd);
    double t0 = HERD_PROF_START();
    seqs_attn job = {f, l, &shape, 0, HERD_OK};
    if (f->n_runs > 1 && f->n_runs == n) {
        /* decode of several sequences: one pool run for the rows' preparation and attention
         * (the profiler counts both as attention) */
        atomic_init(&job.next, 0);
        herd_pool_run_claims(ctx->pool, seqs_attn_part, &job);
        st = job.st;
        if (st)
            st = herd_fail(st, "attention of layer %lld failed on a pool thread", (long long)l);
        if (herd_prof_on)
            cost = prep_cost(f, l, n);
    } else {
        rows_job rj = {.fn = prep_part, .f = f, .l = l, .n = n};
        run_rows(ctx->pool, &rj);
        HERD_PROF_END(HERD_OP_QK_PREP, t0, prep_cost(f, l, n));
        t0 = HERD_PROF_START();
        st = HERD_OK;
        for (int r = 0; r < f->n_runs && !st; r++) /* each sequence against its own cache */
            st = seq_attention(f, l, &shape, r, ctx->pool);
    }
    for (int r = 0; r < f->n_runs && herd_prof_on; r++) {
        const seq_run *run = &ctx->runs[r];
        herd_prof_cost rc =
            herd_prof_attn_cost(run->start, run->n, shape.chunk, (int)nq, (int)nkv, (int)D, 4);
        cost.flops += rc.flops;
        cost.act_bytes += rc.act_bytes;
        cost.kv_bytes += rc.kv_bytes * kv_scale;
    }
    HERD_PROF_END(HERD_OP_ATTN, t0, cost);
    if (st)
        return st;
    return gemm(f, HERD_OP_O, w->o, s->att, qd, n, s->x, (size_t)H, w->bo, true);
}

static herd_status ffn_block(pass *f, int64_t l)
{
    const herd_model *m = f->m;
    const herd_llama4_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    scratch *s = &f->s;
    int64_t H = c->hidden, n = f->n;
    norm_rows(f, s->x, w->ffn_norm, s->h, n, H);
    if (!c->layer_moe[l]) {
        double t0 = HERD_PROF_START();
        herd_status st =
            herd_mlp(w->mlp_gate_up, w->mlp_down, s->h, s->x, n, m->opts.aprep, f->c->pool);
        HERD_PROF_FFN(HERD_OP_MLP, t0, w->mlp_gate_up, w->mlp_down, n, true);
        return st;
    }
    herd_moe_weights mw = {c->n_experts, c->top_k,      w->router, w->exp_gate_up,
                           w->exp_down,  w->sh_gate_up, w->sh_down};
    return herd_moe(&mw, s->h, s->x, n, m->opts.aprep, f->c->pool);
}

/* Checks every row and lays out the call: c->order (rows grouped by sequence, in batch order
 * within one), c->pos, c->runs. Touches no sequence. */
static herd_status plan(herd_context *c, const herd_batch *b, int *n_runs)
{
    const herd_llama4_config *cfg = &c->m->cfg;
    int64_t n = b->n;
    *n_runs = 0;
    if (n < 1 || n > HERD_BATCH_MAX)
        return herd_fail(HERD_ERR_ARG, "forward: a batch holds 1..%d rows (got %lld)",
                         HERD_BATCH_MAX, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        int32_t seq = b->seq ? b->seq[i] : 0;
        if (seq < 0 || seq >= c->n_seqs)
            return herd_fail(HERD_ERR_ARG, "batch row %lld: no sequence %d (the context has %d)",
                             (long long)i, seq, c->n_seqs);
    }
    /* one run per sequence, in order of first appearance; count[seq] = its run + 1 */
    int runs = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t seq = b->seq ? b->seq[i] : 0;
        if (!c->count[seq]) {
            c->runs[runs] = (seq_run){seq, 0, 0, c->seqs[seq].len};
            c->count[seq] = ++runs;
        }
        c->runs[c->count[seq] - 1].n++;
    }
    int64_t row = 0;
    for (int r = 0; r < runs; r++) {
        c->runs[r].row0 = row;
        row += c->runs[r].n;
        c->runs[r].n = 0; /* refilled below, as each row takes its slot */
    }
    herd_status st = HERD_OK;
    for (int64_t i = 0; i < n; i++) {
        int32_t seq = b->seq ? b->seq[i] : 0;
        seq_run *run = &c->runs[c->count[seq] - 1];
        int64_t slot = run->row0 + run->n, p = run->start + run->n++;
        c->order[slot] = (int32_t)i;
        c->inv[i] = (int32_t)slot;
        c->pos[slot] = p;
        bool tok = b->token && b->token[i] >= 0;
        if (st)
            continue;
        if (p >= c->ctx)
            st = herd_fail(HERD_ERR_RANGE,
                           "context full: sequence %d at %lld + %lld tokens "
                           "exceeds --ctx %lld",
                           seq, (long long)run->start, (long long)(p - run->start + 1),
                           (long long)c->ctx);
        else if (b->pos && b->pos[i] != p)
            st = herd_fail(HERD_ERR_ARG,
                           "batch row %lld: position %lld, but sequence %d continues at %lld",
                           (long long)i, (long long)b->pos[i], seq, (long long)p);
        else if (tok && b->token[i] >= cfg->vocab)
            st = herd_fail(HERD_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)",
                           b->token[i], (long long)cfg->vocab - 1);
        else if (!tok && !b->embd)
            st = herd_fail(HERD_ERR_ARG, "batch row %lld has neither a token nor an embedding",
                           (long long)i);
    }
    for (int r = 0; r < runs; r++)
        c->count[c->runs[r].seq] = 0;
    *n_runs = runs;
    return st;
}

/* Embeds the rows, runs the layers, and the wanted rows' logits. */
static herd_status run(pass *f, const herd_batch *b, float *logits, float *hidden,
                       int64_t hidden_stride)
{
    herd_context *ctx = f->c;
    const herd_model *m = f->m;
    const herd_llama4_config *c = &m->cfg;
    int64_t H = c->hidden, n = f->n;
    scratch *s = &f->s;
    size_t eb = herd_type_row_bytes(m->embed.type, (size_t)H);
    size_t erow = m->embed.row_bytes ? m->embed.row_bytes : eb;
    herd_status st = HERD_OK;
    double t0 = HERD_PROF_START();
    for (int64_t t = 0; t < n && !st; t++) { /* no embedding scale in Llama 4 */
        int64_t i = ctx->order[t];
        float *x = s->x + (size_t)(t * H);
        if (b->token && b->token[i] >= 0)
            st = herd_row_to_f32(m->embed.type,
                                 (const uint8_t *)m->embed.data + (size_t)b->token[i] * erow, x,
                                 (size_t)H);
        else
            memcpy(x, b->embd + (size_t)(i * H), (size_t)H * sizeof(float));
    }
    HERD_PROF_END(HERD_OP_EMBED, t0,
                  ((herd_prof_cost){0, (double)(n * (int64_t)eb), 4.0 * (double)(n * H), 0}));
    for (int64_t l = 0; l <= c->n_layers && !st; l++) {
        if (hidden)
            for (int64_t t = 0; t < n; t++)
                memcpy(hidden + (size_t)(l * hidden_stride + ctx->order[t] * H),
                       s->x + (size_t)(t * H), (size_t)H * sizeof(float));
        if (l == c->n_layers)
            break;
        if (ctx->cancel && ctx->cancel(ctx->cancel_user))
            return herd_fail(HERD_ERR_CANCELLED, "forward: cancelled before layer %lld",
                             (long long)l);
        if (!(st = attention_block(f, l)))
            st = ffn_block(f, l);
    }
    if (st || !logits)
        return st;
    /* the wanted rows, in batch order, normed into h for one LM-head GEMM */
    int64_t k = 0;
    t0 = HERD_PROF_START();
    for (int64_t i = 0; i < n; i++)
        if (b->logits ? b->logits[i] : i == n - 1)
            herd_rmsnorm_rows(s->x + (size_t)(ctx->inv[i] * H), (size_t)H, m->final_norm,
                              s->h + (size_t)(k++ * H), (size_t)H, 1, H, (float)c->eps);
    HERD_PROF_END(HERD_OP_NORM, t0, herd_prof_norm_cost(k, H, true));
    if (k == 0)
        return HERD_OK;
    return gemm(f, HERD_OP_LM_HEAD, m->output, s->h, (size_t)H, k, logits, (size_t)c->vocab, NULL,
                false);
}

static herd_status forward(herd_context *ctx, const herd_batch *b, float *logits, float *hidden,
                           int64_t hidden_stride)
{
    const herd_model *m = ctx->m;
    const herd_llama4_config *c = &m->cfg;
    pass f = {.c = ctx, .m = m, .n = b->n};
    herd_status st = plan(ctx, b, &f.n_runs);
    for (int r = 0; r < f.n_runs && !st; r++)
        st = herd_seq_reserve(ctx, ctx->runs[r].seq, ctx->runs[r].start + ctx->runs[r].n);
    if (st)
        return st;
    int64_t P = b->n, H = c->hidden;
    size_t qd = (size_t)(c->n_heads * c->head_dim), kvd = (size_t)(c->n_kv_heads * c->head_dim);
    size_t per = (size_t)(2 * H) + 3 * qd + 4 * kvd + (size_t)(2 * c->head_dim); /* floats a row */
    float *mem = herd_scratch(HERD_SCRATCH_FORWARD, (size_t)P * per * sizeof(float) + 7 * 64);
    if (!mem)
        return HERD_ERR_NOMEM;
    scratch *s = &f.s;
    s->x = mem;
    s->h = s->x + (size_t)(P * H);
    s->q = s->h + (size_t)(P * H);
    s->att = s->q + (size_t)P * qd;
    s->k = s->att + (size_t)P * qd;
    s->v = s->k + (size_t)P * kvd;
    s->qkv = s->v + (size_t)P * kvd;
    s->rope = s->qkv + (size_t)P * (qd + 2 * kvd);
    for (f.first_rope = 0; f.first_rope < c->n_layers && !c->layer_rope[f.first_rope];)
        f.first_rope++;
    /* decode: every sequence in the batch adds one token after its prompt */
    bool decode = f.n_runs == P;
    for (int r = 0; r < f.n_runs && decode; r++)
        decode = ctx->runs[r].start > 0;
    double ph =
        herd_prof_on ? herd_prof_phase_begin(decode ? HERD_PHASE_DECODE : HERD_PHASE_PREFILL) : 0;
    st = run(&f, b, logits, hidden, hidden_stride);
    if (herd_prof_on)
        herd_prof_phase_end(ph, P);
    for (int r = 0; r < f.n_runs; r++) {
        const seq_run *run = &ctx->runs[r];
        seq_cache *sq = &ctx->seqs[run->seq];
        int64_t end = run->start + run->n;
        if (!st)
            sq->len = end;
        /* ring rows below end - ring now hold later positions (or a failed batch's rows) */
        if (ctx->ring != INT64_MAX && end - ctx->ring > sq->lo)
            sq->lo = end - ctx->ring;
    }
    return st;
}

herd_status herd_forward(herd_context *c, const herd_batch *b, float *logits)
{
    return forward(c, b, logits, NULL, 0);
}

herd_status herd_model_forward_ex(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                                  float *logits, bool all_rows, float *hidden)
{
    (void)m;
    const herd_llama4_config *c = &kv->m->cfg;
    if (n < 1)
        return herd_fail(HERD_ERR_ARG, "forward: no tokens");
    if (kv->seqs[0].len + n > kv->ctx)
        return herd_fail(HERD_ERR_RANGE, "context full: %lld + %lld tokens exceed --ctx %lld",
                         (long long)kv->seqs[0].len, (long long)n, (long long)kv->ctx);
    for (int64_t t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab)
            return herd_fail(HERD_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)",
                             ids[t], (long long)c->vocab - 1);
    bool all[HERD_BATCH_MAX];
    memset(all, 1, sizeof all);
    herd_status st = HERD_OK;
    for (int64_t done = 0; done < n && !st; done += HERD_BATCH_MAX) {
        int64_t k = n - done < HERD_BATCH_MAX ? n - done : HERD_BATCH_MAX;
        bool last = done + k == n;
        herd_batch b = {.n = k, .token = ids + done, .logits = all_rows ? all : NULL};
        float *lg = !logits    ? NULL
                    : all_rows ? logits + (size_t)done * (size_t)c->vocab
                    : last     ? logits
                               : NULL;
        st = forward(kv, &b, lg, hidden ? hidden + done * c->hidden : NULL, n * c->hidden);
    }
    return st;
}

herd_status herd_model_forward(herd_model *m, herd_kv_cache *kv, const int32_t *ids, int64_t n,
                               float *logits, bool all_rows)
{
    return herd_model_forward_ex(m, kv, ids, n, logits, all_rows, NULL);
}
