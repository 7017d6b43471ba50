/* herd mx: MX format tools (mx cast) (placeholder until its issue lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd mx ...\n  MX format tools (mx cast) (not available yet: the MX formats "
               "(issue 2))\n");
        return 0;
    }
    return cli_not_yet("mx", "the MX formats (issue 2)");
}

const cli_command cli_cmd_mx = {"mx", "MX format tools (mx cast)", cmd_main};
