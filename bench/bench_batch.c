/* herd bench batch: aggregate decode tokens/s with S sequences decoding together (each after
 * its own prompt, one batch of S rows per step), next to what memory traffic allows.
 *
 * The memory-traffic model: a decode step streams the non-expert weights once (attention,
 * router, shared expert, head, whatever S is) and each routed expert that at least one of the
 * S rows chose, once. Its bytes are counted by the profiler on one untimed pass with the same
 * tokens (the routing is the same), so the bound is S · bandwidth / bytes_per_step.
 *
 * The roofline bound counts compute too: per op class, max(its bytes (weights + KV rows read
 * once) / read bandwidth, its operations / the peak of the instruction its kernel ends in),
 * summed over the op classes of a step. At a few rows a 4-bit weight feeds 2·S int8 operations,
 * which outruns the VNNI peak long before the memory, so the traffic model alone is not a bound
 * the machine can reach. Both use limits measured in the same run (--limits cached: the cache).
 *
 * --ops keeps the profiler on through the timed repetitions and prints, per op class, the time
 * per step next to those floors, plus the pool's barrier waits and the argmax of the bench's
 * own sampling, so the gap between S rows and one row can be pinned on ops. */
#include "cli/cli_model.h"
#include "herd/herd.h"
#include "herd/prof.h"
#include "herd/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_batch_main(int argc, char **argv);
herd_status bench_model_open(const char *name, const char *path, herd_type dtype, bool type_given,
                             herd_aprep aprep, herd_model **out);

enum { MAX_SEQS = 256, MAX_LIST = 16 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd bench batch (--synthetic NAME | -m MODEL) [options]\n"
            "  aggregate decode tokens/s with S sequences decoding together (each after its own\n"
            "  prompt), per-sequence tokens/s, and the memory-traffic bound: bytes per step =\n"
            "  non-expert weights + the distinct routed experts the step touched\n\n"
            "options:\n"
            "  --synthetic NAME  random weights of a real shape: scout, l4-3.7b, tiny\n"
            "  -m MODEL          a checkpoint directory or GGUF file\n"
            "  --type T          packed weight type (default bf16; a GGUF keeps its own)\n"
            "  --seqs LIST       sequence counts to measure (default 1,2,4,8,16)\n"
            "  -t N              threads (default: every CPU)\n"
            "  -p N              prompt tokens of each sequence (default 32)\n"
            "  -n N              decode steps measured (default 32)\n"
            "  -r N              repetitions, the median is reported (default 3)\n"
            "  --act A           activations in GEMMs: auto (default) or f32\n"
            "  --ops             time per op class per step against its traffic and compute\n"
            "                    floors (profiler on during the timed runs)\n"
            "  --limits L        now (default): measure bandwidth and peaks in this run for the\n"
            "                    bounds; cached: the figures of `herd profile --limits`\n"
            "  --cputime         time on this thread's CPU clock (with -t 1: ratios that hold on\n"
            "                    a loaded machine)\n"
            "  -ctk T, -ctv T    KV cache types (--cache-type-k/v): f32 (default), bf16, q8_0\n"
            "  --json            one JSON object per measurement\n");
}

static bool parse_list(const char *cmd, const char *v, long *out, int *n)
{
    *n = 0;
    for (const char *s = v; *s;) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > MAX_SEQS || *n == MAX_LIST || (*end && *end != ','))
            return cli_usage_error(cmd, "--seqs: '%s' is not a list of 1..%d", v, MAX_SEQS) == 0;
        out[(*n)++] = x;
        s = *end ? end + 1 : end;
    }
    return *n > 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench {
    herd_context *c;
    int64_t V;
    long prompt, gen;
    int32_t *tok, *seq; /* [S] the step's batch */
    bool *want;
    float *logits;   /* [S × V] */
    double sample_s; /* seconds in the argmax of the timed steps (for --ops) */
} bench;

/* Every sequence gets its own prompt (untimed), then `gen` steps of one row per sequence,
 * each row's next token the argmax of its logits. Returns the seconds of the steps. */
static herd_status run(bench *b, long S, double *seconds)
{
    herd_status st = HERD_OK;
    int32_t ids[512], seqs[512];
    for (long s = 0; s < S && !st; s++) {
        /* Emptied but keeping its buffers, as a server's slot is reused (herd serve truncates):
         * a cleared sequence would page its cache in anew each repetition, and a first touch
         * of a page costs far more on some VMs than the step's work (docs/PERFORMANCE.md,
         * "Session 10 ... decode attention and qk_prep") */
        st = herd_seq_truncate(b->c, (int)s, 0);
        if (st)
            break;
        uint64_t x = 12345 + (uint64_t)s;
        for (long i = 0; i < b->prompt; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            ids[i] = (int32_t)((x >> 33) % (uint64_t)b->V);
            seqs[i] = (int32_t)s;
        }
        herd_batch pb = {.n = b->prompt, .token = ids, .seq = seqs};
        st = herd_forward(b->c, &pb, b->logits);
        b->tok[s] = (int32_t)(x % (uint64_t)b->V);
    }
    double t0 = herd_prof_now();
    for (long g = 0; g < b->gen && !st; g++) {
        herd_batch step = {.n = S, .token = b->tok, .seq = b->seq, .logits = b->want};
        st = herd_forward(b->c, &step, b->logits);
        double ts = herd_prof_now();
        for (long s = 0; s < S; s++) {
            b->tok[s] = herd_argmax(b->logits + (size_t)s * (size_t)b->V, b->V);
        }
        b->sample_s += herd_prof_now() - ts;
    }
    *seconds = herd_prof_now() - t0;
    return st;
}

/* The traffic floor of an op: its weights and KV rows read once at the bandwidth, in ms. */
static double traffic_ms(const herd_prof_entry *e, double bw)
{
    return bw > 0 ? 1e3 * (e->cost.weight_bytes + e->cost.kv_bytes) / (bw * 1e9) : 0;
}

/* The compute floor: its FLOPs at the peak of the instruction its kernel ends in, in ms. */
static double compute_ms(const herd_prof_entry *e, const herd_limits *lim, herd_prof_op op,
                         herd_aprep aprep)
{
    bool exact = op == HERD_OP_ROUTER || aprep == HERD_APREP_EXACT;
    herd_peak pk = herd_peak_for(lim, e->has_wtype ? e->wtype : -1, e->kernel, exact);
    double g = herd_limits_peak(lim, pk);
    return g > 0 ? 1e3 * e->cost.flops / (g * 1e9) : 0;
}

/* The two bounds of one step from the profiler's decode counters, in ms per step: the traffic
 * model (weight bytes only, the definition) and the roofline (per op class the larger
 * of traffic, weights + KV, and compute, summed). */
typedef struct step_bounds {
    double bytes, traffic_ms, roofline_ms, compute_bound_ms; /* the last: ops where compute wins */
} step_bounds;

static step_bounds bounds_of(const herd_prof_entry *e, double steps, const herd_limits *lim,
                             herd_aprep aprep)
{
    step_bounds b = {0};
    if (steps <= 0)
        return b;
    for (int op = 0; op < HERD_OP_COUNT; op++) {
        double tr = traffic_ms(&e[op], lim->bw_gbs) / steps;
        double cp = compute_ms(&e[op], lim, (herd_prof_op)op, aprep) / steps;
        b.bytes += e[op].cost.weight_bytes / steps;
        b.roofline_ms += tr > cp ? tr : cp;
        b.compute_bound_ms += cp > tr ? cp : 0;
    }
    b.traffic_ms = lim->bw_gbs > 0 ? 1e3 * b.bytes / (lim->bw_gbs * 1e9) : 0;
    return b;
}

/* The profiler's decode counters after one sequence count's timed runs. */
typedef struct op_snap {
    long S;
    herd_prof_entry e[HERD_OP_COUNT];
    double steps, wall, pool_runs, pool_wait, sample;
} op_snap;

static void snap_ops(long S, const bench *b, op_snap *o)
{
    herd_prof_phase ph = HERD_PHASE_DECODE;
    o->S = S;
    for (int op = 0; op < HERD_OP_COUNT; op++)
        o->e[op] = *herd_prof_get(ph, (herd_prof_op)op);
    o->steps = (double)herd_prof_phase_runs(ph);
    o->wall = herd_prof_phase_wall(ph);
    o->pool_runs = (double)herd_prof_pool_runs(ph);
    o->pool_wait = herd_prof_pool_wait(ph);
    o->sample = b->sample_s;
}

/* Per op class, per decode step of the profiled runs (text table or one JSON object). */
static void print_ops(const op_snap *o, const herd_limits *lim, herd_aprep aprep, bool json)
{
    long S = o->S;
    double steps = o->steps, bw = lim->bw_gbs;
    if (steps <= 0)
        return;
    double wall = 1e3 * o->wall / steps, sample = 1e3 * o->sample / steps;
    double sum = 0, sum_floor = 0;
    step_bounds sb = bounds_of(o->e, steps, lim, aprep);
    if (json)
        printf("{\"seqs\": %ld, \"ops\": {", S);
    else
        printf(
            "\n%ld seqs: %.3f ms per step in the forward + %.3f ms argmax; per step "
            "(roofline = max(traffic, compute)):\n"
            "| op | calls | ms | %% of step | MB read | traffic ms | GOP | compute ms | "
            "roofline ms | %% of roofline |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            S, wall, sample);
    bool first = true;
    for (int op = 0; op < HERD_OP_COUNT; op++) {
        const herd_prof_entry *e = &o->e[op];
        if (!e->calls)
            continue;
        double ms = 1e3 * e->seconds / steps, tr = traffic_ms(e, bw) / steps;
        double cp = compute_ms(e, lim, (herd_prof_op)op, aprep) / steps;
        double fl = tr > cp ? tr : cp;
        sum += ms;
        sum_floor += fl;
        const char *name = herd_prof_op_name((herd_prof_op)op);
        if (json)
            printf("%s\"%s\": {\"calls\": %.1f, \"ms\": %.4f, \"bytes\": %.0f, "
                   "\"traffic_ms\": %.4f, \"flops\": %.0f, \"compute_ms\": %.4f, "
                   "\"roofline_ms\": %.4f, \"pct_roofline\": %.2f}",
                   first ? "" : ", ", name, (double)e->calls / steps, ms,
                   (e->cost.weight_bytes + e->cost.kv_bytes) / steps, tr, e->cost.flops / steps, cp,
                   fl, ms > 0 ? 100 * fl / ms : 0);
        else
            printf("| %s | %.1f | %.3f | %.1f%% | %.2f | %.3f | %.3f | %.3f | %.3f | %.0f%% |\n",
                   name, (double)e->calls / steps, ms, wall > 0 ? 100 * ms / wall : 0,
                   (e->cost.weight_bytes + e->cost.kv_bytes) / steps / 1e6, tr,
                   e->cost.flops / steps / 1e9, cp, fl, ms > 0 ? 100 * fl / ms : 0);
        first = false;
    }
    double runs = o->pool_runs / steps, wait = 1e3 * o->pool_wait / steps;
    if (json)
        printf("%s\"untracked\": {\"ms\": %.4f}, \"argmax\": {\"ms\": %.4f}, "
               "\"pool\": {\"runs\": %.1f, \"wait_ms\": %.4f}, \"step_ms\": %.4f, "
               "\"floor_ms\": %.4f, \"roofline_ms\": %.4f, \"traffic_model_ms\": %.4f, "
               "\"pct_roofline\": %.2f, \"pct_traffic_model\": %.2f}}\n",
               first ? "" : ", ", wall - sum, sample, runs, wait, wall, sum_floor, sum_floor,
               sb.traffic_ms, wall > 0 ? 100 * sum_floor / wall : 0,
               wall > 0 ? 100 * sb.traffic_ms / wall : 0);
    else
        printf("| (untracked) | | %.3f | %.1f%% | | | | | | |\n"
               "| **forward** | | **%.3f** | 100%% | | | | | **%.3f** | **%.0f%%** |\n"
               "traffic model (weights only, at %.1f GB/s): %.3f ms per step, %.0f%% of it\n"
               "pool: %.1f dispatches per step, %.3f ms per step waiting at their ends (inside "
               "the ops above)\n",
               wall - sum, wall > 0 ? 100 * (wall - sum) / wall : 0, wall, sum_floor,
               wall > 0 ? 100 * sum_floor / wall : 0, bw, sb.traffic_ms,
               wall > 0 ? 100 * sb.traffic_ms / wall : 0, runs, wait);
}

int bench_batch_main(int argc, char **argv)
{
    const char *cmd = "bench batch", *name = NULL, *path = NULL, *seq_list = NULL, *type = NULL,
               *act = "auto";
    long seqs[MAX_LIST] = {1, 2, 4, 8, 16}, prompt = 32, gen = 32, reps = 3, threads = 0;
    int n_seqs = 5;
    herd_type dtype = HERD_TYPE_BF16;
    bool json = false, ops = false, cputime = false;
    const char *ctk = "f32", *ctv = "f32", *limits = "now";
    const cli_opt opts[] = {
        {"--limits", NULL, CLI_OPT_STR, &limits, 0, 0},
        {"--json", NULL, CLI_OPT_FLAG, &json, 0, 0},
        {"--ops", NULL, CLI_OPT_FLAG, &ops, 0, 0},
        {"--cputime", NULL, CLI_OPT_FLAG, &cputime, 0, 0},
        {"--synthetic", NULL, CLI_OPT_STR, &name, 0, 0},
        {"-m", NULL, CLI_OPT_STR, &path, 0, 0},
        {"--seqs", NULL, CLI_OPT_STR, &seq_list, 0, 0},
        {"-t", NULL, CLI_OPT_LONG, &threads, 1, 1024},
        {"-p", NULL, CLI_OPT_LONG, &prompt, 1, 512},
        {"-n", NULL, CLI_OPT_LONG, &gen, 1, 4096},
        {"-r", NULL, CLI_OPT_LONG, &reps, 1, 100},
        {"--type", "--dtype", CLI_OPT_STR, &type, 0, 0},
        {"--act", NULL, CLI_OPT_STR, &act, 0, 0},
        {"--cache-type-k", "-ctk", CLI_OPT_STR, &ctk, 0, 0},
        {"--cache-type-v", "-ctv", CLI_OPT_STR, &ctv, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int rc = cli_parse_opts(cmd, argc, argv, opts, usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (seq_list && !parse_list(cmd, seq_list, seqs, &n_seqs))
        return 2;
    if (type && !herd_type_parse(type, &dtype))
        return cli_usage_error(cmd, "--type: unknown type '%s'", type);
    bool type_given = type != NULL;
    herd_aprep aprep;
    if (!cli_parse_act(cmd, act, &aprep))
        return 2;
    herd_prof_use_cputime(cputime);
    herd_type type_k, type_v;
    if (!cli_parse_cache_type(cmd, "--cache-type-k", ctk, &type_k) ||
        !cli_parse_cache_type(cmd, "--cache-type-v", ctv, &type_v))
        return 2;
    bool limits_now = !strcmp(limits, "now");
    if (!limits_now && strcmp(limits, "cached"))
        return cli_usage_error(cmd, "--limits: '%s' is not now or cached", limits);
    if (!name == !path)
        return cli_usage_error(cmd, "give -m MODEL or --synthetic NAME (scout, l4-3.7b or tiny)");
    if (!threads)
        threads = herd_cpu_count();
    if (herd_prof_cputime && threads != 1)
        return cli_usage_error(cmd, "--cputime needs -t 1 (one thread's CPU clock)");
    long max_s = 0;
    for (int i = 0; i < n_seqs; i++)
        max_s = seqs[i] > max_s ? seqs[i] : max_s;

    herd_model *m = NULL;
    if (!json)
        fprintf(stderr, "herd bench batch: loading %s...\n", name ? name : path);
    herd_status st = bench_model_open(name, path, dtype, type_given, aprep, &m);
    if (st)
        return cli_status_error(cmd, st);
    const herd_llama4_config *cfg = herd_model_config(m);
    herd_context_opts co;
    herd_context_opts_default(&co);
    co.ctx = prompt + gen + 1;
    co.n_seqs = (int)max_s;
    co.threads = (int)threads;
    co.type_k = type_k;
    co.type_v = type_v;
    bench b = {.V = cfg->vocab, .prompt = prompt, .gen = gen};
    st = herd_context_create(m, &co, &b.c);
    b.tok = malloc((size_t)max_s * sizeof *b.tok);
    b.seq = malloc((size_t)max_s * sizeof *b.seq);
    b.want = malloc((size_t)max_s * sizeof *b.want);
    b.logits = herd_alloc((size_t)(max_s > prompt ? max_s : prompt) * (size_t)b.V * sizeof(float),
                          "bench");
    if (!st && (!b.tok || !b.seq || !b.want || !b.logits))
        st = herd_fail(HERD_ERR_NOMEM, "bench batch: out of memory");
    for (long s = 0; !st && s < max_s; s++) {
        b.seq[s] = (int32_t)s;
        b.want[s] = true;
    }
    herd_limits lim;
    if (!st && !json)
        fprintf(stderr, "herd bench batch: %s the machine's limits...\n",
                limits_now ? "measuring" : "reading");
    bool have_lim = !st && (limits_now ? herd_limits_measure((int)threads, &lim)
                                       : herd_limits_get((int)threads, false, &lim)) == HERD_OK;
    if (!have_lim)
        memset(&lim, 0, sizeof lim);
    double bw = lim.bw_gbs, one_rate = 0;
    if (!st && !json) {
        printf("model %s, weights %s (%.2f GB packed), %ld threads, prompt %ld, %ld steps; "
               "limits (%s): read %.1f GB/s, int8 VNNI %.0f GOP/s, FP32 FMA %.0f GFLOP/s\n",
               name ? name : path, herd_type_name(herd_model_dtype(m)),
               (double)herd_model_weight_bytes(m) / 1e9, threads, prompt, gen,
               limits_now ? "measured now" : "cached", bw, lim.int8_gops, lim.fp32_gflops);
        printf(
            "| seqs | tok/s (all) | tok/s per seq | vs 1 seq | MB/step | traffic bound tok/s | "
            "of it | roofline tok/s | of it |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    double times[100];
    op_snap snaps[MAX_LIST];
    for (int k = 0; k < n_seqs && !st; k++) {
        long S = seqs[k];
        /* one profiled pass: the bytes a step streams (also the warm-up) */
        herd_prof_reset();
        herd_prof_enable(true);
        double t;
        st = run(&b, S, &t);
        herd_prof_enable(false);
        herd_prof_entry counted[HERD_OP_COUNT];
        for (int op = 0; op < HERD_OP_COUNT; op++)
            counted[op] = *herd_prof_get(HERD_PHASE_DECODE, (herd_prof_op)op);
        step_bounds sb =
            bounds_of(counted, (double)herd_prof_phase_runs(HERD_PHASE_DECODE), &lim, aprep);
        double bytes = sb.bytes;
        herd_prof_reset();
        herd_prof_enable(ops);
        b.sample_s = 0;
        for (long r = 0; r < reps && !st; r++)
            st = run(&b, S, &times[r]);
        herd_prof_enable(false);
        if (st)
            break;
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        double med = reps % 2 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
        double rate = (double)(S * gen) / med, bound = bytes > 0 ? (double)S * bw * 1e9 / bytes : 0;
        double roof = sb.roofline_ms > 0 ? (double)S * 1e3 / sb.roofline_ms : 0;
        if (S == 1)
            one_rate = rate;
        if (json)
            printf("{\"seqs\": %ld, \"threads\": %ld, \"type\": \"%s\", \"tokens_per_s\": %.3f, "
                   "\"per_seq_tokens_per_s\": %.3f, \"bytes_per_step\": %.0f, "
                   "\"bound_tokens_per_s\": %.3f, \"pct_bound\": %.2f, "
                   "\"roofline_ms\": %.4f, \"roofline_tokens_per_s\": %.3f, "
                   "\"pct_roofline\": %.2f, \"compute_bound_ms\": %.4f, \"bw_gbs\": %.2f, "
                   "\"int8_gops\": %.1f, \"fp32_gflops\": %.1f, \"limits\": \"%s\", "
                   "\"prompt\": %ld, "
                   "\"steps\": %ld, \"model\": \"%s\"}\n",
                   S, threads, herd_type_name(herd_model_dtype(m)), rate, rate / (double)S, bytes,
                   bound, bound > 0 ? 100 * rate / bound : 0, sb.roofline_ms, roof,
                   roof > 0 ? 100 * rate / roof : 0, sb.compute_bound_ms, bw, lim.int8_gops,
                   lim.fp32_gflops, limits_now ? "measured" : "cached", prompt, gen,
                   name ? name : path);
        else
            printf("| %4ld | %11.2f | %13.2f | %7.2fx | %7.1f | %19.2f | %5.1f%% | %14.2f | "
                   "%5.1f%% |\n",
                   S, rate, rate / (double)S, one_rate > 0 ? rate / one_rate : 0, bytes / 1e6,
                   bound, bound > 0 ? 100 * rate / bound : 0, roof,
                   roof > 0 ? 100 * rate / roof : 0);
        if (ops)
            snap_ops(S, &b, &snaps[k]);
        if (ops && have_lim && json)
            print_ops(&snaps[k], &lim, aprep, json);
        fflush(stdout);
    }
    for (int k = 0; ops && have_lim && !json && !st && k < n_seqs; k++)
        print_ops(&snaps[k], &lim, aprep, json);
    herd_free(b.logits);
    free(b.tok);
    free(b.seq);
    free(b.want);
    herd_context_free(b.c);
    herd_model_free(m);
    return st ? cli_status_error(cmd, st) : 0;
}
