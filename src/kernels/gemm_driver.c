/* The GEMM driver: validates a call, prepares A once, splits N across the pool's threads and
 * runs BLIS's loops around the family's micro-kernel, finishing every tile with the epilogue
 * while it is in L1.
 *
 * Per thread (its contiguous range of panels):
 *   for each chunk of panels that fits in half of L2      (B stays in L2 across row blocks)
 *     for each block of mr rows of A                       (A block stays in L1/L2)
 *       for each panel of the chunk: tile() [+ tile() of the up panel], epilogue
 *       (or tile2(): a SwiGLU pair, or two panels, in one pass of at most mr2 rows at a time)
 * With M <= mr (decode, MoE experts with few tokens) this is the GEMV path: one pass that
 * streams each packed panel exactly once, the micro-kernel prefetching ahead. */
#include "kernels/family.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

enum { CHUNK_BYTES = 1 << 20 };

typedef struct gemm_job {
    const herd_packed *w;
    int64_t M;
    const uint8_t *a;
    size_t a_stride;
    ktile_fn tile;
    ktile_fn tile2; /* fam->tile2 in AUTO mode, else NULL */
    kepi epi;
    size_t unit;        /* panels per claim */
    int64_t mrows;      /* rows per claim (a multiple of mr; M unless N has too few panels) */
    atomic_size_t next; /* first claim not yet taken (herd_gemm) */
} gemm_job;

/* tile2 on m rows: one pass, or two of at most mr2 rows each (the second reads the two panels
 * from L1). */
static void tile_pair(const gemm_job *job, ktile *t, int m)
{
    const int mr2 = job->w->fam->mr2, nr = job->w->fam->nr;
    t->m = m <= mr2 ? m : (m + 1) / 2;
    job->tile2(t);
    if (m > mr2) {
        ktile u = *t;
        u.m = m - t->m;
        u.a = (const uint8_t *)t->a + (size_t)t->m * t->a_stride;
        u.c = t->c + t->m * nr;
        u.c2 = t->c2 + t->m * nr;
        job->tile2(&u);
    }
}

/* Panels [p0, p1) of the job for rows [m_lo, m_hi): for each chunk of panels that fits in
 * half of L2, every block of mr rows of A. */
static void gemm_panels(const gemm_job *job, size_t p0, size_t p1, int64_t m_lo, int64_t m_hi)
{
    const herd_packed *w = job->w;
    const kfamily *fam = w->fam;
    const int mr = fam->mr, nr = fam->nr, nmat = w->nmat;
    float gbuf[KMAX_MR * KMAX_NR] __attribute__((aligned(64)));
    float ubuf[KMAX_MR * KMAX_NR] __attribute__((aligned(64)));
    size_t per = w->panel_stride * (size_t)nmat;
    size_t chunk = per >= CHUNK_BYTES ? 1 : CHUNK_BYTES / per;
    if (job->M <= mr)
        chunk = p1 - p0; /* GEMV: one streaming pass */
    for (size_t pc = p0; pc < p1; pc += chunk) {
        size_t pe = pc + chunk < p1 ? pc + chunk : p1;
        for (int64_t m0 = m_lo; m0 < m_hi; m0 += mr) {
            int m = (int)(m_hi - m0 < mr ? m_hi - m0 : mr);
            for (size_t p = pc; p < pe; p++) {
                const uint8_t *b = w->data + p * per;
                size_t pn = p + 1 < pe ? p + 1 : pc;
                ktile t = {
                    .m = m,
                    .k = w->k,
                    .a = job->a + (size_t)m0 * job->a_stride,
                    .a_stride = job->a_stride,
                    .b = b,
                    .b_next = w->data + pn * per,
                    .c = gbuf,
                };
                /* two panels a pass where the family has it: a SwiGLU pair's gate and up, or
                 * panels p and p + 1 (both at panel_stride from the first). Only in the
                 * blocked GEMM (M > mr), where the panels come from L2: streamed from memory
                 * (a GEMV), the two panels' reads side by side ran slower at two threads than
                 * the one panel's. */
                const bool pair = job->tile2 && job->M > mr && m >= 4 && (nmat == 2 || p + 1 < pe);
                if (pair) {
                    t.b2 = b + w->panel_stride;
                    t.c2 = ubuf;
                    tile_pair(job, &t, m);
                } else {
                    job->tile(&t);
                    if (nmat == 2) {
                        t.b = b + w->panel_stride;
                        t.c = ubuf;
                        job->tile(&t);
                    }
                }
                int64_t col = (int64_t)p * nr;
                int n = (int)(w->n - col < nr ? w->n - col : nr);
                for (int i = 0; i < m; i++)
                    fam->epilogue(&job->epi, m0 + i, col, n, gbuf + i * nr,
                                  nmat == 2 ? ubuf + i * nr : NULL);
                if (pair && nmat == 1) { /* panel p + 1, from ubuf */
                    p++;
                    col += nr;
                    n = (int)(w->n - col < nr ? w->n - col : nr);
                    for (int i = 0; i < m; i++)
                        fam->epilogue(&job->epi, m0 + i, col, n, ubuf + i * nr, NULL);
                }
            }
        }
    }
}

static void gemm_thread(void *ctx, int tid, int nthreads)
{
    gemm_job *job = ctx;
    (void)tid;
    (void)nthreads;
    /* Threads claim runs of panels from a shared counter rather than a fixed share, so a thread
     * the OS runs late (2 vCPUs shared with other work) costs its claims, not half the op. */
    size_t np = (size_t)job->w->npanels, per_rows = (np + job->unit - 1) / job->unit;
    size_t claims = per_rows * (size_t)((job->M + job->mrows - 1) / job->mrows);
    for (;;) {
        size_t c = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (c >= claims)
            break;
        size_t p0 = c % per_rows * job->unit;
        int64_t m0 = (int64_t)(c / per_rows) * job->mrows;
        gemm_panels(job, p0, p0 + job->unit < np ? p0 + job->unit : np, m0,
                    m0 + job->mrows < job->M ? m0 + job->mrows : job->M);
    }
}

/* A preparation: rows claimed 8 at a time (each row is prepared independently). */
typedef struct prep_job {
    const kfamily *fam;
    const float *A;
    size_t lda;
    int64_t K, M;
    float ub;
    uint8_t *ws;
    size_t stride;
    atomic_size_t next;
} prep_job;

static void prep_thread(void *ctx, int tid, int nthreads)
{
    prep_job *j = ctx;
    (void)tid;
    (void)nthreads;
    for (;;) {
        size_t r0 = atomic_fetch_add_explicit(&j->next, 8, memory_order_relaxed);
        if (r0 >= (size_t)j->M)
            break;
        size_t r1 = r0 + 8 < (size_t)j->M ? r0 + 8 : (size_t)j->M;
        for (size_t i = r0; i < r1; i++)
            if (j->fam->a_prep_ub)
                j->fam->a_prep_ub(j->A + i * j->lda, j->K, j->ub, j->ws + i * j->stride);
            else
                j->fam->a_prep(j->A + i * j->lda, j->K, j->ws + i * j->stride);
    }
}

/* Checks a call; *skip when there is nothing to do (M = 0). */
static herd_status gemm_check(const herd_packed *w, const herd_gemm_args *args, bool *skip)
{
    *skip = false;
    if (!w || !args)
        return herd_fail(HERD_ERR_ARG, "herd_gemm: null argument");
    const int64_t M = args->M, N = w->n, K = w->k;
    if (M < 0)
        return herd_fail(HERD_ERR_ARG, "herd_gemm: M = %lld < 0", (long long)M);
    if (M == 0) {
        *skip = true;
        return HERD_OK;
    }
    if (!args->A || !args->C)
        return herd_fail(HERD_ERR_ARG, "herd_gemm: A or C is NULL");
    if (args->lda < (size_t)K || args->ldc < (size_t)N || (args->residual && args->ldr < (size_t)N))
        return herd_fail(HERD_ERR_ARG,
                         "herd_gemm: row strides lda %zu, ldc %zu, ldr %zu below K = %lld / N = "
                         "%lld",
                         args->lda, args->ldc, args->ldr, (long long)K, (long long)N);
    if ((args->act == HERD_ACT_SWIGLU) != (w->nmat == 2))
        return herd_fail(HERD_ERR_ARG,
                         w->nmat == 2 ? "herd_gemm: a SwiGLU weight needs act = HERD_ACT_SWIGLU"
                                      : "herd_gemm: act = HERD_ACT_SWIGLU needs a weight packed "
                                        "by herd_pack_swiglu");
    if ((unsigned)args->act > HERD_ACT_SWIGLU || (unsigned)args->aprep > HERD_APREP_EXACT)
        return herd_fail(HERD_ERR_ARG, "herd_gemm: bad act or aprep value");
    if (args->out_bf16 && args->residual && (const void *)args->residual == args->C)
        return herd_fail(HERD_ERR_ARG, "herd_gemm: residual cannot alias a bf16 C");
    return HERD_OK;
}

static bool gemm_exact(const herd_packed *w, const herd_gemm_args *args)
{
    return args->aprep == HERD_APREP_EXACT || !w->fam->a_prep;
}

/* Bytes between rows of the A workspace, 0 when A is read in place. Rows of A at a stride that
 * is a multiple of 1 KiB map to few L1 sets: the mr rows a tile reads together then evict each
 * other. Prepared rows get a padded stride; f32 rows at such a stride are copied to one
 * (O(M·K) against the GEMM's O(M·N·K)). */
static size_t ws_stride(const herd_packed *w, const herd_gemm_args *args)
{
    if (gemm_exact(w, args))
        return args->M > 1 && (args->lda * sizeof(float)) % 1024 == 0
                   ? args->lda * sizeof(float) + 64
                   : 0;
    size_t stride = (w->fam->a_row_bytes(w->k) + 63) & ~(size_t)63;
    return stride % 1024 == 0 ? stride + 64 : stride;
}

/* The job of a checked call, A prepared into ws (ws_stride(w, args) · M bytes; unused when the
 * stride is 0); the prepare runs on the pool when given and worth it. alone: the GEMM has the
 * pool's run to itself (herd_gemm), not a place in herd_gemm_many's list. */
static void gemm_setup(const herd_packed *w, const herd_gemm_args *args, uint8_t *ws,
                       herd_pool *pool, bool alone, gemm_job *job)
{
    const kfamily *fam = w->fam;
    const int64_t M = args->M, K = w->k;
    *job = (gemm_job){
        .w = w,
        .M = M,
        .a = (const uint8_t *)args->A,
        .a_stride = args->lda * sizeof(float),
        .tile = fam->tile,
        .epi = {args->bias, args->act, args->residual, args->ldr, args->C, args->ldc,
                args->out_bf16},
    };
    bool exact = gemm_exact(w, args);
    if (exact && fam->tile_exact)
        job->tile = fam->tile_exact;
    job->tile2 = exact ? NULL : fam->tile2;
    size_t stride = ws_stride(w, args);
    if (exact && stride) {
        for (int64_t i = 0; i < M; i++)
            memcpy(ws + (size_t)i * stride, args->A + (size_t)i * args->lda,
                   (size_t)K * sizeof(float));
        job->a = ws;
        job->a_stride = stride;
    }
    if (!exact) {
        job->a = ws;
        job->a_stride = stride;
        prep_job pj = {fam, args->A, args->lda, K, M, w->act_ub, ws, stride, 0};
        if (M >= 16 && pool)
            herd_pool_run_claims(pool, prep_thread, &pj);
        else
            prep_thread(&pj, 0, 1);
    }
    /* Claims: all panels for a single thread. Else about 4 per thread, for a GEMM at most the
     * L2 chunk of panels the blocked loop works on; a GEMV alone on the pool (M <= mr) takes
     * about 2 per thread: each claim starts its stream cold (the tile's prefetch runs ahead
     * within the panels a thread reads in a row), so fewer, longer claims stream better
     * (docs/PERFORMANCE.md, "Many sequences", has the measurements). A list's claims stay at
     * 4 a thread: its two ends must meet evenly. */
    size_t nt = (size_t)herd_pool_size(pool), np = (size_t)w->npanels;
    size_t per = w->panel_stride * (size_t)w->nmat,
           chunk = per >= CHUNK_BYTES ? 1 : CHUNK_BYTES / per;
    size_t claims = (alone && M <= fam->mr ? 2 : 4) * nt, unit = (np + claims - 1) / claims;
    job->unit = nt == 1 ? np : unit < chunk || M <= fam->mr ? unit : chunk;
    /* Too few panels to share (a router's N = 16 is one panel): the rows are shared instead,
     * about two claims per thread, each a whole number of mr-row blocks */
    job->mrows = M;
    if (alone && nt > 1 && np < 2 * nt && M >= 4 * (int64_t)nt * fam->mr) {
        int64_t blocks = (M + fam->mr - 1) / fam->mr, parts = 2 * (int64_t)nt;
        job->mrows = (blocks + parts - 1) / parts * fam->mr;
        job->unit = np;
    }
    atomic_init(&job->next, 0);
}

herd_status herd_gemm(const herd_packed *w, const herd_gemm_args *args, herd_pool *pool)
{
    bool skip;
    herd_status st = gemm_check(w, args, &skip);
    if (st || skip)
        return st;
    size_t bytes = 0;
    if (!herd_mul_size(ws_stride(w, args), (size_t)args->M, &bytes))
        return herd_fail(HERD_ERR_RANGE, "herd_gemm: A workspace too large");
    uint8_t *ws = bytes ? herd_scratch(HERD_SCRATCH_GEMM_A, bytes) : NULL;
    if (bytes && !ws)
        return HERD_ERR_NOMEM;
    gemm_job job;
    gemm_setup(w, args, ws, pool, true, &job);
    herd_pool_run_claims(pool, gemm_thread, &job);
    return HERD_OK;
}

/* Several GEMMs' claims in one list: claim c belongs to the job j with first[j] <= c <
 * first[j + 1]. The list is taken from both ends: the last thread claims from the back, the
 * others from the front, until they meet. A caller that puts a compute-bound GEMM (many rows)
 * last and memory-bound ones (a row or two) first gets them run at the same time, one thread
 * computing while the others stream, where one end would run them one after the other. */
typedef struct many_job {
    gemm_job *jobs;
    size_t *first; /* [n + 1] */
    int n;
    _Atomic uint64_t ends; /* front claim index in the low half, one past the back's in the high */
} many_job;

/* The next claim from the front or the back; false when the ends have met. */
static bool many_claim(many_job *mj, bool back, size_t *c)
{
    uint64_t e = atomic_load_explicit(&mj->ends, memory_order_relaxed), next;
    do {
        uint64_t f = e & 0xffffffffu, b = e >> 32;
        if (f >= b)
            return false;
        *c = back ? (size_t)(b - 1) : (size_t)f;
        next = back ? e - ((uint64_t)1 << 32) : e + 1;
    } while (!atomic_compare_exchange_weak_explicit(&mj->ends, &e, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

static void many_thread(void *ctx, int tid, int nthreads)
{
    many_job *mj = ctx;
    bool back = nthreads > 1 && tid == nthreads - 1;
    int j = back ? mj->n - 1 : 0;
    for (size_t c; many_claim(mj, back, &c);) {
        while (c >= mj->first[j + 1]) /* front claims only grow, back claims only shrink */
            j++;
        while (c < mj->first[j])
            j--;
        const gemm_job *job = &mj->jobs[j];
        size_t np = (size_t)job->w->npanels, p0 = (c - mj->first[j]) * job->unit;
        gemm_panels(job, p0, p0 + job->unit < np ? p0 + job->unit : np, 0, job->M);
    }
}

herd_status herd_gemm_many(int n, const herd_packed *const *w, const herd_gemm_args *args,
                           herd_pool *pool)
{
    enum { MAX_MANY = 1024 };
    if (n < 0 || n > MAX_MANY || (n > 0 && (!w || !args)))
        return herd_fail(HERD_ERR_ARG, "herd_gemm_many: %d GEMMs (0..%d, non-null lists)", n,
                         MAX_MANY);
    size_t total = 0, off[MAX_MANY];
    int live = 0;
    for (int i = 0; i < n; i++) {
        bool skip;
        herd_status st = gemm_check(w[i], &args[i], &skip);
        if (st)
            return st;
        size_t bytes = 0;
        if (!skip && !herd_mul_size(ws_stride(w[i], &args[i]), (size_t)args[i].M, &bytes))
            return herd_fail(HERD_ERR_RANGE, "herd_gemm: A workspace too large");
        off[i] = skip ? SIZE_MAX : total;
        total += (bytes + 63) & ~(size_t)63;
        live += !skip;
    }
    if (!live)
        return HERD_OK;
    /* the jobs and claim table live in the same scratch, after the A rows */
    size_t tables = (size_t)live * sizeof(gemm_job) + (size_t)(live + 1) * sizeof(size_t);
    uint8_t *ws = herd_scratch(HERD_SCRATCH_GEMM_A, total + tables + 64);
    if (!ws)
        return HERD_ERR_NOMEM;
    many_job mj = {.jobs = (gemm_job *)(ws + total), .n = live};
    mj.first = (size_t *)(mj.jobs + live);
    mj.first[0] = 0;
    for (int i = 0, j = 0; i < n; i++) {
        if (off[i] == SIZE_MAX)
            continue;
        gemm_setup(w[i], &args[i], ws + off[i], pool, false, &mj.jobs[j]);
        size_t np = (size_t)w[i]->npanels, unit = mj.jobs[j].unit;
        mj.first[j + 1] = mj.first[j] + (np + unit - 1) / unit;
        j++;
    }
    if (mj.first[live] > 0xffffffffu)
        return herd_fail(HERD_ERR_RANGE, "herd_gemm_many: too many panels");
    atomic_init(&mj.ends, (uint64_t)mj.first[live] << 32);
    herd_pool_run_claims(pool, many_thread, &mj);
    return HERD_OK;
}
