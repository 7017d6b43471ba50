/* herd quantize: an HF Llama 4 checkpoint directory (or a llama4 GGUF) to a GGUF in MX, int8
 * or ggml types, chosen per class of tensor by a policy. Written through a temporary file that
 * is renamed at the end (and removed on any fatal signal); the license travels in the metadata. */
#include "cli/cli.h"
#include "herd/model_gguf.h"
#include "herd/io_safetensors.h"
#include "herd/quant.h"
#include "herd/vision.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *cmd = "quantize";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herd quantize IN OUT.gguf --type T [--policy NAME|FILE] [-t THREADS]\n"
            "                     [--name NAME] [--tokenizer FILE] [--llama-cpp] [--single-file]\n"
            "  IN is a Hugging Face Llama 4 checkpoint directory or a llama4 GGUF; OUT may be a\n"
            "  directory (the file is then named after the model). Norms stay f32.\n\n"
            "  --type T        f32 bf16 f16 q8_0 q4_0 int8 mxfp8_e4m3 mxfp8_e5m2 mxfp6_e3m2\n"
            "                  mxfp6_e2m3 mxfp4 mxint8 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs\n"
            "                  (for the classes the policy leaves open), or one of llama.cpp's\n"
            "                  recipes q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k\n"
            "                  iq4_nl iq4_xs (with the default policy: llama-quantize's mixture)\n"
            "  --policy P      which type for which tensors (default uniform):\n");
    for (const char *const *n = herd_quant_policy_names(); *n; n++)
        fprintf(f, "                    %-9s %s\n", *n, herd_quant_policy_describe(*n));
    fprintf(
        f,
        "                  or a file of 'class = type' lines (see docs/GGUF.md)\n"
        "  -t THREADS      threads (default: every CPU)\n"
        "  --name NAME     general.name (default Llama-…-TYPE; it must begin with "
        "\"Llama\")\n"
        "  --tokenizer F   tokenizer.json to embed (default IN/tokenizer.json if present); its\n"
        "                  ids must fit the model's vocabulary\n"
        "  --llama-cpp     leave out herd's own keys: the file then holds the model llama.cpp\n"
        "                  computes (it hard-codes chunk 8192, NoPE every 4th layer...), and\n"
        "                  herd computes that model too. Without it the standard keys still\n"
        "                  carry all llama.cpp reads, and herd warns when llama.cpp cannot\n"
        "                  express the checkpoint\n"
        "  --single-file   keep the vision tower inside OUT (herd reads it; llama.cpp refuses\n"
        "                  such a file). Default: OUT holds the text model and the vision tower\n"
        "                  goes to mmproj-NAME beside it, as llama.cpp keeps it (herd finds it)\n");
}

/* True if the HF checkpoint dir holds a vision tower (config and weights). */
static bool has_vision(const char *dir)
{
    char path[4200];
    herd_vision_config vc;
    herd_st_dir *d;
    if (herd_is_gguf_file(dir) ||
        snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path ||
        herd_vision_config_load(path, &vc) != HERD_OK || herd_st_dir_open(dir, &d) != HERD_OK)
        return false;
    bool found = false;
    for (size_t i = 0; !found && i < herd_st_dir_count(d); i++)
        found = strncmp(herd_st_dir_at(d, i)->name, "vision_model.", 13) == 0;
    herd_st_dir_close(d);
    return found;
}

static int cmd_main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *type_s = NULL, *policy_s = "uniform";
    long threads = 0;
    bool single_file = false;
    herd_quantize_opts o = {.type = HERD_TYPE_COUNT, .progress = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--type") == 0) {
            if (!(type_s = cli_value(cmd, argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "--policy") == 0) {
            if (!(policy_s = cli_value(cmd, argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "--llama-cpp") == 0) {
            o.llama_cpp_only = true;
        } else if (strcmp(a, "--single-file") == 0) {
            single_file = true;
        } else if (strcmp(a, "--tokenizer") == 0) {
            if (!(o.tokenizer = cli_value(cmd, argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "--name") == 0) {
            if (!(o.name = cli_value(cmd, argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || !cli_parse_long(cmd, a, v, 1, 4096, &threads))
                return 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (!in || !out)
        return cli_usage_error(cmd, "IN and OUT are required");
    if (o.tokenizer && herd_is_gguf_file(in))
        return cli_usage_error(cmd, "--tokenizer applies to a checkpoint directory; a GGUF keeps "
                                    "its own tokenizer");
    if (strcmp(out, "-") == 0) /* the summary goes there */
        return cli_usage_error(cmd, "OUT cannot be standard output; give a file name");
    herd_status st = herd_quant_policy_load(policy_s, &o.policy);
    if (st)
        return st == HERD_ERR_ARG ? cli_usage_error(cmd, "%s", herd_last_error())
                                  : cli_status_error(cmd, st);
    bool open_slot = false;
    for (int c = 0; c < HERD_QC_COUNT; c++)
        open_slot |= o.policy.type[c] == HERD_TYPE_COUNT;
    /* llama.cpp's recipe names (q4_k_m, q6_k, iq4_xs...) with the default policy: its mixture */
    int recipe =
        type_s && strcmp(o.policy.name, "uniform") == 0 ? herd_quant_recipe_parse(type_s) : -1;
    if (recipe >= 0) {
        o.recipe = type_s;
        o.type = herd_quant_recipe_base(recipe);
    } else if (type_s && !herd_type_parse(type_s, &o.type)) {
        return cli_usage_error(cmd,
                               "unknown --type '%s' (valid: %s; llama.cpp's recipes q2_k q3_k_s "
                               "q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k iq4_nl iq4_xs)",
                               type_s, herd_type_names());
    }
    if (type_s && recipe < 0 && !herd_type_can_quantize(o.type))
        return cli_usage_error(cmd,
                               "herd computes with %s files but cannot write %s (no quantizer "
                               "for ggml's grid i-quants)",
                               herd_type_name(o.type), herd_type_name(o.type));
    if (!type_s && open_slot)
        return cli_usage_error(cmd, "--type is required with policy '%s'", o.policy.name);
    if (o.name && strncmp(o.name, "Llama", 5) != 0)
        return cli_usage_error(cmd, "--name must begin with \"Llama\" (Llama 4 license)");

    if ((st = herd_pool_create(threads > 0 ? (int)threads : herd_cpu_count(), &o.pool)))
        return cli_status_error(cmd, st);
    /* a signal removes the temporary file: herd_atomic_install_signal_cleanup, from main */
    /* an HF checkpoint's vision tower goes to its own llama.cpp-style mmproj file: llama.cpp
     * refuses a model file holding tensors it does not use */
    char vpath[4200];
    bool vision = !single_file && has_vision(in);
    o.text_only = vision;
    /* the pair is all or nothing: both files are written and synced as temporaries, and only
     * then renamed into place, so a failure leaves OUT and its mmproj as they were */
    herd_atomic_file model_file = {0}, mmproj_file = {0};
    if (vision)
        o.finished = &model_file;
    herd_quantize_report r;
    st = herd_quantize_model(in, out, &o, &r);
    herd_pool_destroy(o.pool);
    if (st)
        return cli_status_error(cmd, st);
    if (vision) { /* before any "wrote" line */
        herd_vision_sibling_mmproj(r.path, vpath, sizeof vpath);
        if ((st = herd_vision_write_mmproj_finished(in, vpath, &mmproj_file)) ||
            (st = herd_atomic_install(&mmproj_file)) || (st = herd_atomic_install(&model_file))) {
            herd_atomic_abort(&mmproj_file);
            herd_atomic_abort(&model_file);
            return cli_status_error(cmd, st);
        }
    }
    printf("herd quantize: wrote %s: %zu tensors, %.3f GB, %.2f bits/weight, %.1f s\n", r.path,
           r.tensors, (double)r.bytes / 1e9, r.bits_per_weight, r.seconds);
    printf("herd quantize: named \"%s\" (the Llama 4 license asks derivatives' names to begin "
           "with \"Llama\"); %s%s\n",
           r.name, *r.license ? r.license : "no license information found in ",
           *r.license ? " copied into general.license*" : in);
    /* after the summary reached stdout: a failed stdout is then the one error line */
    if (r.llamacpp_gaps > 0 && fflush(stdout) == 0 && !ferror(stdout))
        fprintf(stderr,
                o.llama_cpp_only
                    ? "herd quantize: warning: llama.cpp cannot express this checkpoint; the file "
                      "holds the model llama.cpp computes instead, and herd follows it: %s\n"
                    : "herd quantize: warning: llama.cpp (v0.4.0) will compute a different model "
                      "from this file than the checkpoint's (herd reads the exact one from its "
                      "herd.* keys): %s\n",
                r.llamacpp_gap);
    if (vision)
        printf("herd quantize: wrote %s: the vision tower (herd finds it beside %s)\n", vpath,
               r.path);
    return 0;
}

const cli_command cli_cmd_quantize = {
    "quantize", "convert a checkpoint to GGUF in MX/int8/ggml types", cmd_main};
