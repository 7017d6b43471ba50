/* herd perplexity: perplexity of a model over a text file in non-overlapping chunks of --ctx
 * tokens, as llama.cpp computes it (each chunk starts with BOS and only its second half is
 * scored, so every scored token has at least ctx/2 tokens of context). With --kl-base, the same
 * chunks also go through a base model, giving the mean and 99th-percentile KL divergence
 * KL(base || model) and the top-1 agreement on the scored tokens; that is meaningful even for
 * random-weight models, where perplexity is not. */
#include "cli/cli_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "perplexity";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd perplexity -m MODEL -f TEXT [-c N] [--kl-base BASE] [options]\n"
            "  perplexity over non-overlapping chunks of N tokens; the second half of each chunk\n"
            "  is scored, as llama.cpp does\n\n"
            "options:\n" CLI_MODEL_HELP_NO_CTX
            "  -c, --ctx-size N  tokens per chunk (also --ctx; default 512)\n"
            "  -f, --file TEXT   the text file\n"
            "  --kl-base BASE    also KL divergence (mean, 99th percentile) and top-1 agreement\n"
            "                    of MODEL against BASE (a directory or GGUF) on the same tokens;\n"
            "                    BASE runs with an f32 KV cache (-m X --kl-base X -ctk q8_0:\n"
            "                    what the cache type costs)\n"
            "  --tokenizer FILE  tokenizer.json / .tiktoken / .gguf (default: MODEL's own)\n"
            "  --chunks N        score at most N chunks\n");
}

static int cmd_main(int argc, char **argv)
{
    const char *text_path = NULL, *base_path = NULL, *tok_path = NULL;
    long max_chunks = 0;
    cli_model_args a;
    cli_model_args_init(&a);
    int rc = 0;
    const cli_opt opts[] = {{"-f", "--file", CLI_OPT_STR, &text_path, 0, 0},
                            {"--kl-base", NULL, CLI_OPT_STR, &base_path, 0, 0},
                            {"--tokenizer", NULL, CLI_OPT_STR, &tok_path, 0, 0},
                            {"--chunks", NULL, CLI_OPT_LONG, &max_chunks, 1, 1L << 30},
                            {NULL, NULL, 0, NULL, 0, 0}};
    rc = cli_model_parse(cmd, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    if (!rc && (!a.model || !text_path))
        rc = cli_usage_error(cmd, "-m and -f are required");
    if (!rc && a.engine.ctx == 0)
        a.engine.ctx = 512;
    if (!rc && a.engine.ctx < 4)
        rc = cli_usage_error(cmd, "--ctx must be at least 4");
    int64_t n_ctx = a.engine.ctx;

    herd_engine *e = NULL, *base = NULL;
    herd_tokens toks = {0};
    int32_t bos = -1;
    herd_status st = HERD_OK;
    if (!rc)
        rc = cli_load_engine(cmd, &a, &e);
    if (!rc && base_path) {
        cli_model_args b = a;
        b.model = base_path;
        b.engine.type_k = b.engine.type_v = HERD_TYPE_F32; /* the reference: an exact cache */
        rc = cli_load_engine(cmd, &b, &base);
    }
    if (!rc)
        rc = cli_encode_for_model(cmd, e, tok_path, text_path, &toks, &bos);
    int64_t V = 0, n_chunks = 0;
    if (!rc) {
        V = herd_model_config(herd_engine_model(e))->vocab;
        if (base && herd_model_config(herd_engine_model(base))->vocab != V)
            rc = cli_error(cmd, 1, "%s and %s have different vocabularies", a.model, base_path);
        n_chunks = (int64_t)toks.n / n_ctx;
        if (!rc && n_chunks == 0)
            rc = cli_error(cmd, 1, "%s: %zu tokens, fewer than one chunk of --ctx %lld", text_path,
                           toks.n, (long long)n_ctx);
        if (max_chunks > 0 && n_chunks > max_chunks)
            n_chunks = max_chunks;
    }
    if (!rc) {
        cli_scores s = {0};
        printf("perplexity: %lld chunks of %lld tokens (%zu tokens in %s)\n", (long long)n_chunks,
               (long long)n_ctx, toks.n, text_path);
        double t0 = herd_now();
        st = cli_score_chunks(e, base, toks.ids, n_chunks, n_ctx, bos, true, &s);
        if (!st) {
            cli_summary r;
            cli_scores_summary(&s, &r);
            printf("Final estimate: PPL = %.4f +/- %.4f (%lld scored tokens, %.1f s)\n", r.ppl,
                   r.ppl_err, (long long)s.count, herd_now() - t0);
            if (base)
                printf("KL divergence vs %s: mean %.6f, 99th percentile %.6f; top-1 agreement "
                       "%.2f%%\n",
                       base_path, r.kl_mean, r.kl_p99, 100.0 * r.top1);
        } else {
            rc = cli_status_error(cmd, st);
        }
        cli_scores_free(&s);
    }
    herd_tokens_free(&toks);
    herd_engine_free(base);
    herd_engine_free(e);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_perplexity = {"perplexity",
                                        "measure perplexity of a model on a text file", cmd_main};
