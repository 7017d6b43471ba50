/* herd bench model: whole-model prefill and decode tokens/s on a synthetic Llama 4 (random
 * weights made in memory, the real shapes), next to the decode bound set by memory bandwidth.
 *
 * A full Scout does not fit a small machine, so --layers builds fewer layers of the real shape;
 * the figure for the full depth is extrapolated as head + (measured − head) · L_full / L_built,
 * with the LM head (the one part that does not scale with depth; one row of logits per call,
 * prefill included) timed on its own. */
#include "bench_model.h"
#include "cli/cli_model.h"
#include "herd/model_gguf.h"
#include "herd/herd.h"
#include "herd/prof.h"
#include "herd/profile.h"
#include "model/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_model_main(int argc, char **argv);

typedef struct preset {
    const char *name, *summary, *json;
    int full_layers, default_layers;
} preset;

/* Scout's text_config (Llama-4-Scout-17B-16E) and l4-3.7b, the model of the same family that
 * issue 7 measures llama.cpp on: H 2048, 16 layers, all MoE, 32 heads of 64, 8 KV heads, 16
 * routed experts (top-1) + the shared expert, all of width 2048, vocab 32000 (3.72 B
 * parameters, 0.64 B active per token). */
static const preset presets[] = {
    {"scout", "Llama 4 Scout: H 5120, 48 layers, 16 experts x 8192, 40/8 heads, vocab 202048",
     "{\"architectures\": [\"Llama4ForCausalLM\"], \"max_position_embeddings\": 65536, "
     "\"rope_scaling\": {\"rope_type\": \"llama3\","
     " \"factor\": 16, \"low_freq_factor\": 1, \"high_freq_factor\": 1,"
     " \"original_max_position_embeddings\": 8192}}",
     48, 1},
    {"l4-3.7b", "3.7 B of the family: H 2048, 16 layers, 16 experts x 2048, 32/8 heads of 64",
     "{\"architectures\": [\"Llama4ForCausalLM\"], \"hidden_size\": 2048, \"num_attention_heads\": "
     "32, \"num_key_value_heads\": 8,"
     " \"head_dim\": 64, \"intermediate_size\": 2048, \"intermediate_size_mlp\": 8192,"
     " \"num_local_experts\": 16, \"num_experts_per_tok\": 1, \"vocab_size\": 32000,"
     " \"max_position_embeddings\": 65536}",
     16, 16},
    {"tiny", "for tests: H 64, 4 layers, 4 experts x 128, 4/2 heads of 16, vocab 512",
     "{\"architectures\": [\"Llama4ForCausalLM\"], \"hidden_size\": 64, \"num_attention_heads\": "
     "4, \"num_key_value_heads\": 2, \"head_dim\": 16, \"intermediate_size\": 128,"
     " \"intermediate_size_mlp\": 256, \"num_local_experts\": 4, \"num_experts_per_tok\": 1,"
     " \"vocab_size\": 512, \"attention_chunk_size\": 16, \"max_position_embeddings\": 4096}",
     4, 4},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd bench model (--synthetic NAME | -m MODEL) [options]\n"
            "  llama-bench-like prefill and decode tokens/s, next to the memory-bandwidth bound\n"
            "  (decode) and the peak of the kernel's instruction (prefill)\n\n"
            "models (--synthetic: random weights made in memory, the real shapes):\n");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        fprintf(f, "  %-8s %s (default --layers %d)\n", presets[i].name, presets[i].summary,
                presets[i].default_layers);
    fprintf(f,
            "\noptions:\n"
            "  -m MODEL        a llama4 GGUF (run in its own types unless --type) or HF directory\n"
            "  --type T        packed weight type (default bf16; alias --dtype)\n"
            "  --policy P      per-class types for --write-gguf (herd quantize's policies)\n"
            "  -p N            prefill N tokens from an empty cache (default 512; --prompt)\n"
            "  -n N            decode N tokens one at a time from an empty cache (default 128;\n"
            "                  --gen; 0: prefill only)\n"
            "  -r N            repetitions, after one warm-up of each test (default 3); medians\n"
            "                  are reported\n"
            "  -t LIST         thread counts, e.g. 1,2 (default: every CPU)\n"
            "  --layers N      build N layers of the real shape (the full depth is extrapolated)\n"
            "  --act A         activations: auto (default, the fast path) or f32 (exact)\n"
            "  -ctk T, -ctv T  KV cache types (--cache-type-k/v): f32 (default), bf16, q8_0\n"
            "  --json          one JSON object per line per measurement\n"
            "  --ops           per-op profile of the last thread count\n"
            "  --write-gguf F  write the synthetic model to the GGUF F with standard ggml types\n"
            "                  (f32/f16/bf16/q8_0/q4_0/mxfp4) for llama.cpp, and exit\n"
            "  --tokenizer J   tokenizer.json whose vocabulary --write-gguf embeds (llama.cpp\n"
            "                  needs one; padded to the model's vocabulary)\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_head(herd_model *m, herd_pool *pool, int64_t rows)
{
    int64_t H = m->cfg.hidden, V = m->cfg.vocab;
    float *a = herd_calloc((size_t)(rows * H) * sizeof(float), "bench");
    float *c = herd_alloc((size_t)(rows * V) * sizeof(float), "bench");
    double best = 1e30;
    for (int r = 0; a && c && r < 3; r++) {
        herd_gemm_args g = {
            .M = rows, .A = a, .lda = (size_t)H, .C = c, .ldc = (size_t)V, .aprep = m->opts.aprep};
        double t = herd_now();
        herd_gemm(m->output, &g, pool);
        t = herd_now() - t;
        best = t < best ? t : best;
    }
    herd_free(a);
    herd_free(c);
    return best;
}

/* Packed bytes one decode token streams: attention, shared expert, top-k routed experts (or
 * the dense MLP) per layer, and the head. */
static double pb(const herd_packed *p)
{
    return p ? (double)herd_packed_bytes(p) : 0;
}

/* Every packed byte (experts_per_layer routed experts of each MoE layer). */
static double weight_bytes(const herd_model *m, int64_t experts_per_layer)
{
    const herd_llama4_config *c = &m->cfg;
    double b = pb(m->output);
    for (int64_t l = 0; l < c->n_layers; l++) {
        const layer_weights *w = &m->layers[l];
        b += pb(w->qkv) + pb(w->q) + pb(w->k) + pb(w->v) + pb(w->o);
        if (c->layer_moe[l])
            b += (double)(pb(w->router) + pb(w->sh_gate_up) + pb(w->sh_down)) +
                 (double)experts_per_layer * (double)(pb(w->exp_gate_up[0]) + pb(w->exp_down[0]));
        else
            b += (double)(pb(w->mlp_gate_up) + pb(w->mlp_down));
    }
    return b;
}

/* FLOPs of one forward call over positions start..start+n-1 that computes the logits of
 * `head_rows` of them, as the model does them: 2 per active weight per token (attention,
 * router, shared + top-k experts or the dense MLP), attention's QK and PV (4·heads·head_dim per
 * visible (query, key) pair: causal, and within the chunk on RoPE layers), and the output head
 * for the rows whose logits are computed only (prefill: the last one). The layers' part is
 * multiplied by `scale` (full depth / built depth). */
static double call_flops(const herd_llama4_config *c, int64_t start, int64_t n, int64_t head_rows,
                         double scale)
{
    double H = (double)c->hidden, qd = (double)(c->n_heads * c->head_dim);
    double kvd = (double)(c->n_kv_heads * c->head_dim), layers = 0;
    for (int64_t l = 0; l < c->n_layers; l++) {
        int64_t pairs, rows;
        herd_prof_attn_span(start, n, c->layer_rope[l] ? c->chunk : 0, &pairs, &rows);
        double w = 2 * qd * H + 2 * kvd * H;
        if (c->layer_moe[l])
            w += (double)c->n_experts * H + (double)(c->top_k + 1) * 3 * (double)c->inter * H;
        else
            w += 3 * (double)c->inter_mlp * H;
        layers += 2 * w * (double)n + 4 * qd * (double)pairs;
    }
    return layers * scale + 2 * (double)c->vocab * H * (double)head_rows;
}

typedef struct stats {
    double med, lo, hi;
} stats;

static stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stats s = {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]};
    return s;
}

static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static void print_ops(void)
{
    for (int ph = 0; ph < HERD_PHASE_COUNT; ph++) {
        int64_t tok = herd_prof_phase_tokens((herd_prof_phase)ph);
        if (!tok)
            continue;
        printf("  %s, ms per token (%lld tokens, %.1f ms wall per token):\n",
               herd_prof_phase_name((herd_prof_phase)ph), (long long)tok,
               1e3 * herd_prof_phase_wall((herd_prof_phase)ph) / (double)tok);
        for (int op = 0; op < HERD_OP_COUNT; op++) {
            const herd_prof_entry *e = herd_prof_get((herd_prof_phase)ph, (herd_prof_op)op);
            if (e->calls)
                printf("    %-12s %6lld calls %9.3f ms  %7.2f GB/s  %8.2f GFLOP/s\n",
                       herd_prof_op_name((herd_prof_op)op), (long long)e->calls,
                       1e3 * e->seconds / (double)tok,
                       (e->cost.weight_bytes + e->cost.act_bytes + e->cost.kv_bytes) / e->seconds /
                           1e9,
                       e->cost.flops / e->seconds / 1e9);
        }
    }
}

typedef struct run_cfg {
    const char *model;
    long prompt, gen, reps;
    double scale; /* full depth / built depth */
    bool json, ops, exact;
    herd_type type_k, type_v; /* KV cache */
} run_cfg;

/* llama-bench's two tests at one thread count: prefill of rc->prompt tokens and decode of
 * rc->gen tokens, each from an empty cache, after one warm-up of each. */
static herd_status run_threads(herd_model *m, int64_t n_ctx, const int32_t *ids, float *logits,
                               const run_cfg *rc, int threads)
{
    herd_context_opts co;
    herd_context_opts_default(&co);
    co.ctx = n_ctx;
    co.threads = threads;
    co.type_k = rc->type_k;
    co.type_v = rc->type_v;
    herd_kv_cache *kv = NULL;
    herd_status st = herd_context_create(m, &co, &kv);
    if (st)
        return st;
    double *tp = calloc((size_t)rc->reps, sizeof *tp), *td = calloc((size_t)rc->reps, sizeof *td);
    if (!tp || !td)
        st = herd_fail(HERD_ERR_NOMEM, "bench model: out of memory");
    /* warm-up as llama-bench does it: the measured prefill itself, so that every repetition
     * finds the cache and the scratch buffers at their full size and already touched (a
     * server prefills into a context it keeps); then one decode step */
    herd_kv_reset(kv);
    if (!st)
        st = herd_model_forward(m, kv, ids, rc->prompt, logits, false);
    herd_kv_reset(kv);
    if (!st && rc->gen > 0)
        st = herd_model_forward(m, kv, ids, 1, logits, false);
    herd_prof_reset();
    herd_prof_enable(rc->ops);
    for (long r = 0; r < rc->reps && !st; r++) {
        herd_kv_reset(kv);
        double t = herd_now();
        st = herd_model_forward(m, kv, ids, rc->prompt, logits, false);
        tp[r] = herd_now() - t;
        herd_kv_reset(kv);
        t = herd_now();
        for (long i = 0; i < rc->gen && !st; i++)
            st = herd_model_forward(m, kv, &ids[i], 1, logits, false);
        td[r] = herd_now() - t;
    }
    herd_prof_enable(false);
    herd_limits lim;
    bool have_lim = !st && herd_limits_get(threads, false, &lim) == HERD_OK;
    double head = !st && rc->scale != 1 ? time_head(m, herd_context_pool(kv), 1) : 0;
    for (int ph = 0; ph < (rc->gen > 0 ? 2 : 1) && !st; ph++) {
        bool pre = ph == 0;
        long ntok = pre ? rc->prompt : rc->gen;
        double *t = pre ? tp : td, *tps = t;
        for (long r = 0; r < rc->reps; r++) {
            /* full depth: head + (measured - head) x scale, the head once per call */
            double calls = pre ? 1 : (double)ntok;
            double full = calls * head + (t[r] - calls * head) * rc->scale;
            tps[r] = (double)ntok / full;
        }
        stats s = summarize(tps, (int)rc->reps);
        double bytes =
            pre ? weight_bytes(m, m->cfg.n_experts) / (double)ntok : weight_bytes(m, m->cfg.top_k);
        if (rc->scale != 1)
            bytes = pb(m->output) / (pre ? (double)ntok : 1) +
                    (bytes - pb(m->output) / (pre ? (double)ntok : 1)) * rc->scale;
        /* prefill: one call over the prompt, logits of the last row; decode: one call per
         * token at positions 0..ntok-1, each with its logits */
        double fpt = 0;
        if (pre)
            fpt = call_flops(&m->cfg, 0, ntok, 1, rc->scale);
        else
            for (long i = 0; i < ntok; i++)
                fpt += call_flops(&m->cfg, i, 1, 1, rc->scale);
        fpt /= (double)ntok;
        double gbs = s.med * bytes / 1e9, gflops = s.med * fpt / 1e9;
        if (have_lim && lim.from_cache && !pre && herd_limits_stale(&lim, gbs, bytes)) {
            fprintf(stderr,
                    "herd bench: %.1f GB/s streamed, above the cached bound of %.1f GB/s: "
                    "measuring the limits again\n",
                    gbs, lim.bw_gbs);
            have_lim = herd_limits_get(threads, true, &lim) == HERD_OK;
        }
        herd_peak pk =
            have_lim ? herd_peak_for(&lim, (int)m->dtype, NULL, rc->exact) : HERD_PEAK_FP32;
        double peak = have_lim ? herd_limits_peak(&lim, pk) : 0;
        double pct_bw = have_lim && lim.bw_gbs > 0 ? 100 * gbs / lim.bw_gbs : 0;
        double pct_pk = peak > 0 ? 100 * gflops / peak : 0;
        if (rc->json) {
            printf("{\"model\": \"%s\", \"phase\": \"%s\", \"test\": \"%s%ld\", \"threads\": %d, "
                   "\"type\": \"%s\", \"tokens_per_s\": %.3f, \"tokens_per_s_min\": %.3f, "
                   "\"tokens_per_s_max\": %.3f, \"reps\": %ld, \"weight_bytes_per_token\": %.0f, "
                   "\"flops_per_token\": %.0f, \"gbs\": %.2f, \"gflops\": %.2f, "
                   "\"bw_gbs_bound\": %.2f, \"peak_gflops\": %.1f, \"peak\": \"%s\", "
                   "\"load_average\": %.2f}\n",
                   rc->model, pre ? "prefill" : "decode", pre ? "pp" : "tg", ntok, threads,
                   herd_type_name(m->dtype), s.med, s.lo, s.hi, rc->reps, bytes, fpt, gbs, gflops,
                   have_lim ? lim.bw_gbs : 0, peak, have_lim ? herd_peak_name(pk) : "",
                   load_average());
        } else {
            char extra[128];
            if (pre)
                snprintf(extra, sizeof extra, "%8.1f GFLOP/s = %4.1f%% of %s %.0f", gflops, pct_pk,
                         have_lim ? herd_peak_name(pk) : "?", peak);
            else
                snprintf(extra, sizeof extra, "%8.1f GB/s = %4.1f%% of %.1f GB/s", gbs, pct_bw,
                         have_lim ? lim.bw_gbs : 0);
            printf("| %-6s | %7d | %2s%-5ld | %8.2f | %7.2f-%-7.2f | %9.1f | %s |\n",
                   herd_type_name(m->dtype), threads, pre ? "pp" : "tg", ntok, s.med, s.lo, s.hi,
                   bytes / 1e6, extra);
        }
    }
    if (!st && rc->ops)
        print_ops();
    fflush(stdout);
    free(tp);
    free(td);
    herd_context_free(kv);
    return st;
}

static bool parse_threads(const char *cmd, const char *v, int *t, int *n)
{
    *n = 0;
    for (const char *s = v; *s;) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > 1024 || *n == 16 || (*end && *end != ','))
            return cli_usage_error(cmd, "-t: '%s' is not a list of thread counts like 1,2", v),
                   false;
        t[(*n)++] = (int)x;
        s = *end ? end + 1 : end;
    }
    return *n > 0 || (cli_usage_error(cmd, "-t: empty list"), false);
}

int bench_model_main(int argc, char **argv)
{
    const char *cmd = "bench model", *name = NULL, *path = NULL, *gguf_out = NULL, *policy = NULL,
               *tokenizer = NULL, *thread_list = NULL, *type = NULL, *act = "auto";
    long layers = 0, prompt = 512, gen = 128, reps = 3;
    int threads[16], nthreads = 0;
    herd_type dtype = HERD_TYPE_BF16;
    const char *ctk = "f32", *ctv = "f32";
    bool ops = false, json = false;
    const cli_opt opts[] = {
        {"--ops", NULL, CLI_OPT_FLAG, &ops, 0, 0},
        {"--json", NULL, CLI_OPT_FLAG, &json, 0, 0},
        {"--synthetic", NULL, CLI_OPT_STR, &name, 0, 0},
        {"-m", NULL, CLI_OPT_STR, &path, 0, 0},
        {"--write-gguf", NULL, CLI_OPT_STR, &gguf_out, 0, 0},
        {"--tokenizer", NULL, CLI_OPT_STR, &tokenizer, 0, 0},
        {"--policy", NULL, CLI_OPT_STR, &policy, 0, 0},
        {"--layers", NULL, CLI_OPT_LONG, &layers, 1, 4096},
        {"-p", "--prompt", CLI_OPT_LONG, &prompt, 1, 65536},
        {"-n", "--gen", CLI_OPT_LONG, &gen, 0, 65536},
        {"-r", NULL, CLI_OPT_LONG, &reps, 1, 1000},
        {"-t", NULL, CLI_OPT_STR, &thread_list, 0, 0},
        {"--dtype", "--type", CLI_OPT_STR, &type, 0, 0},
        {"--act", NULL, CLI_OPT_STR, &act, 0, 0},
        {"--cache-type-k", "-ctk", CLI_OPT_STR, &ctk, 0, 0},
        {"--cache-type-v", "-ctv", CLI_OPT_STR, &ctv, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int parsed = cli_parse_opts(cmd, argc, argv, opts, usage);
    if (parsed)
        return parsed < 0 ? 0 : parsed;
    if (thread_list && !parse_threads(cmd, thread_list, threads, &nthreads))
        return 2;
    if (type && !herd_type_parse(type, &dtype))
        return cli_usage_error(cmd, "--dtype: unknown type '%s'", type);
    bool type_given = type != NULL;
    herd_aprep aprep;
    if (!cli_parse_act(cmd, act, &aprep))
        return 2;
    herd_type type_k, type_v;
    if (!cli_parse_cache_type(cmd, "--cache-type-k", ctk, &type_k) ||
        !cli_parse_cache_type(cmd, "--cache-type-v", ctv, &type_v))
        return 2;
    const preset *p = NULL;
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0)
            p = &presets[i];
    if (!p == !path || (name && !p))
        return cli_usage_error(cmd, "give -m MODEL or --synthetic NAME (scout, l4-3.7b or tiny)");
    if (gguf_out && (!p || !tokenizer))
        return cli_usage_error(cmd, "--write-gguf needs --synthetic NAME and --tokenizer FILE");
    if (policy && !gguf_out)
        return cli_usage_error(cmd, "--policy applies to --write-gguf (then bench with -m)");
    if (!nthreads)
        threads[nthreads++] = herd_cpu_count();

    herd_llama4_config cfg;
    herd_weight_source src;
    herd_status st = HERD_OK;
    if (p) {
        if (!layers)
            layers = gguf_out ? p->full_layers : p->default_layers;
        char text[1024];
        snprintf(text, sizeof text, "{\"num_hidden_layers\": %ld, %s", layers, p->json + 1);
        st = herd_llama4_config_parse(text, strlen(text), p->name, &cfg);
        if (!st && (st = herd_synthetic_source(&cfg, 42, HERD_TYPE_BF16, &src)))
            herd_llama4_config_free(&cfg);
        if (st)
            return cli_status_error(cmd, st);
    }
    if (gguf_out) {
        herd_quant_policy pol;
        herd_pool *pool = NULL;
        st = herd_quant_policy_load(policy ? policy : "uniform", &pol);
        if (!st)
            st = herd_pool_create(threads[0], &pool);
        if (!st)
            st = bench_model_write_gguf(&cfg, &src, &pol, dtype, tokenizer, gguf_out, pool);
        char gap[512];
        if (!st && herd_llama4_llamacpp_gaps(&cfg, gap, sizeof gap) > 0)
            fprintf(stderr,
                    "herd bench model: warning: llama.cpp cannot express this model; the file "
                    "holds the model llama.cpp computes instead, and herd -m FILE follows it: "
                    "%s\n",
                    gap);
        herd_pool_destroy(pool);
        if (src.close)
            src.close(src.ctx);
        herd_llama4_config_free(&cfg);
        if (st)
            return cli_status_error(cmd, st);
        fprintf(stderr, "herd bench model: wrote %s\n", gguf_out);
        return 0;
    }
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.dtype = dtype;
    o.aprep = aprep;
    o.threads = threads[nthreads - 1];
    herd_model *m = NULL;
    double t0 = herd_now();
    if (p) {
        fprintf(stderr, "herd bench model: building %s with %ld of %d layers (random weights)...\n",
                p->name, layers, p->full_layers);
        st = herd_model_load_source(&cfg, &src, &o, &m);
    } else if (herd_is_gguf_file(path)) {
        o.dtype = type_given ? dtype : HERD_TYPE_COUNT;
        st = herd_gguf_source_open(path, &cfg, &src);
        if (!st)
            st = herd_model_load_source(&cfg, &src, &o, &m);
    } else {
        st = herd_model_load(path, &o, &m);
    }
    if (st)
        return cli_status_error(cmd, st);
    double t_build = herd_now() - t0;
    int64_t V = m->cfg.vocab;
    long ctx = prompt > gen ? prompt : gen;
    int32_t *ids = malloc((size_t)ctx * sizeof *ids);
    float *logits = herd_alloc((size_t)V * sizeof(float), "bench");
    if (!ids || !logits) {
        free(ids);
        herd_free(logits);
        herd_model_free(m);
        return cli_status_error(cmd, st ? st : HERD_ERR_NOMEM);
    }
    uint64_t x = 1;
    for (long i = 0; i < ctx; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)V);
    }
    run_cfg rc = {.model = p ? p->name : path,
                  .prompt = prompt,
                  .gen = gen,
                  .reps = reps,
                  .scale = p ? (double)p->full_layers / (double)layers : 1,
                  .json = json,
                  .ops = ops,
                  .exact = aprep == HERD_APREP_EXACT,
                  .type_k = type_k,
                  .type_v = type_v};
    if (!json) {
        printf("model %s: %lld of %d layers (loaded in %.1f s), weights %s, %.2f GB packed, "
               "activations %s, KV cache k %s v %s, isa %s, load average %.1f\n",
               rc.model, (long long)m->cfg.n_layers, p ? p->full_layers : (int)m->cfg.n_layers,
               t_build, herd_type_name(m->dtype), weight_bytes(m, m->cfg.n_experts) / 1e9,
               aprep == HERD_APREP_AUTO ? "auto" : "f32", herd_type_name(type_k),
               herd_type_name(type_v), herd_isa_name(herd_isa()), load_average());
        if (rc.scale != 1)
            printf("(figures extrapolated to %d layers: head + (measured - head) x %.0f)\n",
                   p->full_layers, rc.scale);
        printf("| type   | threads | test    | tok/s    | min-max         | MB/token  | "
               "decode: GB/s vs bandwidth; prefill: GFLOP/s vs peak |\n");
    }
    for (int i = 0; i < nthreads && !st; i++)
        st = run_threads(m, ctx, ids, logits, &rc, threads[i]);
    herd_free(logits);
    free(ids);
    herd_model_free(m);
    return st ? cli_status_error(cmd, st) : 0;
}

/* For herd bench batch: the model `-m path` or `--synthetic name` names, at full depth. */
herd_status bench_model_open(const char *name, const char *path, herd_type dtype, bool type_given,
                             herd_aprep aprep, herd_model **out);
herd_status bench_model_open(const char *name, const char *path, herd_type dtype, bool type_given,
                             herd_aprep aprep, herd_model **out)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.dtype = dtype;
    o.aprep = aprep;
    o.quiet = true;
    herd_llama4_config cfg;
    herd_weight_source src;
    herd_status st;
    if (path && herd_is_gguf_file(path)) {
        o.dtype = type_given ? dtype : HERD_TYPE_COUNT;
        st = herd_gguf_source_open(path, &cfg, &src);
        return st ? st : herd_model_load_source(&cfg, &src, &o, out);
    }
    if (path)
        return herd_model_load(path, &o, out);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name))
            continue;
        char text[1024];
        snprintf(text, sizeof text, "{\"num_hidden_layers\": %d, %s", presets[i].full_layers,
                 presets[i].json + 1);
        if ((st = herd_llama4_config_parse(text, strlen(text), name, &cfg)))
            return st;
        if ((st = herd_synthetic_source(&cfg, 42, HERD_TYPE_BF16, &src))) {
            herd_llama4_config_free(&cfg);
            return st;
        }
        return herd_model_load_source(&cfg, &src, &o, out);
    }
    return herd_fail(HERD_ERR_ARG, "no synthetic model '%s' (scout, l4-3.7b or tiny)", name);
}
