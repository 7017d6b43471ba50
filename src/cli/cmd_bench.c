/* herd bench: dispatch to the benchmarks in bench/ (mx, gemm, model, batch, attention, tokenize).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int bench_mx_main(int argc, char **argv);
int bench_gemm_main(int argc, char **argv);
int bench_model_main(int argc, char **argv);
int bench_batch_main(int argc, char **argv);
int bench_attention_main(int argc, char **argv);
int bench_tokenize_main(int argc, char **argv);
int bench_image_main(int argc, char **argv);

static const struct {
    const char *name, *summary;
    int (*fn)(int, char **);
} benches[] = {
    {"mx", "MX quantize/dequantize throughput vs memory bandwidth", bench_mx_main},
    {"gemm", "GEMM/GEMV throughput per weight type vs the machine's limits", bench_gemm_main},
    {"model", "whole-model prefill and decode tokens/s", bench_model_main},
    {"batch", "decode tokens/s of many sequences at once vs the memory-traffic bound",
     bench_batch_main},
    {"attention", "decode attention at long context per KV cache type", bench_attention_main},
    {"tokenize", "tokenizer encoding MB/s, beside npm tiktoken", bench_tokenize_main},
    {"image", "vision encoder seconds per tile at Scout's shape vs the peak", bench_image_main},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: herd bench WHAT [OPTIONS]   (herd bench WHAT --help)\n\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(out, "  %-9s %s\n", benches[i].name, benches[i].summary);
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
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (strcmp(argv[1], benches[i].name) == 0)
            return benches[i].fn(argc - 1, argv + 1);
    return cli_usage_error("bench", "unknown benchmark '%s'", argv[1]);
}

const cli_command cli_cmd_bench = {
    "bench", "benchmarks: mx, gemm, model, batch, attention, tokenize, image", cmd_main};
