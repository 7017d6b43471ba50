/* herd bench gemm (placeholder until its issue lands). */
#include "cli/cli.h"

int bench_gemm_main(int argc, char **argv);
int bench_gemm_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_yet("bench gemm", "this benchmark");
}
