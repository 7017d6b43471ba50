/* Images in a prompt, for the commands that take --image (logits, run, chat): each <|image|> id
 * of the prompt stands for the next image and becomes that image's block of ids (spec §11.4);
 * the <|patch|> rows then enter the model as the vision features instead of embeddings. */
#ifndef HERD_CLI_VISION_H
#define HERD_CLI_VISION_H

#include "cli/cli.h"
#include "cli/cli_model.h"
#include "herd/herd.h"
#include "herd/vision.h"

/* ---- one session's vision tower (run, chat): configuration and weights, loaded once ---- */
typedef struct cli_vision {
    herd_vision_config cfg; /* special ids from the tokenizer when there is one */
    herd_vision_model *vm;
    int64_t hidden; /* the text model's: the width of a feature row */
} cli_vision;

/* The image special ids (<|image|>, <|patch|>, <|image_start|>, <|image_end|>, the tile
 * separators) by tokenizer lookup; the config's values stay when tok is NULL. The tokenizer
 * must have all six, and its <|patch|> must be the config's image_token_index (the rows the
 * model replaces). */
herd_status cli_vision_ids(const herd_tokenizer *tok, herd_vision_config *c);
/* Reads the configuration of `model` (or `mmproj`), checks it against the text model and loads
 * the tower on the context's threads, in the model's weight type and activation mode. */
herd_status cli_vision_open(const char *model, const char *mmproj, const herd_tokenizer *tok,
                            const herd_model_opts *mo, herd_model *m, herd_context *kv,
                            cli_vision *v);
void cli_vision_close(cli_vision *v);

/* One image through decoding, preprocessing and the tower. */
typedef struct cli_image_rows {
    int64_t grid_rows, grid_cols; /* canvas tiles, for the prompt expansion */
    int64_t n_rows;               /* feature rows = <|patch|> ids of its block */
    float *rows;                  /* [n_rows × hidden], herd_alloc'd */
} cli_image_rows;
herd_status cli_vision_image(cli_vision *v, const char *path, cli_image_rows *out);
void cli_image_rows_free(cli_image_rows *r);

/* ---- --image for logits and run ---- */
typedef struct cli_images {
    const char **paths; /* the --image files, in order (malloc'd array) */
    int n;
    const char *mmproj; /* --mmproj FILE or NULL */
    herd_vision_config cfg;
    herd_image_tiles *tiles; /* [n] */
    int32_t *ids;            /* the expanded prompt */
    int64_t n_ids;
} cli_images;

/* Removes every `--image FILE` and `--mmproj FILE` from argv (so the command's own parser never
 * sees them); returns 0, or 2 after a usage message for a missing value. */
int cli_images_take(const char *cmd, int *argc, char **argv, cli_images *im);
void cli_images_free(cli_images *im);
/* A model command that takes images: cli_images_take, then cli_model_parse on what is left.
 * The same returns as cli_model_parse; on -1 (help printed) `a` and `im` are already freed. */
int cli_model_parse_images(const char *cmd, int *argc, char **argv, cli_model_args *a,
                           const cli_opt *opts, void (*usage)(FILE *), cli_images *im);

/* Reads the vision config of `model` (special ids from `tok` when not NULL), decodes and
 * preprocesses every image and expands the prompt. Images without an <|image|> in the prompt
 * get one after the BOS (in order), as the chat template puts images before the text; more
 * <|image|> ids than images is an error. Returns an exit code (0 = done; errors printed). */
int cli_images_plan(const char *cmd, const char *model, const herd_tokenizer *tok,
                    const int32_t *ids, int64_t n, int64_t bos, cli_images *im);

/* Runs the images through the vision tower (on the model's threads, in its weight type and
 * activation mode) and gives the model's input for the expanded prompt: *ids with -1 at the
 * <|patch|> positions and *embd [n_ids × hidden] holding their feature rows (other rows zero).
 * Both herd_alloc'd. Returns an exit code. */
int cli_images_inputs(const char *cmd, const char *model, const herd_model_opts *mo, herd_model *m,
                      herd_kv_cache *kv, cli_images *im, int32_t **ids, float **embd);

/* cli_images_inputs, then feeds the expanded prompt to the cache: every row but the last
 * without logits. The last id (always an ordinary token: a block ends with <|image_end|>) is
 * left for the caller unless `whole`; logits, if not NULL, gets a row for every position fed.
 * Rows go in batches of `piece` (0 or more than HERD_BATCH_MAX: HERD_BATCH_MAX) through
 * herd_forward. Returns an exit code. */
int cli_images_prefill(const char *cmd, const char *model, const herd_model_opts *mo, herd_model *m,
                       herd_kv_cache *kv, cli_images *im, float *logits, bool whole, int64_t piece);

#endif
