/* herd mx table: the MX paper's direct-cast experiment on the user's model. Each type casts
 * every matrix (policy uniform: router and norms stay f32) into a temporary GGUF, which is then
 * scored against the unquantized model on the same chunks of a text: bits per weight, file
 * size, KL divergence (mean, 99th percentile), top-1 agreement, perplexity, prefill and decode
 * speed, as one Markdown table. The MX rows sit beside ggml's K- and i-quants (herd's own
 * quantizers), and a llama.cpp recipe name (q4_k_m, ...) gives that mixture's row. */
#include "cli/cli_eval.h"
#include "herd/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cmd = "mx table";

static const char default_types[] =
    "bf16,q8_0,int8,mxint8,mxfp8_e4m3,mxfp8_e5m2,mxfp6_e2m3,mxfp6_e3m2,q4_0,mxfp4,"
    "q6_k,q5_k,q4_k,q3_k,q2_k,iq4_xs,iq4_nl";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd mx table -m MODEL -f TEXT [-c N] [--chunks N] [--types LIST]\n"
            "                     [--decode N] [--tokenizer FILE] [--keep DIR] [options]\n"
            "  casts MODEL to each type and compares it with MODEL on TEXT (Markdown table)\n\n"
            "options:\n" CLI_MODEL_HELP_NO_CTX
            "  -c, --ctx-size N  tokens per chunk (also --ctx; default 256)\n"
            "  -f, --file TEXT   the text file\n"
            "  --chunks N        chunks scored per type (default 4)\n"
            "  --types LIST      comma-separated types or llama.cpp recipes such as q4_k_m\n"
            "                    (default %s)\n"
            "  --decode N        tokens timed one at a time for the decode speed (default 32)\n"
            "  --tokenizer FILE  tokenizer.json / .tiktoken / .gguf (default: MODEL's own)\n"
            "  --keep DIR        keep the quantized GGUFs in DIR (default: temporary files)\n",
            default_types);
}

/* Prefill speed: n_pre tokens in one forward pass (logits of the last only). Decode speed: n
 * tokens one at a time after a one-token prefill. */
static herd_status speeds(herd_engine *e, const int32_t *ids, int64_t n_pre, int64_t n,
                          double *pre_s, double *tok_s)
{
    herd_model *m = herd_engine_model(e);
    herd_kv_cache *kv = herd_engine_context(e);
    herd_kv_reset(kv);
    double t0 = herd_now();
    herd_status st = herd_model_forward(m, kv, ids, n_pre, NULL, false);
    *pre_s = (double)n_pre / (herd_now() - t0);
    herd_kv_reset(kv);
    if (!st)
        st = herd_model_forward(m, kv, ids, 1, NULL, false);
    int64_t V = herd_model_config(m)->vocab;
    float *lg = herd_alloc((size_t)V * sizeof *lg, "logits");
    if (!lg)
        return HERD_ERR_NOMEM;
    t0 = herd_now();
    for (int64_t i = 1; i <= n && !st; i++)
        st = herd_model_forward(m, kv, &ids[i], 1, lg, false);
    *tok_s = (double)n / (herd_now() - t0);
    herd_free(lg);
    return st;
}

static void human(double bytes, char *buf, size_t n)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, n, "%.2f %s", bytes, unit[u]);
}

int cli_mx_table(int argc, char **argv)
{
    const char *text_path = NULL, *tok_path = NULL, *keep = NULL, *types = default_types;
    long chunks = 4, n_decode = 32;
    cli_model_args a;
    cli_model_args_init(&a);
    int rc = 0;
    const cli_opt opts[] = {{"-f", "--file", CLI_OPT_STR, &text_path, 0, 0},
                            {"--tokenizer", NULL, CLI_OPT_STR, &tok_path, 0, 0},
                            {"--keep", NULL, CLI_OPT_STR, &keep, 0, 0},
                            {"--types", NULL, CLI_OPT_STR, &types, 0, 0},
                            {"--chunks", NULL, CLI_OPT_LONG, &chunks, 1, 1L << 20},
                            {"--decode", NULL, CLI_OPT_LONG, &n_decode, 1, 1L << 20},
                            {NULL, NULL, 0, NULL, 0, 0}};
    rc = cli_model_parse(cmd, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    if (!rc && (!a.model || !text_path))
        rc = cli_usage_error(cmd, "-m and -f are required");
    /* the type list, checked before any work */
    char list[512];
    herd_type tl[32];
    const char *recipe[32]; /* a llama.cpp recipe's name, or NULL for a plain type */
    int nt = 0;
    snprintf(list, sizeof list, "%s", types);
    for (char *p = strtok(list, ","); !rc && p; p = strtok(NULL, ",")) {
        int r = -1;
        if (nt == 32 || (!herd_type_parse(p, &tl[nt]) && (r = herd_quant_recipe_parse(p)) < 0))
            rc = cli_usage_error(cmd,
                                 "--types: unknown type '%s' (valid: %s; llama.cpp's recipes "
                                 "q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m)",
                                 p, herd_type_names());
        else if (r >= 0)
            tl[nt] = herd_quant_recipe_base(r);
        if (nt < 32)
            recipe[nt] = r >= 0 ? herd_quant_recipe_name(r) : NULL;
        nt++;
    }
    if (!rc && a.engine.ctx == 0)
        a.engine.ctx = 256;
    if (!rc && a.engine.ctx < 4)
        rc = cli_usage_error(cmd, "--ctx must be at least 4");
    int64_t n_ctx = a.engine.ctx;
    if (!rc && a.engine.ctx < n_decode + 1)
        a.engine.ctx = n_decode + 1;

    herd_engine *base = NULL;
    herd_tokens toks = {0};
    int32_t bos = -1;
    herd_status st = HERD_OK;
    if (!rc)
        rc = cli_load_engine(cmd, &a, &base);
    if (!rc)
        rc = cli_encode_for_model(cmd, base, tok_path, text_path, &toks, &bos);
    int64_t n_chunks = rc ? 0 : (int64_t)toks.n / n_ctx;
    if (!rc && n_chunks == 0)
        rc = cli_error(cmd, 1, "%s: %zu tokens, fewer than one chunk of --ctx %lld", text_path,
                       toks.n, (long long)n_ctx);
    if (!rc && toks.n < (size_t)n_decode + 1)
        rc = cli_error(cmd, 1, "%s: %zu tokens, fewer than --decode %ld + 1", text_path, toks.n,
                       n_decode);
    if (n_chunks > chunks)
        n_chunks = chunks;

    herd_pool *pool = NULL;
    if (!rc && (st = herd_pool_create(
                    a.engine.model.threads > 0 ? a.engine.model.threads : herd_cpu_count(), &pool)))
        rc = cli_status_error(cmd, st);
    if (!rc) {
        double base_speed = 0, base_pre = 0;
        if ((st = speeds(base, toks.ids, n_ctx, n_decode, &base_pre, &base_speed)))
            rc = cli_status_error(cmd, st);
        else {
            printf("Direct cast of %s (every matrix; router and norms f32), %lld chunks of %lld "
                   "tokens of %s; unquantized prefill %.1f tok/s (%lld tokens), decode %.1f "
                   "tok/s\n\n",
                   a.model, (long long)n_chunks, (long long)n_ctx, text_path, base_pre,
                   (long long)n_ctx, base_speed);
            printf("| type | bits/weight | file | KL mean | KL p99 | top-1 | PPL | prefill tok/s | "
                   "decode tok/s |\n"
                   "|---|---|---|---|---|---|---|---|---|\n");
            fflush(stdout);
        }
    }
    for (int i = 0; !rc && i < nt; i++) {
        char path[4400], size[32];
        const char *name = recipe[i] ? recipe[i] : herd_type_name(tl[i]);
        if (keep)
            snprintf(path, sizeof path, "%s/%s.gguf", keep, name);
        else
            snprintf(path, sizeof path, "%s/herd_mx_table_%ld_%s.gguf",
                     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), name);
        herd_quantize_opts qo = {
            .type = tl[i], .pool = pool, .text_only = true, .recipe = recipe[i]};
        herd_quant_policy_load("uniform", &qo.policy);
        herd_quantize_report qr;
        herd_engine *e = NULL;
        cli_scores s = {0};
        cli_summary r;
        double speed = 0, pre = 0;
        st = herd_quantize_model(a.model, path, &qo, &qr);
        if (!st)
            st = herd_engine_load(path, &a.engine, &e);
        if (!st)
            st = cli_score_chunks(e, base, toks.ids, n_chunks, n_ctx, bos, false, &s);
        if (!st)
            st = speeds(e, toks.ids, n_ctx, n_decode, &pre, &speed);
        if (!st) {
            cli_scores_summary(&s, &r);
            struct stat sb;
            human(stat(qr.path, &sb) == 0 ? (double)sb.st_size : (double)qr.bytes, size,
                  sizeof size);
            /* a row whose matrices ran on a C twin or emulated: its speed is not the type's */
            char fb[256], label[320];
            herd_model_fallback_kernels(herd_engine_model(e), fb, sizeof fb);
            snprintf(label, sizeof label, fb[0] ? "%s (fallback kernel: %s)" : "%s", name, fb);
            printf("| %s | %.2f | %s | %.6f | %.6f | %.2f%% | %.3f | %.1f | %.1f |\n", label,
                   qr.bits_per_weight, size, r.kl_mean, r.kl_p99, 100 * r.top1, r.ppl, pre, speed);
            fflush(stdout);
        } else {
            rc = cli_status_error(cmd, st);
        }
        cli_scores_free(&s);
        herd_engine_free(e);
        if (!keep)
            unlink(path);
    }
    herd_pool_destroy(pool);
    herd_tokens_free(&toks);
    herd_engine_free(base);
    cli_model_args_free(&a);
    return rc;
}
