/* herd chat: an interactive multi-turn chat with the Llama 4 template. Each turn prefills only
 * what is new (the user's block and the assistant header, after the previous reply's last
 * token); the history stays in the KV cache. Replies stream as they are generated. Ctrl-C stops
 * a reply (and quits at the prompt), Ctrl-D quits. */
#include "cli/cli_model.h"
#include "herd/text.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "chat"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd chat -m DIR [--system TEXT] [options]\n"
            "  interactive chat: each input line is a user message; the reply streams back.\n"
            "  The history stays in the KV cache (only new text is prefilled). Ctrl-C stops a\n"
            "  reply, Ctrl-C at the prompt or Ctrl-D (end of input) quits.\n\n"
            "options:\n" CLI_MODEL_HELP "  --system TEXT     system prompt (default: none)\n"
            "  --tokenizer FILE  tokenizer.json or rank file (default: the model directory's)\n"
            "  -n N              at most N tokens per reply (default: until a stop token or the\n"
            "                    context is full)\n"
            "  --temp T, --top-k K, --top-p P, --min-p P, --seed S\n"
            "                    sampling, as in herd run (defaults: 0.6, off, 0.9, off, 0)\n"
            "  -v, --verbose     per turn on stderr: tokens prefilled, cache size, reply length\n");
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct reply {
    herd_decoder dec;
    const herd_tokenizer *tok;
    int32_t last;
    herd_status st;
} reply;

static bool on_token(void *user, int32_t id)
{
    reply *r = user;
    r->last = id;
    if (!herd_tokenizer_is_stop(r->tok, id)) {
        const char *text;
        size_t len;
        if ((r->st = herd_decoder_push(&r->dec, id, &text, &len)))
            return false;
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
    return !interrupted;
}

static const char *stop_name(herd_stop_reason r)
{
    switch (r) {
    case HERD_STOP_LENGTH: return "length";
    case HERD_STOP_EOS: return "stop token";
    case HERD_STOP_CTX: return "context full";
    case HERD_STOP_CALLBACK: return "interrupted";
    }
    return "?";
}

/* Reads one line without its line end; false at end of input or on Ctrl-C. */
static bool read_line(char **line, size_t *cap)
{
    errno = 0;
    ssize_t n = getline(line, cap, stdin);
    if (n < 0)
        return false;
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = 0;
    return true;
}

static int chat_loop(herd_engine *e, const herd_tokenizer *tok, const char *system,
                     herd_gen_params *g, bool verbose)
{
    herd_kv_cache *kv = herd_engine_cache(e);
    herd_tokens pending = {0};
    herd_status st = herd_chat_begin(tok, system, &pending);
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0, turn = 0;
    while (!st && !rc) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        interrupted = 0;
        if (!read_line(&line, &cap)) {
            if (tty)
                putchar('\n');
            break; /* Ctrl-D, Ctrl-C at the prompt, or the end of piped input */
        }
        if (!line[0])
            continue;
        if ((st = herd_chat_add_message(tok, "user", line, &pending)) ||
            (st = herd_chat_add_generation_prompt(tok, &pending)))
            break;
        int64_t before = herd_kv_pos(kv);
        reply r = {.tok = tok, .last = -1};
        herd_decoder_init(&r.dec, tok, 0);
        herd_gen_result res;
        st = herd_generate(herd_engine_model(e), kv, pending.ids, (int64_t)pending.n, g, on_token,
                           &r, &res);
        const char *rest;
        size_t len;
        herd_decoder_finish(&r.dec, &rest, &len);
        fwrite(rest, 1, len, stdout);
        putchar('\n');
        fflush(stdout);
        herd_decoder_free(&r.dec);
        if (!st)
            st = r.st;
        if (st)
            break;
        turn++;
        if (verbose)
            fprintf(stderr,
                    "herd chat: turn %d: prefilled %zu tokens (cache %lld -> %lld), reply %lld "
                    "tokens, %s\n",
                    turn, pending.n, (long long)before, (long long)(before + (int64_t)pending.n),
                    (long long)res.n_generated, stop_name(res.reason));
        /* The reply's last token was sampled but not yet run: it starts the next prefill. A
         * reply cut short (length, Ctrl-C) is closed with <|eot|>. */
        pending.n = 0;
        if (r.last >= 0)
            st = herd_tokens_push(&pending, r.last);
        if (!st && res.reason != HERD_STOP_EOS)
            st = herd_tokens_push(&pending, herd_tokenizer_special_id(tok, "<|eot|>"));
        if (res.reason == HERD_STOP_CTX)
            rc = cli_error(CMD, 1,
                           "the context of %lld tokens is full; start a new chat "
                           "(or give a larger --ctx)",
                           (long long)herd_kv_ctx(kv));
    }
    if (st)
        rc = cli_status_error(CMD, st);
    free(line);
    herd_tokens_free(&pending);
    return rc;
}

static int cmd_main(int argc, char **argv)
{
    const char *system = NULL, *tok_path = NULL;
    bool verbose = false;
    cli_model_args a;
    cli_model_args_init(&a);
    herd_gen_params g = {.n_predict = INT64_MAX};
    herd_sampler_params_default(&g.sampler);
    int rc = 0;
    cli_sampling smp;
    cli_opt opts[CLI_SAMPLING_OPTS + 4] = {{NULL}};
    cli_sampling_opts(&smp, &g, opts);
    opts[CLI_SAMPLING_OPTS] = (cli_opt){"--system", NULL, CLI_OPT_STR, &system, 0, 0};
    opts[CLI_SAMPLING_OPTS + 1] = (cli_opt){"--tokenizer", NULL, CLI_OPT_STR, &tok_path, 0, 0};
    opts[CLI_SAMPLING_OPTS + 2] = (cli_opt){"-v", "--verbose", CLI_OPT_FLAG, &verbose, 0, 0};
    rc = cli_model_parse(CMD, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    cli_sampling_apply(&smp, &g);
    if (!rc && !a.model)
        rc = cli_usage_error(CMD, "-m DIR is required");
    if (!rc && a.ids)
        rc = cli_usage_error(CMD, "--ids does not apply to chat (type the messages)");
    herd_tokenizer *tok = NULL;
    herd_status st = HERD_OK;
    if (!rc) {
        st = tok_path ? herd_tokenizer_load_file(tok_path, NULL, &tok)
                      : herd_tokenizer_load_dir(a.model, &tok);
        if (st)
            rc = cli_status_error(CMD, st);
    }
    herd_engine *e = NULL;
    if (!rc)
        rc = cli_load_engine(CMD, &a, &e);
    if (!rc) {
        const int32_t *stops;
        g.n_stop = (int)herd_tokenizer_stop_ids(tok, &stops);
        g.stop_ids = stops;
        struct sigaction sa = {0}, old;
        sa.sa_handler = on_sigint; /* no SA_RESTART: Ctrl-C at the prompt ends getline */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old);
        rc = chat_loop(e, tok, system, &g, verbose);
        sigaction(SIGINT, &old, NULL);
    }
    herd_engine_free(e);
    herd_tokenizer_free(tok);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_chat = {"chat", "interactive multi-turn chat", cmd_main};
