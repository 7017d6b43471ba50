/* herd image: one image through Llama 4's vision path, stage by stage, for checking against a
 * reference: the tile plan on stdout, and on request the pixel values, the encoder and adapter
 * outputs and the features (the rows that replace the image's <|patch|> embeddings) as .npy.
 * --from-pixel-values starts from given pixel values instead of an image file. */
#include "cli/cli_model.h"
#include "herd/io_npy.h"
#include "herd/vision.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: herd image -m MODEL IMAGE [--pixel-values OUT.npy] [--features OUT.npy]\n"
        "       herd image -m MODEL --from-pixel-values IN.npy --features OUT.npy\n"
        "  runs a PNG or JPEG image through the model's vision tower and projector\n\n"
        "options:\n"
        "  -m MODEL              Hugging Face checkpoint directory or herd GGUF file\n"
        "  --mmproj FILE         llama.cpp-style projector GGUF holding the vision tower\n"
        "  --pixel-values OUT    float32 [tiles, 3, S, S]: the preprocessed tiles\n"
        "  --encoder OUT         float32 [tiles, P+1, Dv]: last encoder layer, class token last\n"
        "  --adapter OUT         float32 [tiles, P/s², Dp]: the adapter output\n"
        "  --features OUT        float32 [tiles·P/s², H]: the projector output\n"
        "  --from-pixel-values IN  start from these pixel values instead of an image\n"
        "  --export-mmproj OUT   write the vision part of an HF checkpoint as a llama.cpp-style\n"
        "                        projector GGUF (no IMAGE needed)\n"
        "  -t THREADS            worker threads (default: every CPU)\n"
        "  --dtype T             packed weight type (default: the checkpoint's own)\n"
        "  --act A               activations in GEMMs: f32 (default, exact) or auto (faster)\n");
}

typedef struct outputs {
    const char *pixels, *encoder, *adapter, *features;
} outputs;

static int run(const char *cmd, const char *model, const char *mmproj, const char *image,
               const char *from, const outputs *o, const cli_model_args *a)
{
    herd_vision_opts vo;
    herd_vision_opts_default(&vo);
    vo.dtype = a->engine.model.dtype;
    vo.aprep = a->engine.model.aprep;
    vo.threads = a->engine.model.threads;
    herd_vision_config cfg;
    herd_vision_model *m = NULL;
    herd_image_tiles tiles = {0};
    float *given = NULL, *enc = NULL, *ad = NULL, *ft = NULL;
    const float *pixels = NULL;
    int64_t n = 0;
    bool need_model = o->encoder || o->adapter || o->features;
    herd_status st = herd_vision_config_for(model, mmproj, &cfg);
    if (!st && need_model)
        st = herd_vision_load(model, mmproj, &vo, &m);
    int64_t S = cfg.image_size;
    if (!st && image) {
        herd_image im;
        if (!(st = herd_image_load(image, &im))) {
            st = herd_image_preprocess(&im, &cfg.prep, &tiles);
            if (!st)
                printf("%s: %lldx%lld, canvas %lldx%lld tiles, resized to %lldx%lld, %lld tiles "
                       "of %lld, %lld prompt tokens\n",
                       image, (long long)im.height, (long long)im.width, (long long)tiles.rows,
                       (long long)tiles.cols, (long long)tiles.resized_h,
                       (long long)tiles.resized_w, (long long)tiles.n_tiles, (long long)S,
                       (long long)herd_vision_expand(&cfg, tiles.rows, tiles.cols, NULL, 0));
            herd_image_free(&im);
        }
        pixels = tiles.pixels;
        n = tiles.n_tiles;
    } else if (!st) {
        size_t shape[HERD_NPY_MAX_DIMS];
        int nd;
        if (!(st = herd_npy_read_f32(from, &given, shape, &nd))) {
            if (nd != 4 || shape[1] != 3 || shape[2] != (size_t)S || shape[3] != (size_t)S ||
                shape[0] < 1 || shape[0] > 4096)
                st = herd_fail(HERD_ERR_FORMAT,
                               "%s: pixel values must have shape [tiles, 3, %lld, %lld]", from,
                               (long long)S, (long long)S);
            n = (int64_t)shape[0];
            pixels = given;
        }
    }
    int64_t N = cfg.n_patches + 1, T = cfg.tokens_per_tile;
    if (!st && need_model) {
        size_t ne = (size_t)(n * N * cfg.hidden), na = (size_t)(n * T * cfg.adapter_dim),
               nf = (size_t)(n * T * cfg.text_hidden);
        if (o->encoder && !(enc = herd_alloc(ne * sizeof(float), "encoder output")))
            st = HERD_ERR_NOMEM;
        if (!st && o->adapter && !(ad = herd_alloc(na * sizeof(float), "adapter output")))
            st = HERD_ERR_NOMEM;
        if (!st && o->features && !(ft = herd_alloc(nf * sizeof(float), "features")))
            st = HERD_ERR_NOMEM;
        double t0 = herd_now();
        if (!st)
            st = herd_vision_encode(m, pixels, n, enc, ad, ft);
        if (!st)
            fprintf(stderr, "herd %s: %lld tiles encoded in %.2f s\n", cmd, (long long)n,
                    herd_now() - t0);
    }
    /* every output computed before the first is written */
    size_t sp[4] = {(size_t)n, 3, (size_t)S, (size_t)S};
    size_t se[3] = {(size_t)n, (size_t)N, (size_t)cfg.hidden};
    size_t sa[3] = {(size_t)n, (size_t)T, (size_t)cfg.adapter_dim};
    size_t sf[2] = {(size_t)(n * T), (size_t)cfg.text_hidden};
    if (!st && o->pixels)
        st = herd_npy_write_f32(o->pixels, pixels, sp, 4);
    if (!st && o->encoder)
        st = herd_npy_write_f32(o->encoder, enc, se, 3);
    if (!st && o->adapter)
        st = herd_npy_write_f32(o->adapter, ad, sa, 3);
    if (!st && o->features)
        st = herd_npy_write_f32(o->features, ft, sf, 2);
    herd_free(enc);
    herd_free(ad);
    herd_free(ft);
    herd_free(given);
    herd_image_tiles_free(&tiles);
    herd_vision_model_free(m);
    return st ? cli_status_error(cmd, st) : 0;
}

static int cmd_main(int argc, char **argv)
{
    const char *cmd = "image", *mmproj = NULL, *from = NULL, *image = NULL, *exp = NULL;
    outputs o = {0};
    cli_model_args a;
    cli_model_args_init(&a);
    const cli_opt opts[] = {{"--mmproj", NULL, CLI_OPT_STR, &mmproj, 0, 0},
                            {"--pixel-values", NULL, CLI_OPT_STR, &o.pixels, 0, 0},
                            {"--encoder", NULL, CLI_OPT_STR, &o.encoder, 0, 0},
                            {"--adapter", NULL, CLI_OPT_STR, &o.adapter, 0, 0},
                            {"--features", NULL, CLI_OPT_STR, &o.features, 0, 0},
                            {"--from-pixel-values", NULL, CLI_OPT_STR, &from, 0, 0},
                            {"--export-mmproj", NULL, CLI_OPT_STR, &exp, 0, 0},
                            {NULL, NULL, 0, NULL, 0, 0}};
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            if (image)
                rc = cli_usage_error(cmd, "one image at a time ('%s' and '%s')", image, argv[i]);
            image = argv[i];
            continue;
        }
        if (cli_is_help(argv[i])) {
            usage(stdout);
            cli_model_args_free(&a);
            return 0;
        }
        int r = cli_model_option(cmd, argc, argv, &i, &a);
        if (r == 0)
            r = cli_opt_take(cmd, argc, argv, &i, opts);
        if (r == 0)
            rc = cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (r < 0)
            rc = 2;
    }
    if (!rc && !a.model)
        rc = cli_usage_error(cmd, "-m MODEL is required");
    if (!rc && exp && !image && !from) {
        herd_status st = herd_vision_write_mmproj(a.model, exp);
        if (!st)
            fprintf(stderr, "herd %s: wrote %s\n", cmd, exp);
        cli_model_args_free(&a);
        return st ? cli_status_error(cmd, st) : 0;
    }
    if (!rc && !image == !from)
        rc = cli_usage_error(cmd, "give an IMAGE or --from-pixel-values IN.npy (one of them)");
    if (!rc && from && o.pixels)
        rc = cli_usage_error(cmd, "--pixel-values needs an IMAGE, not --from-pixel-values");
    if (!rc && a.ids)
        rc = cli_usage_error(cmd, "--ids does not apply to herd image");
    if (!rc)
        rc = run(cmd, a.model, mmproj, image, from, &o, &a);
    cli_model_args_free(&a);
    return rc;
}

const cli_command cli_cmd_image = {
    "image", "run an image through the vision tower: pixel values, features (.npy)", cmd_main};
