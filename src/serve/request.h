/* Checking an OpenAI request body: typed fields with one-line errors naming the parameter, and
 * the job (prompt, sampler, stops, tools, JSON mode) a completions request asks for. */
#ifndef HERD_SERVE_REQUEST_H
#define HERD_SERVE_REQUEST_H

#include "serve/http.h"

/* A bad request: the parameter at fault (NULL: the request as a whole) and the message. */
typedef struct srv_perr {
    const char *param;
    char msg[400];
} srv_perr;

/* What the reply looks like, as the request chose. */
typedef struct srv_gen {
    bool chat, stream, include_usage, tools;
    /* tool_choice "required" or a named function: the reply is a call, and this is the text the
     * prompt already ends with ({"name": "NAME", "parameters": , or {"name": " when the
     * model picks among several tools); the model writes the rest of the call object */
    char call_prefix[160];
} srv_gen;

/* An integer in [lo, hi] / a boolean at key (absent or null: *out unchanged); false with *e set. */
bool srv_req_integer(const json_t *b, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     srv_perr *e);
bool srv_req_boolean(const json_t *b, const char *key, bool *out, srv_perr *e);
/* tools, tool_choice: *tools gets the tools to render (NULL: none); "required" or a named
 * function sets g->call_prefix and, with j (NULL: only checked), the job's choices when the
 * model is to pick one of several tools. */
bool srv_parse_tools(const json_t *b, const json_t **tools, srv_gen *g, srv_job *j, srv_perr *e);
/* Fills the job from the request; false with *e set on a bad request. */
bool srv_parse_request(srv_server *s, const json_t *b, srv_gen *g, srv_job *j, srv_perr *e);

/* For tests: the server-sent events a streamed reply sends when j's text (whole, with its
 * python_start and finish) arrives in steps, lens[k] bytes of it visible at step k. malloc'd,
 * NUL-terminated. s needs only model_id. */
char *srv_stream_replay(srv_server *s, const srv_gen *g, srv_job *j, const size_t *lens, int n);

#endif
