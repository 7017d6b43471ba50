/* Shared model options of `herd run` and `herd logits`. */
#include "cli/cli_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

void cli_model_args_init(cli_model_args *a)
{
    memset(a, 0, sizeof *a);
    herd_engine_opts_default(&a->engine);
}

void cli_model_args_free(cli_model_args *a)
{
    free(a->ids);
    a->ids = NULL;
}

bool cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int64_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) {
        cli_error(cmd, 1, "out of memory");
        return false;
    }
    int64_t k = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || (*end && *end != ',')) {
            free(v);
            cli_usage_error(cmd, "--ids: '%s' is not a comma-separated list of token ids", s);
            return false;
        }
        v[k++] = (int32_t)x;
        if (!*end)
            break;
        p = end + 1;
    }
    free(*ids);
    *ids = v;
    *n = k;
    return true;
}

int cli_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_args *a)
{
    const char *o = argv[*i], *v;
    long n;
    if (strcmp(o, "-m") == 0 || strcmp(o, "--model") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)))
            return -1;
        a->model = v;
    } else if (strcmp(o, "--ids") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)) || !cli_parse_ids(cmd, v, &a->ids, &a->n_ids))
            return -1;
    } else if (strcmp(o, "-t") == 0 || strcmp(o, "--threads") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)) || !cli_parse_long(cmd, o, v, 1, 1024, &n))
            return -1;
        a->engine.model.threads = (int)n;
    } else if (strcmp(o, "--ctx") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)) || !cli_parse_long(cmd, o, v, 1, INT32_MAX, &n))
            return -1;
        a->engine.ctx = n;
    } else if (strcmp(o, "--act") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)))
            return -1;
        if (strcmp(v, "f32") == 0)
            a->engine.model.aprep = HERD_APREP_EXACT;
        else if (strcmp(v, "auto") == 0)
            a->engine.model.aprep = HERD_APREP_AUTO;
        else {
            cli_usage_error(cmd, "--act: '%s' is not f32 or auto", v);
            return -1;
        }
    } else if (strcmp(o, "--dtype") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)))
            return -1;
        if (!herd_type_parse(v, &a->engine.model.dtype)) {
            cli_usage_error(cmd, "--dtype: unknown type '%s'", v);
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
}

int cli_model_parse(const char *cmd, int argc, char **argv, cli_model_args *a, const cli_opt *opts,
                    void (*usage)(FILE *))
{
    for (int i = 1; i < argc; i++) {
        int r = cli_model_option(cmd, argc, argv, &i, a);
        if (r == 0 && cli_is_help(argv[i])) {
            usage(stdout);
            return -1;
        }
        if (r == 0)
            r = cli_opt_take(cmd, argc, argv, &i, opts);
        if (r == 0)
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (r < 0)
            return 2;
    }
    return 0;
}

void cli_sampling_opts(cli_sampling *s, const herd_gen_params *g, long n_min, cli_opt *out)
{
    *s = (cli_sampling){g->n_predict,           g->sampler.top_k, (long)g->sampler.seed,
                        g->sampler.temperature, g->sampler.top_p, g->sampler.min_p};
    out[0] = (cli_opt){"-n", NULL, CLI_OPT_LONG, &s->n, (double)n_min, INT32_MAX};
    out[1] = (cli_opt){"--temp", NULL, CLI_OPT_DOUBLE, &s->temp, 0, 100};
    out[2] = (cli_opt){"--top-k", NULL, CLI_OPT_LONG, &s->top_k, 0, INT32_MAX};
    out[3] = (cli_opt){"--top-p", NULL, CLI_OPT_DOUBLE, &s->top_p, 1e-9, 1};
    out[4] = (cli_opt){"--min-p", NULL, CLI_OPT_DOUBLE, &s->min_p, 0, 1};
    out[5] = (cli_opt){"--seed", NULL, CLI_OPT_LONG, &s->seed, 0, (double)LONG_MAX};
}

void cli_sampling_apply(const cli_sampling *s, herd_gen_params *g)
{
    g->n_predict = s->n;
    g->sampler.top_k = s->top_k;
    g->sampler.seed = (uint64_t)s->seed;
    g->sampler.temperature = (float)s->temp;
    g->sampler.top_p = (float)s->top_p;
    g->sampler.min_p = (float)s->min_p;
}

int cli_load_engine(const char *cmd, cli_model_args *a, herd_engine **out)
{
    herd_status st = herd_engine_load(a->model, &a->engine, out);
    if (st)
        return cli_status_error(cmd, st);
    char plan[256];
    herd_engine_memory_plan(*out, plan, sizeof plan);
    fprintf(stderr, "herd %s: %s\n", cmd, plan);
    return 0;
}
