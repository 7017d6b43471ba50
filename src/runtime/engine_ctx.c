/* The default context of an engine (herd.h): Llama 4's training lengths (10M tokens for Scout)
 * would reserve a KV cache no machine holds, so the default is a length a chat needs and the
 * memory allows; -c / herd_engine_opts.ctx asks for more. */
#include "herd/herd.h"

#include <stdio.h>
#include <unistd.h>

enum { CTX_CAP = 8192, CTX_FLOOR = 256 };

/* MemAvailable of /proc/meminfo in bytes; else free pages; 0 if unknown. */
static double available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb > 0)
        return kb * 1024;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

int64_t herd_engine_default_ctx(const herd_llama4_config *c, size_t weight_bytes)
{
    int64_t ctx = c->max_pos < CTX_CAP ? c->max_pos : CTX_CAP;
    double avail = available_bytes(), per_token = (double)herd_kv_bytes_for(c, 1);
    if (avail > 0 && per_token > 0) {
        double left = avail - (double)weight_bytes, fit = left > 0 ? left / 4 / per_token : 0;
        if (fit < (double)ctx)
            ctx = (int64_t)fit;
    }
    int64_t floor_ctx = c->max_pos < CTX_FLOOR ? c->max_pos : CTX_FLOOR;
    return ctx > floor_ctx ? ctx : floor_ctx;
}
