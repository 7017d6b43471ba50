/* herd bench model (placeholder until its issue lands). */
#include "cli/cli.h"

int bench_model_main(int argc, char **argv);
int bench_model_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_yet("bench model", "this benchmark");
}
