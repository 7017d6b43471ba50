/* Fuzzes the image decoders (PNG through libpng, JPEG through libjpeg-turbo, chosen by the
 * magic bytes) and, for images that decode, the preprocessing (canvas plan, resize, tiles). */
#include "fuzz_util.h"
#include "herd/vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    herd_image im;
    herd_status st = herd_image_decode(data, size, "fuzz", &im);
    if (st != HERD_OK) {
        fuzz_check_message(herd_last_error());
        FUZZ_ASSERT(im.rgb == NULL);
        return 0;
    }
    FUZZ_ASSERT(im.rgb && im.width >= 1 && im.height >= 1);
    FUZZ_ASSERT(im.width <= HERD_IMAGE_MAX_SIDE && im.height <= HERD_IMAGE_MAX_SIDE);
    volatile unsigned sum = 0;
    for (size_t i = 0; i < (size_t)(im.width * im.height) * 3; i++)
        sum += im.rgb[i];
    if (im.width * im.height <= 1 << 16) { /* small tiles keep the resize cheap */
        herd_vision_prep p;
        herd_vision_prep_default(&p, 28);
        p.max_patches = 1 + (int64_t)(size % 6);
        herd_image_tiles t;
        if (herd_image_preprocess(&im, &p, &t) == HERD_OK) {
            FUZZ_ASSERT(t.n_tiles >= 1 && t.n_tiles <= p.max_patches + 1);
            for (size_t i = 0; i < (size_t)t.n_tiles * 3 * 28 * 28; i++)
                FUZZ_ASSERT(t.pixels[i] >= -1 && t.pixels[i] <= 1);
            herd_image_tiles_free(&t);
        } else {
            fuzz_check_message(herd_last_error());
        }
    }
    herd_image_free(&im);
    return 0;
}
