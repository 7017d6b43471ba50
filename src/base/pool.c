/* Fork-join thread pool. A run publishes (fn, ctx) and bumps a generation counter; workers
 * spin briefly on it (decode issues thousands of short runs per second, and a futex wake costs
 * microseconds), then sleep on a condition variable so an idle pool uses no CPU. */
#include "herd/base.h"
#include "herd/prof.h"

#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SPIN_ITERS = 20000 }; /* ~tens of microseconds of pause instructions */
#define GATE_CLOSED ((uint64_t)1 << 31)
#define GATE_COUNT  (GATE_CLOSED - 1)

struct herd_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv;
    /* Grows with every run; odd for a claims run (herd_pool_run_claims), even for fork-join. */
    _Atomic unsigned generation;
    _Atomic int pending; /* workers still running the current generation (fork-join runs) */
    /* Claims runs: the run's generation << 32 | CLOSED once the caller is done | workers in. */
    _Atomic uint64_t gate;
    _Atomic bool sleeping_done_waiter;
    bool stop;
    herd_pool_fn fn;
    void *ctx;
};

/* A worker joins claims run `gen` unless the caller has closed it; true if it joined. */
static bool gate_join(herd_pool *pool, unsigned gen)
{
    uint64_t s = atomic_load_explicit(&pool->gate, memory_order_acquire);
    while ((unsigned)(s >> 32) == gen && !(s & GATE_CLOSED))
        if (atomic_compare_exchange_weak_explicit(&pool->gate, &s, s + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return true;
    return false;
}

typedef struct worker_arg {
    herd_pool *pool;
    int tid;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    herd_pool *pool = arg->pool;
    int tid = arg->tid;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               spins < SPIN_ITERS) {
            _mm_pause();
            spins++;
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((gen = atomic_load(&pool->generation)) == seen && !pool->stop)
                pthread_cond_wait(&pool->wake, &pool->mu);
            bool stop = pool->stop;
            pthread_mutex_unlock(&pool->mu);
            if (stop)
                return NULL;
        }
        seen = gen;
        if (gen & 1) { /* claims run: only if the caller is still in it */
            if (gate_join(pool, gen)) {
                pool->fn(pool->ctx, tid, pool->nthreads);
                atomic_fetch_sub_explicit(&pool->gate, 1, memory_order_release);
            }
            continue;
        }
        pool->fn(pool->ctx, tid, pool->nthreads);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
}

herd_status herd_pool_create(int nthreads, herd_pool **out)
{
    *out = NULL;
    if (nthreads < 1 || nthreads > 1024)
        return herd_fail(HERD_ERR_ARG, "thread count %d out of range 1..1024", nthreads);
    herd_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return herd_fail(HERD_ERR_NOMEM, "out of memory creating the thread pool");
    pool->nthreads = nthreads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    pool->threads = calloc((size_t)nthreads, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return herd_fail(HERD_ERR_NOMEM, "out of memory creating the thread pool");
    }
    for (int t = 1; t < nthreads; t++) {
        worker_arg *arg = malloc(sizeof *arg);
        int err = arg ? pthread_create(&pool->threads[t], NULL, worker_main,
                                       (*arg = (worker_arg){pool, t}, arg))
                      : ENOMEM;
        if (err) {
            free(arg);
            pool->nthreads = t;
            herd_pool_destroy(pool);
            return herd_fail(HERD_ERR_INTERNAL, "cannot start thread %d of %d: %s", t, nthreads,
                             strerror(err));
        }
    }
    *out = pool;
    return HERD_OK;
}

void herd_pool_destroy(herd_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 1; t < pool->nthreads; t++)
        pthread_join(pool->threads[t], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done_cv);
    free(pool->threads);
    free(pool);
}

int herd_pool_size(const herd_pool *pool)
{
    return pool ? pool->nthreads : 1;
}

/* Starts a run: publishes (fn, ctx) and a new generation (odd for a claims run, which also
 * opens its gate; even for fork-join), and wakes the sleeping workers. */
static void publish(herd_pool *pool, herd_pool_fn fn, void *ctx, bool claims)
{
    pool->fn = fn;
    pool->ctx = ctx;
    pthread_mutex_lock(&pool->mu);
    unsigned old = atomic_load(&pool->generation);
    unsigned gen = claims ? (old + 1) | 1 : (old | 1) + 1;
    if (claims)
        atomic_store_explicit(&pool->gate, (uint64_t)gen << 32, memory_order_release);
    atomic_store_explicit(&pool->generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
}

void herd_pool_run(herd_pool *pool, herd_pool_fn fn, void *ctx)
{
    if (!pool || pool->nthreads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    atomic_store(&pool->pending, pool->nthreads - 1);
    publish(pool, fn, ctx, false);
    fn(ctx, 0, pool->nthreads);
    double t0 = HERD_PROF_START();
    int spins = 0;
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0 && spins < SPIN_ITERS) {
        _mm_pause();
        spins++;
    }
    if (atomic_load(&pool->pending) > 0) {
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->pending) > 0)
            pthread_cond_wait(&pool->done_cv, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
    if (__builtin_expect(herd_prof_on, 0))
        herd_prof_pool_record(herd_prof_now() - t0);
}

void herd_pool_run_claims(herd_pool *pool, herd_pool_fn fn, void *ctx)
{
    if (!pool || pool->nthreads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    publish(pool, fn, ctx, true);
    fn(ctx, 0, pool->nthreads);
    double t0 = HERD_PROF_START();
    /* Close the run: workers not in yet stay out; wait for those in (they are running). */
    atomic_fetch_or_explicit(&pool->gate, GATE_CLOSED, memory_order_acq_rel);
    int spins = 0;
    while (atomic_load_explicit(&pool->gate, memory_order_acquire) & GATE_COUNT)
        if (++spins < SPIN_ITERS)
            _mm_pause();
        else
            sched_yield();
    if (__builtin_expect(herd_prof_on, 0))
        herd_prof_pool_record(herd_prof_now() - t0);
}

void herd_split_range(size_t n, size_t align, int tid, int nthreads, size_t *begin, size_t *end)
{
    if (align == 0)
        align = 1;
    size_t units = (n + align - 1) / align;
    size_t per = units / (size_t)nthreads, extra = units % (size_t)nthreads;
    size_t t = (size_t)tid;
    size_t b = t * per + (t < extra ? t : extra);
    size_t e = b + per + (t < extra ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

int herd_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
