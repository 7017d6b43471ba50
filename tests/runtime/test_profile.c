/* The profile report and the roofline SVG: rows computed from known counters, the coordinate
 * function, every point of the SVG read back and found where the table puts it, and the limits
 * cache (store, load, damaged file). */
#include "harness.h"
#include "herd/formats.h"
#include "herd/profile.h"

#include <unistd.h>

static const herd_limits test_limits = {.cpu = "Test CPU <&>",
                                        .cpus = 2,
                                        .threads = 1,
                                        .bw_gbs = 25,
                                        .fp32_gflops = 117,
                                        .bf16_gflops = 234,
                                        .int8_gops = 469};

/* Records a fake op: `flops` and `bytes` (all weights) in `ms` milliseconds. */
static void fake(herd_prof_phase ph, herd_prof_op op, double ms, double flops, double bytes,
                 int wtype)
{
    double t = herd_prof_phase_begin(ph);
    herd_prof_cost c = {.flops = flops, .weight_bytes = bytes};
    herd_prof_record(op, ms / 1e3, c, wtype);
    herd_prof_phase_end(t, 0);
}

static void fill_counters(void)
{
    herd_prof_reset();
    herd_prof_enable(true);
    /* decode: GEMVs near the bandwidth roof, intensity ~1 (bf16 weights) */
    fake(HERD_PHASE_DECODE, HERD_OP_EXPERT, 8, 16e6, 16e6, HERD_TYPE_BF16);
    fake(HERD_PHASE_DECODE, HERD_OP_SHARED, 4, 8e6, 8e6, HERD_TYPE_BF16);
    fake(HERD_PHASE_DECODE, HERD_OP_Q, 1, 2e6, 2e6, HERD_TYPE_BF16);
    fake(HERD_PHASE_DECODE, HERD_OP_ATTN, 0.5, 1e5, 4e5, -1);
    fake(HERD_PHASE_DECODE, HERD_OP_NORM, 0.1, 1e4, 2e4, -1);
    fake(HERD_PHASE_DECODE, HERD_OP_EMBED, 0.01, 0, 1e4, -1);
    /* prefill: compute-bound GEMMs */
    fake(HERD_PHASE_PREFILL, HERD_OP_EXPERT, 100, 1e10, 2e7, HERD_TYPE_MXFP4);
    fake(HERD_PHASE_PREFILL, HERD_OP_LM_HEAD, 50, 4e9, 4e7, HERD_TYPE_F32);
    fake(HERD_PHASE_PREFILL, HERD_OP_ATTN, 20, 2e8, 1e7, -1);
    double t = herd_prof_phase_begin(HERD_PHASE_PREFILL);
    herd_prof_phase_end(t - 0.2, 64); /* 200 ms of wall time */
    t = herd_prof_phase_begin(HERD_PHASE_DECODE);
    herd_prof_phase_end(t - 0.015, 1);
    herd_prof_enable(false);
}

TEST(rows)
{
    fill_counters();
    herd_profile_row rows[HERD_PHASE_COUNT * HERD_OP_COUNT];
    int n = herd_profile_rows(&test_limits, false, rows);
    CHECK_EQ_INT(n, 9);
    /* prefill first, longest first */
    CHECK_EQ_INT(rows[0].phase, HERD_PHASE_PREFILL);
    CHECK_EQ_INT(rows[0].op, HERD_OP_EXPERT);
    CHECK_EQ_INT(rows[1].op, HERD_OP_LM_HEAD);
    CHECK_EQ_INT(rows[3].phase, HERD_PHASE_DECODE);
    CHECK_EQ_INT(rows[3].op, HERD_OP_EXPERT);
    CHECK_NEAR(rows[0].ms, 100, 1e-9);
    CHECK_NEAR(rows[0].pct_time, 50, 1e-2);
    CHECK_NEAR(rows[0].gflops, 100, 1e-6); /* 1e10 FLOP in 0.1 s */
    CHECK_NEAR(rows[0].gbs, 0.2, 1e-9);
    CHECK_NEAR(rows[0].intensity, 500, 1e-9);
    /* int8 roof only where the CPU running the test has VNNI */
    bool vnni = herd_isa() >= HERD_ISA_AVX512VNNI;
    CHECK_EQ_INT(rows[0].peak, vnni ? HERD_PEAK_INT8 : HERD_PEAK_FP32);
    CHECK_NEAR(rows[0].bound_gflops, vnni ? 469 : 117, 1e-9);
    CHECK_NEAR(rows[1].bound_gflops, 117, 1e-9); /* f32 weights, intensity 100: FP32 roof */
    CHECK_NEAR(rows[1].pct_bound, 100 * 80 / 117.0, 1e-6);
    /* decode gate|up: intensity 1, 2 GFLOP/s vs 25 GB/s · 1 */
    CHECK_NEAR(rows[3].intensity, 1, 1e-12);
    CHECK_NEAR(rows[3].gflops, 2, 1e-9);
    CHECK_NEAR(rows[3].bound_gflops, 25, 1e-9);
    CHECK_NEAR(rows[3].pct_bound, 8, 1e-9);
    /* the embedding has no FLOPs: intensity 0, judged by bandwidth alone */
    const herd_profile_row *emb = &rows[n - 1];
    CHECK_EQ_INT(emb->op, HERD_OP_EMBED);
    CHECK_NEAR(emb->intensity, 0, 0);
    CHECK_NEAR(emb->pct_bound, 100 * 1.0 / 25, 1e-9);
}

TEST(peaks_by_kernel)
{
    const herd_limits *l = &test_limits;
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_BF16, "bf16.avx512bf16", false), HERD_PEAK_BF16);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_BF16, "bf16.avx512bf16", true), HERD_PEAK_FP32);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_BF16, "bf16.avx512", false), HERD_PEAK_FP32);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_INT8, "int8.avx512vnni", false), HERD_PEAK_INT8);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_MXFP4, "mxfp4.avx512vnni", false), HERD_PEAK_INT8);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_MXFP8_E4M3, "mxfp8_e4m3.avx512bf16", false),
                 HERD_PEAK_BF16);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_Q4_0, "q4_0.avx2", false), HERD_PEAK_FP32);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_MXFP6_E2M3, "emulated", false), HERD_PEAK_FP32);
    CHECK_EQ_INT(herd_peak_for(l, HERD_TYPE_F32, "f32.avx512", false), HERD_PEAK_FP32);
    CHECK_EQ_INT(herd_peak_for(l, -1, NULL, false), HERD_PEAK_FP32);
    herd_limits no_vnni = *l;
    no_vnni.int8_gops = 0;
    CHECK_EQ_INT(herd_peak_for(&no_vnni, HERD_TYPE_INT8, "int8.avx512vnni", false), HERD_PEAK_FP32);
}

TEST(coordinates)
{
    herd_roofline_axes ax = {.xmin = 0.01,
                             .xmax = 1000,
                             .ymin = 0.1,
                             .ymax = 1000,
                             .left = 100,
                             .top = 50,
                             .width = 500,
                             .height = 400};
    double x, y;
    herd_roofline_xy(&ax, 0.01, 0.1, &x, &y); /* bottom left */
    CHECK_NEAR(x, 100, 1e-9);
    CHECK_NEAR(y, 450, 1e-9);
    herd_roofline_xy(&ax, 1000, 1000, &x, &y); /* top right */
    CHECK_NEAR(x, 600, 1e-9);
    CHECK_NEAR(y, 50, 1e-9);
    herd_roofline_xy(&ax, 1, 10, &x, &y); /* 2 of 5 decades across, 2 of 4 up */
    CHECK_NEAR(x, 300, 1e-9);
    CHECK_NEAR(y, 250, 1e-9);

    /* fitted axes are powers of ten covering points and ridges */
    herd_roofline_point p = {"q", HERD_PHASE_DECODE, 0.3, 2, 0.5};
    herd_roofline_axes_fit(&test_limits, &p, 1, &ax);
    CHECK(ax.xmin <= 0.3 && ax.xmax >= 469 / 25.0 && ax.ymin <= 2 && ax.ymax >= 469);
    CHECK_NEAR(log10(ax.xmin), round(log10(ax.xmin)), 1e-12);
    CHECK_NEAR(log10(ax.ymax), round(log10(ax.ymax)), 1e-12);
}

/* Value of attribute `name` inside the tag starting at `tag`. */
static bool attr(const char *tag, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *end = strchr(tag, '>'), *p = strstr(tag, key);
    if (!p || !end || p > end)
        return false;
    p += strlen(key);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= size)
        return false;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return true;
}

TEST(svg_points_match_table)
{
    fill_counters();
    herd_profile_row rows[HERD_PHASE_COUNT * HERD_OP_COUNT];
    int n = herd_profile_rows(&test_limits, false, rows);
    herd_roofline_point pts[HERD_PHASE_COUNT * HERD_OP_COUNT];
    for (int i = 0; i < n; i++)
        pts[i] = (herd_roofline_point){herd_prof_op_name(rows[i].op), rows[i].phase,
                                       rows[i].intensity, rows[i].gflops, rows[i].pct_time / 100};
    char *svg = NULL;
    CHECK(herd_roofline_svg("roofline <test> & co", &test_limits, pts, n, &svg) == HERD_OK);
    if (!svg)
        return;
    CHECK(strncmp(svg, "<?xml", 5) == 0);
    CHECK(strstr(svg, "</svg>") != NULL);
    CHECK(strstr(svg, "roofline &lt;test&gt; &amp; co") != NULL); /* escaped */
    CHECK(strstr(svg, "Test CPU &lt;&amp;&gt;") != NULL);
    CHECK(strstr(svg, "data-roof=\"bandwidth\"") && strstr(svg, "data-roof=\"FP32 FMA\"") &&
          strstr(svg, "data-roof=\"int8 VNNI\"") && strstr(svg, "data-roof=\"BF16 dot\""));

    herd_roofline_axes ax;
    herd_roofline_axes_fit(&test_limits, pts, n, &ax);
    int found = 0;
    for (const char *c = strstr(svg, "<circle class=\"op\""); c;
         c = strstr(c + 1, "<circle class=\"op\"")) {
        char op[64], phase[16], sx[32], sy[32], si[32], sg[32];
        CHECK(attr(c, "data-op", op, sizeof op) && attr(c, "data-phase", phase, sizeof phase) &&
              attr(c, "cx", sx, sizeof sx) && attr(c, "cy", sy, sizeof sy) &&
              attr(c, "data-intensity", si, sizeof si) && attr(c, "data-gflops", sg, sizeof sg));
        const herd_profile_row *r = NULL;
        for (int i = 0; i < n; i++)
            if (strcmp(herd_prof_op_name(rows[i].op), op) == 0 &&
                strcmp(herd_prof_phase_name(rows[i].phase), phase) == 0)
                r = &rows[i];
        CHECK_MSG(r != NULL, "point %s/%s not in the table", phase, op);
        if (!r)
            continue;
        CHECK_NEAR(atof(si), r->intensity, 1e-8 * r->intensity);
        CHECK_NEAR(atof(sg), r->gflops, 1e-8 * r->gflops);
        double x, y;
        herd_roofline_xy(&ax, r->intensity, r->gflops, &x, &y);
        CHECK_NEAR(atof(sx), x, 0.01);
        CHECK_NEAR(atof(sy), y, 0.01);
        CHECK(x >= ax.left && x <= ax.left + ax.width && y >= ax.top && y <= ax.top + ax.height);
        found++;
    }
    CHECK_EQ_INT(found, n - 1); /* all but the embedding (no FLOPs: not on a log axis) */
    FILE *f = fopen("/tmp/herd_test_roofline.svg", "w"); /* for looking at it by hand */
    if (f) {
        fputs(svg, f);
        fclose(f);
    }
    free(svg);
}

TEST(limits_cache)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd_limits_test.%ld.json", (long)getpid());
    unlink(path);
    herd_limits a = test_limits, b = test_limits;
    b.threads = 2;
    b.bw_gbs = 40;
    herd_limits q = test_limits;
    q.bw_gbs = 0;
    CHECK(!herd_limits_load(path, &q)); /* no file */
    CHECK(herd_limits_store(path, &a) == HERD_OK);
    CHECK(herd_limits_store(path, &b) == HERD_OK);
    a.fp32_gflops = 120; /* replaces the 1-thread entry, keeps the 2-thread one */
    CHECK(herd_limits_store(path, &a) == HERD_OK);
    CHECK(herd_limits_load(path, &q));
    CHECK_NEAR(q.fp32_gflops, 120, 1e-9);
    CHECK_NEAR(q.bw_gbs, 25, 1e-9);
    CHECK(q.from_cache);
    q.threads = 2;
    CHECK(herd_limits_load(path, &q));
    CHECK_NEAR(q.bw_gbs, 40, 1e-9);
    q.threads = 3;
    CHECK(!herd_limits_load(path, &q));
    /* a damaged cache is not an error: it is measured again and rewritten */
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"machines\": [ {\"cpu\": 5}, ", f);
        fclose(f);
    }
    q.threads = 1;
    CHECK(!herd_limits_load(path, &q));
    CHECK(herd_limits_store(path, &a) == HERD_OK);
    CHECK(herd_limits_load(path, &q));
    /* an entry an older probe measured (no "probe" number) is measured again */
    f = fopen(path, "w");
    if (f) {
        fprintf(f,
                "{\"machines\": [{\"cpu\": \"%s\", \"cpus\": %d, \"threads\": 1, \"bw_gbs\": 9, "
                "\"fp32_gflops\": 9, \"bf16_gflops\": 0, \"int8_gops\": 0}]}",
                "Test CPU <&>", a.cpus);
        fclose(f);
    }
    CHECK(!herd_limits_load(path, &q));
    unlink(path);
}

int main(void)
{
    RUN(rows);
    RUN(peaks_by_kernel);
    RUN(coordinates);
    RUN(svg_points_match_table);
    RUN(limits_cache);
    return harness_finish();
}
