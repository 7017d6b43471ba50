/* herd: the command-line front end. Each subcommand lives in cmd_<name>.c. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_command *const commands[] = {
    &cli_cmd_run,       &cli_cmd_chat,  &cli_cmd_logits,  &cli_cmd_tokenize,   &cli_cmd_quantize,
    &cli_cmd_mx,        &cli_cmd_bench, &cli_cmd_profile, &cli_cmd_perplexity, &cli_cmd_train,
    &cli_cmd_tokenizer, &cli_cmd_serve, &cli_cmd_image,
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out)
{
    fprintf(out,
            "herd %s: Llama 4 mixture-of-experts inference on CPUs, with MX and int8 kernels\n\n"
            "usage: herd COMMAND [OPTIONS]   (herd COMMAND --help for its options)\n\n"
            "commands:\n",
            HERD_VERSION);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\noptions:\n"
            "  -V, --version  print the version and this CPU's instruction set\n"
            "  -h, --help     this text (herd help COMMAND: that command's)\n"
            "\nenvironment:\n"
            "  HERD_ISA=ref|avx2|avx512|avx512vnni|avx512bf16   use at most this instruction set\n"
            "  HERD_LOG=error|warn|info|debug                   how much to say on stderr\n");
}

/* A mistyped HERD_ISA or HERD_LOG would silently run with the defaults: say so and stop. */
static bool env_ok(void)
{
    const char *isa = getenv("HERD_ISA"), *log = getenv("HERD_LOG");
    herd_isa_level l;
    if (isa && *isa && !herd_isa_parse(isa, &l)) {
        fprintf(stderr,
                "herd: HERD_ISA='%s' is not one of ref, avx2, avx512, avx512vnni, "
                "avx512bf16\n",
                isa);
        return false;
    }
    if (log && *log && strcmp(log, "error") && strcmp(log, "warn") && strcmp(log, "info") &&
        strcmp(log, "debug")) {
        fprintf(stderr, "herd: HERD_LOG='%s' is not one of error, warn, info, debug\n", log);
        return false;
    }
    return true;
}

/* Standard output is checked once more at the end (flush and close): output lost to a full
 * disk, an I/O error or a closed pipe fails the command, with one line. */
static int finish(const char *cmd, int rc)
{
    int err = herd_stdout_close();
    if (err && rc == 0)
        return cli_error(cmd, 1, "standard output: %s", strerror(err));
    return rc;
}

int main(int argc, char **argv)
{
    herd_atomic_install_signal_cleanup(); /* a killed writer leaves no temporary file */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2) /* herd help CMD = herd CMD --help */
        for (int i = 0; i < NCOMMANDS; i++)
            if (strcmp(argv[2], commands[i]->name) == 0) {
                char *help_argv[] = {argv[2], "--help", NULL};
                return commands[i]->main(2, help_argv);
            }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return finish("help", 0);
    }
    if (!env_ok())
        return 2;
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
        strcmp(argv[1], "version") == 0) {
        printf("herd %s (cpu: %s)\n", HERD_VERSION, herd_isa_name(herd_cpu_isa()));
        return finish("version", 0);
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return finish(commands[i]->name, commands[i]->main(argc - 1, argv + 1));
    fprintf(stderr, "herd: unknown command '%s' (see 'herd --help')\n", argv[1]);
    return 2;
}
