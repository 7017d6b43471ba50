/* herd bench mx: MX quantize / dequantize throughput on one thread, next to this machine's
 * measured single-thread memory read bandwidth (a streaming read of a buffer far larger than
 * the caches). Throughput counts the float32 side (4 bytes per value); figures are medians. */
#include "cli/cli.h"
#include "herd/formats.h"

#include <emmintrin.h> /* SSE2: part of baseline x86-64 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bench_mx_main(int argc, char **argv);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sum of a large buffer with independent accumulators: the loads are the bottleneck. */
static double read_bandwidth(size_t bytes, int reps)
{
    size_t n = bytes / sizeof(__m128i);
    __m128i *buf = herd_alloc(n * sizeof *buf, "bandwidth buffer");
    if (!buf)
        return 0;
    memset(buf, 1, n * sizeof *buf);
    double t[16];
    volatile long long sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = herd_now();
        __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
        for (size_t i = 0; i + 4 <= n; i += 4) { /* one 64-byte line per iteration */
            s0 = _mm_add_epi64(s0, _mm_load_si128(buf + i));
            s1 = _mm_add_epi64(s1, _mm_load_si128(buf + i + 1));
            s2 = _mm_add_epi64(s2, _mm_load_si128(buf + i + 2));
            s3 = _mm_add_epi64(s3, _mm_load_si128(buf + i + 3));
        }
        __m128i s = _mm_add_epi64(_mm_add_epi64(s0, s1), _mm_add_epi64(s2, s3));
        sink += _mm_cvtsi128_si64(s);
        t[r] = herd_now() - t0;
    }
    (void)sink;
    herd_free(buf);
    return (double)bytes / median(t, reps) / 1e9;
}

/* Median GB/s (float32 side) of quantizing and dequantizing m values, `inner` times per rep. */
static void time_codec(herd_mx_format f, const float *x, uint8_t *q, float *y, size_t m, int inner,
                       int reps, double *gq, double *gd)
{
    double tq[16], td[16];
    for (int r = 0; r < reps; r++) {
        double t0 = herd_now();
        for (int i = 0; i < inner; i++)
            herd_mx_quantize(f, HERD_MX_ROUND_EVEN, x, q, m);
        double t1 = herd_now();
        for (int i = 0; i < inner; i++)
            herd_mx_dequantize(f, q, y, m);
        double t2 = herd_now();
        tq[r] = t1 - t0;
        td[r] = t2 - t1;
    }
    *gq = (double)m * 4 * inner / median(tq, reps) / 1e9;
    *gd = (double)m * 4 * inner / median(td, reps) / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: herd bench mx [--mb N] [--reps N]\n\n"
            "Quantize / dequantize throughput of every MX format on one thread, on every\n"
            "path this CPU has (AVX-512, AVX2, the C reference; HERD_ISA caps it), next\n"
            "to the measured single-thread memory read bandwidth. GB/s count the float32\n"
            "side of the conversion (4 bytes per value); each figure is a median.\n"
            "\"in-cache\" repeats the conversion on 64 KB that stays in L2 (compute bound).\n\n"
            "  --mb N     float32 working set per conversion in MB (default 64)\n"
            "  --reps N   repetitions per figure (default 5)\n");
}

int bench_mx_main(int argc, char **argv)
{
    long mb = 64, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        const char *v;
        if (strcmp(argv[i], "--mb") == 0) {
            if (!(v = cli_value("bench mx", argc, argv, &i)) ||
                !cli_parse_long("bench mx", "--mb", v, 1, 4096, &mb))
                return 2;
        } else if (strcmp(argv[i], "--reps") == 0) {
            if (!(v = cli_value("bench mx", argc, argv, &i)) ||
                !cli_parse_long("bench mx", "--reps", v, 1, 15, &reps))
                return 2;
        } else {
            return cli_usage_error("bench mx", "unknown option '%s'", argv[i]);
        }
    }
    size_t n = (size_t)mb * 1024 * 1024 / 4 / HERD_MX_BLOCK * HERD_MX_BLOCK;
    float *x = herd_alloc(n * 4, "bench input"), *y = herd_alloc(n * 4, "bench output");
    uint8_t *q = herd_alloc(herd_mx_row_bytes(HERD_MX_FP8_E4M3, n), "bench blocks");
    if (!x || !y || !q) {
        herd_free(x);
        herd_free(y);
        herd_free(q);
        return cli_status_error("bench mx", HERD_ERR_NOMEM);
    }
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) { /* normal-ish values over a few binades */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((int64_t)(s >> 11) - (1ll << 52)) * 0x1p-52f * (float)(1 + (s & 7));
    }
    double wall0 = herd_now(), cpu0 = cpu_seconds();
    double bw =
        read_bandwidth((size_t)4 * mb * 1024 * 1024 > (256u << 20) ? (size_t)4 * mb * 1024 * 1024
                                                                   : (size_t)256 << 20,
                       (int)reps);
    herd_isa_level best = herd_isa();
    printf("herd bench mx: %zu values (%ld MB of float32) per conversion, 1 thread, median of "
           "%ld\n",
           n, mb, reps);
    printf("memory read bandwidth (1 thread, streaming): %.1f GB/s\n\n", bw);
    printf("%-11s %-8s %10s %6s %8s   %10s %6s %8s\n", "", "", "quantize", "", "", "dequantize", "",
           "");
    printf("%-11s %-8s %10s %6s %8s   %10s %6s %8s\n", "format", "path", "GB/s", "x mem",
           "in-cache", "GB/s", "x mem", "in-cache");
    /* Every path this CPU (capped by HERD_ISA) can run: AVX-512, AVX2 and the C reference. */
    static const herd_isa_level paths[3] = {HERD_ISA_AVX512, HERD_ISA_AVX2, HERD_ISA_REF};
    static const char *const path_names[3] = {"avx512", "avx2", "C ref"};
    for (int f = 0; f < HERD_MX_FORMAT_COUNT; f++)
        for (int pi = 0; pi < 3; pi++) {
            if (paths[pi] > best)
                continue;
            herd_set_isa(paths[pi]);
            bool ref = paths[pi] == HERD_ISA_REF;
            /* The C reference is compute bound: time it on an eighth of the data. */
            size_t m = ref ? n / 8 / HERD_MX_BLOCK * HERD_MX_BLOCK : n;
            double gq, gd, hq, hd;
            time_codec((herd_mx_format)f, x, q, y, m, 1, (int)reps, &gq, &gd);
            /* The same on 64 KB that stays in L2: the compute ceiling. */
            time_codec((herd_mx_format)f, x, q, y, 16384, ref ? 4 : 64, (int)reps, &hq, &hd);
            printf("%-11s %-8s %10.2f %6.2f %8.2f   %10.2f %6.2f %8.2f\n",
                   herd_mx_format_name((herd_mx_format)f), path_names[pi], gq, gq / bw, hq, gd,
                   gd / bw, hd);
            fflush(stdout);
        }
    herd_set_isa(best);
    double share = cpu_seconds() - cpu0, wall = herd_now() - wall0;
    printf("\nthis process got %.0f%% of a core over the run%s\n", 100 * share / wall,
           share < 0.8 * wall ? " (the machine is busy: figures are low and noisy)" : "");
    herd_free(x);
    herd_free(y);
    herd_free(q);
    return 0;
}
