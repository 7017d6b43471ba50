/* herd serve: the OpenAI-compatible HTTP server (src/serve/, docs/SERVER.md). */
#include "cli/cli_model.h"
#include "serve/server.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define CMD "serve"

static void usage(FILE *f)
{
    fprintf(f, "usage: herd serve -m MODEL [options]\n"
               "  an OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions,\n"
               "  /v1/models, /health, /tokenize, /detokenize, /metrics and a chat page at /.\n"
               "  Runs until Ctrl-C or SIGTERM. See docs/SERVER.md.\n\n"
               "options:\n"
               "  -m MODEL          checkpoint directory or GGUF file (with its tokenizer)\n"
               "  --host ADDR       address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
               "  --port N          TCP port (default 8080; 0 = any free port)\n"
               "  --parallel N, -np N  sequences generated together (default 4)\n"
               "  --ctx N           context of each sequence in tokens (default 8192)\n"
               "  -t THREADS        worker threads (default: every CPU)\n"
               "  --api-key KEY     require 'Authorization: Bearer KEY' (except / and /health)\n"
               "  --max-queue N     requests waiting for a slot before 503 (default 64)\n"
               "  --prefill-chunk N prompt tokens run per step while others decode (default 256)\n"
               "  --max-body BYTES  largest request body (default 8388608)\n"
               "  --alias NAME      the model id clients use (default: the file name)\n"
               "  --mmproj FILE     llama.cpp-style projector GGUF with the vision tower (images\n"
               "                    in chat messages; a model with its own tower needs none)\n"
               "  --cache-type-k T, -ctk T, --cache-type-v T, -ctv T  KV cache types: f32\n"
               "                    (default, exact), bf16, q8_0 (see herd run --help)\n"
               "  --dtype T         packed weight type, as in herd run\n"
               "  --act A           activations in GEMMs: auto (default, the weight type's fast\n"
               "                    choice; ~80x faster than f32 on MXFP4) or f32 (exact)\n");
}

static int cmd_main(int argc, char **argv)
{
    herd_serve_opts o;
    herd_serve_opts_default(&o);
    cli_model_args a;
    cli_model_args_init(&a);
    a.engine.model.aprep = HERD_APREP_AUTO; /* speed by default; --act f32 for exact */
    long port = o.port, parallel = o.parallel, queue = o.max_queue, chunk = o.prefill_chunk;
    long body = (long)o.max_body;
    cli_opt opts[] = {
        {"--host", NULL, CLI_OPT_STR, &o.host, 0, 0},
        {"--port", NULL, CLI_OPT_LONG, &port, 0, 65535},
        {"--parallel", "-np", CLI_OPT_LONG, &parallel, 1, 256},
        {"--api-key", NULL, CLI_OPT_STR, &o.api_key, 0, 0},
        {"--max-queue", NULL, CLI_OPT_LONG, &queue, 0, 1 << 20},
        {"--prefill-chunk", NULL, CLI_OPT_LONG, &chunk, 1, 1 << 20},
        {"--max-body", NULL, CLI_OPT_LONG, &body, 1024, INT32_MAX},
        {"--alias", NULL, CLI_OPT_STR, &o.alias, 0, 0},
        {"--port-file", NULL, CLI_OPT_STR, &o.port_file, 0, 0},
        {"--mmproj", NULL, CLI_OPT_STR, &o.mmproj, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int rc = cli_model_parse(CMD, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    if (!rc && !a.model)
        rc = cli_usage_error(CMD, "-m MODEL is required");
    if (!rc && a.ids)
        rc = cli_usage_error(CMD, "--ids does not apply to serve");
    if (!rc && o.api_key && !*o.api_key)
        rc = cli_usage_error(CMD, "--api-key is empty");
    if (!rc && o.port_file && herd_atomic_check(o.port_file)) /* before the model loads */
        rc = cli_status_error(CMD, HERD_ERR_IO);
    if (!rc) {
        o.model = a.model;
        o.port = (int)port;
        o.parallel = (int)parallel;
        o.max_queue = (int)queue;
        o.prefill_chunk = (int)chunk;
        o.max_body = (size_t)body;
        o.mopt.threads = a.engine.model.threads;
        o.mopt.dtype = a.engine.model.dtype;
        o.mopt.aprep = a.engine.model.aprep;
        o.type_k = a.engine.type_k; /* -ctk/-ctv: parsed by cli_model_option */
        o.type_v = a.engine.type_v;
        if (a.engine.ctx > 0)
            o.ctx = a.engine.ctx;
        herd_status st = herd_serve(&o);
        if (st)
            rc = cli_status_error(CMD, st);
    }
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_serve = {"serve", "OpenAI-compatible HTTP server", cmd_main};
