/* The profile report: one row per (phase, op) from the profiler's counters, with the achieved
 * rates and where they sit against the roofline at the op's arithmetic intensity. */
#include "herd/profile.h"

#include <stdlib.h>
#include <string.h>

static int by_phase_then_time(const void *a, const void *b)
{
    const herd_profile_row *x = a, *y = b;
    if (x->phase != y->phase)
        return x->phase < y->phase ? -1 : 1;
    if (x->ms != y->ms)
        return x->ms > y->ms ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

int herd_profile_rows(const herd_limits *lim, bool exact_a, herd_profile_row *rows)
{
    int n = 0;
    for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
        double wall = herd_prof_phase_wall((herd_prof_phase)ph);
        for (int op = 0; op < HERD_OP_COUNT; op++) {
            const herd_prof_entry *e = herd_prof_get((herd_prof_phase)ph, (herd_prof_op)op);
            if (!e->calls)
                continue;
            herd_profile_row *r = &rows[n++];
            memset(r, 0, sizeof *r);
            r->phase = (herd_prof_phase)ph;
            r->op = (herd_prof_op)op;
            r->calls = e->calls;
            r->cost = e->cost;
            r->ms = e->seconds * 1e3;
            r->pct_time = wall > 0 ? 100 * e->seconds / wall : 0;
            double bytes = e->cost.weight_bytes + e->cost.act_bytes + e->cost.kv_bytes;
            if (e->seconds > 0) {
                r->gflops = e->cost.flops / e->seconds / 1e9;
                r->gbs = bytes / e->seconds / 1e9;
            }
            r->intensity = bytes > 0 ? e->cost.flops / bytes : 0;
            r->peak = herd_peak_for(lim, e->has_wtype ? e->wtype : -1, e->kernel, exact_a);
            if (r->intensity > 0) {
                r->bound_gflops = herd_roofline_bound(lim, r->peak, r->intensity);
                r->pct_bound = r->bound_gflops > 0 ? 100 * r->gflops / r->bound_gflops : 0;
            } else if (bytes > 0 && e->seconds > 0 && lim->bw_gbs > 0) {
                /* no arithmetic (a gather, a copy): its only roof is bandwidth */
                r->pct_bound = 100 * r->gbs / lim->bw_gbs;
            }
        }
    }
    qsort(rows, (size_t)n, sizeof *rows, by_phase_then_time);
    return n;
}
