/* herd profile: per-op time, FLOPs, bytes and a roofline plot (placeholder until its issue lands).
 */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd profile ...\n  per-op time, FLOPs, bytes and a roofline plot (not "
               "available yet: profiling (issue 8))\n");
        return 0;
    }
    return cli_not_yet("profile", "profiling (issue 8)");
}

const cli_command cli_cmd_profile = {"profile", "per-op time, FLOPs, bytes and a roofline plot",
                                     cmd_main};
