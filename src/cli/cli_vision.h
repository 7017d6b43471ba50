/* Images in a prompt, for the commands that take --image (logits, run, chat): each <|image|> id
 * of the prompt stands for the next image and becomes that image's block of ids (spec §11.4);
 * the <|patch|> rows then enter the model as the vision features instead of embeddings. */
#ifndef HERD_CLI_VISION_H
#define HERD_CLI_VISION_H

#include "cli/cli.h"
#include "herd/herd.h"
#include "herd/vision.h"

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

/* Reads the vision config of `model`, decodes and preprocesses every image and expands the
 * prompt. Images without an <|image|> in the prompt get one after the BOS (in order), as the chat
 * template puts images before the text; more <|image|> ids than images is an error. Returns an
 * exit code (0 = done; errors printed). */
int cli_images_plan(const char *cmd, const char *model, const int32_t *ids, int64_t n, int64_t bos,
                    cli_images *im);

/* Runs the images through the vision tower (on the model's threads, in its weight type and
 * activation mode) and feeds the expanded prompt to the cache: every row but the last without
 * logits. The last id (always an ordinary token: a block ends with <|image_end|>) is left for
 * the caller unless `whole`; logits, if not NULL, gets a row for every position fed. Rows go in
 * batches of `piece` (0 or more than HERD_BATCH_MAX: HERD_BATCH_MAX) through herd_forward, the
 * <|patch|> rows as input rows. Returns an exit code. */
int cli_images_prefill(const char *cmd, const char *model, const herd_model_opts *mo, herd_model *m,
                       herd_kv_cache *kv, cli_images *im, float *logits, bool whole, int64_t piece);

#endif
