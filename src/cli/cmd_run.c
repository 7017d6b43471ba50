/* herd run: generate text from a model (placeholder until its issue lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd run ...\n  generate text from a model (not available yet: the Llama 4 "
               "model (issue 4))\n");
        return 0;
    }
    return cli_not_yet("run", "the Llama 4 model (issue 4)");
}

const cli_command cli_cmd_run = {"run", "generate text from a model", cmd_main};
