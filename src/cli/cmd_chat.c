/* herd chat: interactive multi-turn chat (placeholder until its issue lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd chat ...\n  interactive multi-turn chat (not available yet: the "
               "tokenizer and chat template (issue 5))\n");
        return 0;
    }
    return cli_not_yet("chat", "the tokenizer and chat template (issue 5)");
}

const cli_command cli_cmd_chat = {"chat", "interactive multi-turn chat", cmd_main};
