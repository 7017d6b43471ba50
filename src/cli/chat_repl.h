/* The interactive side of `herd chat`: reading messages (line editing with libedit on a
 * terminal, plain lines from a pipe; /help, /clear, /bye; """ multi-line blocks), the
 * transcript as tokens split into turns (so a full context drops the oldest turns instead of
 * ending the chat), and the per-turn speed line. */
#ifndef HERD_CLI_CHAT_REPL_H
#define HERD_CLI_CHAT_REPL_H

#include "herd/herd.h"

#include <stdio.h>

/* ---- input ---- */
typedef struct chat_input chat_input;
typedef enum chat_cmd { CHAT_MESSAGE, CHAT_CLEAR, CHAT_QUIT } chat_cmd;
/* Line editing and history when stdin and stdout are terminals; NULL when out of memory. */
chat_input *chat_input_open(void);
void chat_input_close(chat_input *in);
/* The next thing the user asks for; a message is in *msg until the next call. /help and empty
 * lines are handled inside. CHAT_QUIT: /bye, end of input, or Ctrl-C at the prompt. */
chat_cmd chat_input_next(chat_input *in, const char **msg);
/* The longest input line and message read (an endless one, < /dev/zero, is an error). */
#define CHAT_LINE_MAX ((size_t)4 << 20)
/* After CHAT_QUIT: HERD_OK at the end of input, else why input stopped (a line over
 * CHAT_LINE_MAX). */
herd_status chat_input_error(const chat_input *in);
void chat_print_help(FILE *f);

/* ---- the transcript ----
 * Every token of the chat in order: the start (BOS, system block), then per turn the user
 * block, the assistant header and the reply. The KV cache holds a prefix of it; what it does
 * not hold yet is the next prefill. */
typedef struct chat_history {
    herd_tokens toks;
    size_t start;  /* tokens of the start: never dropped */
    size_t *turns; /* where each turn begins */
    size_t n_turns, cap_turns;
} chat_history;
herd_status chat_history_begin(chat_history *h, const herd_tokenizer *tok, const char *system);
void chat_history_free(chat_history *h);
/* Appends a user message and the assistant header as a new turn. */
herd_status chat_history_add_user(chat_history *h, const herd_tokenizer *tok, const char *text);
/* Drops the newest turn (a message that could not be answered). */
void chat_history_drop_last(chat_history *h);
/* Drops the oldest turns (never the newest) until the transcript plus `room` tokens fits `ctx`;
 * returns how many were dropped. The caller then starts the cache over. */
size_t chat_history_fit(chat_history *h, int64_t ctx, int64_t room);

/* "[ Prompt: x t/s | Generation: y t/s ]" for one turn, on f. */
void chat_print_speed(FILE *f, const herd_gen_result *res);

#endif
