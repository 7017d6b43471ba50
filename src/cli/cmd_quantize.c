/* herd quantize: convert a checkpoint to GGUF in MX/int8/ggml types (placeholder until its issue
 * lands). */
#include "cli/cli.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: herd quantize ...\n  convert a checkpoint to GGUF in MX/int8/ggml types "
               "(not available yet: quantization (issue 6))\n");
        return 0;
    }
    return cli_not_yet("quantize", "quantization (issue 6)");
}

const cli_command cli_cmd_quantize = {
    "quantize", "convert a checkpoint to GGUF in MX/int8/ggml types", cmd_main};
