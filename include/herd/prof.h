/* herd per-op profiler: calls, wall time, FLOPs and bytes moved, per op class and per phase
 * (prefill / decode), in the spirit of the datacenter-inference characterization: know what
 * each operator costs and how close it runs to the machine's roofline.
 *
 * It stays compiled in. When off (the default) a probe costs one well-predicted branch on a
 * global flag; the cost arguments are not even evaluated. A probe wraps one leaf operation:
 *
 *     double t = HERD_PROF_START();
 *     st = herd_gemm(w, &args, pool);
 *     HERD_PROF_GEMM(HERD_OP_Q, t, w, &args);              (needs herd/kernels.h)
 *     ...
 *     HERD_PROF_END(HERD_OP_NORM, t, herd_prof_norm_cost(T, H));
 *
 * Probes must not nest (each second of wall time belongs to one op) and are recorded by the
 * thread that drives the forward pass, outside herd_pool_run, into that thread's own table (no
 * locking; contexts on different threads never mix their counts). Counts are the
 * compulsory traffic of one call: weights once in their packed size (herd_packed_bytes),
 * activations read and written once, KV cache rows read once. */
#ifndef HERD_PROF_H
#define HERD_PROF_H

#include "herd/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum herd_prof_op {
    HERD_OP_EMBED,       /* token embedding rows gathered (and widened) */
    HERD_OP_NORM,        /* RMSNorm: input, post-attention, final */
    HERD_OP_Q,           /* attention projections, each its own GEMM ... */
    HERD_OP_K,           /* */
    HERD_OP_V,           /* */
    HERD_OP_QKV,         /* ... or fused into one */
    HERD_OP_QK_PREP,     /* q, k, v made ready: split, RoPE or temperature, QK norm, cache store */
    HERD_OP_ATTN,        /* scores, softmax, weighted sum of V (KV cache reads) */
    HERD_OP_O,           /* attention output projection */
    HERD_OP_ROUTER,      /* router GEMM (logits per expert) */
    HERD_OP_ROUTE,       /* top-k, grouping tokens by expert, scaling inputs, adding outputs */
    HERD_OP_EXPERT,      /* routed experts: gate|up (SwiGLU) + down GEMMs */
    HERD_OP_SHARED,      /* the shared expert: gate|up + down */
    HERD_OP_MLP,         /* dense (non-MoE) layers: gate|up + down */
    HERD_OP_ELEMENTWISE, /* adds done outside a GEMM epilogue */
    HERD_OP_LM_HEAD,     /* final projection to the vocabulary */
    HERD_OP_SAMPLE,      /* logits to the next token */
    HERD_OP_OTHER,
    HERD_OP_COUNT
} herd_prof_op;

typedef enum herd_prof_phase {
    HERD_PHASE_PREFILL,
    HERD_PHASE_DECODE,
    HERD_PHASE_COUNT
} herd_prof_phase;

/* Work of one call. Bytes are split by where they come from. */
typedef struct herd_prof_cost {
    double flops;
    double weight_bytes; /* packed weights (or embedding rows) read */
    double act_bytes;    /* activations read and written */
    double kv_bytes;     /* KV cache read */
} herd_prof_cost;

typedef struct herd_prof_entry {
    int64_t calls;
    double seconds;
    herd_prof_cost cost;
    bool has_wtype;     /* a GEMM recorded its weight type: */
    int wtype;          /* the herd_type of the weights last seen, to pick the compute peak */
    const char *kernel; /* and its kernel family (herd_packed_kernel), or NULL */
} herd_prof_entry;

/* ---- the probes -------------------------------------------------------------------------- */
extern bool herd_prof_on;      /* read by the probes; set with herd_prof_enable */
extern bool herd_prof_cputime; /* the clock: set with herd_prof_use_cputime */

/* Seconds on the profiler's clock: wall (herd_now), or the calling thread's CPU time, which
 * leaves out the time other processes hold the core (meaningful with one thread only). */
double herd_prof_thread_seconds(void);
static inline double herd_prof_now(void)
{
    return herd_prof_cputime ? herd_prof_thread_seconds() : herd_now();
}

#define HERD_PROF_START() (__builtin_expect(herd_prof_on, 0) ? herd_prof_now() : 0.0)
#define HERD_PROF_END(op, t0, cost)                                                                \
    do {                                                                                           \
        if (__builtin_expect(herd_prof_on, 0))                                                     \
            herd_prof_record((op), herd_prof_now() - (t0), (cost), -1);                            \
    } while (0)
/* The cost of one herd_gemm call from its packed weight and arguments (needs herd/kernels.h). */
#define HERD_PROF_GEMM_COST(w, args)                                                               \
    herd_prof_gemm_cost((args)->M, herd_packed_n(w), herd_packed_k(w),                             \
                        (double)herd_packed_bytes(w), (args)->act == HERD_ACT_SWIGLU ? 2 : 1,      \
                        (args)->out_bf16 ? 2 : 4, (args)->residual != NULL)
/* Records a GEMM through herd_gemm. */
#define HERD_PROF_GEMM(op, t0, w, args)                                                            \
    do {                                                                                           \
        if (__builtin_expect(herd_prof_on, 0))                                                     \
            herd_prof_record_kernel((op), herd_prof_now() - (t0), HERD_PROF_GEMM_COST(w, args),    \
                                    (int)herd_packed_type(w), herd_packed_kernel(w));              \
    } while (0)
/* Records a SwiGLU FFN of M rows: gate|up (f32 out) then down (adding a residual if asked). */
#define HERD_PROF_FFN(op, t0, gate_up, down, M, residual)                                          \
    do {                                                                                           \
        if (__builtin_expect(herd_prof_on, 0))                                                     \
            herd_prof_record_kernel(                                                               \
                (op), herd_prof_now() - (t0),                                                      \
                herd_prof_ffn_cost((M), herd_packed_n(gate_up), herd_packed_k(gate_up),            \
                                   (double)herd_packed_bytes(gate_up),                             \
                                   (double)herd_packed_bytes(down), (residual)),                   \
                (int)herd_packed_type(gate_up), herd_packed_kernel(gate_up));                      \
    } while (0)

void herd_prof_record(herd_prof_op op, double seconds, herd_prof_cost cost, int wtype);
/* The same, with the kernel family that ran (a static string). */
void herd_prof_record_kernel(herd_prof_op op, double seconds, herd_prof_cost cost, int wtype,
                             const char *kernel);

/* ---- control ----------------------------------------------------------------------------- */
void herd_prof_enable(bool on);
void herd_prof_use_cputime(bool on); /* see herd_prof_now */
void herd_prof_reset(void);          /* zeroes every counter; keeps the on/off state */
/* Brackets a phase: sets the phase later probes record into and adds the wall time and the
 * tokens processed to the phase's totals (the denominator the op times must add up to).
 * Brackets nest: only the outermost one counts, so a caller (herd profile) can bracket a
 * forward pass that brackets itself, and include its sampling in the phase. */
double herd_prof_phase_begin(herd_prof_phase phase);
void herd_prof_phase_end(double t0, int64_t tokens);
herd_prof_phase herd_prof_current_phase(void);

const herd_prof_entry *herd_prof_get(herd_prof_phase phase, herd_prof_op op);
double herd_prof_phase_wall(herd_prof_phase phase);
int64_t herd_prof_phase_tokens(herd_prof_phase phase);
int64_t herd_prof_phase_runs(herd_prof_phase phase);
/* Pool dispatches and the seconds the driving thread spent waiting for workers at the end of
 * them (done with its own share, the others still running): the cost of the barriers, inside
 * the op times above. Recorded by herd_pool_run / herd_pool_run_claims while the profiler is
 * on, into the current phase. */
int64_t herd_prof_pool_runs(herd_prof_phase phase);
double herd_prof_pool_wait(herd_prof_phase phase);
void herd_prof_pool_record(double wait_seconds);
const char *herd_prof_op_name(herd_prof_op op);    /* "q", "expert", ... */
const char *herd_prof_phase_name(herd_prof_phase); /* "prefill", "decode" */

/* ---- counting helpers (documented formulas; tests check them by hand) ---------------------
 * GEMM C[M×N] = A[M×K]·Wᵀ with `nmat` weight matrices (2: a SwiGLU gate|up pair):
 *   flops = 2·M·N·K·nmat; weights = wbytes; act = 4·M·K (A, f32) + out_elem·M·N (C)
 *   + 4·M·N (residual read, if any). */
herd_prof_cost herd_prof_gemm_cost(int64_t M, int64_t N, int64_t K, double wbytes, int nmat,
                                   int out_elem, bool residual);
/* SwiGLU FFN over M rows, hidden K, width N: the gate|up GEMM (nmat 2, f32 out) plus the down
 * GEMM (N -> K, f32 out, residual read if `residual`). */
herd_prof_cost herd_prof_ffn_cost(int64_t M, int64_t N, int64_t K, double gate_up_bytes,
                                  double down_bytes, bool residual);
/* RMSNorm of `rows` vectors of `dim`: flops 4·rows·dim (square, sum, scale, weight);
 * act 8·rows·dim (read, write); weights 4·dim (the f32 norm weight; 0 if weightless). */
herd_prof_cost herd_prof_norm_cost(int64_t rows, int64_t dim, bool has_weight);
/* RoPE of `rows` vectors of `dim` (pairs rotated): flops 3·rows·dim (4 mul + 2 add per pair);
 * act 8·rows·dim. */
herd_prof_cost herd_prof_rope_cost(int64_t rows, int64_t dim);
/* Attention for T queries at positions start..start+T-1, n_heads query heads and n_kv heads of
 * head_dim D, each query seeing keys max(0, chunk_start(p))..p (chunk = 0: global causal):
 *   pairs = Σ_p visible keys; flops = 4·n_heads·D·pairs (QKᵀ and P·V);
 *   kv = kv_rows·n_kv·D·2·kv_elem (K and V of each distinct visible position, once);
 *   act = 8·T·n_heads·D (q read, output written). */
herd_prof_cost herd_prof_attn_cost(int64_t start, int64_t T, int64_t chunk, int n_heads, int n_kv,
                                   int head_dim, int kv_elem);
/* Visible (query, key) pairs and distinct key rows for the attention formula above. */
void herd_prof_attn_span(int64_t start, int64_t T, int64_t chunk, int64_t *pairs, int64_t *rows);

#ifdef __cplusplus
}
#endif
#endif
