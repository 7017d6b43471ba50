/* herd perplexity: perplexity of a model over a text file in non-overlapping chunks of --ctx
 * tokens, as llama.cpp computes it (each chunk starts with BOS and only its second half is
 * scored, so every scored token has at least ctx/2 tokens of context). With --kl-base, the same
 * chunks also go through a base model, giving the mean and 99th-percentile KL divergence
 * KL(base || model) and the top-1 agreement on the scored tokens; that is meaningful even for
 * random-weight models, where perplexity is not. */
#include "cli/cli_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "perplexity";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd perplexity -m MODEL -f TEXT [--ctx N] [--kl-base BASE] [options]\n"
            "  perplexity over non-overlapping chunks of N tokens (default 512); the second half\n"
            "  of each chunk is scored, as llama.cpp does\n\n"
            "options:\n" CLI_MODEL_HELP "  -f TEXT           the text file\n"
            "  --kl-base BASE    also KL divergence (mean, 99th percentile) and top-1 agreement\n"
            "                    of MODEL against BASE (a directory or GGUF) on the same tokens\n"
            "  --tokenizer FILE  tokenizer.json / .tiktoken / .gguf (default: MODEL's own)\n"
            "  --chunks N        score at most N chunks\n");
}

static char *read_all(const char *path, size_t *n)
{
    herd_mapped_file f;
    if (herd_map_file(path, &f))
        return NULL;
    char *s = malloc(f.size + 1);
    if (s) {
        memcpy(s, f.data, f.size);
        s[f.size] = 0;
        *n = f.size;
    } else {
        herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    herd_unmap_file(&f);
    return s;
}

/* log-softmax of row[0..V) into out; returns the argmax. */
static int64_t log_softmax(const float *row, int64_t V, double *out)
{
    double m = row[0], z = 0;
    int64_t im = 0;
    for (int64_t i = 1; i < V; i++)
        if (row[i] > m)
            m = row[i], im = i;
    for (int64_t i = 0; i < V; i++)
        z += exp(row[i] - m);
    double lz = m + log(z);
    for (int64_t i = 0; i < V; i++)
        out[i] = row[i] - lz;
    return im;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct scores {
    double nll, nll2;
    int64_t count, agree;
    double *kl; /* per scored token, with --kl-base */
} scores;

static herd_status run_chunk(herd_engine *e, herd_engine *base, const int32_t *ids, int64_t n,
                             int64_t V, float *lg, float *lg_base, double *lp, double *lpb,
                             scores *s)
{
    herd_kv_cache *kv = herd_engine_cache(e);
    herd_kv_reset(kv);
    herd_status st = herd_model_forward(herd_engine_model(e), kv, ids, n, lg, true);
    if (!st && base) {
        herd_kv_reset(herd_engine_cache(base));
        st = herd_model_forward(herd_engine_model(base), herd_engine_cache(base), ids, n, lg_base,
                                true);
    }
    for (int64_t j = n / 2; !st && j < n - 1; j++) {
        int64_t top = log_softmax(lg + (size_t)j * (size_t)V, V, lp);
        double nll = -lp[ids[j + 1]];
        s->nll += nll;
        s->nll2 += nll * nll;
        if (base) {
            int64_t top_b = log_softmax(lg_base + (size_t)j * (size_t)V, V, lpb);
            double kl = 0;
            for (int64_t i = 0; i < V; i++)
                kl += exp(lpb[i]) * (lpb[i] - lp[i]);
            s->kl[s->count] = kl > 0 ? kl : 0;
            s->agree += top == top_b;
        }
        s->count++;
    }
    return st;
}

static int cmd_main(int argc, char **argv)
{
    const char *text_path = NULL, *base_path = NULL, *tok_path = NULL;
    long max_chunks = 0;
    cli_model_args a;
    cli_model_args_init(&a);
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        int r = cli_model_option(cmd, argc, argv, &i, &a);
        if (r < 0)
            rc = 2;
        else if (r > 0)
            continue;
        else if (cli_is_help(argv[i])) {
            usage(stdout);
            cli_model_args_free(&a);
            return 0;
        } else if (strcmp(argv[i], "-f") == 0) {
            if (!(text_path = cli_value(cmd, argc, argv, &i)))
                rc = 2;
        } else if (strcmp(argv[i], "--kl-base") == 0) {
            if (!(base_path = cli_value(cmd, argc, argv, &i)))
                rc = 2;
        } else if (strcmp(argv[i], "--tokenizer") == 0) {
            if (!(tok_path = cli_value(cmd, argc, argv, &i)))
                rc = 2;
        } else if (strcmp(argv[i], "--chunks") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || !cli_parse_long(cmd, "--chunks", v, 1, 1L << 30, &max_chunks))
                rc = 2;
        } else {
            rc = cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!rc && (!a.model || !text_path))
        rc = cli_usage_error(cmd, "-m and -f are required");
    if (!rc && a.engine.ctx == 0)
        a.engine.ctx = 512;
    if (!rc && a.engine.ctx < 4)
        rc = cli_usage_error(cmd, "--ctx must be at least 4");
    int64_t n_ctx = a.engine.ctx;

    herd_engine *e = NULL, *base = NULL;
    herd_tokenizer *own_tok = NULL;
    const herd_tokenizer *tok = NULL;
    herd_tokens toks = {0};
    char *text = NULL;
    size_t text_len = 0;
    herd_status st = HERD_OK;
    if (!rc)
        rc = cli_load_engine(cmd, &a, &e);
    if (!rc && base_path) {
        cli_model_args b = a;
        b.model = base_path;
        rc = cli_load_engine(cmd, &b, &base);
    }
    if (!rc) {
        st = tok_path ? herd_tokenizer_load_file(tok_path, NULL, &own_tok)
                      : herd_engine_tokenizer(e, &tok);
        if (own_tok)
            tok = own_tok;
        if (!st && !(text = read_all(text_path, &text_len)))
            st = HERD_ERR_IO;
        if (!st)
            st = herd_tokenizer_encode(tok, text, text_len, HERD_ENCODE_BOS, &toks);
        if (st)
            rc = cli_status_error(cmd, st);
    }
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
        for (size_t i = 0; !rc && i < toks.n; i++)
            if (toks.ids[i] < 0 || toks.ids[i] >= V)
                rc = cli_error(cmd, 1, "token id %d is outside the model's vocabulary (%lld)",
                               toks.ids[i], (long long)V);
    }
    if (!rc) {
        size_t per = (size_t)n_ctx * (size_t)V;
        float *lg = herd_alloc(per * sizeof *lg, "logits");
        float *lgb = base ? herd_alloc(per * sizeof *lgb, "base logits") : NULL;
        double *lp = herd_alloc((size_t)V * 2 * sizeof *lp, "log-probabilities");
        int32_t *chunk = herd_alloc((size_t)n_ctx * sizeof *chunk, "chunk");
        scores s = {0};
        if (base)
            s.kl = herd_alloc((size_t)n_chunks * (size_t)n_ctx * sizeof *s.kl, "KL values");
        st = lg && lp && chunk && (!base || (lgb && s.kl)) ? HERD_OK : HERD_ERR_NOMEM;
        int32_t bos = herd_tokenizer_bos(tok);
        printf("perplexity: %lld chunks of %lld tokens (%zu tokens in %s)\n", (long long)n_chunks,
               (long long)n_ctx, toks.n, text_path);
        double t0 = herd_now();
        for (int64_t c = 0; c < n_chunks && !st; c++) {
            memcpy(chunk, toks.ids + c * n_ctx, (size_t)n_ctx * sizeof *chunk);
            if (bos >= 0)
                chunk[0] = bos; /* every chunk starts like a document */
            st = run_chunk(e, base, chunk, n_ctx, V, lg, lgb, lp, lp + V, &s);
            printf("[%lld]%.4f%s", (long long)c + 1, exp(s.nll / (double)s.count),
                   c + 1 < n_chunks ? "," : "\n");
            fflush(stdout);
        }
        if (!st) {
            double mean = s.nll / (double)s.count, ppl = exp(mean);
            double var =
                s.count > 1 ? (s.nll2 / (double)s.count - mean * mean) / (double)(s.count - 1) : 0;
            printf("Final estimate: PPL = %.4f +/- %.4f (%lld scored tokens, %.1f s)\n", ppl,
                   ppl * sqrt(var > 0 ? var : 0), (long long)s.count, herd_now() - t0);
            if (base) {
                double sum = 0;
                for (int64_t i = 0; i < s.count; i++)
                    sum += s.kl[i];
                qsort(s.kl, (size_t)s.count, sizeof *s.kl, cmp_double);
                int64_t k99 = (int64_t)ceil(0.99 * (double)s.count) - 1;
                printf("KL divergence vs %s: mean %.6f, 99th percentile %.6f; top-1 agreement "
                       "%.2f%%\n",
                       base_path, sum / (double)s.count, s.kl[k99 < 0 ? 0 : k99],
                       100.0 * (double)s.agree / (double)s.count);
            }
        } else {
            rc = cli_status_error(cmd, st);
        }
        herd_free(lg);
        herd_free(lgb);
        herd_free(lp);
        herd_free(chunk);
        herd_free(s.kl);
    }
    herd_tokens_free(&toks);
    free(text);
    herd_tokenizer_free(own_tok);
    herd_engine_free(base);
    herd_engine_free(e);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_perplexity = {"perplexity",
                                        "measure perplexity of a model on a text file", cmd_main};
