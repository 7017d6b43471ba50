/* herd run: generate from a prompt of token ids (or text, once the tokenizer lands), streaming
 * the tokens as they are produced. */
#include "cli/cli_model.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: herd run -m DIR (--ids 1,2,3 | -p TEXT) -n N [options]\n"
        "  generate N tokens after the prompt, printed as they are produced\n\n"
        "options:\n" CLI_MODEL_HELP "  --ids LIST        the prompt as comma-separated token ids\n"
        "  -p TEXT           the prompt as text, encoded with the checkpoint's tokenizer after\n"
        "                    <|begin_of_text|>; special-token text such as <|eot|> is honoured\n"
        "  -n N              tokens to generate (default 128); text generation also stops at an\n"
        "                    end-of-sequence id of the config or stop token of the tokenizer\n"
        "                    (<|eot|>, <|eom|>, <|end_of_text|>); any run stops when the context\n"
        "                    is full\n"
        "  --print-ids       print the generated ids (space separated) instead of text: exactly\n"
        "                    N ids, end-of-sequence ids included (the reference's greedy rule)\n"
        "  --ignore-eos      text generation does not stop at end-of-sequence ids either\n"
        "                    (also the fallback when the checkpoint has no tokenizer)\n\n"
        "sampling, applied in this order:\n"
        "  --temp T          1. temperature: logits / T (default 0.6); 0 = greedy argmax,\n"
        "                       which skips the steps below\n"
        "  --top-k K         2. keep the K most likely tokens (default 0 = off)\n"
        "  --top-p P         3. keep the smallest set reaching probability P (default 0.9)\n"
        "  --min-p P         4. drop tokens below P x the top probability (default 0 = off)\n"
        "  --seed S          5. the draw from what is left uses this seed (default 0)\n");
}

typedef struct run_state {
    bool first;
    const int32_t *stop; /* ids that end a text run; they are not printed as text */
    size_t n_stop;
    herd_decoder *dec; /* NULL: print ids */
    herd_status st;
} run_state;

static bool on_token(void *user, int32_t tok)
{
    run_state *s = user;
    bool stop = false;
    for (size_t i = 0; i < s->n_stop; i++)
        stop |= s->stop[i] == tok;
    if (s->dec && stop) {
        /* the end-of-turn token is not part of the text */
    } else if (s->dec) {
        const char *text;
        size_t len;
        s->st = herd_decoder_push(s->dec, tok, &text, &len);
        if (s->st)
            return false;
        fwrite(text, 1, len, stdout);
    } else {
        printf(s->first ? "%d" : " %d", tok);
    }
    s->first = false;
    fflush(stdout);
    return true;
}

static int cmd_main(int argc, char **argv)
{
    const char *cmd = "run", *text = NULL;
    bool print_ids = false, ignore_eos = false;
    cli_model_args a;
    cli_model_args_init(&a);
    herd_gen_params g = {.n_predict = 128};
    herd_sampler_params_default(&g.sampler);
    int rc = 0;
    cli_sampling smp;
    cli_opt opts[CLI_SAMPLING_OPTS + 4] = {{NULL}};
    cli_sampling_opts(&smp, &g, 0, opts);
    opts[CLI_SAMPLING_OPTS] = (cli_opt){"-p", "--prompt", CLI_OPT_STR, &text, 0, 0};
    opts[CLI_SAMPLING_OPTS + 1] = (cli_opt){"--print-ids", NULL, CLI_OPT_FLAG, &print_ids, 0, 0};
    opts[CLI_SAMPLING_OPTS + 2] = (cli_opt){"--ignore-eos", NULL, CLI_OPT_FLAG, &ignore_eos, 0, 0};
    rc = cli_model_parse(cmd, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    cli_sampling_apply(&smp, &g);
    if (!rc && !a.model)
        rc = cli_usage_error(cmd, "-m DIR is required");
    if (!rc && !!text == !!a.ids)
        rc = cli_usage_error(cmd, "give the prompt as either --ids or -p");
    herd_engine *e = NULL;
    if (!rc)
        rc = cli_load_engine(cmd, &a, &e);
    const herd_tokenizer *tok = NULL;
    herd_tokens prompt = {0};
    herd_decoder dec;
    bool have_dec = false;
    if (!rc && (text || !print_ids)) {
        herd_status st = herd_engine_tokenizer(e, &tok);
        if (st && text)
            rc = cli_status_error(cmd, st);
        else if (st)
            fprintf(stderr, "herd run: no tokenizer in %s; printing ids\n", a.model);
    }
    if (!rc) {
        herd_status st = text
                             ? herd_tokenizer_encode(tok, text, strlen(text),
                                                     HERD_ENCODE_BOS | HERD_ENCODE_SPECIAL, &prompt)
                             : herd_tokens_append(&prompt, a.ids, (size_t)a.n_ids);
        if (st)
            rc = cli_status_error(cmd, st);
    }
    if (!rc && tok && !print_ids) {
        herd_decoder_init(&dec, tok, 0);
        have_dec = true;
    }
    static const int32_t no_stop[1] = {-1};
    int32_t stop[64]; /* text runs end at the config's eos ids and the tokenizer's stop set
                         (<|eot|>, <|eom|>, <|end_of_text|>, generation_config.json's ids) */
    size_t n_stop = 0;
    if (!rc) {
        const herd_llama4_config *cfg = herd_model_config(herd_engine_model(e));
        for (int i = 0; i < cfg->n_eos && n_stop < 64; i++)
            stop[n_stop++] = cfg->eos[i];
        const int32_t *tstop = NULL;
        size_t nt = tok ? herd_tokenizer_stop_ids(tok, &tstop) : 0;
        for (size_t i = 0; i < nt && n_stop < 64; i++) {
            bool dup = false;
            for (size_t j = 0; j < n_stop; j++)
                dup |= stop[j] == tstop[i];
            if (!dup)
                stop[n_stop++] = tstop[i];
        }
    }
    if (print_ids || ignore_eos) { /* a non-NULL empty list: nothing stops the run early */
        g.stop_ids = no_stop;
        g.n_stop = 0;
    } else if (!rc) {
        g.stop_ids = stop;
        g.n_stop = (int)n_stop;
    }
    if (!rc) {
        run_state s = {true, stop, print_ids || ignore_eos ? 0 : n_stop, have_dec ? &dec : NULL,
                       HERD_OK};
        herd_gen_result res;
        herd_status st =
            herd_engine_generate(e, prompt.ids, (int64_t)prompt.n, &g, on_token, &s, &res);
        if (have_dec) {
            const char *rest;
            size_t len;
            herd_decoder_finish(&dec, &rest, &len);
            fwrite(rest, 1, len, stdout);
        }
        if (!s.first)
            putchar('\n');
        fflush(stdout);
        if (!st)
            st = s.st;
        if (st)
            rc = cli_status_error(cmd, st);
        else {
            if (res.reason == HERD_STOP_CTX)
                fprintf(stderr, "herd run: stopped: the context of %lld tokens is full\n",
                        (long long)herd_kv_ctx(herd_engine_cache(e)));
            double pf = res.prefill_seconds, dc = res.decode_seconds;
            herd_log(HERD_LOG_INFO,
                     "prefill %lld tokens in %.3f s (%.1f tok/s), decode %lld in %.3f s "
                     "(%.1f tok/s)",
                     (long long)res.n_prompt, pf, pf > 0 ? (double)res.n_prompt / pf : 0,
                     (long long)res.n_generated, dc,
                     dc > 0 ? (double)(res.n_generated > 0 ? res.n_generated - 1 : 0) / dc : 0);
        }
    }
    if (have_dec)
        herd_decoder_free(&dec);
    herd_tokens_free(&prompt);
    herd_engine_free(e);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_run = {"run", "generate text from a model", cmd_main};
