/* Options shared by the commands that load a model (run, logits): -m, --ids, -t, --ctx,
 * --dtype, and the one-line memory plan. */
#ifndef HERD_CLI_MODEL_H
#define HERD_CLI_MODEL_H

#include "cli/cli.h"
#include "herd/herd.h"

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
