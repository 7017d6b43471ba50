/* herd vision: Llama 4 image input (spec llama4.md §11). Images decoded from PNG or JPEG, cut
 * into tiles exactly as Hugging Face's processor does (bf16 pixel table included), run through
 * the vision encoder, pixel shuffle, adapter and projector; the rows that come out replace the
 * embeddings of the prompt's <|patch|> tokens. Sits above ops/, below model/. */
#ifndef HERD_VISION_H
#define HERD_VISION_H

#include "herd/base.h"
#include "herd/formats.h"
#include "herd/io_gguf.h"
#include "herd/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------------------
 * 8-bit RGB, row-major, 3 bytes a pixel. Decoding takes PNG (any bit depth, palette, grey,
 * alpha, interlaced; 16-bit samples keep their high byte, alpha is composited on white as HF's
 * convert_to_rgb does) and JPEG (baseline, progressive, grey, CMYK; the EXIF orientation
 * applied, as HF's image loading does, so the image comes out upright). Damaged, truncated,
 * unknown or oversized files (a side above HERD_IMAGE_MAX_SIDE or more than
 * HERD_IMAGE_MAX_PIXELS) fail with one line naming `what`. */
enum { HERD_IMAGE_MAX_SIDE = 16384, HERD_IMAGE_MAX_PIXELS = 64 << 20 };

typedef struct herd_image {
    int64_t width, height;
    uint8_t *rgb; /* height × width × 3 */
} herd_image;

herd_status herd_image_decode(const void *data, size_t size, const char *what, herd_image *out);
herd_status herd_image_load(const char *path, herd_image *out);
void herd_image_free(herd_image *im);

/* Resizes to h × w pixels with the antialiased bilinear filter of PyTorch's
 * interpolate(antialias=True, align_corners=False): separable, horizontal pass first, a side
 * that keeps its size skipped, each pass rounded to 8 bits (as the uint8 kernels do). */
herd_status herd_image_resize(const herd_image *in, int64_t h, int64_t w, herd_image *out);

/* ---- preprocessing (spec §11.3) -----------------------------------------------------------
 * Settings of HF's Llama4ImageProcessorFast (preprocessor_config.json). */
typedef struct herd_vision_prep {
    int64_t tile;        /* S, `size` */
    int64_t max_patches; /* canvas tiles at most (the global tile not counted) */
    bool resize_to_max_canvas;
    double rescale;         /* 1/255 */
    double mean[3], std[3]; /* per channel */
} herd_vision_prep;
void herd_vision_prep_default(herd_vision_prep *p, int64_t tile);
/* Reads `path` (preprocessor_config.json) over the defaults; keys it lacks keep them. */
herd_status herd_vision_prep_load(const char *path, herd_vision_prep *p);

/* The value a pixel byte becomes: HF's rescale and normalise done in bfloat16,
 * bf16(bf16(bf16(u·rescale) − mean) / std) (2·bf16(bf16(u/255) − 0.5) for the defaults). */
float herd_vision_pixel(const herd_vision_prep *p, int channel, uint8_t u);

/* The integer decisions for an h × w image (§11.3 steps 1–2): the canvas grid (HF's candidate
 * order and fp32 scales) and the size the image is resized to before padding. */
void herd_vision_plan(const herd_vision_prep *p, int64_t h, int64_t w, int64_t *rows, int64_t *cols,
                      int64_t *resized_h, int64_t *resized_w);

typedef struct herd_image_tiles {
    int64_t rows, cols;           /* canvas grid */
    int64_t resized_h, resized_w; /* the image's size on the canvas */
    int64_t n_tiles;              /* rows·cols, plus the global tile when that is > 1 */
    int64_t tile;                 /* S */
    float *pixels;                /* [n_tiles, 3, S, S], canvas tiles row-major, global last */
} herd_image_tiles;

herd_status herd_image_preprocess(const herd_image *im, const herd_vision_prep *p,
                                  herd_image_tiles *out);
void herd_image_tiles_free(herd_image_tiles *t);

/* ---- the vision model (spec §11.1–11.6) ---------------------------------------------------- */
typedef struct herd_vision_config {
    int64_t hidden, n_layers, n_heads, head_dim, inter; /* Dv, layers, nh, d = Dv/nh, Iv */
    int64_t image_size, patch_size, grid, n_patches;    /* S, p, g = S/p, P = g² */
    int64_t shuffle;                                    /* s = 1/pixel_shuffle_ratio */
    int64_t adapter_dim;     /* Dp: adapter fc1/fc2 width = projector input */
    int64_t text_hidden;     /* H: projector output */
    int64_t tokens_per_tile; /* P / s² */
    double rope_theta;
    /* special ids: <|patch|> (image_token_index), <|image_start|>, <|image_end|>, <|image|>,
     * <|tile_x_separator|>, <|tile_y_separator|>; the last three sit at fixed offsets from
     * <|image_start|> in Llama 4's vocabulary (+10, +4, +5) unless a tokenizer says otherwise */
    int64_t patch_id, image_start_id, image_end_id, image_id, tile_x_id, tile_y_id;
    herd_vision_prep prep;
} herd_vision_config;

/* Reads vision_config and the image ids from config.json (fails naming the file when it has
 * no vision tower), then preprocessor_config.json beside it if there is one. Checks the width
 * couplings HF assumes (Iv = Dv·s², d % 4 = 0, g % s = 0, S % p = 0). */
herd_status herd_vision_config_load(const char *config_path, herd_vision_config *out);
herd_status herd_vision_config_check(const herd_vision_config *c, const char *what);
/* Sets the six image ids from their names (<|patch|>, <|image_start|>, <|image_end|>,
 * <|image|>, <|tile_x_separator|>, <|tile_y_separator|>) through `lookup` — a tokenizer's
 * special tokens; -1 for a name it lacks. Fails when one is missing or when <|patch|> is not
 * the config's image_token_index (the rows the model replaces); c is unchanged then. */
herd_status herd_vision_config_lookup_ids(herd_vision_config *c,
                                          int64_t (*lookup)(void *ctx, const char *name),
                                          void *ctx);

/* A weight as the model asks for it by its HF name (without the "vision_model." prefix for the
 * tower; "multi_modal_projector.linear_1.weight" for the projector): rows × cols (cols 1 for
 * vectors), contiguous rows of `type`. */
typedef struct herd_vision_tensor {
    herd_type type;
    const void *data;
} herd_vision_tensor;
typedef herd_status (*herd_vision_get_fn)(void *ctx, const char *name, int64_t rows, int64_t cols,
                                          herd_vision_tensor *out);

typedef struct herd_vision_opts {
    herd_type dtype;  /* packed type of the matrices; HERD_TYPE_COUNT = the checkpoint's own */
    herd_aprep aprep; /* how GEMMs treat activations (EXACT: f32, for reference checks) */
    herd_pool *pool;  /* borrowed; NULL: the model makes its own with `threads` */
    int threads;      /* 0 = every CPU */
    int max_batch;    /* tiles run through the GEMMs together; 0 = 4 */
} herd_vision_opts;
void herd_vision_opts_default(herd_vision_opts *o);

typedef struct herd_vision_model herd_vision_model;

/* Packs every weight through `get`; the source may be closed afterwards. */
herd_status herd_vision_model_create(const herd_vision_config *c, herd_vision_get_fn get, void *ctx,
                                     const herd_vision_opts *o, herd_vision_model **out);
/* From an HF checkpoint directory (config.json, preprocessor_config.json, safetensors). */
herd_status herd_vision_load_hf(const char *dir, const herd_vision_opts *o,
                                herd_vision_model **out);
/* ---- GGUF: llama.cpp's mmproj names and keys (clip.vision.*, v.*, mm.*), in a projector file
 * of their own or inside herd's single-file GGUF; herd.vision.* keys carry what llama.cpp
 * hard-codes (RoPE θ, image token ids, max_patches) and default to Llama 4's values. */
herd_status herd_vision_load_gguf(const char *path, const herd_vision_opts *o,
                                  herd_vision_model **out);
herd_status herd_vision_gguf_config(const char *path, herd_vision_config *out);
/* The GGUF name of an HF vision tensor (without "vision_model."; the projector with its
 * "multi_modal_projector." prefix); false for other names. */
bool herd_vision_gguf_name(const char *hf, char *out, size_t n);
/* Writes the clip.* and herd.vision.* keys of c. */
herd_status herd_vision_gguf_set_meta(herd_gguf_writer *w, const herd_vision_config *c);
/* Writes the vision part of an HF checkpoint as a llama.cpp-style mmproj GGUF: matrices in
 * their own type, vectors in f32 (atomically: nothing is left at `out` on failure). */
herd_status herd_vision_write_mmproj(const char *hf_dir, const char *out);
/* The same, finished but not installed: *finished gets the file (herd_gguf_writer_finish_only). */
herd_status herd_vision_write_mmproj_finished(const char *hf_dir, const char *out,
                                              herd_atomic_file *finished);
/* mmproj-NAME beside the model file NAME into out (n bytes); true if that file exists. Loading
 * the vision tower of a GGUF that holds none falls back to it. */
bool herd_vision_sibling_mmproj(const char *model, char *out, size_t n);

/* Random weights at any shape (benchmarks, tests): uniform in ±1/sqrt(cols) for matrices,
 * 1 ± 0.1 for LayerNorm weights, ±0.02 for biases and embeddings, stored as `type` (f32, f16 or
 * bf16) before packing; the same for the same seed. */
herd_status herd_vision_synthetic(const herd_vision_config *c, uint64_t seed, herd_type type,
                                  const herd_vision_opts *o, herd_vision_model **out);
/* Llama 4 Scout's (and Maverick's) vision_config, with projector output text_hidden. */
void herd_vision_config_scout(herd_vision_config *c, int64_t text_hidden);

/* From what the user names: `model` an HF checkpoint directory or herd's single-file GGUF;
 * `mmproj` (may be NULL) a llama.cpp-style projector GGUF, which then holds the vision part. */
herd_status herd_vision_load(const char *model, const char *mmproj, const herd_vision_opts *o,
                             herd_vision_model **out);
/* Only the configuration (cheap: no weights), for preprocessing and prompt expansion. */
herd_status herd_vision_config_for(const char *model, const char *mmproj, herd_vision_config *out);
void herd_vision_model_free(herd_vision_model *m);
const herd_vision_config *herd_vision_model_config(const herd_vision_model *m);
size_t herd_vision_model_bytes(const herd_vision_model *m); /* packed weights and tables */

/* Runs n tiles of pixel values [n, 3, S, S]. Each output may be NULL:
 *   encoder  [n, P+1, Dv]  after layernorm_post, the class token last;
 *   adapter  [n, P/s², Dp] after the adapter's second GELU;
 *   features [n·P/s², H]   the projector output, the rows that replace <|patch|> embeddings.
 * Not for two threads at once on one model (it keeps its activation buffers). */
herd_status herd_vision_encode(herd_vision_model *m, const float *pixels, int64_t n_tiles,
                               float *encoder, float *adapter, float *features);

/* ---- prompts (spec §11.4) ------------------------------------------------------------------
 * The ids that replace one <|image|> of a templated prompt for an image of rows × cols tiles:
 * <|image_start|> [tile rows of <|patch|> runs with separators, when rows·cols > 1] <|image|>
 * [<|patch|> run of the global or only tile] <|image_end|>. Returns the count; writes up to
 * `cap` ids into `out` (may be NULL to count). */
int64_t herd_vision_expand(const herd_vision_config *c, int64_t rows, int64_t cols, int32_t *out,
                           int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
