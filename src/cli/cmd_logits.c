/* herd logits: write the logits of a token sequence to .npy (placeholder until its issue lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd logits ...\n  write the logits of a token sequence to .npy (not "
               "available yet: the Llama 4 model (issue 4))\n");
        return 0;
    }
    return cli_not_yet("logits", "the Llama 4 model (issue 4)");
}

const cli_command cli_cmd_logits = {"logits", "write the logits of a token sequence to .npy",
                                    cmd_main};
