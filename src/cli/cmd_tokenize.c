/* herd tokenize: encode or decode text with a model's tokenizer (placeholder until its issue
 * lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd tokenize ...\n  encode or decode text with a model's tokenizer (not "
               "available yet: the tokenizer (issue 5))\n");
        return 0;
    }
    return cli_not_yet("tokenize", "the tokenizer (issue 5)");
}

const cli_command cli_cmd_tokenize = {"tokenize", "encode or decode text with a model's tokenizer",
                                      cmd_main};
