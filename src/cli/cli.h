/* Shared pieces of the `herd` command: the subcommand table and option helpers.
 * Exit codes: 0 success, 1 the work failed (bad file, bad data), 2 bad usage. */
#ifndef HERD_CLI_H
#define HERD_CLI_H

#include "herd/base.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_command {
    const char *name;
    const char *summary;                /* one line for `herd --help` */
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_command;

/* Every subcommand, defined in its own cmd_<name>.c. */
extern const cli_command cli_cmd_run, cli_cmd_chat, cli_cmd_logits, cli_cmd_tokenize,
    cli_cmd_quantize, cli_cmd_mx, cli_cmd_bench, cli_cmd_profile, cli_cmd_perplexity, cli_cmd_train,
    cli_cmd_tokenizer, cli_cmd_serve, cli_cmd_image;

/* Prints "herd CMD: MESSAGE" on one line to stderr and returns the exit code `code`. */
int cli_error(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the library's last error for a failed status; returns 1. */
int cli_status_error(const char *cmd, herd_status st);
/* "unknown option" / "missing value" helpers: return 2 after printing usage hint. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool cli_is_help(const char *arg); /* -h or --help */
/* Take the value of option argv[*i] (advancing *i); NULL (with message printed) if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* Parse numbers with full-string and range checks; on failure print and return false. */
bool cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
bool cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                      double *out);

/* A command's own options as a table, ended by an entry with name NULL. */
typedef enum cli_opt_kind {
    CLI_OPT_FLAG,   /* bool *: set to true */
    CLI_OPT_STR,    /* const char **: the value */
    CLI_OPT_LONG,   /* long *: in [min, max] */
    CLI_OPT_DOUBLE, /* double *: in [min, max] */
} cli_opt_kind;
typedef struct cli_opt {
    const char *name, *alias; /* alias may be NULL */
    cli_opt_kind kind;
    void *dst;
    double min, max;
} cli_opt;
/* Consumes argv[*i] (and its value) if the table has it: 1 taken, 0 not in the table, -1 usage
 * error (printed). */
int cli_opt_take(const char *cmd, int argc, char **argv, int *i, const cli_opt *opts);
/* A whole command line of table options: 0 to go on; -1 when -h/--help printed the usage
 * (exit 0); 2 on an unknown option or a bad value (one line printed). */
int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts,
                   void (*usage)(FILE *));

/* `herd mx table` (cmd_mx_table.c), reached through `herd mx`. */
int cli_mx_table(int argc, char **argv);

/* Checks before a long run that an output file can be made: its folder exists and is writable
 * and the path is not a folder. Returns 0, or 1 with "herd CMD: OPT PATH: why" printed. */
int cli_check_output(const char *cmd, const char *opt, const char *path);

/* Placeholder for commands whose issue is still open. */
int cli_not_yet(const char *cmd, const char *what);

#endif
