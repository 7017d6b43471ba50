/* Aligned allocation and overflow-checked sizes. */
#include "herd/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HERD_ALIGN = 64, HUGE_PAGE = 2 << 20 };

bool herd_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

void *herd_alloc(size_t bytes, const char *what)
{
    if (bytes == 0)
        bytes = 1;
    /* aligned_alloc needs a multiple of the alignment */
    size_t rounded = (bytes + HERD_ALIGN - 1) & ~(size_t)(HERD_ALIGN - 1);
    void *p = rounded < bytes ? NULL : aligned_alloc(HERD_ALIGN, rounded);
    if (!p)
        herd_fail(HERD_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes,
                  what ? what : "a buffer");
    return p;
}

void *herd_calloc(size_t bytes, const char *what)
{
    void *p = herd_alloc(bytes, what);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void herd_free(void *p)
{
    free(p);
}

void *herd_calloc_huge(size_t bytes, const char *what)
{
    if (bytes < HUGE_PAGE)
        return herd_calloc(bytes, what);
    size_t rounded = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *p = rounded < bytes ? NULL : aligned_alloc(HUGE_PAGE, rounded);
    if (!p) {
        herd_fail(HERD_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes,
                  what ? what : "a buffer");
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    /* Only the whole huge pages: one over the tail would make up to 2 MiB resident that nothing
     * uses (0.9 GB over the experts of a 3.7 B MoE). */
    madvise(p, bytes & ~(size_t)(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

/* ---- per-thread scratch ----
 * The buffers of one thread live in a struct owned by a pthread key, so they are freed when the
 * thread exits; the main thread's stay until the process ends. */
typedef struct scratch_set {
    void *p[HERD_SCRATCH_COUNT];
    size_t n[HERD_SCRATCH_COUNT];
} scratch_set;

static _Thread_local scratch_set *tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *p)
{
    scratch_set *s = p;
    for (int i = 0; i < HERD_SCRATCH_COUNT; i++)
        free(s->p[i]);
    free(s);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_release);
}

void *herd_scratch(herd_scratch_slot slot, size_t bytes)
{
    if ((unsigned)slot >= HERD_SCRATCH_COUNT) {
        herd_fail(HERD_ERR_ARG, "herd_scratch: bad slot %d", (int)slot);
        return NULL;
    }
    if (!tls_scratch) {
        pthread_once(&scratch_once, scratch_key_init);
        tls_scratch = calloc(1, sizeof *tls_scratch);
        if (!tls_scratch) {
            herd_fail(HERD_ERR_NOMEM, "out of memory allocating scratch buffers");
            return NULL;
        }
        pthread_setspecific(scratch_key, tls_scratch);
    }
    scratch_set *s = tls_scratch;
    if (bytes > s->n[slot] || !s->p[slot]) {
        free(s->p[slot]);
        s->n[slot] = 0;
        s->p[slot] = herd_alloc(bytes, "scratch buffer");
        if (!s->p[slot])
            return NULL;
        s->n[slot] = bytes;
    }
    return s->p[slot];
}
