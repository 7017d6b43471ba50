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
/* --act's value: "f32" (exact) or "auto"; false with the usage error printed. */
bool cli_parse_act(const char *cmd, const char *v, herd_aprep *out);
/* Consumes argv[*i] (and its value) if it is one of the shared options: returns 1 if taken,
 * 0 if not ours, -1 on a usage error (already printed). */
int cli_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_args *a);
/* A model command's whole command line: the shared options above, -h/--help, then `opts`.
 * Returns 0 to go on, -1 when help was printed (exit 0), or 2 on a usage error (printed). */
int cli_model_parse(const char *cmd, int argc, char **argv, cli_model_args *a, const cli_opt *opts,
                    void (*usage)(FILE *));

/* The sampling options of `run` and `chat` (-n, --temp, --top-k, --top-p, --min-p, -s/--seed,
 * the four penalties): cli_sampling_opts fills the first CLI_SAMPLING_OPTS entries of a table
 * from g's values; cli_sampling_apply copies what was parsed back into g, -n -1 as "no limit"
 * and seed -1 (the default) as a fresh random seed, which it returns. */
typedef struct cli_sampling {
    long n, top_k, seed, last_n;
    double temp, top_p, min_p, repeat, presence, frequency;
} cli_sampling;
enum { CLI_SAMPLING_OPTS = 10 };
void cli_sampling_opts(cli_sampling *s, const herd_gen_params *g, cli_opt *out);
uint64_t cli_sampling_apply(const cli_sampling *s, herd_gen_params *g);
#define CLI_SAMPLING_HELP                                                                          \
    "sampling, applied in this order:\n"                                                           \
    "  --repeat-penalty P   0. penalties on the tokens of the last N (prompt and reply):\n"        \
    "  --repeat-last-n N       a positive logit / P, a negative one x P (default 1 = off);\n"      \
    "  --presence-penalty P    minus P once and minus F x its count (defaults 0 = off);\n"         \
    "  --frequency-penalty F   N = 64 by default, 0 = off, -1 = the whole prompt and reply\n"      \
    "  --temp T             1. temperature: logits / T (default 0.6); 0 = greedy argmax,\n"        \
    "                          which skips steps 2-5\n"                                            \
    "  --top-k K            2. keep the K most likely tokens (default 0 = off)\n"                  \
    "  --top-p P            3. keep the smallest set reaching probability P (default 0.9)\n"       \
    "  --min-p P            4. drop tokens below P x the top probability (default 0 = off)\n"      \
    "  -s, --seed S         5. the draw from what is left uses seed S; -1 (default) = a new\n"     \
    "                          random seed each run (-v prints it)\n"

/* The prompt of -p TEXT, -p - (standard input) or -f FILE, as a malloc'd string; returns an
 * exit code (0, or 1/2 with the message printed). */
int cli_read_prompt(const char *cmd, const char *text, const char *file, char **out, size_t *len);
/* Prints generated text with control bytes (C0 but tab and newline, DEL, C1) as visible \xNN
 * escapes, so a model's output can never drive the terminal. */
void cli_print_text(FILE *f, const char *text, size_t len);

/* The built-in model (models/kjv/model.gguf, a small Llama 4 trained by `herd train`, see
 * docs/TRAINING.md): beside the executable (../share/herd/, ../models/kjv/) or in the source
 * tree it was built from; NULL when none is there. */
const char *cli_default_model(void);
/* --cache-type-k/-ctk T and --cache-type-v/-ctv T (llama.cpp's spellings), T one of
 * herd_kv_type_names() in any case: returns 1 if argv[*i] was one (value stored), 0 if not,
 * -1 on an unknown type (one-line usage error printed). */
int cli_cache_type_option(const char *cmd, int argc, char **argv, int *i, herd_type *k,
                          herd_type *v);
/* The same for a value a cli_opt table took: false (message printed) on an unknown type. */
bool cli_parse_cache_type(const char *cmd, const char *opt, const char *name, herd_type *out);
#define CLI_CACHE_TYPE_HELP                                                                        \
    "  -ctk, --cache-type-k T  KV cache type of keys: f32 (default, exact), bf16, q8_0\n"          \
    "  -ctv, --cache-type-v T  KV cache type of values (the same types)\n"

/* Parses "1,2,3" into ids; false (message printed) on a bad list. */
bool cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int64_t *n);
/* Loads the engine and prints the memory plan on stderr; returns an exit code (0 = loaded). */
int cli_load_engine(const char *cmd, cli_model_args *a, herd_engine **out);

/* The shared options' help; commands with their own context default add their own -c line.
 * run, chat and serve default to --act auto (speed), the accuracy tools to f32 (exact). */
#define CLI_MODEL_HELP_BASE                                                                        \
    "  -m MODEL          a Hugging Face checkpoint directory (config.json + *.safetensors) or\n"   \
    "                    a llama4 GGUF file\n"                                                     \
    "  -t THREADS        worker threads (default: every CPU)\n"                                    \
    "  --dtype T         packed weight type (f32, bf16, f16, int8, q8_0, mxfp8_e4m3, ...; see\n"   \
    "                    herd quantize --help; default: the checkpoint's "                         \
    "own)\n" CLI_CACHE_TYPE_HELP
#define CLI_ACT_HELP_EXACT                                                                         \
    "  --act A           activations in GEMMs: f32 (default, exact) or auto (the weight type's\n"  \
    "                    fast choice, e.g. bf16 or int8; faster, less exact)\n"
#define CLI_ACT_HELP_FAST                                                                          \
    "  --act A           activations in GEMMs: auto (default: the weight type's fast choice,\n"    \
    "                    e.g. bf16 or int8; ~80x faster than f32 on MXFP4 weights) or f32\n"       \
    "                    (exact, as herd logits; f32 weights are exact either way)\n"
#define CLI_CTX_HELP                                                                               \
    "  -c, --ctx-size N  context size in tokens (also --ctx; default: the model's training\n"      \
    "                    length, at most 8192 and what a quarter of free memory holds)\n"
#define CLI_MODEL_HELP_NO_CTX CLI_MODEL_HELP_BASE CLI_ACT_HELP_EXACT
#define CLI_MODEL_HELP        CLI_MODEL_HELP_NO_CTX CLI_CTX_HELP
#define CLI_MODEL_HELP_FAST   CLI_MODEL_HELP_BASE CLI_ACT_HELP_FAST CLI_CTX_HELP

#endif
