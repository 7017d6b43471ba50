/* herd bench image: the vision encoder's time per tile at Llama 4 Scout's real vision shape
 * (hidden 1408, 34 layers, 16 heads of 88, MLP 5632, tile 336 = 24×24 patches of 14; adapter
 * 5632 → 4096 → 4096; projector to 5120) with random weights, its GFLOP/s, and the share of the
 * machine's peak for the kernel's instruction, measured in the same run. --layers builds fewer
 * layers of the same shape (the full depth is extrapolated from the FLOP count). */
#include "cli/cli.h"
#include "herd/profile.h"
#include "herd/vision.h"
#include "runtime/profile_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bench_image_main(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f, "usage: herd bench image [options]\n"
               "  Llama 4 Scout's vision encoder, adapter and projector on random weights:\n"
               "  seconds per tile, GFLOP/s and %% of the peak of the kernel's instruction\n\n"
               "options:\n"
               "  --tiles N     tiles per run (default 2; they go through the GEMMs together)\n"
               "  --layers N    encoder layers to build (default 34, the real depth)\n"
               "  -r N          repetitions after one warm-up (default 3); medians reported\n"
               "  -t N          threads (default: every CPU)\n"
               "  --type T      packed weight type (default bf16)\n"
               "  --act A       activations: auto (default, bf16 for bf16 weights) or f32\n"
               "  --cputime     one thread, timed (the peak too) on the thread's CPU clock, which\n"
               "                does not count the time other processes hold the core\n");
}

/* Multiply-adds ×2 of one tile through the whole vision path. */
static double tile_flops(const herd_vision_config *c)
{
    double N = (double)(c->n_patches + 1), D = (double)c->hidden, I = (double)c->inter;
    double T = (double)c->tokens_per_tile, Dp = (double)c->adapter_dim;
    double patch = 2 * (double)c->n_patches * 3 * (double)(c->patch_size * c->patch_size) * D;
    double layer = 2 * N * (4 * D * D + 2 * D * I) + 4 * N * N * D; /* projections, attention */
    double tail = 2 * T * (I * Dp + Dp * Dp + Dp * (double)c->text_hidden);
    return patch + (double)c->n_layers * layer + tail;
}

static bool cputime;

static double now(void)
{
    if (!cputime)
        return herd_now();
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The peak of the instruction on this thread's CPU clock: best of 3 runs of the profiler's loop. */
static double cputime_peak(herd_peak pk)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now(), w = pk == HERD_PEAK_BF16   ? herd_limits_bf16_avx512bf16(20000000)
                               : pk == HERD_PEAK_INT8 ? herd_limits_vnni_avx512vnni(20000000)
                                                      : herd_limits_fma_avx512(20000000);
        double dt = now() - t0;
        best = dt > 0 && w / dt > best ? w / dt : best;
    }
    return best * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_image_main(int argc, char **argv)
{
    const char *cmd = "bench image", *type_s = "bf16", *act = "auto";
    long tiles = 2, layers = 34, reps = 3, threads = 0;
    const cli_opt opts[] = {{"--tiles", NULL, CLI_OPT_LONG, &tiles, 1, 64},
                            {"--layers", NULL, CLI_OPT_LONG, &layers, 1, 34},
                            {"-r", NULL, CLI_OPT_LONG, &reps, 1, 100},
                            {"-t", "--threads", CLI_OPT_LONG, &threads, 1, 1024},
                            {"--type", "--dtype", CLI_OPT_STR, &type_s, 0, 0},
                            {"--act", NULL, CLI_OPT_STR, &act, 0, 0},
                            {"--cputime", NULL, CLI_OPT_FLAG, &cputime, 0, 0},
                            {NULL, NULL, 0, NULL, 0, 0}};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        int r = cli_opt_take(cmd, argc, argv, &i, opts);
        if (r == 0)
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (r < 0)
            return 2;
    }
    herd_type type;
    if (!herd_type_parse(type_s, &type))
        return cli_usage_error(cmd, "--type: unknown type '%s'", type_s);
    if (strcmp(act, "auto") != 0 && strcmp(act, "f32") != 0)
        return cli_usage_error(cmd, "--act: '%s' is not auto or f32", act);
    bool exact = strcmp(act, "f32") == 0;
    int nt = cputime ? 1 : threads > 0 ? (int)threads : herd_cpu_count();

    herd_vision_config full, c;
    herd_vision_config_scout(&full, 5120);
    c = full;
    c.n_layers = layers;
    herd_vision_opts o;
    herd_vision_opts_default(&o);
    o.dtype = type;
    o.aprep = exact ? HERD_APREP_EXACT : HERD_APREP_AUTO;
    o.threads = nt;
    o.max_batch = (int)tiles;
    herd_vision_model *m = NULL;
    double t0 = herd_now();
    herd_status st = herd_vision_synthetic(&c, 1, HERD_TYPE_BF16, &o, &m);
    if (st)
        return cli_status_error(cmd, st);
    fprintf(stderr, "herd %s: %ld of 34 layers packed as %s in %.1f s (%.2f GB)\n", cmd, layers,
            herd_type_name(type), herd_now() - t0, (double)herd_vision_model_bytes(m) / 1e9);
    size_t per = (size_t)(3 * c.image_size * c.image_size);
    float *px = malloc(per * (size_t)tiles * sizeof(float));
    float *ft = malloc((size_t)(tiles * c.tokens_per_tile * c.text_hidden) * sizeof(float));
    double *t = calloc((size_t)reps, sizeof(double));
    if (!px || !ft || !t) {
        herd_vision_model_free(m);
        return cli_error(cmd, 1, "out of memory");
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < per * (size_t)tiles; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (float)(s >> 8) / (float)(1u << 23) - 1.0f;
    }
    for (long r = -1; r < reps && !st; r++) { /* r = -1: warm-up */
        double a = now();
        st = herd_vision_encode(m, px, tiles, NULL, NULL, ft);
        if (r >= 0)
            t[r] = now() - a;
    }
    /* the peak, measured now (the machine is shared: a cached figure could be stale) */
    herd_limits lim;
    herd_status ls = st || cputime ? st : herd_limits_measure(nt, &lim);
    if (!st) {
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        double med = t[reps / 2], per_tile = med / (double)tiles;
        double fl = tile_flops(&c), gflops = fl * (double)tiles / med / 1e9;
        double full_tile = per_tile * tile_flops(&full) / fl;
        herd_peak pk = type == HERD_TYPE_BF16 && !exact && herd_cpu_isa() >= HERD_ISA_AVX512BF16
                           ? HERD_PEAK_BF16
                           : HERD_PEAK_FP32;
        if (!cputime && !ls)
            pk = herd_peak_for(&lim, (int)type, NULL, exact);
        double peak = cputime ? cputime_peak(pk) : ls ? 0 : herd_limits_peak(&lim, pk);
        printf("| vision | type | act | threads | tiles | layers | s/tile (34 layers) | GFLOP/tile "
               "| GFLOP/s | peak | %% of peak |\n");
        printf("| scout | %s | %s | %d | %ld | %ld | %.3f (%.2f-%.2f) | %.1f | %.1f | %s %.0f | "
               "%.1f%% |\n",
               herd_type_name(type), act, nt, tiles, layers, full_tile,
               t[0] / (double)tiles * tile_flops(&full) / fl,
               t[reps - 1] / (double)tiles * tile_flops(&full) / fl, tile_flops(&full) / 1e9,
               gflops, herd_peak_name(pk), peak, peak > 0 ? 100 * gflops / peak : 0);
    }
    free(px);
    free(ft);
    free(t);
    herd_vision_model_free(m);
    return st ? cli_status_error(cmd, st) : 0;
}
