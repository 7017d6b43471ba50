/* Options shared by the commands that load a model (run, logits): -m, --ids, -t, --ctx,
 * --dtype, and the one-line memory plan. */
#ifndef HERD_CLI_MODEL_H
#define HERD_CLI_MODEL_H

#include "cli/cli.h"
#include "herd/herd.h"

#include <stdio.h>

typedef struct cli_model_args {
    const char *model;
    int32_t *ids; /* malloc'd */
    int64_t n_ids;
    herd_engine_opts engine;
} cli_model_args;

void cli_model_args_init(cli_model_args *a);
void cli_model_args_free(cli_model_args *a);
/* Consumes argv[*i] (and its value) if it is one of the shared options: returns 1 if taken,
 * 0 if not ours, -1 on a usage error (already printed). */
int cli_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_args *a);
/* A model command's whole command line: the shared options above, -h/--help, then `opts`.
 * Returns 0 to go on, -1 when help was printed (exit 0), or 2 on a usage error (printed). */
int cli_model_parse(const char *cmd, int argc, char **argv, cli_model_args *a, const cli_opt *opts,
                    void (*usage)(FILE *));

/* The sampling options of `run` and `chat` (-n, --temp, --top-k, --top-p, --min-p, --seed):
 * cli_sampling_opts fills the first 6 entries of a table from g's values; cli_sampling_apply
 * copies what was parsed back into g. */
typedef struct cli_sampling {
    long n, top_k, seed;
    double temp, top_p, min_p;
} cli_sampling;
enum { CLI_SAMPLING_OPTS = 6 };
void cli_sampling_opts(cli_sampling *s, const herd_gen_params *g, long n_min, cli_opt *out);
void cli_sampling_apply(const cli_sampling *s, herd_gen_params *g);

/* Parses "1,2,3" into ids; false (message printed) on a bad list. */
bool cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int64_t *n);
/* Loads the engine and prints the memory plan on stderr; returns an exit code (0 = loaded). */
int cli_load_engine(const char *cmd, cli_model_args *a, herd_engine **out);

#define CLI_MODEL_HELP                                                                             \
    "  -m DIR            Hugging Face checkpoint directory (config.json + *.safetensors)\n"        \
    "  -t THREADS        worker threads (default: every CPU)\n"                                    \
    "  --ctx N           context size in tokens (default: the config's max_position_embeddings)\n" \
    "  --dtype T         packed weight type: f32, bf16, f16, int8 (default: the checkpoint's "     \
    "own)\n"                                                                                       \
    "  --act A           activations in GEMMs: f32 (default, exact) or auto (the weight type's\n"  \
    "                    fast choice, e.g. bf16 or int8; faster, less exact)\n"

#endif
