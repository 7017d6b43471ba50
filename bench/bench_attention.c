/* herd bench attention: decode attention (one query token) against a cache of N positions of
 * a global layer, per KV cache type, in one process. The types take turns within every
 * repetition, so a loaded machine slows them alike and the ratio to f32 holds; the cache is
 * larger than the last-level cache at the sizes that matter, so this is the memory-bound part
 * of a long-context decode step that the cache type changes. */
#include "cli/cli.h"
#include "cli/cli_model.h"
#include "herd/herd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_attention_main(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f, "usage: herd bench attention [options]\n"
               "  decode attention of one token against N cached positions of a global layer,\n"
               "  for each KV cache type (f32, bf16, q8_0; keys and values alike): median time,\n"
               "  cache GB/s and the speed relative to f32 in the same run\n\n"
               "options:\n"
               "  --shape S    scout (40/8 heads of 128, default) or l4-3.7b (32/8 heads of 64)\n"
               "  --ctx LIST   cached positions, e.g. 8192,32768 (default 8192,32768,131072)\n"
               "  -t N         threads (default: every CPU)\n"
               "  -r N         repetitions (default 15); medians are reported\n"
               "  --json       one JSON object per line per measurement\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { N_TYPES = 3, MAX_CTX = 8, MAX_REPS = 101 };
static const herd_type types[N_TYPES] = {HERD_TYPE_F32, HERD_TYPE_BF16, HERD_TYPE_Q8_0};

static bool parse_ctx(const char *cmd, const char *s, long *out, int *n)
{
    *n = 0;
    for (const char *p = s; *p && *n < MAX_CTX;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > (1L << 22) || (*end && *end != ','))
            return cli_usage_error(cmd, "--ctx: '%s' is not a list like 8192,32768", s), false;
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    return *n > 0 || (cli_usage_error(cmd, "--ctx: empty list"), false);
}

int bench_attention_main(int argc, char **argv)
{
    const char *cmd = "bench attention", *shape = "scout", *v;
    long ctxs[MAX_CTX] = {8192, 32768, 131072}, threads = 0, reps = 15;
    int n_ctx = 3;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (cli_is_help(o)) {
            usage(stdout);
            return 0;
        } else if (strcmp(o, "--json") == 0) {
            json = true;
        } else if (strcmp(o, "--shape") == 0) {
            if (!(shape = cli_value(cmd, argc, argv, &i)))
                return 2;
            if (strcmp(shape, "scout") && strcmp(shape, "l4-3.7b"))
                return cli_usage_error(cmd, "--shape: '%s' is not scout or l4-3.7b", shape);
        } else if (strcmp(o, "--ctx") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i)) || !parse_ctx(cmd, v, ctxs, &n_ctx))
                return 2;
        } else if (strcmp(o, "-t") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i)) ||
                !cli_parse_long(cmd, o, v, 1, 1024, &threads))
                return 2;
        } else if (strcmp(o, "-r") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i)) ||
                !cli_parse_long(cmd, o, v, 1, MAX_REPS, &reps))
                return 2;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", o);
        }
    }
    bool scout = strcmp(shape, "scout") == 0;
    herd_attn_shape s = {scout ? 40 : 32, 8, scout ? 128 : 64, 0};
    int64_t D = s.head_dim, nkv = s.n_kv_heads;
    size_t qd = (size_t)(s.n_heads * D), kvd = (size_t)(nkv * D);
    herd_pool *pool = NULL;
    herd_status st = herd_pool_create(threads > 0 ? (int)threads : herd_cpu_count(), &pool);
    if (st)
        return cli_status_error(cmd, st);
    if (!json)
        printf("decode attention, %s shape (%lld/%lld heads of %lld), %d threads, %ld reps, "
               "isa %s\n| ctx     | type | ms       | GB/s  | speed vs f32 |\n",
               shape, (long long)s.n_heads, (long long)nkv, (long long)D, herd_pool_size(pool),
               reps, herd_isa_name(herd_isa()));
    for (int c = 0; c < n_ctx && !st; c++) {
        int64_t N = ctxs[c];
        uint8_t *cache[N_TYPES][2] = {{0}};
        size_t row[N_TYPES];
        float *q = herd_alloc((qd + 2 * kvd + qd) * sizeof(float), "bench"), *x = NULL;
        x = herd_alloc(kvd * sizeof(float), "bench");
        for (int t = 0; t < N_TYPES && q && x; t++) {
            row[t] = (size_t)nkv * herd_type_row_bytes(types[t], (size_t)D);
            cache[t][0] = herd_alloc((size_t)N * row[t], "bench");
            cache[t][1] = herd_alloc((size_t)N * row[t], "bench");
        }
        uint64_t r = 1;
        for (size_t i = 0; q && i < qd + 2 * kvd; i++) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            q[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2 - 1);
        }
        for (int64_t p = 0; p < N && x && cache[N_TYPES - 1][1]; p++)
            for (int kv = 0; kv < 2; kv++) {
                for (size_t i = 0; i < kvd; i++) {
                    r = r * 6364136223846793005u + 1442695040888963407u;
                    x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2 - 1);
                }
                for (int t = 0; t < N_TYPES; t++)
                    for (int64_t h = 0; h < nkv; h++) {
                        size_t hb = row[t] / (size_t)nkv;
                        herd_row_from_f32(types[t], x + h * D,
                                          cache[t][kv] + (size_t)p * row[t] + (size_t)h * hb,
                                          (size_t)D);
                    }
            }
        if (!x || !cache[N_TYPES - 1][1]) {
            st = herd_fail(HERD_ERR_NOMEM, "bench attention: out of memory at --ctx %lld",
                           (long long)N);
        }
        double times[N_TYPES][MAX_REPS];
        for (long rep = -1; rep < reps && !st; rep++) /* rep -1: warm-up */
            for (int t = 0; t < N_TYPES && !st; t++) {
                herd_kv_view view = {.cache_k = cache[t][0],
                                     .cache_v = cache[t][1],
                                     .ring = INT64_MAX,
                                     .start = N,
                                     .new_k = q + qd,
                                     .new_v = q + qd + kvd,
                                     .type_k = types[t],
                                     .type_v = types[t]};
                double t0 = herd_now();
                st = herd_attention(&s, q, qd, 1, &view, q + qd + 2 * kvd, qd, pool);
                if (rep >= 0)
                    times[t][rep] = herd_now() - t0;
            }
        double med[N_TYPES];
        for (int t = 0; t < N_TYPES && !st; t++) {
            qsort(times[t], (size_t)reps, sizeof(double), cmp_double);
            med[t] = times[t][reps / 2];
            double gbs = 2.0 * (double)N * (double)row[t] / med[t] / 1e9;
            if (json)
                printf("{\"shape\": \"%s\", \"ctx\": %lld, \"type\": \"%s\", \"threads\": %d, "
                       "\"ms\": %.4f, \"gb_per_s\": %.2f, \"speed_vs_f32\": %.3f}\n",
                       shape, (long long)N, herd_type_name(types[t]), herd_pool_size(pool),
                       med[t] * 1e3, gbs, med[0] / med[t]);
            else
                printf("| %-7lld | %-4s | %8.3f | %5.1f | %11.2fx |\n", (long long)N,
                       herd_type_name(types[t]), med[t] * 1e3, gbs, med[0] / med[t]);
        }
        for (int t = 0; t < N_TYPES; t++) {
            herd_free(cache[t][0]);
            herd_free(cache[t][1]);
        }
        herd_free(q);
        herd_free(x);
    }
    herd_pool_destroy(pool);
    return st ? cli_status_error(cmd, st) : 0;
}
