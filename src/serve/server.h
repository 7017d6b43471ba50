/* herd serve: an OpenAI-compatible HTTP server over one model (see docs/SERVER.md).
 * The one entry point the `herd serve` command calls; everything else in src/serve/ is private. */
#ifndef HERD_SERVE_SERVER_H
#define HERD_SERVE_SERVER_H

#include "herd/herd.h"

typedef struct herd_serve_opts {
    const char *model;        /* checkpoint directory or GGUF file */
    const char *alias;        /* model id clients name; NULL = the file or directory name */
    const char *host;         /* address to bind; NULL = 127.0.0.1 */
    int port;                 /* 0 = any free port (printed on stderr) */
    int parallel;             /* sequences decoding together */
    int64_t ctx;              /* context of each sequence, tokens */
    int max_queue;            /* requests waiting for a slot before 503 */
    int prefill_chunk;        /* prompt tokens run per step while others decode */
    size_t max_body;          /* bytes of a request body */
    const char *api_key;      /* NULL = no authentication */
    herd_model_opts mopt;     /* threads, dtype, activations */
    const char *port_file;    /* if set, the bound port is written there once listening (tests) */
    const char *mmproj;       /* llama.cpp-style projector GGUF with the vision tower, or NULL */
    herd_type type_k, type_v; /* KV cache types (herd_kv_type_parse); 0 = f32 */
} herd_serve_opts;
void herd_serve_opts_default(herd_serve_opts *o);

/* Loads the model, listens, serves until SIGINT or SIGTERM, then drains and frees. */
herd_status herd_serve(const herd_serve_opts *o);

#endif
