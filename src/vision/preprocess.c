/* Image → pixel_values exactly as HF's Llama4ImageProcessorFast (spec llama4.md §11.3): the
 * canvas grid picked with HF's candidate order and fp32 scales, the resize that keeps the
 * aspect ratio, antialiased bilinear resampling, bottom/right padding, the bf16 pixel
 * arithmetic as a 256-entry table, row-major tiles, then the global tile. */
#include "herd/io_json.h"
#include "herd/vision.h"

#include <math.h>
#include <string.h>

void herd_vision_prep_default(herd_vision_prep *p, int64_t tile)
{
    p->tile = tile;
    p->max_patches = 16;
    p->resize_to_max_canvas = false;
    p->rescale = 1.0 / 255.0;
    for (int c = 0; c < 3; c++)
        p->mean[c] = p->std[c] = 0.5;
}

static herd_status read_triple(const json_t *root, const char *key, const char *path, double v[3])
{
    const json_t *a = json_object_get(root, key);
    if (!a || json_is_null(a))
        return HERD_OK;
    if (json_is_number(a)) {
        v[0] = v[1] = v[2] = json_number_value(a);
        return HERD_OK;
    }
    if (!json_is_array(a) || json_array_size(a) != 3)
        return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must be a number or a list of 3", path, key);
    for (size_t i = 0; i < 3; i++) {
        if (!json_is_number(json_array_get(a, i)))
            return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must hold numbers", path, key);
        v[i] = json_number_value(json_array_get(a, i));
    }
    return HERD_OK;
}

herd_status herd_vision_prep_load(const char *path, herd_vision_prep *p)
{
    json_t *root;
    herd_status st = herd_json_load_file(path, &root);
    if (st)
        return st;
    const json_t *size = json_object_get(root, "size");
    int64_t h = p->tile, w = p->tile;
    bool convert = true, rescale = true, normalize = true;
    if (json_is_object(size)) {
        if (!(st = herd_json_get_int(size, "height", h, path, &h)))
            st = herd_json_get_int(size, "width", w, path, &w);
    }
    if (!st)
        st = herd_json_get_int(root, "max_patches", p->max_patches, path, &p->max_patches);
    if (!st)
        st = herd_json_get_bool(root, "resize_to_max_canvas", p->resize_to_max_canvas, path,
                                &p->resize_to_max_canvas);
    if (!st)
        st = herd_json_get_real(root, "rescale_factor", p->rescale, path, &p->rescale);
    if (!st)
        st = herd_json_get_bool(root, "do_convert_rgb", true, path, &convert);
    if (!st)
        st = herd_json_get_bool(root, "do_rescale", true, path, &rescale);
    if (!st)
        st = herd_json_get_bool(root, "do_normalize", true, path, &normalize);
    if (!st)
        st = read_triple(root, "image_mean", path, p->mean);
    if (!st)
        st = read_triple(root, "image_std", path, p->std);
    json_decref(root);
    if (st)
        return st;
    if (h != w || h < 1 || h > 4096)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: tile size %lldx%lld (herd needs square tiles)",
                         path, (long long)h, (long long)w);
    if (p->max_patches < 1 || p->max_patches > 256)
        return herd_fail(HERD_ERR_RANGE, "%s: max_patches %lld is outside 1..256", path,
                         (long long)p->max_patches);
    if (!convert || !rescale || !normalize)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: do_convert_rgb, do_rescale and do_normalize must be true", path);
    for (int c = 0; c < 3; c++)
        if (!(p->std[c] != 0) || !isfinite(p->mean[c]) || !isfinite(p->std[c]))
            return herd_fail(HERD_ERR_RANGE, "%s: image_mean/image_std must be finite, std not 0",
                             path);
    p->tile = h;
    return HERD_OK;
}

static float bf16(float x)
{
    return herd_bf16_to_f32(herd_f32_to_bf16(x));
}

float herd_vision_pixel(const herd_vision_prep *p, int channel, uint8_t u)
{
    /* torch: uint8 → bf16 (exact), × the fp32 scalar in fp32, rounded to bf16; the scalar mean
     * and std act on that in fp32 with each result rounded to bf16 again. */
    float x = bf16((float)u * (float)p->rescale);
    x = bf16(x - (float)p->mean[channel]);
    return bf16(x / (float)p->std[channel]);
}

/* ---- canvas -------------------------------------------------------------------------------- */
static void canvas(const herd_vision_prep *p, int64_t h, int64_t w, int64_t *rows, int64_t *cols)
{
    /* Candidates in HF's order: n from max_patches down, rows over the divisors of n ascending,
     * then grouped by the ratio rows/cols in first-seen order. */
    enum { MAXC = 2048 };
    int64_t cr[MAXC], cc[MAXC], n_c = 0;
    double keys[MAXC];
    int64_t nk = 0;
    int64_t kr[MAXC], kc[MAXC], kkey[MAXC], nl = 0;
    for (int64_t n = p->max_patches; n >= 1; n--)
        for (int64_t r = 1; r <= n; r++) {
            if (n % r)
                continue;
            double ratio = (double)r / (double)(n / r);
            int64_t k = 0;
            while (k < nk && keys[k] != ratio)
                k++;
            if (k == nk)
                keys[nk++] = ratio;
            kr[nl] = r, kc[nl] = n / r, kkey[nl] = k, nl++;
        }
    for (int64_t k = 0; k < nk; k++)
        for (int64_t i = 0; i < nl; i++)
            if (kkey[i] == k)
                cr[n_c] = kr[i], cc[n_c] = kc[i], n_c++;
    float scale[MAXC];
    for (int64_t i = 0; i < n_c; i++) { /* HF divides int64 tensors: fp32 */
        float sw = (float)(cc[i] * p->tile) / (float)w;
        float sh = (float)(cr[i] * p->tile) / (float)h;
        scale[i] = sh > sw ? sw : sh;
    }
    bool any_up = false;
    float sel = 0;
    for (int64_t i = 0; i < n_c; i++)
        if (scale[i] >= 1) {
            if (!any_up || (p->resize_to_max_canvas ? scale[i] > sel : scale[i] < sel))
                sel = scale[i];
            any_up = true;
        }
    if (!any_up)
        for (int64_t i = 0; i < n_c; i++)
            if (i == 0 || scale[i] > sel)
                sel = scale[i];
    int64_t best = -1;
    for (int64_t i = 0; i < n_c; i++)
        if (scale[i] == sel && (best < 0 || cr[i] * cc[i] < cr[best] * cc[best]))
            best = i;
    *rows = cr[best];
    *cols = cc[best];
}

void herd_vision_plan(const herd_vision_prep *p, int64_t h, int64_t w, int64_t *rows, int64_t *cols,
                      int64_t *resized_h, int64_t *resized_w)
{
    int64_t S = p->tile;
    canvas(p, h, w, rows, cols);
    int64_t ch = *rows * S, cw = *cols * S;
    /* never grow past the image's own size, except a side below one tile grows to S */
    int64_t lim_h = p->resize_to_max_canvas ? ch : (h > S ? h : S);
    int64_t lim_w = p->resize_to_max_canvas ? cw : (w > S ? w : S);
    lim_h = lim_h < ch ? lim_h : ch;
    lim_w = lim_w < cw ? lim_w : cw;
    double sw = (double)lim_w / (double)w, sh = (double)lim_h / (double)h;
    int64_t nh, nw;
    if (sw < sh) {
        nw = lim_w;
        nh = (int64_t)floor((double)h * sw);
        nh = nh < lim_h ? nh : lim_h;
    } else {
        nh = lim_h;
        nw = (int64_t)floor((double)w * sh);
        nw = nw < lim_w ? nw : lim_w;
    }
    *resized_h = nh < 1 ? 1 : nh;
    *resized_w = nw < 1 ? 1 : nw;
}

/* ---- resize -------------------------------------------------------------------------------- */
typedef struct taps {
    int64_t *first, *count;
    double *w; /* count[i] weights of output i at w + i·max_taps */
    int64_t max_taps;
} taps;

static herd_status make_taps(int64_t n_in, int64_t n_out, taps *t)
{
    double scale = (double)n_in / (double)n_out;
    double support = scale >= 1 ? scale : 1.0, invscale = scale >= 1 ? 1.0 / scale : 1.0;
    t->max_taps = (int64_t)ceil(support) * 2 + 1;
    t->first = herd_alloc(sizeof(int64_t) * (size_t)n_out * 2, "resize taps");
    t->w = herd_alloc(sizeof(double) * (size_t)(n_out * t->max_taps), "resize weights");
    if (!t->first || !t->w) {
        herd_free(t->first);
        herd_free(t->w);
        return HERD_ERR_NOMEM;
    }
    t->count = t->first + n_out;
    for (int64_t i = 0; i < n_out; i++) {
        double c = scale * ((double)i + 0.5);
        int64_t lo = (int64_t)(c - support + 0.5), hi = (int64_t)(c + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > n_in ? n_in : hi;
        int64_t n = hi - lo;
        if (n > t->max_taps)
            n = t->max_taps;
        double *w = t->w + i * t->max_taps, total = 0;
        for (int64_t j = 0; j < n; j++) {
            double x = fabs(((double)(j + lo) - c + 0.5) * invscale);
            w[j] = x < 1 ? 1 - x : 0;
            total += w[j];
        }
        for (int64_t j = 0; j < n; j++)
            w[j] = total > 0 ? w[j] / total : 0;
        t->first[i] = lo;
        t->count[i] = n;
    }
    return HERD_OK;
}

static uint8_t to_u8(double v)
{
    v = floor(v + 0.5);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One pass along x (horizontal) or y: src is h × w, dst is h × ow or oh × w. */
static herd_status resize_pass(const uint8_t *src, int64_t h, int64_t w, uint8_t *dst,
                               int64_t n_out, bool horizontal)
{
    taps t;
    herd_status st = make_taps(horizontal ? w : h, n_out, &t);
    if (st)
        return st;
    if (horizontal) {
        for (int64_t y = 0; y < h; y++)
            for (int64_t i = 0; i < n_out; i++) {
                const double *wt = t.w + i * t.max_taps;
                const uint8_t *s = src + (size_t)(y * w + t.first[i]) * 3;
                double acc[3] = {0, 0, 0};
                for (int64_t j = 0; j < t.count[i]; j++)
                    for (int c = 0; c < 3; c++)
                        acc[c] += wt[j] * s[j * 3 + c];
                for (int c = 0; c < 3; c++)
                    dst[(size_t)(y * n_out + i) * 3 + c] = to_u8(acc[c]);
            }
    } else {
        size_t row = (size_t)w * 3;
        for (int64_t i = 0; i < n_out; i++) {
            const double *wt = t.w + i * t.max_taps;
            for (size_t x = 0; x < row; x++) {
                double acc = 0;
                for (int64_t j = 0; j < t.count[i]; j++)
                    acc += wt[j] * src[(size_t)(t.first[i] + j) * row + x];
                dst[(size_t)i * row + x] = to_u8(acc);
            }
        }
    }
    herd_free(t.first);
    herd_free(t.w);
    return HERD_OK;
}

herd_status herd_image_resize(const herd_image *in, int64_t h, int64_t w, herd_image *out)
{
    out->rgb = NULL;
    if (h < 1 || w < 1 || h > HERD_IMAGE_MAX_SIDE || w > HERD_IMAGE_MAX_SIDE ||
        h * w > HERD_IMAGE_MAX_PIXELS)
        return herd_fail(HERD_ERR_RANGE, "resize to %lldx%lld is out of range", (long long)h,
                         (long long)w);
    uint8_t *mid = NULL, *dst = herd_alloc((size_t)(h * w) * 3, "resized image");
    if (!dst)
        return HERD_ERR_NOMEM;
    const uint8_t *cur = in->rgb;
    herd_status st = HERD_OK;
    if (w != in->width) {
        if (!(mid = herd_alloc((size_t)(in->height * w) * 3, "resized image")))
            st = HERD_ERR_NOMEM;
        else if (!(st = resize_pass(cur, in->height, in->width, mid, w, true)))
            cur = mid;
    }
    if (!st) {
        if (h != in->height)
            st = resize_pass(cur, in->height, w, dst, h, false);
        else
            memcpy(dst, cur, (size_t)(h * w) * 3);
    }
    herd_free(mid);
    if (st) {
        herd_free(dst);
        return st;
    }
    out->height = h;
    out->width = w;
    out->rgb = dst;
    return HERD_OK;
}

/* ---- tiles --------------------------------------------------------------------------------- */
/* Writes the S × S window at (y0, x0) of img (zero beyond its edges) as a channel-first tile. */
static void put_tile(const herd_image *img, int64_t y0, int64_t x0, int64_t S,
                     const float lut[3][256], float *tile)
{
    for (int c = 0; c < 3; c++)
        for (int64_t y = 0; y < S; y++) {
            float *o = tile + (size_t)((c * S + y) * S);
            int64_t sy = y0 + y;
            for (int64_t x = 0; x < S; x++) {
                int64_t sx = x0 + x;
                uint8_t u = sy < img->height && sx < img->width
                                ? img->rgb[(size_t)(sy * img->width + sx) * 3 + c]
                                : 0;
                o[x] = lut[c][u];
            }
        }
}

herd_status herd_image_preprocess(const herd_image *im, const herd_vision_prep *p,
                                  herd_image_tiles *out)
{
    memset(out, 0, sizeof *out);
    int64_t S = p->tile, h = im->height, w = im->width, rows, cols, nh, nw;
    if (h < 1 || w < 1 || !im->rgb)
        return herd_fail(HERD_ERR_ARG, "preprocess: empty image");
    herd_vision_plan(p, h, w, &rows, &cols, &nh, &nw);
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 256; u++)
            lut[c][u] = herd_vision_pixel(p, c, (uint8_t)u);
    int64_t n = rows * cols + (rows * cols > 1);
    size_t tile_floats = (size_t)(3 * S * S), bytes;
    if (!herd_mul_size(tile_floats * sizeof(float), (size_t)n, &bytes))
        return herd_fail(HERD_ERR_RANGE, "preprocess: too many tiles");
    out->pixels = herd_alloc(bytes, "pixel values");
    if (!out->pixels)
        return HERD_ERR_NOMEM;
    herd_image resized = *im, global = {0};
    herd_status st = HERD_OK;
    if (nh != h || nw != w)
        st = herd_image_resize(im, nh, nw, &resized);
    for (int64_t r = 0; r < rows && !st; r++)
        for (int64_t c = 0; c < cols; c++)
            put_tile(&resized, r * S, c * S, S, lut,
                     out->pixels + (size_t)(r * cols + c) * tile_floats);
    if (!st && n > rows * cols) {
        if (h == S && w == S) /* torchvision returns the input unchanged */
            global = *im;
        else
            st = herd_image_resize(im, S, S, &global);
        if (!st)
            put_tile(&global, 0, 0, S, lut, out->pixels + (size_t)(n - 1) * tile_floats);
        if (global.rgb != im->rgb)
            herd_image_free(&global);
    }
    if (resized.rgb != im->rgb)
        herd_image_free(&resized);
    if (st) {
        herd_image_tiles_free(out);
        return st;
    }
    out->rows = rows;
    out->cols = cols;
    out->resized_h = nh;
    out->resized_w = nw;
    out->n_tiles = n;
    out->tile = S;
    return HERD_OK;
}

void herd_image_tiles_free(herd_image_tiles *t)
{
    if (!t)
        return;
    herd_free(t->pixels);
    memset(t, 0, sizeof *t);
}
