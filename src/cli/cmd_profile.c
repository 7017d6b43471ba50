/* herd profile: runs a prefill and a decode with the per-op profiler on, prints where the time
 * goes (calls, ms, GFLOP/s, GB/s, FLOP/byte and how close each op runs to the roofline at its
 * intensity), and writes the roofline plot (SVG) and the figures (JSON). */
#include "cli/cli.h"
#include "cli/cli_model.h"
#include "herd/model.h"
#include "herd/profile.h"
#include "herd/synthetic.h"
#include "herd/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "profile";

typedef struct opts {
    const char *model, *synthetic, *prompt, *svg, *json;
    long prompt_len, n_decode, threads, layers, experts;
    herd_type type, type_k, type_v; /* weights; KV cache keys and values */
    bool have_type, remeasure, limits_only, act_auto, cputime;
} opts;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: herd profile (-m MODEL | --synthetic scout|small|tiny) [-p TEXT | --prompt-len N]\n"
        "                    [-n N] [--dtype T] [--act f32|auto] [-t THREADS] [-ctk T] [-ctv T]\n"
        "                    [--svg FILE]\n"
        "                    [--json FILE] [--cputime]\n"
        "       herd profile --limits [-t THREADS] [--remeasure]\n\n"
        "Runs one prefill of the prompt and N decode steps with the per-op profiler on and\n"
        "prints, per phase, every op sorted by time: calls, ms, share of the phase's wall\n"
        "time, GFLOP/s, GB/s, FLOP/byte and the share of the roofline bound reached at that\n"
        "intensity (bandwidth x intensity, capped by the peak of the op's instruction type).\n\n"
        "  -m MODEL           a Llama 4 checkpoint directory (HF safetensors) or llama4 GGUF\n"
        "  --synthetic NAME   random weights in memory, no file needed:\n"
        "                       scout: Scout's layer shapes (hidden 5120, 40/8 heads of 128,\n"
        "                         expert width 8192) with 2 layers (RoPE+chunked, NoPE+global),\n"
        "                         4 experts top-1 + shared, vocabulary 32000 (Scout: 48\n"
        "                         layers, 16 experts, 202048 tokens: 109B parameters)\n"
        "                       small: hidden 512, 2 layers (dense, MoE), vocabulary 4096;\n"
        "                         a first look in seconds\n"
        "                       tiny: hidden 64, 2 layers (dense, MoE), for tests\n"
        "  --layers N, --experts N   change the synthetic model's counts\n"
        "  -p TEXT            the prompt (with -m: the model directory's tokenizer)\n"
        "  --prompt-len N     else a prompt of N fixed pseudo-random ids (default 64)\n"
        "  -n N               decode steps (default 16)\n"
        "  --dtype T          weight type to pack matrices into (default: the checkpoint's;\n"
        "                     bf16 for --synthetic); --type is the same\n"
        "  --act f32|auto     activations kept f32 (default, exact; FP32 FMA roofs) or the\n"
        "                     weight type's fast form (bf16 / int8, on BF16 / VNNI roofs)\n"
        "  -t N               threads (default: every CPU)\n" CLI_CACHE_TYPE_HELP
        "  --svg FILE         write the roofline plot\n"
        "  --json FILE        write every figure as JSON\n"
        "  --cputime          time ops on the thread's CPU clock, not the wall clock: leaves\n"
        "                     out the time other processes hold the core (needs -t 1)\n"
        "  --limits           print this machine's measured limits and exit\n"
        "  --remeasure        measure the limits again instead of using the cache\n"
        "                     (~/.cache/herd/limits.json)\n");
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->prompt_len = 64;
    o->n_decode = 16;
    o->threads = herd_cpu_count();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
#define VALUE()                                                                                    \
    if (!(v = cli_value(CMD, argc, argv, &i)))                                                     \
    return 2
        int ct = cli_cache_type_option(CMD, argc, argv, &i, &o->type_k, &o->type_v);
        if (ct < 0)
            return 2;
        if (ct > 0)
            continue;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            VALUE();
            o->model = v;
        } else if (!strcmp(a, "--synthetic")) {
            VALUE();
            o->synthetic = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            VALUE();
            o->prompt = v;
        } else if (!strcmp(a, "--prompt-len")) {
            VALUE();
            if (!cli_parse_long(CMD, a, v, 1, 1 << 20, &o->prompt_len))
                return 2;
        } else if (!strcmp(a, "-n")) {
            VALUE();
            if (!cli_parse_long(CMD, a, v, 0, 1 << 20, &o->n_decode))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            VALUE();
            if (!cli_parse_long(CMD, a, v, 1, 64, &o->threads))
                return 2;
        } else if (!strcmp(a, "--layers")) {
            VALUE();
            if (!cli_parse_long(CMD, a, v, 1, 1024, &o->layers))
                return 2;
        } else if (!strcmp(a, "--experts")) {
            VALUE();
            if (!cli_parse_long(CMD, a, v, 1, 1024, &o->experts))
                return 2;
        } else if (!strcmp(a, "--act")) {
            VALUE();
            if (strcmp(v, "f32") != 0 && strcmp(v, "auto") != 0)
                return cli_usage_error(CMD, "--act: '%s' is not f32 or auto", v);
            o->act_auto = strcmp(v, "auto") == 0;
        } else if (!strcmp(a, "--type") || !strcmp(a, "--dtype")) {
            VALUE();
            if (!herd_type_parse(v, &o->type))
                return cli_usage_error(CMD, "unknown weight type '%s' (valid: %s)", v,
                                       herd_type_names());
            o->have_type = true;
        } else if (!strcmp(a, "--svg") || !strcmp(a, "--json")) {
            VALUE();
            if (!strcmp(v, "-")) /* the report is printed there */
                return cli_usage_error(CMD, "%s: give a file name, not standard output", a);
            *(a[2] == 's' ? &o->svg : &o->json) = v;
        } else if (!strcmp(a, "--limits")) {
            o->limits_only = true;
        } else if (!strcmp(a, "--cputime")) {
            o->cputime = true;
        } else if (!strcmp(a, "--remeasure")) {
            o->remeasure = true;
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
#undef VALUE
    }
    if (o->limits_only)
        return 0;
    if (!o->model && !o->synthetic) /* neither: the built-in model, when there is one */
        o->model = cli_default_model();
    if (!o->model == !o->synthetic)
        return cli_usage_error(CMD, "give one of -m MODEL or --synthetic NAME");
    if (o->cputime && o->threads != 1)
        return cli_usage_error(CMD, "--cputime times one thread: add -t 1");
    if ((o->layers || o->experts) && !o->synthetic)
        return cli_usage_error(CMD, "--layers and --experts change a --synthetic model only");
    if (o->prompt && !o->model)
        return cli_usage_error(CMD, "-p needs -m MODEL (its tokenizer); use --prompt-len N");
    return 0;
}

static void print_limits(const herd_limits *l)
{
    printf("machine: %s, %d CPUs; with %d thread%s: memory read %.1f GB/s, FP32 FMA %.0f "
           "GFLOP/s",
           l->cpu, l->cpus, l->threads, l->threads == 1 ? "" : "s", l->bw_gbs, l->fp32_gflops);
    if (l->bf16_gflops > 0)
        printf(", BF16 dot %.0f GFLOP/s", l->bf16_gflops);
    if (l->int8_gops > 0)
        printf(", int8 VNNI %.0f GOP/s", l->int8_gops);
    char when[96];
    herd_limits_when(l, when, sizeof when);
    printf(" (%s)\n", when);
}

/* Greedy next token, probed like every other op. */
static int32_t argmax_probed(const float *logits, int64_t V)
{
    double t = HERD_PROF_START();
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (logits[i] > logits[best])
            best = i;
    herd_prof_cost c = {.flops = (double)V, .act_bytes = 4.0 * (double)V};
    HERD_PROF_END(HERD_OP_SAMPLE, t, c);
    return (int32_t)best;
}

/* One prefill of `prompt` then n decode steps, each bracketed as its phase. */
static herd_status run(herd_model *m, herd_kv_cache *kv, const int32_t *prompt, int64_t T,
                       int64_t n, float *logits)
{
    int64_t V = herd_model_config(m)->vocab;
    double t = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    herd_status st = herd_model_forward(m, kv, prompt, T, logits, false);
    if (st)
        return st;
    int32_t next = argmax_probed(logits, V);
    herd_prof_phase_end(t, T);
    for (int64_t i = 0; i < n; i++) {
        t = herd_prof_phase_begin(HERD_PHASE_DECODE);
        if ((st = herd_model_forward(m, kv, &next, 1, logits, false)))
            return st;
        next = argmax_probed(logits, V);
        herd_prof_phase_end(t, 1);
    }
    return HERD_OK;
}

static void print_table(const herd_profile_row *rows, int n)
{
    for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
        double wall = herd_prof_phase_wall((herd_prof_phase)ph), sum = 0, flops = 0;
        int64_t tokens = herd_prof_phase_tokens((herd_prof_phase)ph);
        if (!herd_prof_phase_runs((herd_prof_phase)ph))
            continue;
        for (int i = 0; i < n; i++)
            if (rows[i].phase == (herd_prof_phase)ph) {
                sum += rows[i].ms;
                flops += rows[i].cost.flops;
            }
        printf("\n%s: %lld token%s in %.1f ms (%.2f tokens/s); the ops below add up to %.1f%% "
               "of it\n",
               herd_prof_phase_name((herd_prof_phase)ph), (long long)tokens, tokens == 1 ? "" : "s",
               wall * 1e3, wall > 0 ? (double)tokens / wall : 0, wall > 0 ? sum / wall / 10 : 0);
        /* the ops' own counts: the head only for the rows whose logits are computed, attention
         * by the causal (chunked) key pairs it visits */
        printf("  %.4f GFLOP per token as computed, %.2f GFLOP/s over the phase's wall time\n",
               tokens > 0 ? flops / (double)tokens / 1e9 : 0, wall > 0 ? flops / wall / 1e9 : 0);
        printf("  %-15s %7s %10s %6s %9s %8s %10s  %-9s %6s\n", "op", "calls", "ms", "time%",
               "GFLOP/s", "GB/s", "FLOP/byte", "roof", "roof%");
        for (int i = 0; i < n; i++) {
            const herd_profile_row *r = &rows[i];
            if (r->phase != (herd_prof_phase)ph)
                continue;
            printf("  %-15s %7lld %10.3f %6.1f %9.2f %8.2f %10.2f  %-9s %6.1f\n",
                   herd_prof_op_name(r->op), (long long)r->calls, r->ms, r->pct_time, r->gflops,
                   r->gbs, r->intensity, r->intensity > 0 ? herd_peak_name(r->peak) : "bandwidth",
                   r->pct_bound);
        }
        printf("  %-15s %7s %10.3f %6.1f\n", "(outside ops)", "", wall * 1e3 - sum,
               wall > 0 ? 100 - sum / wall / 10 : 0);
    }
}

static json_t *json_report(const char *what, const herd_limits *l, const herd_profile_row *rows,
                           int n)
{
    json_t *phases = json_array();
    for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
        if (!herd_prof_phase_runs((herd_prof_phase)ph))
            continue;
        json_t *ops = json_array();
        for (int i = 0; i < n; i++) {
            const herd_profile_row *r = &rows[i];
            if (r->phase != (herd_prof_phase)ph)
                continue;
            json_array_append_new(
                ops, json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, "
                               "s:f, s:f}",
                               "op", herd_prof_op_name(r->op), "calls", (json_int_t)r->calls, "ms",
                               r->ms, "time_pct", r->pct_time, "flops", r->cost.flops,
                               "weight_bytes", r->cost.weight_bytes, "act_bytes", r->cost.act_bytes,
                               "kv_bytes", r->cost.kv_bytes, "gflops", r->gflops, "gbs", r->gbs,
                               "flop_per_byte", r->intensity, "roof",
                               r->intensity > 0 ? herd_peak_name(r->peak) : "bandwidth",
                               "roof_gflops", r->bound_gflops, "roof_pct", r->pct_bound));
        }
        json_array_append_new(
            phases,
            json_pack("{s:s, s:I, s:f, s:o}", "phase", herd_prof_phase_name((herd_prof_phase)ph),
                      "tokens", (json_int_t)herd_prof_phase_tokens((herd_prof_phase)ph), "wall_ms",
                      herd_prof_phase_wall((herd_prof_phase)ph) * 1e3, "ops", ops));
    }
    json_t *machine =
        json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f}", "cpu", l->cpu, "cpus", l->cpus, "threads",
                  l->threads, "read_gbs", l->bw_gbs, "fp32_gflops", l->fp32_gflops, "bf16_gflops",
                  l->bf16_gflops, "int8_gops", l->int8_gops);
    return json_pack("{s:s, s:o, s:o}", "model", what, "machine", machine, "phases", phases);
}

static herd_status write_json(const char *path, json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2));
    if (!text)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    herd_status st = herd_atomic_save(path, text, strlen(text), true);
    free(text);
    return st;
}

static herd_status load(const opts *o, herd_model **m, char *what, size_t size)
{
    herd_model_opts mo;
    herd_model_opts_default(&mo);
    mo.threads = (int)o->threads;
    if (o->have_type)
        mo.dtype = o->type;
    mo.aprep = o->act_auto ? HERD_APREP_AUTO : HERD_APREP_EXACT;
    if (!o->synthetic) {
        snprintf(what, size, "%s", o->model);
        return herd_model_load(o->model, &mo, m);
    }
    herd_synthetic_opts so = {.layers = o->layers, .experts = o->experts};
    herd_llama4_config cfg;
    herd_weight_source src;
    herd_status st = herd_synthetic_open(o->synthetic, &so, &cfg, &src);
    if (st)
        return st;
    if (!o->have_type)
        mo.dtype = HERD_TYPE_BF16;
    snprintf(what, size,
             "synthetic %s: hidden %lld, %lld layers, %lld/%lld heads of %lld, %lld experts "
             "top-%lld of width %lld + shared, vocab %lld; %.2fB parameters",
             o->synthetic, (long long)cfg.hidden, (long long)cfg.n_layers, (long long)cfg.n_heads,
             (long long)cfg.n_kv_heads, (long long)cfg.head_dim, (long long)cfg.n_experts,
             (long long)cfg.top_k, (long long)cfg.inter, (long long)cfg.vocab,
             herd_synthetic_params(&cfg) / 1e9);
    return herd_model_load_source(&cfg, &src, &mo, m);
}

/* -p TEXT through the model directory's tokenizer (before loading: a missing tokenizer should
 * not cost a model load). */
static herd_status tokenize(const opts *o, herd_tokens *ids)
{
    herd_tokenizer *tok = NULL;
    herd_status st = herd_tokenizer_load_dir(o->model, &tok);
    if (!st)
        st = herd_tokenizer_encode(tok, o->prompt, strlen(o->prompt), HERD_ENCODE_BOS, ids);
    herd_tokenizer_free(tok);
    if (!st && ids->n == 0)
        st = herd_fail(HERD_ERR_ARG, "-p: the prompt is empty");
    return st;
}

/* Checks the tokenizer's ids against the model, or makes --prompt-len fixed pseudo-random ids
 * (the same every run). */
static herd_status prompt_ids(const opts *o, int64_t vocab, herd_tokens *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        if (ids->ids[i] < 0 || ids->ids[i] >= vocab)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: the tokenizer gives id %d, beyond the model's vocabulary of "
                             "%lld",
                             o->model, ids->ids[i], (long long)vocab);
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (long i = 0; !o->prompt && i < o->prompt_len; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        herd_status st = herd_tokens_push(ids, (int32_t)(r % (uint64_t)vocab));
        if (st)
            return st;
    }
    return HERD_OK;
}

static const char *weights_name(const herd_model *m)
{
    herd_type t = herd_model_dtype(m);
    return (unsigned)t < HERD_TYPE_COUNT ? herd_type_name(t) : "as stored (per tensor)";
}

static int cmd_main(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* a bad output path is found now, not after the whole run */
    if ((o.svg && cli_check_output(CMD, "--svg", o.svg)) ||
        (o.json && cli_check_output(CMD, "--json", o.json)))
        return 1;
    herd_limits lim;
    herd_status st;
    if (o.limits_only) {
        if ((st = herd_limits_get((int)o.threads, o.remeasure, &lim)))
            return cli_status_error(CMD, st);
        print_limits(&lim);
        return 0;
    }
    char what[512];
    herd_model *m = NULL;
    herd_tokens ids = {0};
    if ((o.prompt && (st = tokenize(&o, &ids))) || (st = load(&o, &m, what, sizeof what))) {
        herd_tokens_free(&ids);
        return cli_status_error(CMD, st);
    }
    /* the limits after the model: a bad model fails before seconds of measuring */
    if ((st = herd_limits_get((int)o.threads, o.remeasure, &lim))) {
        herd_tokens_free(&ids);
        herd_model_free(m);
        return cli_status_error(CMD, st);
    }
    const herd_llama4_config *c = herd_model_config(m);
    int64_t n = o.n_decode;
    herd_kv_cache *kv = NULL;
    float *logits = malloc((size_t)c->vocab * sizeof *logits);
    if (!logits) {
        st = herd_fail(HERD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = prompt_ids(&o, c->vocab, &ids)))
        goto done;
    int64_t T = (int64_t)ids.n;
    const int32_t *prompt = ids.ids;
    herd_context_opts co;
    herd_context_opts_default(&co);
    co.ctx = T + n + 1;
    co.threads = (int)o.threads;
    co.type_k = o.type_k;
    co.type_v = o.type_v;
    if ((st = herd_context_create(m, &co, &kv)))
        goto done;
    /* warm-up, not counted: the prompt through every layer, so that the measured prefill finds
     * the cache and the scratch buffers grown and touched, as a server's context would */
    if ((st = herd_model_forward(m, kv, prompt, T, logits, false)))
        goto done;
    herd_kv_reset(kv);
    herd_prof_reset();
    herd_prof_use_cputime(o.cputime);
    herd_prof_enable(true);
    st = run(m, kv, prompt, T, n, logits);
    herd_prof_enable(false);
    herd_prof_use_cputime(false);
    if (st)
        goto done;

    herd_profile_row rows[HERD_PHASE_COUNT * HERD_OP_COUNT];
    int nrows = herd_profile_rows(&lim, !o.act_auto, rows);
    /* cached limits below what this run streamed are stale: measure again, then judge */
    double dec_bytes = 0, dec_wall = herd_prof_phase_wall(HERD_PHASE_DECODE);
    int64_t dec_tokens = herd_prof_phase_tokens(HERD_PHASE_DECODE);
    for (int i = 0; i < nrows; i++)
        if (rows[i].phase == HERD_PHASE_DECODE)
            dec_bytes += rows[i].cost.weight_bytes;
    double seen = dec_wall > 0 ? dec_bytes / dec_wall / 1e9 : 0;
    if (lim.from_cache && dec_tokens > 0 &&
        herd_limits_stale(&lim, seen, dec_bytes / (double)dec_tokens)) {
        fprintf(stderr,
                "herd profile: this run streamed %.1f GB/s, above the cached bound of %.1f GB/s: "
                "measuring the limits again\n",
                seen, lim.bw_gbs);
        if ((st = herd_limits_get((int)o.threads, true, &lim)))
            goto done;
        nrows = herd_profile_rows(&lim, !o.act_auto, rows);
    }
    printf("herd profile: %s\nweights %s, activations %s, %ld thread%s, prompt %lld tokens, %lld "
           "decode steps%s\n",
           what, weights_name(m), o.act_auto ? "auto" : "f32", o.threads, o.threads == 1 ? "" : "s",
           (long long)T, (long long)n, o.cputime ? ", timed on the thread's CPU clock" : "");
    print_limits(&lim);
    print_table(rows, nrows);
    if (o.svg) {
        herd_roofline_point pts[HERD_PHASE_COUNT * HERD_OP_COUNT];
        for (int i = 0; i < nrows; i++)
            pts[i] =
                (herd_roofline_point){herd_prof_op_name(rows[i].op), rows[i].phase,
                                      rows[i].intensity, rows[i].gflops, rows[i].pct_time / 100};
        char title[600];
        snprintf(title, sizeof title, "herd profile: %s%s, %s weights, prefill %lld + decode %lld",
                 o.synthetic ? "synthetic " : "", o.synthetic ? o.synthetic : o.model,
                 weights_name(m), (long long)T, (long long)n);
        if ((st = herd_roofline_svg_write(o.svg, title, &lim, pts, nrows)))
            goto done;
    }
    if (o.json) {
        json_t *root = json_report(what, &lim, rows, nrows);
        st = root ? write_json(o.json, root) : herd_fail(HERD_ERR_NOMEM, "out of memory");
        json_decref(root);
    }
done:
    herd_tokens_free(&ids);
    free(logits);
    herd_kv_free(kv);
    herd_model_free(m);
    return st ? cli_status_error(CMD, st) : 0;
}

const cli_command cli_cmd_profile = {"profile", "per-op time, FLOPs, bytes and a roofline plot",
                                     cmd_main};
