/* herd bench mx (placeholder until its issue lands). */
#include "cli/cli.h"

int bench_mx_main(int argc, char **argv);
int bench_mx_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_yet("bench mx", "this benchmark");
}
