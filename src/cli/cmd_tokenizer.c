/* herd tokenizer train: a byte-level BPE tokenizer (Llama 4 pattern and specials) from text. */
#include "cli/cli.h"
#include "herd/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "tokenizer"

static const char usage[] =
    "usage: herd tokenizer train --vocab N --data TEXT -o tokenizer.json\n"
    "  Trains a byte-level BPE tokenizer of N ids on TEXT: the 256 bytes, N - 267 merges of the\n"
    "  most frequent pairs (pieces split by the Llama 4 pre-tokenizer pattern) and the 11 Llama 4\n"
    "  special tokens (<|begin_of_text|>, <|end_of_text|>, ..., <|eot|>). The tokenizer.json is\n"
    "  loadable by herd (--vocab, herd train) and by Hugging Face tokenizers.\n";

static void print_usage(FILE *f)
{
    fputs(usage, f);
}

static int tokenizer_main(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "train") != 0)
        return cli_usage_error(CMD, "unknown subcommand '%s' (train)", argv[1]);
    long vocab = 0;
    const char *data = NULL, *out = NULL;
    const cli_opt opts[] = {
        {"--vocab", NULL, CLI_OPT_LONG, &vocab, 267, 1000000},
        {"--data", NULL, CLI_OPT_STR, &data, 0, 0},
        {"-o", "--out", CLI_OPT_STR, &out, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int r = cli_parse_opts(CMD, argc - 1, argv + 1, opts, print_usage);
    if (r)
        return r < 0 ? 0 : r;
    if (!vocab || !data || !out)
        return cli_usage_error(CMD, "--vocab, --data and -o are required");
    herd_mapped_file f;
    herd_status st = herd_map_file(data, &f);
    if (!st) {
        st = herd_bpe_train((const char *)f.data, f.size, (int32_t)vocab, out, isatty(2));
        herd_unmap_file(&f);
    }
    if (st)
        return cli_status_error(CMD, st);
    fprintf(stderr, "herd tokenizer: wrote %s\n", out);
    return 0;
}

const cli_command cli_cmd_tokenizer = {"tokenizer", "train a byte-level BPE tokenizer on text",
                                       tokenizer_main};
