/* Status codes and the thread-local one-line error message. */
#include "herd/base.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

herd_status herd_vfail(herd_status st, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    /* One line: a message never carries a newline, nor any other control byte such as a
     * terminal escape (names from hostile files may try to inject them). */
    for (char *c = last_error; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
    return st;
}

herd_status herd_fail(herd_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    herd_vfail(st, fmt, ap);
    va_end(ap);
    return st;
}

const char *herd_last_error(void)
{
    return last_error;
}

const char *herd_status_name(herd_status st)
{
    switch (st) {
    case HERD_OK: return "ok";
    case HERD_ERR_ARG: return "bad argument";
    case HERD_ERR_IO: return "I/O error";
    case HERD_ERR_FORMAT: return "malformed file";
    case HERD_ERR_UNSUPPORTED: return "unsupported";
    case HERD_ERR_NOMEM: return "out of memory";
    case HERD_ERR_RANGE: return "out of range";
    case HERD_ERR_INTERNAL: return "internal error";
    case HERD_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}
