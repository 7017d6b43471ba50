/* The per-op profiler's counters (see herd/prof.h). One table per thread, written only by the
 * thread driving a forward pass, so plain adds suffice and contexts on different threads never
 * share counters. */
#include "herd/prof.h"

#include <string.h>
#include <time.h>

bool herd_prof_on;
bool herd_prof_cputime;

static _Thread_local struct {
    herd_prof_phase phase;
    int depth; /* phase brackets open: only the outermost counts */
    herd_prof_entry e[HERD_PHASE_COUNT][HERD_OP_COUNT];
    double wall[HERD_PHASE_COUNT];
    int64_t tokens[HERD_PHASE_COUNT], runs[HERD_PHASE_COUNT];
    int64_t pool_runs[HERD_PHASE_COUNT];
    double pool_wait[HERD_PHASE_COUNT];
} prof;

static const char *const op_names[HERD_OP_COUNT] = {
    [HERD_OP_EMBED] = "embed",
    [HERD_OP_NORM] = "norm",
    [HERD_OP_Q] = "q",
    [HERD_OP_K] = "k",
    [HERD_OP_V] = "v",
    [HERD_OP_QKV] = "qkv",
    [HERD_OP_QK_PREP] = "qk_prep",
    [HERD_OP_ATTN] = "attention",
    [HERD_OP_O] = "o",
    [HERD_OP_ROUTER] = "router",
    [HERD_OP_ROUTE] = "route",
    [HERD_OP_EXPERT] = "expert",
    [HERD_OP_SHARED] = "shared",
    [HERD_OP_MLP] = "mlp",
    [HERD_OP_ELEMENTWISE] = "elementwise",
    [HERD_OP_LM_HEAD] = "lm_head",
    [HERD_OP_SAMPLE] = "sample",
    [HERD_OP_OTHER] = "other",
};

void herd_prof_enable(bool on)
{
    herd_prof_on = on;
}

void herd_prof_use_cputime(bool on)
{
    herd_prof_cputime = on;
}

double herd_prof_thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void herd_prof_reset(void)
{
    herd_prof_phase phase = prof.phase;
    int depth = prof.depth;
    memset(&prof, 0, sizeof prof);
    prof.phase = phase;
    prof.depth = depth;
}

void herd_prof_record(herd_prof_op op, double seconds, herd_prof_cost cost, int wtype)
{
    herd_prof_record_kernel(op, seconds, cost, wtype, NULL);
}

void herd_prof_record_kernel(herd_prof_op op, double seconds, herd_prof_cost cost, int wtype,
                             const char *kernel)
{
    if ((unsigned)op >= HERD_OP_COUNT)
        op = HERD_OP_OTHER;
    herd_prof_entry *e = &prof.e[prof.phase][op];
    e->calls++;
    e->seconds += seconds;
    e->cost.flops += cost.flops;
    e->cost.weight_bytes += cost.weight_bytes;
    e->cost.act_bytes += cost.act_bytes;
    e->cost.kv_bytes += cost.kv_bytes;
    if (wtype >= 0) {
        e->has_wtype = true;
        e->wtype = wtype;
        e->kernel = kernel;
    }
}

double herd_prof_phase_begin(herd_prof_phase phase)
{
    if (prof.depth++ == 0) /* an inner bracket (the forward pass's own) keeps the caller's */
        prof.phase = (unsigned)phase < HERD_PHASE_COUNT ? phase : HERD_PHASE_PREFILL;
    return herd_prof_now();
}

void herd_prof_phase_end(double t0, int64_t tokens)
{
    if (prof.depth > 0 && --prof.depth > 0)
        return;
    if (!herd_prof_on)
        return;
    prof.wall[prof.phase] += herd_prof_now() - t0;
    prof.tokens[prof.phase] += tokens;
    prof.runs[prof.phase]++;
}

herd_prof_phase herd_prof_current_phase(void)
{
    return prof.phase;
}

const herd_prof_entry *herd_prof_get(herd_prof_phase phase, herd_prof_op op)
{
    if ((unsigned)phase >= HERD_PHASE_COUNT || (unsigned)op >= HERD_OP_COUNT)
        return NULL;
    return &prof.e[phase][op];
}

double herd_prof_phase_wall(herd_prof_phase phase)
{
    return (unsigned)phase < HERD_PHASE_COUNT ? prof.wall[phase] : 0;
}

int64_t herd_prof_phase_tokens(herd_prof_phase phase)
{
    return (unsigned)phase < HERD_PHASE_COUNT ? prof.tokens[phase] : 0;
}

int64_t herd_prof_phase_runs(herd_prof_phase phase)
{
    return (unsigned)phase < HERD_PHASE_COUNT ? prof.runs[phase] : 0;
}

void herd_prof_pool_record(double wait_seconds)
{
    prof.pool_runs[prof.phase]++;
    prof.pool_wait[prof.phase] += wait_seconds;
}

int64_t herd_prof_pool_runs(herd_prof_phase phase)
{
    return (unsigned)phase < HERD_PHASE_COUNT ? prof.pool_runs[phase] : 0;
}

double herd_prof_pool_wait(herd_prof_phase phase)
{
    return (unsigned)phase < HERD_PHASE_COUNT ? prof.pool_wait[phase] : 0;
}

const char *herd_prof_op_name(herd_prof_op op)
{
    return (unsigned)op < HERD_OP_COUNT ? op_names[op] : "?";
}

const char *herd_prof_phase_name(herd_prof_phase phase)
{
    return phase == HERD_PHASE_PREFILL ? "prefill" : phase == HERD_PHASE_DECODE ? "decode" : "?";
}

/* ---- counting helpers -------------------------------------------------------------------- */

herd_prof_cost herd_prof_gemm_cost(int64_t M, int64_t N, int64_t K, double wbytes, int nmat,
                                   int out_elem, bool residual)
{
    double m = (double)M, n = (double)N, k = (double)K;
    herd_prof_cost c = {0};
    c.flops = 2.0 * m * n * k * nmat;
    c.weight_bytes = wbytes;
    c.act_bytes = 4.0 * m * k + (double)out_elem * m * n + (residual ? 4.0 * m * n : 0.0);
    return c;
}

herd_prof_cost herd_prof_ffn_cost(int64_t M, int64_t N, int64_t K, double gate_up_bytes,
                                  double down_bytes, bool residual)
{
    herd_prof_cost a = herd_prof_gemm_cost(M, N, K, gate_up_bytes, 2, 4, false);
    herd_prof_cost b = herd_prof_gemm_cost(M, K, N, down_bytes, 1, 4, residual);
    herd_prof_cost c = {a.flops + b.flops, a.weight_bytes + b.weight_bytes,
                        a.act_bytes + b.act_bytes, a.kv_bytes + b.kv_bytes};
    return c;
}

herd_prof_cost herd_prof_norm_cost(int64_t rows, int64_t dim, bool has_weight)
{
    herd_prof_cost c = {0};
    c.flops = 4.0 * (double)rows * (double)dim;
    c.act_bytes = 8.0 * (double)rows * (double)dim;
    c.weight_bytes = has_weight ? 4.0 * (double)dim : 0.0;
    return c;
}

herd_prof_cost herd_prof_rope_cost(int64_t rows, int64_t dim)
{
    herd_prof_cost c = {0};
    c.flops = 3.0 * (double)rows * (double)dim;
    c.act_bytes = 8.0 * (double)rows * (double)dim;
    return c;
}

/* First key a query at position p sees. */
static int64_t first_visible(int64_t p, int64_t chunk)
{
    return chunk > 0 ? p / chunk * chunk : 0;
}

void herd_prof_attn_span(int64_t start, int64_t T, int64_t chunk, int64_t *pairs, int64_t *rows)
{
    int64_t sum = 0;
    if (chunk <= 0) {
        /* Σ_{p=start}^{start+T-1} (p+1) */
        sum = T * (start + 1) + T * (T - 1) / 2;
    } else {
        for (int64_t p = start; p < start + T; p++)
            sum += p - first_visible(p, chunk) + 1;
    }
    *pairs = sum;
    *rows = T > 0 ? start + T - first_visible(start, chunk) : 0;
}

herd_prof_cost herd_prof_attn_cost(int64_t start, int64_t T, int64_t chunk, int n_heads, int n_kv,
                                   int head_dim, int kv_elem)
{
    int64_t pairs, rows;
    herd_prof_attn_span(start, T, chunk, &pairs, &rows);
    herd_prof_cost c = {0};
    c.flops = 4.0 * n_heads * head_dim * (double)pairs;
    c.kv_bytes = (double)rows * n_kv * head_dim * 2.0 * kv_elem;
    c.act_bytes = 8.0 * (double)T * n_heads * head_dim;
    return c;
}
