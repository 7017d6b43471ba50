/* The machine's limits for the roofline: memory read bandwidth and the peak rate of FP32 FMA,
 * BF16 and int8 VNNI dot products, measured with tight loops on `threads` threads and cached
 * per machine (CPU model, CPU count, threads) in a small JSON file, since measuring takes
 * seconds and the figures do not change. */
#include "herd/formats.h"
#include "herd/profile.h"
#include "runtime/profile_limits.h"

#include <cpuid.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* 512 MB: far beyond the L3 of any CPU we run on, also split over several threads (with 128 MB
 * two threads once read 94.6 GB/s on a machine that streams ~50: part of it came from L3). */
enum { MAX_THREADS = 64, READ_BYTES = 512 << 20 };
static const double TARGET_S = 0.08; /* per repetition */

static void cpu_brand(char *out, size_t size)
{
    unsigned r[12] = {0}, a, b, c, d;
    snprintf(out, size, "unknown x86-64");
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000004)
        return;
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char s[49];
    memcpy(s, r, 48);
    s[48] = 0;
    char *p = s;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ')
        p[--n] = 0;
    if (n)
        snprintf(out, size, "%s", p);
}

/* ---- measuring ---------------------------------------------------------------------------- */
/* K_READ streams plainly, K_READ_PF with the GEMV tiles' software prefetch (AVX-512) */
typedef enum kind { K_FP32, K_BF16, K_INT8, K_READ, K_READ_PF } kind;

typedef struct job {
    kind k;
    int64_t iters;
    const uint8_t *buf;
    size_t bytes;
    double work[MAX_THREADS];
} job;

static volatile uint64_t read_sink;

static double read_plain(const void *p, size_t n)
{
    const uint64_t *v = p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n / 8; i += 4) {
        s0 ^= v[i];
        s1 ^= v[i + 1];
        s2 ^= v[i + 2];
        s3 ^= v[i + 3];
    }
    read_sink = s0 ^ s1 ^ s2 ^ s3;
    return (double)n;
}

static double fma_plain(int64_t iters)
{
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++)
            a[j] = a[j] * 0.9999999f + 1e-7f;
    read_sink = (uint64_t)(a[0] + a[7]);
    return (double)iters * 16;
}

static void run_job(void *ctx, int tid, int nthreads)
{
    job *j = ctx;
    herd_isa_level isa = herd_cpu_isa();
    switch (j->k) {
    case K_FP32:
        j->work[tid] = isa >= HERD_ISA_AVX512 ? herd_limits_fma_avx512(j->iters)
                       : isa >= HERD_ISA_AVX2 ? herd_limits_fma_avx2(j->iters)
                                              : fma_plain(j->iters);
        break;
    case K_BF16: j->work[tid] = herd_limits_bf16_avx512bf16(j->iters); break;
    case K_INT8: j->work[tid] = herd_limits_vnni_avx512vnni(j->iters); break;
    case K_READ:
    case K_READ_PF: {
        size_t begin, end;
        herd_split_range(j->bytes / 256, 1, tid, nthreads, &begin, &end);
        const uint8_t *p = j->buf + begin * 256;
        size_t n = (end - begin) * 256;
        double w = 0;
        for (int64_t pass = 0; pass < j->iters; pass++)
            w += j->k == K_READ_PF      ? herd_limits_read_pf_avx512(p, n)
                 : isa >= HERD_ISA_AVX2 ? herd_limits_read_avx2(p, n)
                                        : read_plain(p, n);
        j->work[tid] = w;
        break;
    }
    }
}

/* Work per second of one run of the job on every thread. */
static double run_once(herd_pool *pool, job *j)
{
    memset(j->work, 0, sizeof j->work);
    double t0 = herd_now();
    herd_pool_run(pool, run_job, j);
    double dt = herd_now() - t0, w = 0;
    for (int i = 0; i < MAX_THREADS; i++)
        w += j->work[i];
    return dt > 0 ? w / dt : 0;
}

/* Calibrates the repetition count to ~TARGET_S, then keeps the best of three (the machine is
 * shared: the best run is the one least disturbed). Returns G-units per second. */
static double measure(herd_pool *pool, job *j, int64_t probe_iters)
{
    j->iters = probe_iters;
    double t0 = herd_now();
    run_once(pool, j);
    double dt = herd_now() - t0;
    double scale = dt > 0 ? TARGET_S / dt : 1;
    j->iters = (int64_t)fmax(1, fmin((double)probe_iters * scale, 1e10));
    double best = 0;
    for (int rep = 0; rep < 3; rep++)
        best = fmax(best, run_once(pool, j));
    return best / 1e9;
}

herd_status herd_limits_measure(int threads, herd_limits *out)
{
    memset(out, 0, sizeof *out);
    if (threads < 1 || threads > MAX_THREADS)
        return herd_fail(HERD_ERR_ARG, "limits: thread count %d out of range 1..%d", threads,
                         MAX_THREADS);
    cpu_brand(out->cpu, sizeof out->cpu);
    out->cpus = herd_cpu_count();
    out->threads = threads;
    out->measured_at = (int64_t)time(NULL);
    herd_pool *pool = NULL;
    herd_status st = herd_pool_create(threads, &pool);
    if (st)
        return st;
    job *j = herd_calloc(sizeof *j, "limits job");
    uint8_t *buf = herd_calloc_huge(READ_BYTES, "bandwidth buffer");
    if (!j || !buf) {
        herd_free(j);
        herd_free(buf);
        herd_pool_destroy(pool);
        return HERD_ERR_NOMEM;
    }
    herd_isa_level isa = herd_cpu_isa();
    j->k = K_FP32;
    out->fp32_gflops = measure(pool, j, 1 << 16);
    if (isa >= HERD_ISA_AVX512BF16) {
        j->k = K_BF16;
        out->bf16_gflops = measure(pool, j, 1 << 16);
    }
    if (isa >= HERD_ISA_AVX512VNNI) {
        j->k = K_INT8;
        out->int8_gops = measure(pool, j, 1 << 16);
    }
    for (size_t i = 0; i < READ_BYTES; i += 4096) /* fault the pages in */
        memset(buf + i, (int)(i >> 12), 4096);
    /* The bound is the faster of a plain stream and one read as the tiles read their weights
     * (on 2 MiB pages where the kernel gives them, as packed weights are). */
    j->k = K_READ;
    j->buf = buf;
    j->bytes = READ_BYTES;
    out->bw_gbs = measure(pool, j, 1);
    if (isa >= HERD_ISA_AVX512) {
        j->k = K_READ_PF;
        out->bw_gbs = fmax(out->bw_gbs, measure(pool, j, 1));
    }
    herd_free(buf);
    herd_free(j);
    herd_pool_destroy(pool);
    return HERD_OK;
}

/* ---- the cache ---------------------------------------------------------------------------- */
/* Entries measured by an older probe (without this "probe" number) are measured again. */
enum { PROBE_VERSION = 2 };

static bool same_machine(json_t *e, const herd_limits *lim)
{
    const char *cpu = json_string_value(json_object_get(e, "cpu"));
    return cpu && strcmp(cpu, lim->cpu) == 0 &&
           json_integer_value(json_object_get(e, "cpus")) == lim->cpus &&
           json_integer_value(json_object_get(e, "threads")) == lim->threads;
}

static double number(json_t *e, const char *key)
{
    json_t *v = json_object_get(e, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* The cache file, if it is there and well-formed (a regular file, bounded size), else NULL. */
static json_t *load_cache(const char *cache_path)
{
    char *text;
    size_t n;
    if (herd_read_file(cache_path, (size_t)1 << 20, &text, &n) != HERD_OK)
        return NULL;
    json_t *root = json_loadb(text, n, 0, NULL);
    free(text);
    return root;
}

bool herd_limits_load(const char *cache_path, herd_limits *lim)
{
    json_t *root = load_cache(cache_path);
    json_t *arr = json_object_get(root, "machines");
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_object(e) || !same_machine(e, lim) ||
            json_integer_value(json_object_get(e, "probe")) != PROBE_VERSION)
            continue;
        double bw = number(e, "bw_gbs"), f = number(e, "fp32_gflops");
        double b = number(e, "bf16_gflops"), q = number(e, "int8_gops");
        if (!(bw > 0 && f > 0 && b >= 0 && q >= 0)) /* damaged entry: measure again */
            break;
        lim->bw_gbs = bw;
        lim->fp32_gflops = f;
        lim->bf16_gflops = b;
        lim->int8_gops = q;
        double when = number(e, "measured");
        lim->measured_at = when > 0 ? (int64_t)when : 0;
        lim->from_cache = found = true;
        break;
    }
    json_decref(root);
    return found;
}

herd_status herd_limits_store(const char *cache_path, const herd_limits *lim)
{
    json_t *root = load_cache(cache_path);
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "machines"))) {
        json_decref(root);
        root = json_pack("{s:i, s:[]}", "herd_limits", 1, "machines");
    }
    json_t *arr = json_object_get(root, "machines");
    for (size_t i = json_array_size(arr); i-- > 0;)
        if (same_machine(json_array_get(arr, i), lim))
            json_array_remove(arr, i);
    json_array_append_new(arr,
                          json_pack("{s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "cpu",
                                    lim->cpu, "cpus", lim->cpus, "threads", lim->threads, "probe",
                                    PROBE_VERSION, "bw_gbs", lim->bw_gbs, "fp32_gflops",
                                    lim->fp32_gflops, "bf16_gflops", lim->bf16_gflops, "int8_gops",
                                    lim->int8_gops, "measured", (json_int_t)lim->measured_at));
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", cache_path);
    herd_status st = herd_atomic_save(cache_path, text, strlen(text), true);
    free(text);
    return st;
}

herd_status herd_limits_get_at(const char *cache_path, int threads, bool refresh, herd_limits *out)
{
    herd_limits want = {0};
    cpu_brand(want.cpu, sizeof want.cpu);
    want.cpus = herd_cpu_count();
    want.threads = threads;
    if (!refresh && cache_path && herd_limits_load(cache_path, &want)) {
        *out = want;
        return HERD_OK;
    }
    herd_log(HERD_LOG_INFO, "measuring this machine's limits with %d thread%s (cached after)",
             threads, threads == 1 ? "" : "s");
    herd_status st = herd_limits_measure(threads, out);
    if (st)
        return st;
    if (cache_path && herd_limits_store(cache_path, out))
        herd_log(HERD_LOG_WARN, "limits not cached: %s", herd_last_error());
    return HERD_OK;
}

bool herd_limits_stale(const herd_limits *lim, double seen_gbs, double bytes_per_pass)
{
    return lim->bw_gbs > 0 && seen_gbs > 1.2 * lim->bw_gbs && bytes_per_pass >= 256.0 * (1 << 20);
}

void herd_limits_when(const herd_limits *lim, char *buf, size_t n)
{
    time_t t = (time_t)lim->measured_at;
    struct tm tm;
    char date[32] = "at an unknown time";
    if (lim->measured_at > 0 && gmtime_r(&t, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    if (lim->from_cache)
        snprintf(buf, n, "cached, measured %s; --remeasure to renew", date);
    else
        snprintf(buf, n, "measured now");
}

/* $XDG_CACHE_HOME/herd or ~/.cache/herd, created if missing; false if there is no home. */
static bool cache_file(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache", home);
    else
        return false;
    mkdir(dir, 0755);
    size_t n = strlen(dir);
    snprintf(dir + n, sizeof dir - n, "/herd");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return false;
    return snprintf(out, size, "%s/limits.json", dir) < (int)size;
}

herd_status herd_limits_get(int threads, bool refresh, herd_limits *out)
{
    char path[4200];
    return herd_limits_get_at(cache_file(path, sizeof path) ? path : NULL, threads, refresh, out);
}

/* ---- peaks and the roofline --------------------------------------------------------------- */
const char *herd_peak_name(herd_peak p)
{
    return p == HERD_PEAK_BF16 ? "BF16 dot" : p == HERD_PEAK_INT8 ? "int8 VNNI" : "FP32 FMA";
}

double herd_limits_peak(const herd_limits *lim, herd_peak p)
{
    return p == HERD_PEAK_BF16   ? lim->bf16_gflops
           : p == HERD_PEAK_INT8 ? lim->int8_gops
                                 : lim->fp32_gflops;
}

herd_peak herd_peak_for_type(const herd_limits *lim, int wtype)
{
    if (wtype < 0 || wtype == HERD_TYPE_F32 || wtype == HERD_TYPE_F16)
        return HERD_PEAK_FP32;
    if (wtype == HERD_TYPE_BF16)
        return lim->bf16_gflops > 0 && herd_isa() >= HERD_ISA_AVX512BF16 ? HERD_PEAK_BF16
                                                                         : HERD_PEAK_FP32;
    return lim->int8_gops > 0 && herd_isa() >= HERD_ISA_AVX512VNNI ? HERD_PEAK_INT8
                                                                   : HERD_PEAK_FP32;
}

herd_peak herd_peak_for(const herd_limits *lim, int wtype, const char *kernel, bool exact_a)
{
    if (!kernel)
        return exact_a ? HERD_PEAK_FP32 : herd_peak_for_type(lim, wtype);
    if (wtype < 0 || exact_a || strcmp(kernel, "emulated") == 0 || wtype == HERD_TYPE_F32 ||
        wtype == HERD_TYPE_F16)
        return HERD_PEAK_FP32;
    /* the family's level names its dot product: every ".avx512bf16" family (bf16, MXFP8,
     * MXFP6 E3M2) ends in VDPBF16PS, every ".avx512vnni" one (int8, q8_0, q4_0, MXFP4, ...)
     * in VPDPBUSD; the rest widen to f32 and use FMAs */
    if (strstr(kernel, ".avx512bf16"))
        return lim->bf16_gflops > 0 ? HERD_PEAK_BF16 : HERD_PEAK_FP32;
    if (strstr(kernel, ".avx512vnni"))
        return lim->int8_gops > 0 ? HERD_PEAK_INT8 : HERD_PEAK_FP32;
    return HERD_PEAK_FP32;
}

double herd_roofline_bound(const herd_limits *lim, herd_peak p, double intensity)
{
    double pk = herd_limits_peak(lim, p);
    if (pk <= 0)
        pk = lim->fp32_gflops;
    return fmin(pk, lim->bw_gbs * intensity);
}
