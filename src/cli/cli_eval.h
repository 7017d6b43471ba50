/* Scoring a model on chunks of tokens, shared by `herd perplexity` and `herd mx table`:
 * llama.cpp's chunked perplexity (each chunk starts with BOS, its second half is scored) and,
 * against a base model on the same chunks, KL(base || model) and top-1 agreement. */
#ifndef HERD_CLI_EVAL_H
#define HERD_CLI_EVAL_H

#include "cli/cli_model.h"

typedef struct cli_scores {
    double nll, nll2;
    int64_t count, agree;
    double *kl; /* per scored token, when there is a base */
    size_t kl_cap;
} cli_scores;

typedef struct cli_summary {
    double ppl, ppl_err, kl_mean, kl_p99, top1;
} cli_summary;

/* Scores n_chunks chunks of n_ctx tokens of ids (bos < 0: keep the first token); base may be
 * NULL. progress: print "[k]ppl," after each chunk on stdout. */
herd_status cli_score_chunks(herd_engine *e, herd_engine *base, const int32_t *ids,
                             int64_t n_chunks, int64_t n_ctx, int32_t bos, bool progress,
                             cli_scores *s);
void cli_scores_summary(cli_scores *s, cli_summary *out); /* sorts s->kl */
void cli_scores_free(cli_scores *s);

/* Reads a text file and encodes it with BOS; *toks must start empty. */
herd_status cli_encode_file(const herd_tokenizer *tok, const char *path, herd_tokens *toks);
/* Encodes text_path with the tokenizer file tok_path, or with e's own when NULL, checks that
 * every id is inside e's vocabulary and gives the tokenizer's BOS id. Returns an exit code (0,
 * or 1 with the message printed). */
int cli_encode_for_model(const char *cmd, herd_engine *e, const char *tok_path,
                         const char *text_path, herd_tokens *toks, int32_t *bos);

#endif
