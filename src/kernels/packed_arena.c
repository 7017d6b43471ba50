/* Memory for packed weights. A decode step streams every weight it uses once, and most of
 * a model's weights are a few MiB each: on 4 KiB pages each page costs a TLB walk and restarts
 * the hardware prefetcher's stream. So weights of at least ARENA_MIN bytes are placed back to
 * back in large mappings ("slabs") advised for 2 MiB pages, where a weight's tail shares a
 * huge page with the next weight instead of falling on small pages (one 2 MiB page per weight
 * would add up to 2 MiB of unused memory per weight). Pages of a slab are only made resident
 * when touched, so a slab's unused end costs address space, not memory.
 *
 * A slab is freed when its last weight is (the open one too: the next weight then maps a new
 * one). Space of a freed weight is not reused (weights live as long as their model). */
#include "kernels/family.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

enum {
    HUGE_PAGE = 2 << 20,
    ARENA_MIN = 64 << 10,  /* smaller weights: a few pages, the allocator's heap */
    SLAB_BYTES = 128 << 20 /* a weight larger than this gets a slab of its own size */
};

struct kslab {
    uint8_t *base;
    size_t size, used;
    int live; /* weights placed here and not yet freed */
};

static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;
static kslab *arena_open; /* the slab new weights go to */

/* ASan checks the bounds of heap blocks, not of pieces of a mapping: sanitized builds give
 * each weight its own block so a tile reading past its panels is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ON 0
#endif
#endif
#ifndef ARENA_ON
#define ARENA_ON 1
#endif

/* A new slab of at least `bytes` (a multiple of HUGE_PAGE), on a 2 MiB boundary. */
static kslab *slab_new(size_t bytes)
{
    kslab *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    size_t span = bytes + HUGE_PAGE;
    uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(s);
        return NULL;
    }
    uintptr_t a = ((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uint8_t *base = (uint8_t *)a;
    if (base > m)
        munmap(m, (size_t)(base - m));
    if (base + bytes < m + span)
        munmap(base + bytes, (size_t)(m + span - (base + bytes)));
#ifdef MADV_HUGEPAGE
    madvise(base, bytes, MADV_HUGEPAGE);
#endif
    *s = (kslab){base, bytes, 0, 0};
    return s;
}

static void slab_free(kslab *s)
{
    munmap(s->base, s->size);
    free(s);
}

void *kpacked_alloc(size_t bytes, kslab **slab)
{
    *slab = NULL;
    if (!ARENA_ON || bytes < ARENA_MIN)
        return herd_calloc(bytes, "packed weight");
    size_t need = (bytes + 63) & ~(size_t)63;
    pthread_mutex_lock(&arena_mu);
    kslab *s = arena_open;
    if (!s || s->size - s->used < need) {
        size_t size =
            need <= SLAB_BYTES ? SLAB_BYTES : (need + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
        s = slab_new(size);
        if (s)
            arena_open = s; /* the old one is freed with its last weight */
    }
    uint8_t *p = NULL;
    if (s) {
        p = s->base + s->used; /* fresh anonymous memory: already zero */
        s->used += need;
        s->live++;
        *slab = s;
    }
    pthread_mutex_unlock(&arena_mu);
    if (!p)
        herd_fail(HERD_ERR_NOMEM, "out of memory mapping %zu bytes for a packed weight", bytes);
    return p;
}

void kpacked_free(void *p, kslab *slab)
{
    if (!slab) {
        herd_free(p);
        return;
    }
    pthread_mutex_lock(&arena_mu);
    if (--slab->live == 0) {
        if (slab == arena_open)
            arena_open = NULL;
        slab_free(slab);
    }
    pthread_mutex_unlock(&arena_mu);
}
