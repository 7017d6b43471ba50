/* The server's private pieces: a job (one generation request, shared between the HTTP thread
 * that waits on it and the scheduler thread that runs it), the scheduler, the chat template with
 * tools, the tool-call parser and the JSON-mode token mask. */
#ifndef HERD_SERVE_INTERNAL_H
#define HERD_SERVE_INTERNAL_H

#include "herd/herd.h"
#include "herd/vision.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- jobs ------------------------------------------------------------------------------------ */
enum { SRV_MAX_STOP = 4 };

typedef enum srv_finish {
    SRV_FINISH_NONE = 0,
    SRV_FINISH_STOP,   /* a stop token or stop string */
    SRV_FINISH_LENGTH, /* max_tokens or the context */
    SRV_FINISH_CANCEL, /* the client went away */
    SRV_FINISH_ERROR,
} srv_finish;

typedef struct srv_job {
    /* input, fixed once submitted */
    herd_tokens prompt;
    herd_sampler_params sampler;
    int64_t max_tokens;
    char *stop[SRV_MAX_STOP];
    int n_stop;
    bool json_mode;
    bool ignore_eos; /* stop tokens do not end the reply (benchmarks; llama.cpp's field) */
    /* tool_choice "required" among several tools: the reply must start with one of these
     * (NAME", "parameters": ), then the JSON-mode object */
    char **choices;
    int n_choices;
    /* images: prompt ids < 0 stand for these rows, in order ([n_img_rows × hidden]) */
    float *img_rows;
    int64_t n_img_rows, hidden;

    /* output, under mu; the HTTP side waits on cv */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *text; /* generated text (special tokens left out), NUL-terminated */
    size_t len, cap;
    size_t visible;        /* bytes of text final (not held back for a stop-string match) */
    int64_t python_start;  /* byte offset where <|python_start|> came, -1 if none */
    int64_t n_generated;   /* tokens sampled */
    int64_t cached_tokens; /* prompt tokens reused from the prompt cache */
    srv_finish finish;     /* set once: the job is over */
    char error[256];
    double t_submit, t_first, t_done;

    atomic_bool cancelled; /* set by the HTTP side when the client is gone */
    atomic_int refs;       /* the HTTP side and the scheduler each hold one */
} srv_job;

srv_job *srv_job_new(void);
void srv_job_release(srv_job *j); /* drops one reference; frees at zero */

/* ---- scheduler ------------------------------------------------------------------------------- */
typedef struct srv_sched srv_sched;

typedef struct srv_sched_opts {
    int parallel, max_queue, prefill_chunk, threads;
    int64_t ctx;
    herd_type type_k, type_v; /* KV cache types */
} srv_sched_opts;

/* Makes the context (one sequence per slot) and starts the scheduler thread. */
herd_status srv_sched_create(const herd_model *m, const herd_tokenizer *tok,
                             const srv_sched_opts *o, srv_sched **out);
/* Stops the scheduler thread: running and queued jobs end as cancelled, new ones are refused. */
void srv_sched_stop(srv_sched *s);
void srv_sched_free(srv_sched *s); /* stops, then frees */
/* Queues a job (taking a reference). False when the queue is full. */
bool srv_sched_submit(srv_sched *s, srv_job *j);
/* Wakes the scheduler so it notices a cancelled job at once. */
void srv_sched_poke(srv_sched *s);
int64_t srv_sched_ctx(const srv_sched *s);
/* Prometheus text exposition of the counters; malloc'd. */
char *srv_sched_metrics(srv_sched *s);

/* ---- chat template with tools ---------------------------------------------------------------
 * messages: an OpenAI messages array; tools: NULL or the request's tools array. Renders Llama
 * 4's template (HF's chat_template, tools in the first user message) as ids. *err gets a
 * one-line reason for a 400 when the messages are malformed. */
herd_status srv_render_chat(const herd_tokenizer *tok, const json_t *messages, const json_t *tools,
                            herd_tokens *out, char *err, size_t n_err);

/* The same, with image_url content parts allowed in user messages: each renders as <|image|>
 * and its url is appended to `images` (a JSON array; NULL: the parts render but are not
 * collected, as for /apply-template). */
herd_status srv_render_chat_images(const herd_tokenizer *tok, const json_t *messages,
                                   const json_t *tools, json_t *images, herd_tokens *out, char *err,
                                   size_t n_err);

/* ---- images ----------------------------------------------------------------------------------
 * The vision tower, loaded once at start when the model has one (or from --mmproj); NULL
 * otherwise. srv_images_attach decodes the data: URLs (remote URLs are refused), encodes them
 * and expands each <|image|> of j->prompt into the image's block, whose <|patch|> positions get
 * ids < 0 derived from a hash of the image (so the prompt cache tells images apart) and whose
 * rows go to j->img_rows. Failures set err (one line, for a 400). */
enum { SRV_IMAGE_MAX_BYTES = 32 << 20 };
typedef struct srv_vision srv_vision;
herd_status srv_vision_open(const char *model, const char *mmproj, const herd_tokenizer *tok,
                            const herd_model *m, const herd_model_opts *mo, srv_vision **out);
void srv_vision_free(srv_vision *v);
herd_status srv_images_attach(srv_vision *v, const json_t *urls, srv_job *j, char *err,
                              size_t n_err);

/* ---- tool calls ------------------------------------------------------------------------------
 * Parses a reply into content and tool calls: pythonic "[f(a=1), g()]" or JSON
 * ({"name": ..., "parameters"|"arguments": {...}}, one or many). python_start is the offset
 * where <|python_start|> came (-1 if none): what follows it must be a call. Returns an array of
 * {"name", "arguments" (a JSON string)} or NULL when the text holds no call; *content_len gets
 * the length of the content before the call. */
json_t *srv_parse_tool_calls(const char *text, size_t len, int64_t python_start,
                             size_t *content_len);

/* Calls as far as a reply has written them, for streaming: text starts where a call may (after
 * <|python_start|>, or a line starting with '[' or '{'). Each call gets its name once whole and
 * args, the arguments JSON written so far (a prefix of the final one; pythonic arguments in
 * compact JSON, JSON-form ones as the model wrote them); final: the text is over. Returns how
 * many calls have a name (out[] refilled, the caller zeroes it once and frees it with
 * srv_pcalls_free), 0 while the text may still become a call, -1 when it cannot be one. */
typedef struct srv_pcall {
    char name[128];
    char *args; /* malloc'd, NUL-terminated */
    size_t args_len;
    bool closed; /* the arguments are whole */
} srv_pcall;
int srv_stream_calls(const char *text, size_t len, bool final, srv_pcall *out, int max);
void srv_pcalls_free(srv_pcall *c, int n);

/* ---- JSON mode ------------------------------------------------------------------------------
 * A byte-level JSON automaton run over the tokens' bytes: which tokens may come next so that the
 * output stays a prefix of one JSON object. Built once per vocabulary; the set of allowed tokens
 * is computed once per automaton state and kept (states repeat: inside a string, after a
 * value...). */
typedef struct srv_jmask srv_jmask;
typedef struct srv_jstate {
    uint8_t lex, aux, depth, ws_tokens;
    uint64_t stack; /* bit i: container i is an object */
} srv_jstate;

herd_status srv_jmask_create(const herd_tokenizer *tok, int64_t vocab, srv_jmask **out);
void srv_jmask_free(srv_jmask *m);
void srv_jstate_init(srv_jstate *s);
/* Sets the logits of tokens not allowed in state s to -inf; false if nothing is allowed. With
 * `budget` tokens left, once the object's shortest ending needs them all, only tokens that
 * spell that ending are allowed: the output is a whole object when the budget runs out. */
bool srv_jmask_apply(srv_jmask *m, const srv_jstate *s, int64_t budget, float *logits);
/* Advances s over token id; false if the token is not allowed. */
bool srv_jmask_advance(const srv_jmask *m, srv_jstate *s, int32_t id);
bool srv_jstate_done(const srv_jstate *s); /* a whole object was produced */

/* ---- the chat page -------------------------------------------------------------------------- */
extern const unsigned char srv_page_html[];
extern const size_t srv_page_html_len;

#endif
