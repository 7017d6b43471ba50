/* Aligned allocation and overflow-checked sizes. */
#include "herd/base.h"

#include <stdlib.h>
#include <string.h>

enum { HERD_ALIGN = 64 };

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
