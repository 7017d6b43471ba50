/* herd train: train a Llama 4 text model from a config and a text corpus (docs/TRAINING.md). */
#include "cli/cli.h"
#include "herd/train.h"

#include <stdio.h>
#include <string.h>

#define CMD "train"

static const char usage[] =
    "usage: herd train --config FILE --data TEXT [--val TEXT] [--steps N] [--out DIR]\n"
    "                  [--resume DIR] [--tokenizer FILE] [-t N]\n"
    "                  [--precision f32|bf16|mx] [--mx-weights F] [--mx-acts F] [--mx-grads F]\n"
    "                  [--mx-scale floor|ceil] [--mx-hp LIST]\n"
    "  Trains the Llama 4 model of FILE (a config.json with a \"training\" object: seq_len,\n"
    "  batch, steps, warmup, lr, lr_min, weight_decay, clip, aux_coef, seed, eval_every,\n"
    "  eval_batches, checkpoint_every, log_every) on TEXT, printing step, loss, tokens/s and\n"
    "  ETA. DIR receives checkpoint.bin (written atomically), loss.tsv, loss.svg and, at the\n"
    "  end, model.gguf (herd run -m DIR/model.gguf).\n"
    "  --val TEXT        held-out text: validation loss every eval_every steps\n"
    "  --steps N         total steps (overrides the config)\n"
    "  --resume DIR      continue DIR's checkpoint (bit-identical to an uninterrupted run)\n"
    "  --tokenizer FILE  tokenizer.json (default: the one beside the config)\n"
    "  -t N              threads (default 1; results depend on the seed and thread count only)\n"
    "  --precision P     f32 (default), bf16, or mx: the operands of every weight GEMM,\n"
    "                    forward and backward, rounded along the reduction axis\n"
    "  --mx-weights F, --mx-acts F, --mx-grads F\n"
    "                    element format per role: mxfp8_e4m3 (default), mxfp8_e5m2,\n"
    "                    mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1 (e4m3, e3m2, fp4... also accepted)\n"
    "  --mx-scale R      floor (OCP, default) or ceil (scale rounded up: no element saturates)\n"
    "  --mx-hp LIST      layers kept in float32: head,router (default), head, router or none\n"
    "  --stop-after N    stop with a checkpoint after step N (for testing --resume)\n";

static void print_usage(FILE *f)
{
    fputs(usage, f);
}

static bool parse_fmt(const char *s, herd_mx_format *f)
{
    static const struct {
        const char *a;
        herd_mx_format f;
    } alias[] = {{"e4m3", HERD_MX_FP8_E4M3}, {"e5m2", HERD_MX_FP8_E5M2}, {"e3m2", HERD_MX_FP6_E3M2},
                 {"e2m3", HERD_MX_FP6_E2M3}, {"fp4", HERD_MX_FP4_E2M1},  {"e2m1", HERD_MX_FP4_E2M1},
                 {"mxfp4", HERD_MX_FP4_E2M1}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(s, alias[i].a) == 0) {
            *f = alias[i].f;
            return true;
        }
    return herd_mx_format_parse(s, f) && *f != HERD_MX_INT8;
}

static int train_main(int argc, char **argv)
{
    herd_train_run_opts o = {0};
    herd_train_precision_default(&o.prec);
    const char *prec = "f32", *w = NULL, *a = NULL, *g = NULL, *scale = "floor", *hp = NULL;
    long steps = 0, threads = 1, stop = 0;
    const cli_opt opts[] = {
        {"--config", NULL, CLI_OPT_STR, &o.config, 0, 0},
        {"--data", NULL, CLI_OPT_STR, &o.data, 0, 0},
        {"--val", NULL, CLI_OPT_STR, &o.val, 0, 0},
        {"--out", "-o", CLI_OPT_STR, &o.out_dir, 0, 0},
        {"--resume", NULL, CLI_OPT_STR, &o.resume_dir, 0, 0},
        {"--tokenizer", NULL, CLI_OPT_STR, &o.tokenizer, 0, 0},
        {"--steps", NULL, CLI_OPT_LONG, &steps, 1, 1e9},
        {"--stop-after", NULL, CLI_OPT_LONG, &stop, 1, 1e9},
        {"-t", "--threads", CLI_OPT_LONG, &threads, 1, 1024},
        {"--precision", NULL, CLI_OPT_STR, &prec, 0, 0},
        {"--mx-weights", NULL, CLI_OPT_STR, &w, 0, 0},
        {"--mx-acts", NULL, CLI_OPT_STR, &a, 0, 0},
        {"--mx-grads", NULL, CLI_OPT_STR, &g, 0, 0},
        {"--mx-scale", NULL, CLI_OPT_STR, &scale, 0, 0},
        {"--mx-hp", NULL, CLI_OPT_STR, &hp, 0, 0},
        {"--quiet", "-q", CLI_OPT_FLAG, &o.quiet, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int r = cli_parse_opts(CMD, argc, argv, opts, print_usage);
    if (r)
        return r < 0 ? 0 : r;
    if (!o.config || !o.data)
        return cli_usage_error(CMD, "--config and --data are required");
    if (strcmp(prec, "f32") == 0)
        o.prec.mode = HERD_TRAIN_F32;
    else if (strcmp(prec, "bf16") == 0)
        o.prec.mode = HERD_TRAIN_BF16;
    else if (strcmp(prec, "mx") == 0)
        o.prec.mode = HERD_TRAIN_MX;
    else
        return cli_usage_error(CMD, "--precision must be f32, bf16 or mx, not '%s'", prec);
    if ((w || a || g) && o.prec.mode != HERD_TRAIN_MX)
        return cli_usage_error(CMD, "--mx-weights/--mx-acts/--mx-grads need --precision mx");
    if ((w && !parse_fmt(w, &o.prec.weights)) || (a && !parse_fmt(a, &o.prec.acts)) ||
        (g && !parse_fmt(g, &o.prec.grads)))
        return cli_usage_error(CMD,
                               "unknown MX element format '%s' (mxfp8_e4m3, mxfp8_e5m2, "
                               "mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1)",
                               w && !parse_fmt(w, &o.prec.weights) ? w
                               : a && !parse_fmt(a, &o.prec.acts)  ? a
                                                                   : g);
    if (strcmp(scale, "floor") != 0 && strcmp(scale, "ceil") != 0)
        return cli_usage_error(CMD, "--mx-scale must be floor or ceil, not '%s'", scale);
    o.prec.scale_ceil = strcmp(scale, "ceil") == 0;
    if (hp) {
        o.prec.hp_head = o.prec.hp_router = false;
        if (strcmp(hp, "none") != 0) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", hp);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (strcmp(tok, "head") == 0)
                    o.prec.hp_head = true;
                else if (strcmp(tok, "router") == 0)
                    o.prec.hp_router = true;
                else
                    return cli_usage_error(CMD, "--mx-hp takes head, router or none, not '%s'",
                                           tok);
            }
        }
    }
    o.steps = steps;
    o.stop_after = stop;
    o.threads = (int)threads;
    herd_status st = herd_train_run(&o);
    return st ? cli_status_error(CMD, st) : 0;
}

const cli_command cli_cmd_train = {
    "train", "train a Llama 4 model on a text corpus (f32, bf16, MX)", train_main};
