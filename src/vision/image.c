/* Image decoding: PNG through libpng, JPEG through libjpeg-turbo, both to 8-bit RGB.
 * Decoders report errors by longjmp; each decode keeps its state in one struct so nothing
 * leaks on the error path, and the size is checked from the header before any pixel memory
 * is taken. The results follow what Pillow (Hugging Face's loader) gives for the same file:
 * 16-bit samples keep their high byte, alpha is blended on white (transformers'
 * convert_to_rgb), CMYK becomes RGB by Pillow's MULDIV255 rule, EXIF orientation is ignored. */
#include "herd/vision.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <jerror.h>
#include <png.h>

static herd_status check_size(const char *what, int64_t w, int64_t h)
{
    if (w < 1 || h < 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: image has no pixels (%lldx%lld)", what, (long long)w,
                         (long long)h);
    if (w > HERD_IMAGE_MAX_SIDE || h > HERD_IMAGE_MAX_SIDE || w * h > HERD_IMAGE_MAX_PIXELS)
        return herd_fail(HERD_ERR_RANGE,
                         "%s: image of %lldx%lld pixels is too large (at most %d per side and "
                         "%d megapixels)",
                         what, (long long)w, (long long)h, HERD_IMAGE_MAX_SIDE,
                         HERD_IMAGE_MAX_PIXELS >> 20);
    return HERD_OK;
}

/* a·b/255 rounded, Pillow's MULDIV255 */
static uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* ---- PNG ----------------------------------------------------------------------------------- */
typedef struct png_ctx {
    const uint8_t *data;
    size_t size, off;
    char msg[160];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* damaged ancillary chunks are dropped, as other viewers do */
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->off)
        png_error(png, "truncated file");
    memcpy(out, c->data + c->off, n);
    c->off += n;
}

static herd_status decode_png(const uint8_t *data, size_t size, const char *what, herd_image *out)
{
    png_ctx ctx = {.data = data, .size = size};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory starting the PNG decoder", what);
    }
    uint8_t *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile rgb = NULL;
    volatile herd_status st = HERD_OK;
    if (setjmp(png_jmpbuf(png))) {
        if (!st)
            st = herd_fail(HERD_ERR_FORMAT, "%s: bad PNG: %s", what, ctx.msg);
        png_destroy_read_struct(&png, &info, NULL);
        herd_free(rgba);
        herd_free(rows);
        herd_free(rgb);
        return st;
    }
    png_set_user_limits(png, HERD_IMAGE_MAX_SIDE, HERD_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, 16u << 20); /* text and ICC chunks: no memory bombs */
    png_set_read_fn(png, &ctx, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((st = check_size(what, w, h)))
        png_longjmp(png, 1);
    int ct = png_get_color_type(png, info);
    png_set_strip_16(png);
    png_set_packing(png);
    if (ct == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    else if (!(ct & PNG_COLOR_MASK_ALPHA))
        png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = (size_t)w * 4;
    if (png_get_rowbytes(png, info) != stride) {
        snprintf(ctx.msg, sizeof ctx.msg, "unexpected row layout");
        png_longjmp(png, 1);
    }
    rgba = herd_alloc(stride * h, "PNG pixels");
    rows = herd_alloc(sizeof(png_bytep) * h, "PNG rows");
    rgb = herd_alloc((size_t)w * h * 3, "image");
    if (!rgba || !rows || !rgb) {
        st = HERD_ERR_NOMEM;
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = rgba + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *p = rgba + 4 * i;
        unsigned a = p[3];
        for (int c = 0; c < 3; c++) /* on white: c·a + 255·(255 − a), over 255 */
            rgb[3 * i + c] = a == 255 ? p[c] : (uint8_t)(muldiv255(p[c], a) + (255 - a));
    }
    png_destroy_read_struct(&png, &info, NULL);
    herd_free(rgba);
    herd_free(rows);
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return HERD_OK;
}

/* ---- JPEG ---------------------------------------------------------------------------------- */
typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    c->pub.format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* Warnings are minor damage the decoder repairs (as Pillow accepts them), except the end of the
 * data arriving early: that is a truncated file, which Pillow refuses too. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (level < 0 && c->pub.msg_code == JWRN_JPEG_EOF) {
        snprintf(c->msg, sizeof c->msg, "truncated file");
        longjmp(c->jb, 1);
    }
}

/* A progressive file can hold thousands of tiny scans, each a full pass over the image. */
static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > 1000) {
        jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
        snprintf(c->msg, sizeof c->msg, "more than 1000 scans");
        longjmp(c->jb, 1);
    }
}

/* The EXIF orientation (1..8; 1 when absent or unreadable) in an APP1 segment's bytes:
 * "Exif\0\0", a TIFF header (II or MM), IFD0's tag 0x0112, a SHORT. libjpeg-turbo leaves it
 * to the caller; HF's image loading applies it (PIL's exif_transpose) before preprocessing. */
static int exif_orientation(const uint8_t *d, size_t n)
{
    if (n < 6 + 8 || memcmp(d, "Exif\0\0", 6) != 0)
        return 1;
    const uint8_t *t = d + 6;
    n -= 6;
    bool le = t[0] == 'I' && t[1] == 'I';
    if (!le && !(t[0] == 'M' && t[1] == 'M'))
        return 1;
#define U16(p)                                                                                     \
    (le ? (unsigned)(p)[0] | (unsigned)(p)[1] << 8 : (unsigned)(p)[1] | (unsigned)(p)[0] << 8)
#define U32(p) (le ? U16(p) | (uint32_t)U16((p) + 2) << 16 : (uint32_t)U16(p) << 16 | U16((p) + 2))
    if (U16(t + 2) != 42)
        return 1;
    uint32_t ifd = U32(t + 4);
    if (ifd > n || n - ifd < 2)
        return 1;
    unsigned count = U16(t + ifd);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            break;
        if (U16(t + e) == 0x0112 && U16(t + e + 2) == 3 && U32(t + e + 4) == 1) {
            unsigned v = U16(t + e + 8);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
#undef U16
#undef U32
    return 1;
}

/* The upright image for EXIF orientation o (2..8): for each output pixel, the stored one it
 * shows. 5..8 swap the sides. */
static herd_status orient(herd_image *im, int o)
{
    size_t W = (size_t)im->width, H = (size_t)im->height;
    bool swap = o >= 5;
    size_t ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *r = herd_alloc(W * H * 3, "image");
    if (!r)
        return HERD_ERR_NOMEM;
    for (size_t y = 0; y < oh; y++)
        for (size_t x = 0; x < ow; x++) {
            size_t sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x, sy = y; break;
            case 3: sx = W - 1 - x, sy = H - 1 - y; break;
            case 4: sx = x, sy = H - 1 - y; break;
            case 5: sx = y, sy = x; break;                 /* transpose */
            case 6: sx = y, sy = H - 1 - x; break;         /* turn 90° clockwise */
            case 7: sx = W - 1 - y, sy = H - 1 - x; break; /* transverse */
            default: sx = W - 1 - y, sy = x; break;        /* 8: turn 90° counter-clockwise */
            }
            memcpy(r + (y * ow + x) * 3, im->rgb + (sy * W + sx) * 3, 3);
        }
    herd_free(im->rgb);
    im->rgb = r;
    im->width = (int64_t)ow;
    im->height = (int64_t)oh;
    return HERD_OK;
}

static herd_status decode_jpeg(const uint8_t *data, size_t size, const char *what, herd_image *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&ctx, 0, sizeof ctx);
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.emit_message = jpeg_on_message;
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile line = NULL;
    volatile herd_status st = HERD_OK;
    if (setjmp(ctx.jb)) {
        if (!st)
            st = herd_fail(HERD_ERR_FORMAT, "%s: bad JPEG: %s", what, ctx.msg);
        jpeg_destroy_decompress(&cinfo);
        herd_free(rgb);
        herd_free(line);
        return st;
    }
    jpeg_create_decompress(&cinfo);
    ctx.progress.progress_monitor = jpeg_on_progress;
    cinfo.progress = &ctx.progress;
    cinfo.mem->max_memory_to_use = (long)1 << 30;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF); /* APP1: EXIF */
    jpeg_read_header(&cinfo, TRUE);
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m && orientation == 1; m = m->next)
        if (m->marker == JPEG_APP0 + 1)
            orientation = exif_orientation(m->data, m->data_length);
    if ((st = check_size(what, cinfo.image_width, cinfo.image_height)))
        longjmp(ctx.jb, 1);
    bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    bool inverted = cmyk && cinfo.saw_Adobe_marker; /* Adobe writes CMYK inverted */
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height;
    int nc = cinfo.output_components;
    if (w != cinfo.image_width || h != cinfo.image_height || nc != (cmyk ? 4 : 3)) {
        snprintf(ctx.msg, sizeof ctx.msg, "unexpected output layout");
        longjmp(ctx.jb, 1);
    }
    rgb = herd_alloc(w * h * 3, "image");
    line = herd_alloc(w * (size_t)nc, "JPEG line");
    if (!rgb || !line) {
        st = HERD_ERR_NOMEM;
        longjmp(ctx.jb, 1);
    }
    while (cinfo.output_scanline < h) {
        size_t y = cinfo.output_scanline;
        JSAMPROW row = line;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(ctx.msg, sizeof ctx.msg, "no progress reading line %zu", y);
            longjmp(ctx.jb, 1);
        }
        uint8_t *o = rgb + y * w * 3;
        if (!cmyk) {
            memcpy(o, line, w * 3);
            continue;
        }
        for (size_t x = 0; x < w; x++) {
            const uint8_t *p = line + 4 * x;
            unsigned k = inverted ? p[3] : 255u - p[3];
            for (int c = 0; c < 3; c++)
                o[3 * x + c] = muldiv255(inverted ? p[c] : 255u - p[c], k);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    herd_free(line);
    out->width = (int64_t)w;
    out->height = (int64_t)h;
    out->rgb = rgb;
    herd_status so = orientation > 1 ? orient(out, orientation) : HERD_OK;
    if (so) {
        herd_free(out->rgb);
        out->rgb = NULL;
    }
    return so;
}

herd_status herd_image_decode(const void *data, size_t size, const char *what, herd_image *out)
{
    const uint8_t *d = data;
    out->width = out->height = 0;
    out->rgb = NULL;
    if (size >= 8 && png_sig_cmp(d, 0, 8) == 0)
        return decode_png(d, size, what, out);
    if (size >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return decode_jpeg(d, size, what, out);
    return herd_fail(HERD_ERR_UNSUPPORTED, "%s: not a PNG or JPEG image", what);
}

herd_status herd_image_load(const char *path, herd_image *out)
{
    herd_mapped_file f;
    out->rgb = NULL;
    herd_status st = herd_map_file(path, &f);
    if (st)
        return st;
    st = herd_image_decode(f.data, f.size, path, out);
    herd_unmap_file(&f);
    return st;
}

void herd_image_free(herd_image *im)
{
    if (!im)
        return;
    herd_free(im->rgb);
    im->rgb = NULL;
    im->width = im->height = 0;
}
