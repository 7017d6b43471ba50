/* herd logits: the logits of every position of a token sequence, as float32 [n_ids, vocab]
 * .npy; with --incremental the ids go one at a time through the KV cache. */
#include "cli/cli_model.h"
#include "herd/io_npy.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: herd logits -m MODEL --ids 1,2,3 -o OUT.npy [--incremental] [options]\n"
               "  writes float32 logits [n_ids, vocab] for every position of the sequence\n\n"
               "options:\n" CLI_MODEL_HELP "  --ids LIST        comma-separated token ids\n"
               "  -o OUT.npy        output file (written atomically)\n"
               "  --incremental     feed the ids one at a time through the KV cache\n");
}

static int cmd_main(int argc, char **argv)
{
    const char *cmd = "logits", *out = NULL;
    bool incremental = false;
    cli_model_args a;
    cli_model_args_init(&a);
    int rc = 0;
    const cli_opt opts[] = {{"-o", NULL, CLI_OPT_STR, &out, 0, 0},
                            {"--incremental", NULL, CLI_OPT_FLAG, &incremental, 0, 0},
                            {NULL, NULL, 0, NULL, 0, 0}};
    rc = cli_model_parse(cmd, argc, argv, &a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(&a);
        return 0;
    }
    if (!rc && (!a.model || !a.ids || !out))
        rc = cli_usage_error(cmd, "-m, --ids and -o are required");
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
        if (!st && incremental)
            for (int64_t t = 0; t < a.n_ids && !st; t++)
                st = herd_model_forward(m, kv, &a.ids[t], 1, lg + (size_t)t * (size_t)V, false);
        else if (!st)
            st = herd_model_forward(m, kv, a.ids, a.n_ids, lg, true);
        if (!st) {
            size_t shape[2] = {(size_t)a.n_ids, (size_t)V};
            st = herd_npy_write_f32(out, lg, shape, 2);
        }
        if (st)
            rc = cli_status_error(cmd, st);
        herd_free(lg);
    }
    herd_engine_free(e);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_logits = {"logits", "write the logits of a token sequence to .npy",
                                    cmd_main};
