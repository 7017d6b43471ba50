/* herd vision: Llama 4 image input (spec llama4.md §11). Images decoded from PNG or JPEG, cut
 * into tiles exactly as Hugging Face's processor does (bf16 pixel table included), run through
 * the vision encoder, pixel shuffle, adapter and projector; the rows that come out replace the
 * embeddings of the prompt's <|patch|> tokens. Sits above ops/, below model/. */
#ifndef HERD_VISION_H
#define HERD_VISION_H

#include "herd/base.h"
#include "herd/formats.h"
#include "herd/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------------------
 * 8-bit RGB, row-major, 3 bytes a pixel. Decoding takes PNG (any bit depth, palette, grey,
 * alpha, interlaced; 16-bit samples keep their high byte, alpha is composited on white as HF's
 * convert_to_rgb does) and JPEG (baseline, progressive, grey, CMYK). Damaged, truncated,
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

#ifdef __cplusplus
}
#endif
#endif
