/* Option parsing and error printing shared by all subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "herd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_status_error(const char *cmd, herd_status st)
{
    const char *msg = herd_last_error();
    return cli_error(cmd, 1, "%s", *msg ? msg : herd_status_name(st));
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "herd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'herd %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        cli_usage_error(cmd, "%s: '%s' is not an integer", opt, s);
        return false;
    }
    if (v < min || v > max) {
        cli_usage_error(cmd, "%s: %ld is out of range %ld..%ld", opt, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v)) {
        cli_usage_error(cmd, "%s: '%s' is not a number", opt, s);
        return false;
    }
    if (v < min || v > max) {
        cli_usage_error(cmd, "%s: %g is out of range %g..%g", opt, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

static long to_long(double x) /* a table's bound, LONG_MAX-safe */
{
    return x >= (double)LONG_MAX ? LONG_MAX : x <= (double)LONG_MIN ? LONG_MIN : (long)x;
}

int cli_opt_take(const char *cmd, int argc, char **argv, int *i, const cli_opt *opts)
{
    const char *o = argv[*i];
    for (const cli_opt *p = opts; p->name; p++) {
        if (strcmp(o, p->name) != 0 && !(p->alias && strcmp(o, p->alias) == 0))
            continue;
        if (p->kind == CLI_OPT_FLAG) {
            *(bool *)p->dst = true;
            return 1;
        }
        const char *v = cli_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        if (p->kind == CLI_OPT_STR)
            *(const char **)p->dst = v;
        else if (p->kind == CLI_OPT_LONG &&
                 !cli_parse_long(cmd, o, v, to_long(p->min), to_long(p->max), (long *)p->dst))
            return -1;
        else if (p->kind == CLI_OPT_DOUBLE &&
                 !cli_parse_double(cmd, o, v, p->min, p->max, (double *)p->dst))
            return -1;
        return 1;
    }
    return 0;
}

int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts,
                   void (*usage)(FILE *))
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return -1;
        }
        int r = cli_opt_take(cmd, argc, argv, &i, opts);
        if (r == 0)
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (r < 0)
            return 2;
    }
    return 0;
}

int cli_not_yet(const char *cmd, const char *what)
{
    return cli_error(cmd, 2, "not available yet: %s", what);
}

int cli_check_output(const char *cmd, const char *opt, const char *path)
{
    struct stat sb;
    if (!*path)
        return cli_error(cmd, 1, "%s: the path is empty", opt);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error(cmd, 1, "%s %s: is a directory; give a file name", opt, path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return cli_error(cmd, 1, "%s %s: the path is too long", opt, path);
    if (!slash || n == 0) /* "x" lives in ".", "/x" in "/" */
        snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)n, path);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_error(cmd, 1, "%s %s: no such directory '%s'", opt, path, dir);
    if (access(dir, W_OK) != 0)
        return cli_error(cmd, 1, "%s %s: the directory '%s' is not writable", opt, path, dir);
    return 0;
}
