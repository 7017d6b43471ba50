/* Shared model options of `herd run` and `herd logits`. */
#include "cli/cli_model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

bool cli_parse_act(const char *cmd, const char *v, herd_aprep *out)
{
    if (strcmp(v, "f32") && strcmp(v, "auto")) {
        cli_usage_error(cmd, "--act: '%s' is not f32 or auto", v);
        return false;
    }
    *out = strcmp(v, "auto") == 0 ? HERD_APREP_AUTO : HERD_APREP_EXACT;
    return true;
}

bool cli_parse_cache_type(const char *cmd, const char *opt, const char *name, herd_type *out)
{
    if (herd_kv_type_parse(name, out))
        return true;
    cli_usage_error(cmd, "%s: unknown KV cache type '%s' (valid: %s)", opt, name,
                    herd_kv_type_names());
    return false;
}

int cli_cache_type_option(const char *cmd, int argc, char **argv, int *i, herd_type *k,
                          herd_type *v)
{
    const char *o = argv[*i], *val;
    bool is_k = strcmp(o, "--cache-type-k") == 0 || strcmp(o, "-ctk") == 0;
    bool is_v = strcmp(o, "--cache-type-v") == 0 || strcmp(o, "-ctv") == 0;
    if (!is_k && !is_v)
        return 0;
    if (!(val = cli_value(cmd, argc, argv, i)))
        return -1;
    return cli_parse_cache_type(cmd, o, val, is_k ? k : v) ? 1 : -1;
}

int cli_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_args *a)
{
    int ct = cli_cache_type_option(cmd, argc, argv, i, &a->engine.type_k, &a->engine.type_v);
    if (ct)
        return ct;
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
    } else if (strcmp(o, "--ctx") == 0 || strcmp(o, "-c") == 0 || strcmp(o, "--ctx-size") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)) || !cli_parse_long(cmd, o, v, 1, INT32_MAX, &n))
            return -1;
        a->engine.ctx = n;
    } else if (strcmp(o, "--act") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)) || !cli_parse_act(cmd, v, &a->engine.model.aprep))
            return -1;
    } else if (strcmp(o, "--dtype") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i)))
            return -1;
        if (!herd_type_parse(v, &a->engine.model.dtype)) {
            cli_usage_error(cmd, "--dtype: unknown type '%s' (valid: %s)", v, herd_type_names());
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
}

const char *cli_default_model(void)
{
    static char path[4200];
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *const rel[] = {"../share/herd/kjv/model.gguf", "../models/kjv/model.gguf"};
    for (int i = 0; i < 2 && n > 0; i++) {
        snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
        if (access(path, R_OK) == 0)
            return path;
    }
#ifdef HERD_SOURCE_DIR
    snprintf(path, sizeof path, "%s/models/kjv/model.gguf", HERD_SOURCE_DIR);
    if (access(path, R_OK) == 0)
        return path;
#endif
    return NULL;
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
    if (!a->model) /* no -m: the built-in model, when there is one */
        a->model = cli_default_model();
    return 0;
}

void cli_sampling_opts(cli_sampling *s, const herd_gen_params *g, cli_opt *out)
{
    const herd_sampler_params *p = &g->sampler;
    *s = (cli_sampling){.n = g->n_predict >= INT32_MAX ? -1 : (long)g->n_predict,
                        .top_k = p->top_k,
                        .seed = -1,
                        .last_n = p->repeat_last_n,
                        .temp = p->temperature,
                        .top_p = p->top_p,
                        .min_p = p->min_p,
                        .repeat = p->repeat_penalty,
                        .presence = p->presence_penalty,
                        .frequency = p->frequency_penalty};
    out[0] = (cli_opt){"-n", "--n-predict", CLI_OPT_LONG, &s->n, -1, INT32_MAX};
    out[1] = (cli_opt){"--temp", NULL, CLI_OPT_DOUBLE, &s->temp, 0, 100};
    out[2] = (cli_opt){"--top-k", NULL, CLI_OPT_LONG, &s->top_k, 0, INT32_MAX};
    out[3] = (cli_opt){"--top-p", NULL, CLI_OPT_DOUBLE, &s->top_p, 1e-9, 1};
    out[4] = (cli_opt){"--min-p", NULL, CLI_OPT_DOUBLE, &s->min_p, 0, 1};
    out[5] = (cli_opt){"-s", "--seed", CLI_OPT_LONG, &s->seed, -1, (double)LONG_MAX};
    out[6] = (cli_opt){"--repeat-penalty", NULL, CLI_OPT_DOUBLE, &s->repeat, 0, 100};
    out[7] = (cli_opt){"--repeat-last-n", NULL, CLI_OPT_LONG, &s->last_n, -1, INT32_MAX};
    out[8] = (cli_opt){"--presence-penalty", NULL, CLI_OPT_DOUBLE, &s->presence, -100, 100};
    out[9] = (cli_opt){"--frequency-penalty", NULL, CLI_OPT_DOUBLE, &s->frequency, -100, 100};
}

static uint64_t random_seed(void)
{
    uint64_t x;
    if (getrandom(&x, sizeof x, 0) == (ssize_t)sizeof x)
        return x & (uint64_t)LONG_MAX; /* printable and repeatable as -s */
    struct timespec ts; /* no entropy source: the clock and the process still differ per run */
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec ^
            (uint64_t)getpid() << 32) &
           (uint64_t)LONG_MAX;
}

uint64_t cli_sampling_apply(const cli_sampling *s, herd_gen_params *g)
{
    herd_sampler_params *p = &g->sampler;
    g->n_predict = s->n < 0 ? INT64_MAX : s->n;
    p->top_k = s->top_k;
    p->seed = s->seed < 0 ? random_seed() : (uint64_t)s->seed;
    p->temperature = (float)s->temp;
    p->top_p = (float)s->top_p;
    p->min_p = (float)s->min_p;
    p->repeat_penalty = (float)s->repeat;
    p->repeat_last_n = s->last_n;
    p->presence_penalty = (float)s->presence;
    p->frequency_penalty = (float)s->frequency;
    return p->seed;
}

/* The longest prompt read from a file or standard input (docs/SECURITY.md). */
#define PROMPT_MAX ((size_t)64 << 20)

static char *read_all(FILE *f, size_t *len, bool *io_error, bool *too_long)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        if (n > PROMPT_MAX) { /* < /dev/zero must not fill the memory */
            *too_long = true;
            free(buf);
            return NULL;
        }
        char *b = realloc(buf, cap * 2);
        if (!b)
            free(buf);
        buf = b;
        cap *= 2;
    }
    *io_error = ferror(f) != 0;
    if (buf && *io_error) {
        free(buf);
        return NULL;
    }
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

int cli_read_prompt(const char *cmd, const char *text, const char *file, char **out, size_t *len)
{
    *out = NULL;
    if (text && file)
        return cli_usage_error(cmd, "give the prompt as one of -p TEXT, -p - or -f FILE");
    if (text && strcmp(text, "-") != 0) {
        *len = strlen(text);
        *out = strdup(text);
        return *out ? 0 : cli_error(cmd, 1, "out of memory");
    }
    const char *what = file ? file : "standard input";
    FILE *f = stdin;
    if (file) { /* the one opening rule: a FIFO or a device is refused, never waited on */
        int fd;
        size_t size;
        herd_status st = herd_open_input(file, &fd, &size);
        if (st)
            return cli_status_error(cmd, st);
        if (!(f = fdopen(fd, "rb"))) {
            close(fd);
            return cli_error(cmd, 1, "%s: %s", file, strerror(errno));
        }
    }
    bool io_error = false, too_long = false;
    *out = read_all(f, len, &io_error, &too_long);
    int err = errno;
    if (file)
        fclose(f);
    if (!*out && too_long)
        return cli_error(cmd, 1, "%s: a prompt longer than %zu bytes", what, PROMPT_MAX);
    if (!*out)
        return cli_error(cmd, 1, "%s: %s", what, io_error ? strerror(err) : "out of memory");
    if (memchr(*out, 0, *len)) {
        free(*out);
        *out = NULL;
        return cli_error(cmd, 1, "%s: the prompt holds a NUL byte (not text)", what);
    }
    return 0;
}

void cli_print_text(FILE *f, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        bool c0 = (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f;
        bool c1 = p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f;
        if (!c0 && !c1)
            continue;
        fwrite(p + start, 1, i - start, f);
        if (c1)
            fprintf(f, "\\u%04x", p[++i] & 0xff);
        else
            fprintf(f, "\\x%02x", p[i]);
        start = i + 1;
    }
    fwrite(p + start, 1, len - start, f);
}

int cli_load_engine(const char *cmd, cli_model_args *a, herd_engine **out)
{
    herd_status st = herd_engine_load(a->model, &a->engine, out);
    if (st)
        return cli_status_error(cmd, st);
    char plan[512];
    herd_engine_memory_plan(*out, plan, sizeof plan);
    int64_t max = herd_model_config(herd_engine_model(*out))->max_pos;
    int64_t ctx = herd_kv_ctx(herd_engine_context(*out));
    if (a->engine.ctx == 0 && ctx < max)
        fprintf(stderr, "herd %s: %s (the model's %lld capped; -c N for more)\n", cmd, plan,
                (long long)max);
    else
        fprintf(stderr, "herd %s: %s\n", cmd, plan);
    return 0;
}
