/* Chunked perplexity and KL divergence against a base model (see cli_eval.h). */
#include "cli/cli_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static herd_status forward_all(herd_engine *e, const int32_t *ids, int64_t n, float *lg)
{
    herd_kv_cache *kv = herd_engine_context(e);
    herd_kv_reset(kv);
    return herd_model_forward(herd_engine_model(e), kv, ids, n, lg, true);
}

herd_status cli_score_chunks(herd_engine *e, herd_engine *base, const int32_t *ids,
                             int64_t n_chunks, int64_t n_ctx, int32_t bos, bool progress,
                             cli_scores *s)
{
    int64_t V = herd_model_config(herd_engine_model(e))->vocab;
    size_t per = (size_t)n_ctx * (size_t)V;
    float *lg = herd_alloc(per * sizeof *lg, "logits");
    float *lgb = base ? herd_alloc(per * sizeof *lgb, "base logits") : NULL;
    double *lp = herd_alloc((size_t)V * 2 * sizeof *lp, "log-probabilities"), *lpb = lp + V;
    int32_t *chunk = herd_alloc((size_t)n_ctx * sizeof *chunk, "chunk");
    herd_status st = lg && lp && chunk && (!base || lgb) ? HERD_OK : HERD_ERR_NOMEM;
    size_t need = s->count + (size_t)n_chunks * (size_t)n_ctx;
    if (!st && base && need > s->kl_cap) {
        double *kl = realloc(s->kl, need * sizeof *kl);
        if (kl) {
            s->kl = kl;
            s->kl_cap = need;
        } else {
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for KL values");
        }
    }
    for (int64_t c = 0; c < n_chunks && !st; c++) {
        memcpy(chunk, ids + c * n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (bos >= 0)
            chunk[0] = bos; /* every chunk starts like a document */
        st = forward_all(e, chunk, n_ctx, lg);
        if (!st && base)
            st = forward_all(base, chunk, n_ctx, lgb);
        for (int64_t j = n_ctx / 2; !st && j < n_ctx - 1; j++) {
            int64_t top = log_softmax(lg + (size_t)j * (size_t)V, V, lp);
            double nll = -lp[chunk[j + 1]];
            s->nll += nll;
            s->nll2 += nll * nll;
            if (base) {
                int64_t top_b = log_softmax(lgb + (size_t)j * (size_t)V, V, lpb);
                double kl = 0;
                for (int64_t i = 0; i < V; i++)
                    kl += exp(lpb[i]) * (lpb[i] - lp[i]);
                s->kl[s->count] = kl > 0 ? kl : 0;
                s->agree += top == top_b;
            }
            s->count++;
        }
        if (!st && progress) {
            printf("[%lld]%.4f%s", (long long)c + 1, exp(s->nll / (double)s->count),
                   c + 1 < n_chunks ? "," : "\n");
            fflush(stdout);
        }
    }
    herd_free(lg);
    herd_free(lgb);
    herd_free(lp);
    herd_free(chunk);
    return st;
}

void cli_scores_summary(cli_scores *s, cli_summary *out)
{
    memset(out, 0, sizeof *out);
    if (s->count == 0)
        return;
    double n = (double)s->count, mean = s->nll / n;
    double var = s->count > 1 ? (s->nll2 / n - mean * mean) / (n - 1) : 0;
    out->ppl = exp(mean);
    out->ppl_err = out->ppl * sqrt(var > 0 ? var : 0);
    if (!s->kl)
        return;
    double sum = 0;
    for (int64_t i = 0; i < s->count; i++)
        sum += s->kl[i];
    qsort(s->kl, (size_t)s->count, sizeof *s->kl, cmp_double);
    int64_t k99 = (int64_t)ceil(0.99 * n) - 1;
    out->kl_mean = sum / n;
    out->kl_p99 = s->kl[k99 < 0 ? 0 : k99];
    out->top1 = (double)s->agree / n;
}

void cli_scores_free(cli_scores *s)
{
    free(s->kl);
    memset(s, 0, sizeof *s);
}

herd_status cli_encode_file(const herd_tokenizer *tok, const char *path, herd_tokens *toks)
{
    herd_mapped_file f;
    herd_status st = herd_map_file(path, &f);
    if (st)
        return st;
    st = herd_tokenizer_encode(tok, (const char *)f.data, f.size, HERD_ENCODE_BOS, toks);
    herd_unmap_file(&f);
    return st;
}

int cli_encode_for_model(const char *cmd, herd_engine *e, const char *tok_path,
                         const char *text_path, herd_tokens *toks, int32_t *bos)
{
    herd_tokenizer *own = NULL;
    const herd_tokenizer *tok = NULL;
    herd_status st =
        tok_path ? herd_tokenizer_load_file(tok_path, NULL, &own) : herd_engine_tokenizer(e, &tok);
    if (!st) {
        st = cli_encode_file(own ? own : tok, text_path, toks);
        *bos = herd_tokenizer_bos(own ? own : tok);
    }
    herd_tokenizer_free(own);
    if (st)
        return cli_status_error(cmd, st);
    int64_t V = herd_model_config(herd_engine_model(e))->vocab;
    for (size_t i = 0; i < toks->n; i++)
        if (toks->ids[i] < 0 || toks->ids[i] >= V)
            return cli_error(cmd, 1, "token id %d is outside the model's vocabulary (%lld)",
                             toks->ids[i], (long long)V);
    return 0;
}
