/* herd bench gemm: GEMM/GEMV throughput per weight type next to this machine's limits (memory
 * read bandwidth, FP32 FMA / BF16 dot / int8 VNNI peaks, measured first in the same run by
 * herd_limits_measure) and next to OpenBLAS cblas_sgemm and oneDNN's u8s8s32 GEMM when their
 * shared libraries are installed (loaded with dlopen, never linked).
 *
 * Each figure is the fastest of several repetitions (the least disturbed one: the machine is
 * shared, and the limits are measured the same way). For M < 64 the last-level cache is flushed
 * before each repetition so weights stream from memory, as in decode (of up to 16 sequences). */
#include "cli/cli.h"
#include "herd/kernels.h"
#include "herd/profile.h"

#include "runtime/profile_limits.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

int bench_gemm_main(int argc, char **argv);

typedef struct nk {
    int n, k;
} nk;
static const nk default_shapes[] = {
    {4096, 4096}, {14336, 4096}, {4096, 14336}, {8192, 5120}, {5120, 8192}};
static const int default_ms[] = {1, 8, 64, 512};

enum { FLUSH_BYTES = 96 << 20, MAX_REPS = 64, MAX_LIST = 16 };

typedef struct bench {
    bool json, quick, cputime;
    int ms[MAX_LIST], nms;  /* the M values (--m) */
    bool act_f32, act_both; /* --act f32 | both: activations kept f32 (HERD_APREP_EXACT) */
    int threads;
    herd_pool *pool;
    herd_limits lim1, limt;
    uint8_t *flush;
    /* peers */
    void (*sgemm)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                  float, float *, int);
    int (*dnnl_u8s8s32)(char, char, char, int64_t, int64_t, int64_t, float, const uint8_t *,
                        int64_t, uint8_t, const int8_t *, int64_t, int8_t, float, int32_t *,
                        int64_t, const int32_t *);
} bench;

static _Atomic uint8_t flush_sink; /* written by every flushing thread: atomic, so no race */

static void flush_part(void *ctx, int tid, int nthreads)
{
    const bench *b = ctx;
    size_t begin, end;
    herd_split_range(FLUSH_BYTES / 64, 1, tid, nthreads, &begin, &end);
    uint8_t s = 0;
    for (size_t i = begin; i < end; i++)
        s ^= b->flush[64 * i];
    atomic_store_explicit(&flush_sink, s, memory_order_relaxed);
}

/* Every thread of the pool reads its share of the buffer, so the timed run that follows finds
 * the workers awake (a worker left idle through a flush by the caller alone goes to sleep, and
 * the run is then timed mostly on the caller). */
static void flush_llc(bench *b)
{
    herd_pool_run(b->pool, flush_part, b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return a < c ? -1 : a > c;
}

typedef void (*bench_fn)(void *ctx);

/* Seconds: wall clock, or with --cputime the calling thread's CPU time, which does not count
 * the time other processes hold the core (one thread only). */
static double now(const bench *b)
{
    if (!b->cputime)
        return herd_now();
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* --cputime limits: the profiler's inner loops timed on this thread's CPU clock, best of 4. */
static double best_rate(const bench *b, int which, int64_t iters)
{
    double best = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now(b), w = 0;
        if (which == 0)
            w = herd_cpu_isa() >= HERD_ISA_AVX512 ? herd_limits_fma_avx512(iters)
                                                  : herd_limits_fma_avx2(iters);
        else if (which == 1)
            w = herd_limits_bf16_avx512bf16(iters);
        else if (which == 2)
            w = herd_limits_vnni_avx512vnni(iters);
        else /* the read probe's two ways (profile_limits.c), alternating: the faster counts */
            for (int64_t i = 0; i < iters; i++)
                w += (rep & 1) && herd_cpu_isa() >= HERD_ISA_AVX512
                         ? herd_limits_read_pf_avx512(b->flush, FLUSH_BYTES)
                         : herd_limits_read_avx2(b->flush, FLUSH_BYTES);
        double dt = now(b) - t0;
        if (dt > 0 && w / dt > best)
            best = w / dt;
    }
    return best * 1e-9;
}

static void cputime_limits(bench *b)
{
    herd_limits *l = &b->lim1;
    memset(l, 0, sizeof *l);
    snprintf(l->cpu, sizeof l->cpu, "%s", "this CPU (cpu-time)");
    l->threads = 1;
    l->fp32_gflops = best_rate(b, 0, 20000000);
    if (herd_cpu_isa() >= HERD_ISA_AVX512BF16)
        l->bf16_gflops = best_rate(b, 1, 20000000);
    if (herd_cpu_isa() >= HERD_ISA_AVX512VNNI)
        l->int8_gops = best_rate(b, 2, 20000000);
    l->bw_gbs = best_rate(b, 3, 4);
    b->limt = *l;
}

/* Fastest seconds of fn over repetitions (at least 3, until ~0.25 s, 0.08 s with --quick). */
static double time_best(bench *b, bool cold, bench_fn fn, void *ctx)
{
    double t[MAX_REPS], budget = b->quick ? 0.08 : 0.25, spent = 0;
    int n = 0;
    fn(ctx); /* warm up (page faults, workspace) */
    while (n < MAX_REPS && (n < 3 || spent < budget)) {
        if (cold)
            flush_llc(b);
        double t0 = now(b);
        fn(ctx);
        t[n] = now(b) - t0;
        spent += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[0];
}

typedef struct herd_run {
    const herd_packed *w;
    herd_gemm_args args;
    herd_pool *pool;
} herd_run;

static void run_herd(void *ctx)
{
    herd_run *r = ctx;
    herd_gemm(r->w, &r->args, r->pool);
}

typedef struct peer_run {
    bench *b;
    int m, n, k;
    const float *A, *W;
    float *C;
    const uint8_t *Aq;
    const int8_t *Wq;
    int32_t *Ci;
} peer_run;

static void run_sgemm(void *ctx)
{
    peer_run *r = ctx;
    /* row-major C = A · Wᵀ */
    r->b->sgemm(101, 111, 112, r->m, r->n, r->k, 1.0f, r->A, r->k, r->W, r->k, 0.0f, r->C, r->n);
}

static void run_dnnl(void *ctx)
{
    peer_run *r = ctx;
    r->b->dnnl_u8s8s32('N', 'T', 'F', r->m, r->n, r->k, 1.0f, r->Aq, r->k, 0, r->Wq, r->k, 0, 0.0f,
                       r->Ci, r->n, &(int32_t){0});
}

static void report(bench *b, const char *type, const char *kernel, int m, int n, int k, double secs,
                   double wbytes, double peak)
{
    double gflops = 2.0 * m * n * k / secs * 1e-9, gbps = wbytes / secs * 1e-9;
    double bw = b->limt.bw_gbs;
    if (b->json) {
        printf("{\"type\":\"%s\",\"kernel\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,\"threads\":%d,"
               "\"gflops\":%.2f,\"weight_gbps\":%.2f,\"pct_peak\":%.1f,\"pct_bw\":%.1f}\n",
               type, kernel, m, n, k, b->threads, gflops, gbps, 100 * gflops / peak,
               100 * gbps / bw);
    } else {
        printf("%-10s %-18s %5d %6d %6d %9.1f %6.1f%% %8.1f %6.1f%%\n", type, kernel, m, n, k,
               gflops, 100 * gflops / peak, gbps, 100 * gbps / bw);
    }
    fflush(stdout);
}

static void load_peers(bench *b)
{
    void *ob = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (ob) {
        *(void **)&b->sgemm = dlsym(ob, "cblas_sgemm");
        void (*set_threads)(int);
        *(void **)&set_threads = dlsym(ob, "openblas_set_num_threads");
        if (set_threads)
            set_threads(b->threads);
    }
    void *dn = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_GLOBAL);
    if (!dn)
        dn = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (dn) {
        *(void **)&b->dnnl_u8s8s32 = dlsym(dn, "dnnl_gemm_u8s8s32");
        void (*omp_threads)(int);
        *(void **)&omp_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
        if (omp_threads)
            omp_threads(b->threads);
    }
}

static void fill(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        x[i] = (float)((double)(seed >> 11) * 0x1p-52 - 1.0);
    }
}

/* The instruction a family's dot product runs on, from its name "<type>.<isa>": bf16 on the
 * BF16 level uses VDPBF16PS; integer and block types on the VNNI levels use VPDPBUSD. */
static herd_peak peak_of(herd_type type, const char *kernel)
{
    bool vnni = strstr(kernel, ".avx512vnni") || strstr(kernel, ".avx512bf16");
    /* The MX fp types (MXFP8, MXFP6 E3M2) run bf16 dot products too (kernels/quant.h). */
    if (type == HERD_TYPE_BF16 || type == HERD_TYPE_MXFP8_E4M3 || type == HERD_TYPE_MXFP8_E5M2 ||
        type == HERD_TYPE_MXFP6_E3M2)
        return strstr(kernel, ".avx512bf16") ? HERD_PEAK_BF16 : HERD_PEAK_FP32;
    if (type == HERD_TYPE_F32 || type == HERD_TYPE_F16 || !vnni)
        return HERD_PEAK_FP32;
    return HERD_PEAK_INT8;
}

static herd_status bench_shape(bench *b, const herd_type *types, int ntypes, nk s)
{
    size_t wn = (size_t)s.n * (size_t)s.k;
    int mmax = 1;
    for (int i = 0; i < b->nms; i++)
        mmax = b->ms[i] > mmax ? b->ms[i] : mmax;
    float *W = herd_alloc(wn * 4, "bench weights");
    float *A = herd_alloc((size_t)mmax * (size_t)s.k * 4, "bench A");
    float *C = herd_alloc((size_t)mmax * (size_t)s.n * 4, "bench C");
    if (!W || !A || !C) {
        herd_free(W), herd_free(A), herd_free(C);
        return HERD_ERR_NOMEM;
    }
    fill(W, wn, 0x1234567ull + (uint64_t)s.n);
    fill(A, (size_t)mmax * (size_t)s.k, 0x7654321ull);
    herd_status st = HERD_OK;
    for (int ti = 0; ti < ntypes && !st; ti++) {
        herd_packed *w = NULL;
        st = herd_pack(types[ti], s.n, s.k, (herd_wsrc){HERD_TYPE_F32, W, 0}, &w);
        if (st == HERD_ERR_UNSUPPORTED) {
            st = HERD_OK;
            continue;
        }
        if (st)
            break;
        const char *kernel = herd_packed_kernel(w);
        if (strcmp(kernel, "emulated") == 0) { /* no family of its own yet */
            herd_packed_free(w);
            continue;
        }
        double peak = herd_limits_peak(&b->limt, peak_of(types[ti], kernel));
        for (int exact = b->act_f32 && !b->act_both; exact < 1 + (b->act_f32 || b->act_both);
             exact++) {
            char kname[96];
            snprintf(kname, sizeof kname, "%s%s", kernel, exact ? "+f32" : "");
            for (int mi = 0; mi < b->nms; mi++) {
                int m = b->ms[mi];
                herd_run r = {w,
                              {.M = m,
                               .A = A,
                               .lda = (size_t)s.k,
                               .C = C,
                               .ldc = (size_t)s.n,
                               .aprep = exact ? HERD_APREP_EXACT : HERD_APREP_AUTO},
                              b->pool};
                double t = time_best(b, m < 64, run_herd, &r);
                report(b, herd_type_name(types[ti]), kname, m, s.n, s.k, t,
                       (double)herd_packed_bytes(w), peak);
            }
        }
        herd_packed_free(w);
    }
    /* Peers on the same shapes. */
    if (!st && b->sgemm)
        for (int mi = 0; mi < b->nms; mi++) {
            peer_run r = {b, b->ms[mi], s.n, s.k, A, W, C, NULL, NULL, NULL};
            double t = time_best(b, b->ms[mi] < 64, run_sgemm, &r);
            report(b, "f32", "openblas-sgemm", b->ms[mi], s.n, s.k, t, (double)wn * 4,
                   b->limt.fp32_gflops);
        }
    if (!st && b->dnnl_u8s8s32) {
        uint8_t *Aq = herd_alloc((size_t)mmax * (size_t)s.k, "bench A u8");
        int32_t *Ci = herd_alloc((size_t)mmax * (size_t)s.n * 4, "bench C i32");
        if (Aq && Ci) {
            for (size_t i = 0; i < (size_t)mmax * (size_t)s.k; i++)
                Aq[i] = (uint8_t)(128 + A[i] * 100);
            int8_t *Wq = (int8_t *)W; /* reuse: only the bytes matter for timing */
            for (size_t i = 0; i < wn; i++)
                Wq[i] = (int8_t)(W[i] * 100);
            double peak = herd_limits_peak(&b->limt, HERD_PEAK_INT8);
            if (peak <= 0)
                peak = b->limt.fp32_gflops;
            for (int mi = 0; mi < b->nms; mi++) {
                peer_run r = {b, b->ms[mi], s.n, s.k, NULL, NULL, NULL, Aq, Wq, Ci};
                double t = time_best(b, b->ms[mi] < 64, run_dnnl, &r);
                report(b, "int8", "onednn-u8s8s32", b->ms[mi], s.n, s.k, t, (double)wn, peak);
            }
        }
        herd_free(Aq), herd_free(Ci);
    }
    herd_free(W), herd_free(A), herd_free(C);
    return st;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: herd bench gemm [--json] [-t THREADS] [--quick] [--cputime] [--type T,...]\n"
            "                       [--act auto|f32|both] [--m M,...] [--shape NxK,...]\n"
            "  Measures the machine's limits, then GEMM/GEMV for M in 1, 8, 64, 512 on the\n"
            "  Llama 4 shapes for each weight type with a kernel family, next to OpenBLAS\n"
            "  and oneDNN when installed. HERD_ISA caps the instruction set.\n"
            "  --quick: two shapes, M <= 64, shorter timing.\n"
            "  --m, --shape: these M values and N x K weight shapes instead (below 64 rows the\n"
            "  weights stream from memory: the last-level cache is flushed before each run).\n"
            "  --cputime: one thread, timed (limits too) on the thread's CPU clock, so the\n"
            "  ratios hold on a machine shared with other work.\n"
            "  --act: how A is prepared: each type's fast way (auto, the default), kept f32, or\n"
            "  both one after the other (f32 rows show the kernel as NAME+f32).\n");
}

int bench_gemm_main(int argc, char **argv)
{
    bench b = {.threads = herd_cpu_count()};
    nk shapes[MAX_LIST];
    size_t nshapes = 0;
    herd_type types[HERD_TYPE_COUNT];
    int ntypes = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            b.json = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            b.quick = true;
        } else if (strcmp(argv[i], "--cputime") == 0) {
            b.cputime = true;
        } else if (strcmp(argv[i], "--act") == 0) {
            const char *v = cli_value("bench gemm", argc, argv, &i);
            if (!v)
                return 2;
            b.act_f32 = strcmp(v, "f32") == 0;
            b.act_both = strcmp(v, "both") == 0;
            if (!b.act_f32 && !b.act_both && strcmp(v, "auto") != 0)
                return cli_usage_error("bench gemm", "--act: '%s' is not auto, f32 or both", v);
        } else if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--threads") == 0) {
            const char *v = cli_value("bench gemm", argc, argv, &i);
            long t;
            if (!v || !cli_parse_long("bench gemm", "-t", v, 1, 64, &t))
                return 2;
            b.threads = (int)t;
        } else if (strcmp(argv[i], "--type") == 0) {
            const char *v = cli_value("bench gemm", argc, argv, &i);
            if (!v)
                return 2;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (ntypes == HERD_TYPE_COUNT || !herd_type_parse(tok, &types[ntypes]))
                    return cli_usage_error("bench gemm", "unknown weight type '%s'", tok);
                ntypes++;
            }
        } else if (strcmp(argv[i], "--m") == 0) {
            const char *v = cli_value("bench gemm", argc, argv, &i);
            if (!v)
                return 2;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            b.nms = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                long m;
                if (b.nms == MAX_LIST)
                    return cli_usage_error("bench gemm", "--m: more than %d values", MAX_LIST);
                if (!cli_parse_long("bench gemm", "--m", tok, 1, 4096, &m))
                    return 2;
                b.ms[b.nms++] = (int)m;
            }
        } else if (strcmp(argv[i], "--shape") == 0) {
            const char *v = cli_value("bench gemm", argc, argv, &i);
            if (!v)
                return 2;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            nshapes = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                int n, k, used = 0;
                if (nshapes == MAX_LIST)
                    return cli_usage_error("bench gemm", "--shape: more than %d shapes", MAX_LIST);
                if (sscanf(tok, "%dx%d%n", &n, &k, &used) != 2 || tok[used] || n < 1 || k < 1 ||
                    n > (1 << 20) || k > (1 << 20))
                    return cli_usage_error("bench gemm", "--shape: '%s' is not NxK", tok);
                shapes[nshapes++] = (nk){n, k};
            }
        } else {
            return cli_usage_error("bench gemm", "unknown option '%s'", argv[i]);
        }
    }
    if (!ntypes)
        for (int t = 0; t < HERD_TYPE_COUNT; t++)
            types[ntypes++] = (herd_type)t;
    if (!b.nms)
        for (size_t i = 0; i < sizeof default_ms / sizeof default_ms[0]; i++)
            if (!b.quick || default_ms[i] <= 64)
                b.ms[b.nms++] = default_ms[i];
    if (!nshapes)
        for (size_t i = 0; i < (b.quick ? 2 : sizeof default_shapes / sizeof default_shapes[0]);
             i++)
            shapes[nshapes++] = default_shapes[i];

    if (b.cputime)
        b.threads = 1;
    herd_status st = HERD_OK;
    b.flush = herd_calloc(FLUSH_BYTES, "cache flush buffer");
    if (!b.flush)
        st = HERD_ERR_NOMEM;
    if (!st && b.cputime) {
        cputime_limits(&b);
    } else if (!st) {
        st = herd_limits_measure(1, &b.lim1);
        if (!st)
            st = b.threads == 1 ? HERD_OK : herd_limits_measure(b.threads, &b.limt);
        if (b.threads == 1)
            b.limt = b.lim1;
    }
    if (!st)
        st = herd_pool_create(b.threads, &b.pool);
    if (st) {
        herd_free(b.flush);
        herd_pool_destroy(b.pool);
        return cli_status_error("bench gemm", st);
    }
    if (b.json) {
        printf("{\"limits\":{\"cpu\":\"%s\",\"clock\":\"%s\",\"isa\":\"%s\",\"bw_gbs_1t\":%.2f,"
               "\"bw_gbs\":%.2f,"
               "\"fp32_gflops_1t\":%.1f,\"fp32_gflops\":%.1f,\"bf16_gflops\":%.1f,"
               "\"int8_gops\":%.1f,\"threads\":%d}}\n",
               b.limt.cpu, b.cputime ? "thread-cpu" : "wall", herd_isa_name(herd_isa()),
               b.lim1.bw_gbs, b.limt.bw_gbs, b.lim1.fp32_gflops, b.limt.fp32_gflops,
               b.limt.bf16_gflops, b.limt.int8_gops, b.threads);
    } else {
        printf("machine: %s, ISA %s, %d thread(s)\n", b.limt.cpu, herd_isa_name(herd_isa()),
               b.threads);
        printf("limits:  read bandwidth %.1f GB/s (1 thread %.1f); FP32 FMA %.0f GFLOP/s (1 "
               "thread %.0f); BF16 dot %.0f; int8 VNNI %.0f GOP/s\n\n",
               b.limt.bw_gbs, b.lim1.bw_gbs, b.limt.fp32_gflops, b.lim1.fp32_gflops,
               b.limt.bf16_gflops, b.limt.int8_gops);
        printf("%-10s %-18s %5s %6s %6s %9s %7s %8s %7s\n", "type", "kernel", "M", "N", "K",
               "GFLOP/s", "%peak", "W GB/s", "%bw");
    }
    load_peers(&b);
    for (size_t si = 0; si < nshapes && !st; si++)
        st = bench_shape(&b, types, ntypes, shapes[si]);
    herd_free(b.flush);
    herd_pool_destroy(b.pool);
    return st ? cli_status_error("bench gemm", st) : 0;
}
