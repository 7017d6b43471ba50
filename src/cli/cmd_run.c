/* herd run: generate from a prompt (text from -p, -f or standard input, or token ids), streaming
 * the tokens as they are produced. */
#include "cli/cli_model.h"
#include "cli/cli_vision.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: herd run -m MODEL (-p TEXT | -p - | -f FILE | --ids 1,2,3) [-n N] [options]\n"
        "  generate up to N tokens after the prompt, printed as they are produced\n\n"
        "options:\n" CLI_MODEL_HELP_FAST
        "  -p, --prompt TEXT the prompt as text, encoded after <|begin_of_text|>; special-token\n"
        "                    text such as <|eot|> is honoured; -p - reads standard input\n"
        "  -f, --file FILE   the prompt from a text file\n"
        "  --ids LIST        the prompt as comma-separated token ids\n"
        "  --tokenizer FILE  tokenizer.json / .tiktoken / .gguf (default: the model's own)\n"
        "  -n N              tokens to generate (default 128; -1 = until a stop token or a\n"
        "                    full context); text generation also stops at an end-of-sequence\n"
        "                    id of the config or a stop token of the tokenizer (<|eot|>,\n"
        "                    <|eom|>, <|end_of_text|>)\n"
        "  --special         print special tokens (<|eot|>, ...) too (default: hidden)\n"
        "  --print-ids       print the generated ids (space separated) instead of text: exactly\n"
        "                    N ids, end-of-sequence ids included (the reference's greedy rule)\n"
        "  --ignore-eos      text generation does not stop at end-of-sequence ids either\n"
        "                    (also the fallback when the checkpoint has no tokenizer)\n"
        "  -v, --verbose     print the seed and the speed on stderr\n"
        "  --image IMG       a PNG or JPEG for the next <|image|> of the prompt (repeat for\n"
        "                    more); images the prompt does not place go right after the BOS\n"
        "  --mmproj FILE     llama.cpp-style projector GGUF holding the vision tower\n"
        "  control bytes in the text are printed as \\xNN, never raw\n\n" CLI_SAMPLING_HELP);
}

typedef struct run_state {
    bool first, print_ids;
} run_state;

static bool on_token(void *user, const herd_gen_token *t)
{
    run_state *s = user;
    if (t->text && !s->print_ids)
        cli_print_text(stdout, t->text, t->len);
    else if (t->id >= 0)
        printf(s->first ? "%d" : " %d", t->id);
    s->first &= t->id < 0;
    return herd_stdout_ok(); /* a full disk or a closed pipe stops the run */
}

static int cmd_main(int argc, char **argv)
{
    const char *cmd = "run", *text = NULL, *file = NULL, *tok_path = NULL;
    bool print_ids = false, ignore_eos = false, special = false, verbose = false;
    cli_model_args a;
    cli_model_args_init(&a);
    a.engine.model.aprep = HERD_APREP_AUTO; /* speed by default; --act f32 for exact */
    herd_gen_params g;
    herd_gen_params_default(&g);
    int rc = 0;
    cli_sampling smp;
    cli_opt opts[CLI_SAMPLING_OPTS + 8] = {{NULL}};
    cli_sampling_opts(&smp, &g, opts);
    cli_opt *o = opts + CLI_SAMPLING_OPTS;
    o[0] = (cli_opt){"-p", "--prompt", CLI_OPT_STR, &text, 0, 0};
    o[1] = (cli_opt){"-f", "--file", CLI_OPT_STR, &file, 0, 0};
    o[2] = (cli_opt){"--tokenizer", NULL, CLI_OPT_STR, &tok_path, 0, 0};
    o[3] = (cli_opt){"--print-ids", NULL, CLI_OPT_FLAG, &print_ids, 0, 0};
    o[4] = (cli_opt){"--ignore-eos", NULL, CLI_OPT_FLAG, &ignore_eos, 0, 0};
    o[5] = (cli_opt){"--special", NULL, CLI_OPT_FLAG, &special, 0, 0};
    o[6] = (cli_opt){"-v", "--verbose", CLI_OPT_FLAG, &verbose, 0, 0};
    cli_images im;
    rc = cli_model_parse_images(cmd, &argc, argv, &a, opts, usage, &im);
    if (rc < 0)
        return 0;
    uint64_t seed = cli_sampling_apply(&smp, &g);
    if (!rc && !a.model)
        rc = cli_usage_error(cmd, "-m MODEL is required");
    if (!rc && !!(text || file) == !!a.ids)
        rc = cli_usage_error(cmd, "give the prompt as one of -p TEXT, -p -, -f FILE or --ids");
    char *prompt_text = NULL;
    size_t prompt_len = 0;
    if (!rc && (text || file))
        rc = cli_read_prompt(cmd, text, file, &prompt_text, &prompt_len);
    /* The tokenizer comes before the model, so a missing one is said before a long load. */
    herd_tokenizer *own = NULL;
    if (!rc && tok_path) {
        herd_status st = herd_tokenizer_load_file(tok_path, NULL, &own);
        if (st)
            rc = cli_status_error(cmd, st);
    } else if (!rc && prompt_text) {
        herd_status st = herd_tokenizer_load_dir(a.model, &own);
        if (st)
            rc = cli_error(cmd, 1, "%s; give one with --tokenizer FILE", herd_last_error());
    }
    herd_engine *e = NULL;
    if (!rc)
        rc = cli_load_engine(cmd, &a, &e);
    if (!rc && verbose)
        fprintf(stderr, "herd run: seed %llu\n", (unsigned long long)seed);
    const herd_tokenizer *tok = own;
    herd_tokens prompt = {0};
    if (!rc && !tok && !print_ids && herd_engine_tokenizer(e, &tok))
        fprintf(stderr, "herd run: no tokenizer in %s; printing ids\n", a.model);
    int64_t vocab = rc ? 0 : herd_model_config(herd_engine_model(e))->vocab;
    if (!rc && tok && herd_tokenizer_vocab_size(tok) > vocab)
        rc = cli_error(cmd, 1,
                       "the tokenizer has %d ids, more than the model's vocabulary of %lld; give "
                       "the model's own",
                       herd_tokenizer_vocab_size(tok), (long long)vocab);
    if (!rc) {
        herd_status st = prompt_text
                             ? herd_tokenizer_encode(tok, prompt_text, prompt_len,
                                                     HERD_ENCODE_BOS | HERD_ENCODE_SPECIAL, &prompt)
                             : herd_tokens_append(&prompt, a.ids, (size_t)a.n_ids);
        if (st)
            rc = cli_status_error(cmd, st);
    }
    /* The library stops text runs at the config's eos ids and the tokenizer's stop set
       (<|eot|>, <|eom|>, <|end_of_text|>, generation_config.json's ids); a stop token is not
       text, but with --special it is shown like any special token. */
    g.ignore_eos = print_ids || ignore_eos;
    g.special = special;
    if (!rc) {
        run_state s = {true, print_ids || !tok};
        herd_gen_result res;
        const int32_t *pids = prompt.ids;
        int64_t pn = (int64_t)prompt.n;
        herd_status st = HERD_OK;
        int32_t *img_ids = NULL;
        float *img_embd = NULL;
        if (im.n > 0) { /* the expanded prompt; its <|patch|> rows are the images' features */
            herd_model *m = herd_engine_model(e);
            int r = cli_images_plan(cmd, a.model, tok, pids, pn, herd_model_config(m)->bos, &im);
            if (!r)
                r = cli_images_inputs(cmd, a.model, &a.engine.model, m, herd_engine_context(e), &im,
                                      &img_ids, &img_embd);
            if (r) {
                rc = r;
                st = HERD_ERR_ARG;
            }
            pids = img_ids;
            pn = im.n_ids;
            g.prompt_embd = img_embd;
        }
        if (!st)
            st = herd_generate(herd_engine_context(e), 0, tok, pids, pn, &g, on_token, &s, &res);
        herd_free(img_ids);
        herd_free(img_embd);
        if (!s.first)
            putchar('\n');
        fflush(stdout);
        if (st && !rc)
            rc = cli_status_error(cmd, st);
        else if (!st) {
            if (res.reason == HERD_STOP_CTX)
                fprintf(stderr, "herd run: stopped: the context of %lld tokens is full\n",
                        (long long)herd_kv_ctx(herd_engine_context(e)));
            double pf = res.prefill_seconds, dc = res.decode_seconds;
            herd_log(HERD_LOG_INFO,
                     "prefill %lld tokens in %.3f s (%.1f tok/s), decode %lld in %.3f s "
                     "(%.1f tok/s)",
                     (long long)res.n_prompt, pf, pf > 0 ? (double)res.n_prompt / pf : 0,
                     (long long)res.n_generated, dc,
                     dc > 0 ? (double)res.n_generated / dc : 0); /* each one is fed */
        }
    }
    herd_tokens_free(&prompt);
    herd_engine_free(e);
    herd_tokenizer_free(own);
    free(prompt_text);
    cli_model_args_free(&a);
    cli_images_free(&im);
    return rc;
}

const cli_command cli_cmd_run = {"run", "generate text from a model", cmd_main};
