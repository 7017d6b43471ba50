/* herd chat: an interactive multi-turn chat with the Llama 4 template. Each turn prefills only
 * what is new (the user's block and the assistant header, after the previous reply's last
 * token); the history stays in the KV cache. Replies stream as they are generated. Ctrl-C stops
 * a reply (and quits at the prompt), Ctrl-D quits. Input, the transcript and the speed line
 * live in chat_repl.c. Images (--image, /image) wait for the next message and go before its
 * text; their feature rows stay in the transcript beside their <|patch|> ids. */
#include "cli/chat_repl.h"
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
            "usage: herd chat -m MODEL [--system TEXT] [--image FILE] [options]\n"
            "  interactive chat: each input line is a user message; the reply streams back,\n"
            "  then its speed: [ Prompt: x t/s | Generation: y t/s ] (on stderr). The history\n"
            "  stays in the KV cache (only new text is prefilled); when the context is full the\n"
            "  oldest turns after the system prompt are dropped and the chat goes on. On a\n"
            "  terminal, lines are edited and recalled with the usual keys (libedit).\n\n"
            "at the prompt:\n");
    chat_print_help(f);
    fprintf(f,
            "\noptions:\n" CLI_MODEL_HELP_FAST "  --system TEXT     system prompt (default: none)\n"
            "  --tokenizer FILE  tokenizer.json or rank file (default: the model directory's)\n"
            "  -n N              at most N tokens per reply (default -1: until a stop token or\n"
            "                    the context is full)\n"
            "  --special         print special tokens too (default: hidden)\n"
            "  --image FILE      a PNG or JPEG for the first message (repeat for more); as\n"
            "                    /image FILE. The vision tower loads once, at the first image\n"
            "  --mmproj FILE     llama.cpp-style projector GGUF holding the vision tower\n"
            "  -v, --verbose     the seed, and per turn: tokens prefilled, cache size, reply\n"
            "                    length and why it stopped (on stderr)\n\n" CLI_SAMPLING_HELP);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct reply {
    herd_tokens ids; /* the reply's tokens, for the transcript */
    herd_status st;
} reply;

static bool on_token(void *user, const herd_gen_token *t)
{
    reply *r = user;
    if (t->id >= 0 && (r->st = herd_tokens_push(&r->ids, t->id)))
        return false;
    cli_print_text(stdout, t->text, t->len);
    return !interrupted && herd_stdout_ok(); /* a full disk or a closed pipe stops the reply */
}

static const char *stop_name(herd_stop_reason r)
{
    switch (r) {
    case HERD_STOP_LENGTH: return "length";
    case HERD_STOP_EOS: return "stop token";
    case HERD_STOP_STRING: return "stop string";
    case HERD_STOP_CTX: return "context full";
    case HERD_STOP_CALLBACK: return "interrupted";
    }
    return "?";
}

/* The chat's images: the tower (loaded at the first image) and those waiting for a message. */
typedef struct chat_vision {
    const char *model, *mmproj;
    const herd_model_opts *mo;
    bool verbose;
    cli_vision v;
    cli_image_rows *pending;
    int n_pending, cap_pending;
} chat_vision;

/* Decodes, preprocesses and encodes one image for the next message; false (said in one line)
 * when it cannot be used. */
static bool add_image(chat_vision *cv, herd_engine *e, const herd_tokenizer *tok, const char *path)
{
    herd_status st = HERD_OK;
    if (!cv->v.vm) {
        double t0 = herd_now();
        st = cli_vision_open(cv->model, cv->mmproj, tok, cv->mo, herd_engine_model(e),
                             herd_engine_context(e), &cv->v);
        if (!st && cv->verbose)
            fprintf(stderr, "herd chat: vision tower loaded in %.2f s\n", herd_now() - t0);
    }
    if (!st && cv->n_pending == cv->cap_pending) {
        int cap = cv->cap_pending ? cv->cap_pending * 2 : 4;
        cli_image_rows *p = realloc(cv->pending, sizeof *p * (size_t)cap);
        if (!p)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory");
        else {
            cv->pending = p;
            cv->cap_pending = cap;
        }
    }
    cli_image_rows r;
    if (!st)
        st = cli_vision_image(&cv->v, path, &r);
    if (st) {
        fprintf(stderr, "herd chat: %s\n", herd_last_error());
        return false;
    }
    cv->pending[cv->n_pending++] = r;
    fprintf(stderr, "herd chat: %s: %lld×%lld tiles, %lld rows; it goes with the next message\n",
            path, (long long)r.grid_rows, (long long)r.grid_cols, (long long)r.n_rows);
    return true;
}

static void drop_pending(chat_vision *cv)
{
    for (int i = 0; i < cv->n_pending; i++)
        cli_image_rows_free(&cv->pending[i]);
    cv->n_pending = 0;
}

/* The transcript (chat_repl.h) holds every token; the cache holds a prefix of it (generation
 * feeds every reply token, but the last one when the context filled up), and each turn
 * prefills the rest: <|eot|> when the reply was cut, the user block and the assistant header. A
 * full context drops the oldest turns and starts the cache over from the kept transcript. */
static int chat_loop(herd_engine *e, const herd_tokenizer *tok, const char *system,
                     herd_gen_params *g, bool verbose, chat_vision *cv, const cli_images *first)
{
    herd_context *kv = herd_engine_context(e);
    int64_t ctx = herd_kv_ctx(kv), hidden = herd_model_config(herd_engine_model(e))->hidden;
    /* room kept for a reply when old turns must go: a quarter of the context */
    int64_t room = ctx / 4 > 0 ? ctx / 4 : 1;
    chat_history h = {0};
    herd_status st = chat_history_begin(&h, tok, system);
    chat_input *in = chat_input_open();
    if (!in)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory");
    int rc = 0, turn = 0;
    for (int i = 0; i < first->n && !st; i++) /* --image: as /image before the first message */
        if (!add_image(cv, e, tok, first->paths[i]))
            rc = 1;
    while (!st) {
        interrupted = 0;
        if (!herd_stdout_ok())
            break; /* reported by main's final check */
        const char *msg = NULL;
        chat_cmd c = chat_input_next(in, &msg);
        if (c == CHAT_QUIT) {
            st = chat_input_error(in); /* a line over the limit, or end of input */
            break;
        }
        if (c == CHAT_CLEAR) {
            herd_kv_reset(kv);
            drop_pending(cv);
            st = chat_history_begin(&h, tok, system);
            fprintf(stderr, "herd chat: cleared; a new conversation starts\n");
            continue;
        }
        if (c == CHAT_IMAGE) {
            if (!add_image(cv, e, tok, msg))
                rc = 1; /* said; the chat goes on */
            continue;
        }
        if ((st = chat_history_add_user(&h, tok, msg, cv->pending, cv->n_pending, &cv->v.cfg)))
            break;
        cv->n_pending = 0; /* the transcript holds them now */
        if ((int64_t)h.toks.n + 1 > ctx) {
            size_t dropped = chat_history_fit(&h, ctx, room);
            if (dropped) { /* the cache no longer holds a prefix of the transcript */
                herd_kv_reset(kv);
                fprintf(stderr,
                        "herd chat: the context of %lld tokens is full: dropped the oldest %zu "
                        "turn%s (/clear starts over)\n",
                        (long long)ctx, dropped, dropped == 1 ? "" : "s");
            }
            if ((int64_t)h.toks.n + 1 > ctx) { /* the message alone does not fit */
                chat_history_drop_last(&h);
                fprintf(stderr,
                        "herd chat: the message does not fit the context of %lld tokens; "
                        "shorten it, /clear, or give a larger -c\n",
                        (long long)ctx);
                rc = 1;
                continue;
            }
        }
        if (herd_kv_pos(kv) > (int64_t)h.toks.n) /* never: the cache is a prefix of h */
            herd_kv_reset(kv);
        int64_t before = herd_kv_pos(kv);
        size_t n_new = h.toks.n - (size_t)before;
        int32_t *img_ids = NULL; /* with images in the new stretch: ids and their input rows */
        float *img_embd = NULL;
        if ((st = chat_history_inputs(&h, (size_t)before, hidden, &cv->v.cfg, &img_ids, &img_embd)))
            break;
        g->prompt_embd = img_embd;
        reply r = {0};
        herd_gen_result res;
        st = herd_generate(kv, 0, tok, img_ids ? img_ids : h.toks.ids + before, (int64_t)n_new, g,
                           on_token, &r, &res);
        g->prompt_embd = NULL;
        herd_free(img_ids);
        herd_free(img_embd);
        putchar('\n');
        fflush(stdout);
        if (!st)
            st = r.st;
        if (!st)
            st = herd_tokens_append(&h.toks, r.ids.ids, r.ids.n);
        herd_tokens_free(&r.ids);
        if (st)
            break;
        turn++;
        if (verbose)
            fprintf(stderr,
                    "herd chat: turn %d: prefilled %zu tokens (cache %lld -> %lld), reply %lld "
                    "tokens, %s\n",
                    turn, n_new, (long long)before, (long long)(before + (int64_t)n_new),
                    (long long)res.n_generated, stop_name(res.reason));
        chat_print_speed(stderr, &res);
        /* a reply cut short (length, Ctrl-C, full context) is closed with <|eot|> */
        if (res.reason != HERD_STOP_EOS)
            st = herd_tokens_push(&h.toks, herd_tokenizer_special_id(tok, "<|eot|>"));
        if (res.reason == HERD_STOP_CTX)
            fprintf(stderr,
                    "herd chat: the context of %lld tokens is full: the reply was cut; the "
                    "oldest turns make room for the next message\n",
                    (long long)ctx);
    }
    if (st)
        rc = cli_status_error(CMD, st);
    chat_input_close(in);
    chat_history_free(&h);
    drop_pending(cv);
    return rc;
}

static int cmd_main(int argc, char **argv)
{
    const char *system = NULL, *tok_path = NULL;
    bool verbose = false, special = false;
    cli_model_args a;
    cli_model_args_init(&a);
    a.engine.model.aprep = HERD_APREP_AUTO; /* speed by default; --act f32 for exact */
    herd_gen_params g;
    herd_gen_params_default(&g);
    g.n_predict = INT64_MAX;
    int rc = 0;
    cli_sampling smp;
    cli_opt opts[CLI_SAMPLING_OPTS + 5] = {{NULL}};
    cli_sampling_opts(&smp, &g, opts);
    opts[CLI_SAMPLING_OPTS] = (cli_opt){"--system", NULL, CLI_OPT_STR, &system, 0, 0};
    opts[CLI_SAMPLING_OPTS + 1] = (cli_opt){"--tokenizer", NULL, CLI_OPT_STR, &tok_path, 0, 0};
    opts[CLI_SAMPLING_OPTS + 2] = (cli_opt){"-v", "--verbose", CLI_OPT_FLAG, &verbose, 0, 0};
    opts[CLI_SAMPLING_OPTS + 3] = (cli_opt){"--special", NULL, CLI_OPT_FLAG, &special, 0, 0};
    cli_images im;
    rc = cli_model_parse_images(CMD, &argc, argv, &a, opts, usage, &im);
    if (rc < 0)
        return 0;
    uint64_t seed = cli_sampling_apply(&smp, &g);
    if (!rc && !a.model)
        rc = cli_usage_error(CMD, "-m MODEL is required");
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
        g.special = special;
        struct sigaction sa = {0}, old;
        sa.sa_handler = on_sigint; /* no SA_RESTART: Ctrl-C at the prompt ends the read */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, NULL, &old);
        if (old.sa_handler != SIG_IGN) /* ignored at start (a background job): stays ignored */
            sigaction(SIGINT, &sa, NULL);
        if (verbose)
            fprintf(stderr, "herd chat: seed %llu\n", (unsigned long long)seed);
        chat_vision cv = {
            .model = a.model, .mmproj = im.mmproj, .mo = &a.engine.model, .verbose = verbose};
        rc = chat_loop(e, tok, system, &g, verbose, &cv, &im);
        free(cv.pending);
        cli_vision_close(&cv.v);
        sigaction(SIGINT, &old, NULL);
    }
    herd_engine_free(e);
    herd_tokenizer_free(tok);
    cli_model_args_free(&a);
    cli_images_free(&im);
    return rc;
}

const cli_command cli_cmd_chat = {"chat", "interactive multi-turn chat", cmd_main};
