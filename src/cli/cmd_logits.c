/* herd logits: the logits of every position of a token sequence, as float32 [n_ids, vocab]
 * .npy; with --incremental the ids go one at a time through the KV cache. */
#include "cli/cli_model.h"
#include "cli/cli_vision.h"
#include "herd/io_npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: herd logits -m MODEL --ids 1,2,3 -o OUT.npy [--image IMG ...] [options]\n"
               "  writes float32 logits [n_ids, vocab] for every position of the sequence\n\n"
               "options:\n" CLI_MODEL_HELP "  --ids LIST        comma-separated token ids\n"
               "  -o OUT.npy        output file (written atomically; - for standard output)\n"
               "  --incremental     feed the ids one at a time through the KV cache\n"
               "  --piece N         feed the ids N at a time\n"
               "  --image IMG       a PNG or JPEG for the next <|image|> id of the prompt (repeat\n"
               "                    for more); the output has one row per expanded position\n"
               "  --mmproj FILE     llama.cpp-style projector GGUF holding the vision tower\n");
}

static int cmd_main(int argc, char **argv)
{
    const char *cmd = "logits", *out = NULL;
    bool incremental = false;
    long piece = 0;
    cli_model_args a;
    cli_model_args_init(&a);
    const cli_opt opts[] = {{"-o", NULL, CLI_OPT_STR, &out, 0, 0},
                            {"--incremental", NULL, CLI_OPT_FLAG, &incremental, 0, 0},
                            {"--piece", NULL, CLI_OPT_LONG, &piece, 1, INT32_MAX},
                            {NULL, NULL, 0, NULL, 0, 0}};
    cli_images im;
    int rc = cli_model_parse_images(cmd, &argc, argv, &a, opts, usage, &im);
    if (rc < 0)
        return 0;
    if (!rc && (!a.model || !a.ids || !out))
        rc = cli_usage_error(cmd, "-m, --ids and -o are required");
    herd_status ost = rc ? HERD_OK : herd_atomic_check(out); /* before the load, not after */
    if (ost)
        rc = cli_status_error(cmd, ost);
    if (!rc && im.n > 0) { /* the expanded prompt replaces the ids */
        if (!(rc = cli_images_plan(cmd, a.model, NULL, a.ids, a.n_ids, -1, &im))) {
            free(a.ids);
            a.ids = malloc(sizeof *a.ids * (size_t)im.n_ids);
            if (!a.ids)
                rc = cli_error(cmd, 1, "out of memory");
            else
                memcpy(a.ids, im.ids, sizeof *a.ids * (size_t)im.n_ids);
            a.n_ids = im.n_ids;
        }
    }
    herd_engine *e = NULL;
    if (!rc && a.engine.ctx == 0)
        a.engine.ctx = a.n_ids; /* a cache exactly as long as the sequence */
    if (!rc && a.engine.ctx < a.n_ids)
        rc = cli_usage_error(cmd, "--ctx %lld is shorter than the %lld ids",
                             (long long)a.engine.ctx, (long long)a.n_ids);
    if (!rc)
        rc = cli_load_engine(cmd, &a, &e);
    if (!rc) {
        herd_model *m = herd_engine_model(e);
        int64_t V = herd_model_config(m)->vocab;
        size_t bytes;
        float *lg = NULL;
        if (herd_mul_size((size_t)a.n_ids, (size_t)V * sizeof(float), &bytes))
            lg = herd_alloc(bytes, "logits");
        herd_status st = lg ? HERD_OK : HERD_ERR_NOMEM;
        herd_kv_cache *kv = herd_engine_context(e);
        if (!st && im.n > 0) {
            int r = cli_images_prefill(cmd, a.model, &a.engine.model, m, kv, &im, lg, true,
                                       incremental ? 1 : piece);
            st = r ? HERD_ERR_ARG : HERD_OK;
            if (r)
                rc = r;
        } else if (!st && (incremental || piece > 0))
            for (int64_t t = 0; t < a.n_ids && !st;) {
                int64_t k = incremental ? 1 : piece;
                k = a.n_ids - t < k ? a.n_ids - t : k;
                st = herd_model_forward(m, kv, &a.ids[t], k, lg + (size_t)t * (size_t)V, true);
                t += k;
            }
        else if (!st && incremental)
            for (int64_t t = 0; t < a.n_ids && !st; t++)
                st = herd_model_forward(m, kv, &a.ids[t], 1, lg + (size_t)t * (size_t)V, false);
        else if (!st)
            st = herd_model_forward(m, kv, a.ids, a.n_ids, lg, true);
        if (!st) {
            size_t shape[2] = {(size_t)a.n_ids, (size_t)V};
            st = herd_npy_write_f32(out, lg, shape, 2);
        }
        if (st && !rc)
            rc = cli_status_error(cmd, st);
        herd_free(lg);
    }
    herd_engine_free(e);
    cli_model_args_free(&a);
    cli_images_free(&im);
    return rc;
}

const cli_command cli_cmd_logits = {"logits", "write the logits of a token sequence to .npy",
                                    cmd_main};
