/* herd profile: the machine's limits (measured once, cached per machine), the per-op report
 * built from the profiler's counters (herd/prof.h), and the roofline plot written as SVG.
 *
 * The roofline of an op with arithmetic intensity I (FLOP per byte moved) is
 * min(peak, bandwidth · I), where peak is the FLOP/s of the instruction its kernel uses:
 * FP32 FMA for f32/f16 weights and non-GEMM ops, BF16 dot products for bf16 weights, int8
 * VNNI dot products for int8, ggml and MX block types (when the CPU has them). */
#ifndef HERD_PROFILE_H
#define HERD_PROFILE_H

#include "herd/base.h"
#include "herd/prof.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- machine limits ---------------------------------------------------------------------- */
typedef struct herd_limits {
    char cpu[80];       /* CPU model (cpuid brand string) */
    int cpus;           /* logical CPUs */
    int threads;        /* the figures below are for this many threads */
    double bw_gbs;      /* memory read bandwidth, GB/s (1e9 bytes) */
    double fp32_gflops; /* FP32 FMA peak */
    double bf16_gflops; /* BF16 dot-product peak (0: the CPU has none) */
    double int8_gops;   /* int8 VNNI dot-product peak, ops (2 per multiply-add); 0: none */
    bool from_cache;
    int64_t measured_at; /* when, in Unix seconds (0: unknown, a cache entry from before) */
} herd_limits;

/* Measures now (about a second per thread count). */
herd_status herd_limits_measure(int threads, herd_limits *out);
/* The cached figures for this CPU model, CPU count and thread count, measured and stored on
 * first use (or when `refresh`). The cache is $XDG_CACHE_HOME/herd/limits.json, else
 * ~/.cache/herd/limits.json; a missing or unreadable cache is simply measured again. */
herd_status herd_limits_get(int threads, bool refresh, herd_limits *out);
/* The same with an explicit cache file (tests). */
herd_status herd_limits_get_at(const char *cache_path, int threads, bool refresh, herd_limits *out);
/* Cache file primitives: look up the entry matching lim->cpu, cpus and threads; store one
 * (replacing a matching entry, keeping the others). */
bool herd_limits_load(const char *cache_path, herd_limits *lim);
herd_status herd_limits_store(const char *cache_path, const herd_limits *lim);
/* True when a run streamed faster than lim allows: more than 20% above its read bandwidth, over
 * more bytes per pass than caches hold (>= 256 MiB), so the figures are stale (measured on a
 * busy machine, say); measure again. */
bool herd_limits_stale(const herd_limits *lim, double seen_gbs, double bytes_per_pass);
/* "measured now" or "cached, measured 2026-12-02 17:40 UTC" into buf. */
void herd_limits_when(const herd_limits *lim, char *buf, size_t n);

typedef enum herd_peak {
    HERD_PEAK_FP32,
    HERD_PEAK_BF16,
    HERD_PEAK_INT8,
    HERD_PEAK_COUNT
} herd_peak;
const char *herd_peak_name(herd_peak p); /* "FP32 FMA", "BF16 dot", "int8 VNNI" */
double herd_limits_peak(const herd_limits *lim, herd_peak p); /* GFLOP/s (0: none) */
/* The peak that applies to a kernel on weights of type wtype (-1: no weights, FP32) with the
 * ISA in force; falls back to FP32 when the CPU lacks the instruction. */
herd_peak herd_peak_for_type(const herd_limits *lim, int wtype);
/* The same from the kernel family that ran ("<type>.<isa>", herd_packed_kernel; NULL: guess
 * from the ISA): VDPBF16PS for "*.avx512bf16" families (bf16, MXFP8, MXFP6 E3M2), VPDPBUSD for
 * "*.avx512vnni" ones (int8, q8_0, q4_0, MXFP4, MXFP6 E2M3, MXINT8), FP32 FMA for the rest,
 * for "emulated" types and whenever activations stay f32 (exact_a: the exact tiles widen the
 * weights and use FMAs). */
herd_peak herd_peak_for(const herd_limits *lim, int wtype, const char *kernel, bool exact_a);
/* min(peak, bw · intensity), GFLOP/s. */
double herd_roofline_bound(const herd_limits *lim, herd_peak p, double intensity);

/* ---- the report -------------------------------------------------------------------------- */
typedef struct herd_profile_row {
    herd_prof_phase phase;
    herd_prof_op op;
    int64_t calls;
    double ms, pct_time; /* pct of the phase's measured wall time */
    double gflops, gbs;  /* achieved */
    double intensity;    /* FLOP per byte (weights + activations + KV) */
    herd_peak peak;
    double bound_gflops; /* roofline at this intensity */
    double pct_bound;    /* gflops / bound_gflops, in % */
    herd_prof_cost cost; /* totals over all calls */
} herd_profile_row;

/* Rows for every (phase, op) that was called, sorted by phase, then time (longest first);
 * exact_a: the model ran with f32 activations (HERD_APREP_EXACT). Returns the number of rows
 * (at most HERD_PHASE_COUNT·HERD_OP_COUNT). */
int herd_profile_rows(const herd_limits *lim, bool exact_a, herd_profile_row *rows);

/* ---- the roofline plot ------------------------------------------------------------------- */
typedef struct herd_roofline_point {
    const char *label;
    herd_prof_phase phase;
    double intensity; /* FLOP/byte */
    double gflops;
    double share; /* of its phase's time, 0..1: the marker's area grows with it */
} herd_roofline_point;

/* Log-log plot geometry: data ranges (powers of ten) and the plot area in pixels. */
typedef struct herd_roofline_axes {
    double xmin, xmax, ymin, ymax;
    double left, top, width, height;
} herd_roofline_axes;

/* Axes covering the points (those with intensity and gflops > 0) and the roofs. */
void herd_roofline_axes_fit(const herd_limits *lim, const herd_roofline_point *pts, int n,
                            herd_roofline_axes *ax);
/* Pixel position of (intensity, gflops). */
void herd_roofline_xy(const herd_roofline_axes *ax, double intensity, double gflops, double *x,
                      double *y);
/* The SVG document (malloc'd, NUL-terminated; free with free()). Points without a positive
 * intensity and rate are left out. Each point is <circle class="op" data-op=... data-phase=...
 * data-intensity=... data-gflops=...>, so tests and tools can read the plot back. */
herd_status herd_roofline_svg(const char *title, const herd_limits *lim,
                              const herd_roofline_point *pts, int n, char **out);
/* Writes it to `path` atomically. */
herd_status herd_roofline_svg_write(const char *path, const char *title, const herd_limits *lim,
                                    const herd_roofline_point *pts, int n);

#ifdef __cplusplus
}
#endif
#endif
