/* The interactive side of `herd chat`: reading messages (line editing with libedit on a
 * terminal, plain lines from a pipe; /help, /clear, /bye; """ multi-line blocks), the
 * transcript as tokens split into turns (so a full context drops the oldest turns instead of
 * ending the chat), and the per-turn speed line. */
#ifndef HERD_CLI_CHAT_REPL_H
#define HERD_CLI_CHAT_REPL_H

#include "cli/cli_vision.h"
#include "herd/herd.h"

#include <stdio.h>

/* ---- input ---- */
typedef struct chat_input chat_input;
typedef enum chat_cmd { CHAT_MESSAGE, CHAT_IMAGE, CHAT_CLEAR, CHAT_QUIT } chat_cmd;
/* Line editing and history when stdin and stdout are terminals; NULL when out of memory. */
chat_input *chat_input_open(void);
void chat_input_close(chat_input *in);
/* The next thing the user asks for; a message (or CHAT_IMAGE's file name) is in *msg until the
 * next call. /help and empty lines are handled inside. CHAT_QUIT: /bye, end of input, or Ctrl-C at
 * the prompt. */
chat_cmd chat_input_next(chat_input *in, const char **msg);
/* The longest input line and message read (an endless one, < /dev/zero, is an error). */
#define CHAT_LINE_MAX ((size_t)4 << 20)
/* After CHAT_QUIT: HERD_OK at the end of input, else why input stopped (a line over
 * CHAT_LINE_MAX). */
herd_status chat_input_error(const chat_input *in);
void chat_print_help(FILE *f);

/* ---- the transcript ----
 * Every token of the chat in order: the start (BOS, system block), then per turn the user
 * block, the assistant header and the reply. An image in a user block is its expanded block of
 * ids (spec §11.4) with its feature rows kept beside the tokens, so any stretch of the
 * transcript can be fed again with the rows at their <|patch|> positions. The KV cache holds a
 * prefix of it; what it does not hold yet is the next prefill. */
typedef struct chat_image {
    size_t at;          /* where its block begins in toks */
    cli_image_rows rms; /* its feature rows, in <|patch|> order */
} chat_image;
typedef struct chat_history {
    herd_tokens toks;
    size_t start;  /* tokens of the start: never dropped */
    size_t *turns; /* where each turn begins */
    size_t n_turns, cap_turns;
    chat_image *images; /* in transcript order */
    size_t n_images, cap_images;
} chat_history;
herd_status chat_history_begin(chat_history *h, const herd_tokenizer *tok, const char *system);
void chat_history_free(chat_history *h);
/* Appends a user message and the assistant header as a new turn; the images (NULL when there
 * are none) go before the text and are taken over by the history (emptied in *imgs) on
 * success. vc gives the image ids and the expansion. */
herd_status chat_history_add_user(chat_history *h, const herd_tokenizer *tok, const char *text,
                                  cli_image_rows *imgs, int n_imgs, const herd_vision_config *vc);
/* Drops the newest turn (a message that could not be answered). */
void chat_history_drop_last(chat_history *h);
/* Drops the oldest turns (never the newest) until the transcript plus `room` tokens fits `ctx`;
 * returns how many were dropped. The caller then starts the cache over. */
size_t chat_history_fit(chat_history *h, int64_t ctx, int64_t room);
/* The model input for toks[from..): *embd (herd_alloc'd, [n × hidden]) and ids with -1 at
 * <|patch|> positions in *ids, when an image's rows fall in it; else both NULL (plain ids). */
herd_status chat_history_inputs(const chat_history *h, size_t from, int64_t hidden,
                                const herd_vision_config *vc, int32_t **ids, float **embd);

/* "[ Prompt: x t/s | Generation: y t/s ]" for one turn, on f. */
void chat_print_speed(FILE *f, const herd_gen_result *res);

#endif
