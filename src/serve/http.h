/* The HTTP side's shared pieces: the server state, one connection's request, replies. */
#ifndef HERD_SERVE_HTTP_H
#define HERD_SERVE_HTTP_H

#include "serve/serve_internal.h"
#include "serve/server.h"

#include <microhttpd.h>

typedef struct srv_server {
    herd_serve_opts o;
    herd_model *model;
    herd_tokenizer *tok;
    srv_sched *sched;
    srv_vision *vision; /* NULL: the model takes no images */
    char model_id[256];
    int64_t created;
    int64_t vocab;
} srv_server;

typedef struct srv_conn {
    srv_server *srv;
    struct MHD_Connection *c;
    int fd;
    char *body;
    size_t n, cap;
    bool too_big;
} srv_conn;

/* Queues a JSON reply (takes the reference to v). */
enum MHD_Result srv_reply_json(srv_conn *c, unsigned status, json_t *v);
/* An OpenAI-style error: {"error": {"message", "type", "param", "code"}}. */
enum MHD_Result srv_reply_error(srv_conn *c, unsigned status, const char *type, const char *param,
                                const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* True when the client has closed its side of the connection. */
bool srv_peer_gone(int fd);
/* "chatcmpl-..." style ids: prefix + 24 hex digits, unique in the process. */
void srv_make_id(const char *prefix, char *out, size_t n);

/* api.c: the generation endpoints and /tokenize, /detokenize. body is the parsed request. */
enum MHD_Result srv_chat_completions(srv_conn *c, json_t *body, bool chat);
enum MHD_Result srv_tokenize(srv_conn *c, json_t *body);
enum MHD_Result srv_detokenize(srv_conn *c, json_t *body);
/* The prompt a chat request would run, as text with its special tokens: {"prompt": ...}. */
enum MHD_Result srv_apply_template(srv_conn *c, json_t *body);

#endif
