/* herd perplexity: measure perplexity of a model on a text file (placeholder until its issue
 * lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd perplexity ...\n  measure perplexity of a model on a text file (not "
               "available yet: quantization (issue 6))\n");
        return 0;
    }
    return cli_not_yet("perplexity", "quantization (issue 6)");
}

const cli_command cli_cmd_perplexity = {"perplexity",
                                        "measure perplexity of a model on a text file", cmd_main};
