/* herd mx: MX format tools. `herd mx cast` quantizes a float32 .npy to an MX format along its
 * last axis and writes the dequantized values (what microxcaling's quantize_mx returns), with
 * an optional error report. */
#include "cli/cli.h"
#include "herd/formats.h"
#include "herd/io_npy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: herd mx cast --format F [--rounding even|away] [--report] IN.npy OUT.npy\n\n"
            "Quantizes a float32 C-order .npy to an MX format in blocks of 32 along the last axis\n"
            "(a partial last block is zero-padded) and writes the dequantized float32 .npy of the\n"
            "same shape (OUT.npy - writes it to standard output).\n\n"
            "  --format F       mxfp8_e4m3 mxfp8_e5m2 mxfp6_e3m2 mxfp6_e2m3 mxfp4_e2m1 mxint8\n"
            "  --rounding R     even (round half to even, OCP; the default) or away (half away\n"
            "                   from zero, microxcaling's \"nearest\")\n"
            "  --report         print the RMS error, max abs error and SQNR (dB) of the cast\n\n"
            "usage: herd mx table -m MODEL -f TEXT [...]   (herd mx table --help)\n"
            "Casts a model to every MX, int8 and ggml type and tabulates accuracy and speed.\n");
}

/* Error statistics over the finite inputs (non-finite ones give NaN blocks by design). */
static void report(herd_mx_format f, herd_mx_rounding r, const float *x, const float *y, size_t n,
                   size_t row)
{
    double signal = 0, noise = 0, maxerr = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        double e = (double)y[i] - (double)x[i];
        signal += (double)x[i] * x[i];
        noise += e * e;
        maxerr = fmax(maxerr, fabs(e));
        used++;
    }
    size_t blocks = row ? n / row * ((row + HERD_MX_BLOCK - 1) / HERD_MX_BLOCK) : 0;
    printf("%s, rounding %s: %zu values in %zu blocks (%zu bytes packed)\n", herd_mx_format_name(f),
           r == HERD_MX_ROUND_EVEN ? "even" : "away", n, blocks,
           blocks * (size_t)herd_mx_block_bytes(f));
    if (used < n)
        printf("  non-finite     %zu values (their blocks become NaN; left out below)\n", n - used);
    printf("  rms error      %.6g\n", used ? sqrt(noise / (double)used) : 0.0);
    printf("  max abs error  %.6g\n", maxerr);
    if (noise > 0)
        printf("  SQNR           %.2f dB\n", 10.0 * log10(signal / noise));
    else
        printf("  SQNR           inf dB (exact)\n");
}

static int cmd_cast(int argc, char **argv)
{
    const char *cmd = "mx cast", *fmt_name = NULL, *paths[2] = {NULL, NULL};
    herd_mx_rounding rounding = HERD_MX_ROUND_EVEN;
    bool want_report = false;
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--format") == 0) {
            if (!(fmt_name = cli_value(cmd, argc, argv, &i)))
                return 2;
        } else if (strcmp(argv[i], "--rounding") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v)
                return 2;
            if (strcmp(v, "even") == 0)
                rounding = HERD_MX_ROUND_EVEN;
            else if (strcmp(v, "away") == 0)
                rounding = HERD_MX_ROUND_AWAY;
            else
                return cli_usage_error(cmd, "unknown rounding '%s' (even or away)", v);
        } else if (strcmp(argv[i], "--report") == 0) {
            want_report = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (npaths < 2) {
            paths[npaths++] = argv[i];
        } else {
            return cli_usage_error(cmd, "too many arguments ('%s')", argv[i]);
        }
    }
    if (!fmt_name)
        return cli_usage_error(cmd, "--format is required");
    herd_mx_format f;
    if (!herd_mx_format_parse(fmt_name, &f))
        return cli_usage_error(cmd,
                               "unknown format '%s' (mxfp8_e4m3 mxfp8_e5m2 mxfp6_e3m2 "
                               "mxfp6_e2m3 mxfp4_e2m1 mxint8)",
                               fmt_name);
    if (npaths != 2)
        return cli_usage_error(cmd, "need IN.npy and OUT.npy");
    if (want_report && strcmp(paths[1], "-") == 0)
        return cli_usage_error(cmd, "--report and OUT - would both write to standard output");

    float *x = NULL, *y = NULL;
    size_t shape[HERD_NPY_MAX_DIMS], n;
    int ndim, rc = 0;
    herd_status st = herd_npy_read_f32(paths[0], &x, shape, &ndim);
    if (st != HERD_OK)
        return cli_status_error(cmd, st);
    herd_npy_count(shape, ndim, &n);
    size_t row = ndim ? shape[ndim - 1] : 1;
    y = herd_alloc(n ? n * sizeof(float) : 4, paths[1]);
    if (!y) {
        rc = cli_status_error(cmd, HERD_ERR_NOMEM);
        goto done;
    }
    for (size_t i = 0; row && i < n; i += row)
        herd_mx_cast(f, rounding, x + i, y + i, row);
    st = herd_npy_write_f32(paths[1], y, shape, ndim);
    if (st != HERD_OK) {
        rc = cli_status_error(cmd, st);
        goto done;
    }
    if (want_report)
        report(f, rounding, x, y, n, row);
done:
    herd_free(x);
    herd_free(y);
    return rc;
}

static int cmd_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "cast") == 0)
        return cmd_cast(argc - 1, argv + 1);
    if (strcmp(argv[1], "table") == 0)
        return cli_mx_table(argc - 1, argv + 1);
    return cli_usage_error("mx", "unknown subcommand '%s' (cast, table)", argv[1]);
}

const cli_command cli_cmd_mx = {
    "mx", "MX formats: cast a .npy (mx cast); tabulate a model's types (mx table)", cmd_main};
