/* Images in chat requests (issue 18): OpenAI image_url content parts carrying a data: URL
 * (PNG or JPEG, base64) are decoded, preprocessed and run through the vision tower on the HTTP
 * thread that received them (one at a time: the tower keeps its activation buffers); each
 * <|image|> the template rendered becomes the image's block, and the <|patch|> positions carry
 * ids < 0 that stand for the image's feature rows. Those ids come from a hash of the image and
 * the row, so the prompt cache, which compares ids, never takes one image's rows for another's.
 * Remote URLs are never fetched. */
#include "serve/serve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct srv_vision {
    herd_vision_config cfg;
    herd_vision_model *vm;
    int64_t hidden;
    pthread_mutex_t mu; /* one image through the tower at a time */
};

static int64_t special_id(void *tok, const char *name)
{
    return herd_tokenizer_special_id(tok, name);
}

herd_status srv_vision_open(const char *model, const char *mmproj, const herd_tokenizer *tok,
                            const herd_model *m, const herd_model_opts *mo, srv_vision **out)
{
    *out = NULL;
    herd_vision_config cfg;
    herd_status st = herd_vision_config_for(model, mmproj, &cfg);
    if (st && !mmproj)
        return HERD_OK; /* a text-only model: image parts are refused */
    int64_t hidden = herd_model_config(m)->hidden;
    if (!st && cfg.text_hidden != hidden)
        st = herd_fail(HERD_ERR_FORMAT,
                       "the vision projector gives rows of %lld, the text model's hidden size "
                       "is %lld",
                       (long long)cfg.text_hidden, (long long)hidden);
    if (!st)
        st = herd_vision_config_lookup_ids(&cfg, special_id, (void *)tok);
    srv_vision *v = st ? NULL : calloc(1, sizeof *v);
    if (!st && !v)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory");
    herd_vision_opts vo;
    herd_vision_opts_default(&vo);
    vo.dtype = mo->dtype;
    vo.aprep = mo->aprep;
    vo.threads = mo->threads;
    if (!st)
        st = herd_vision_load(model, mmproj, &vo, &v->vm);
    if (st) {
        free(v);
        if (mmproj) /* asked for: a reason not to start */
            return st;
        /* a vision_config without usable weights or image tokens: serve text */
        fprintf(stderr, "herd serve: images off: %s\n", herd_last_error());
        return HERD_OK;
    }
    v->cfg = cfg;
    v->hidden = hidden;
    pthread_mutex_init(&v->mu, NULL);
    *out = v;
    return HERD_OK;
}

void srv_vision_free(srv_vision *v)
{
    if (!v)
        return;
    herd_vision_model_free(v->vm);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64, '=' padding optional at the end only; false on anything else. */
static bool b64_decode(const char *s, size_t n, unsigned char *out, size_t *len)
{
    while (n && s[n - 1] == '=' && n % 4 != 1)
        n--;
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2)
        out[o++] = (unsigned char)(acc >> 4);
    else if (n % 4 == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    *len = o;
    return true;
}

/* The bytes of a data: URL; false with err set for a remote or malformed one. */
static bool url_bytes(const char *url, size_t i, unsigned char **data, size_t *len, char *err,
                      size_t n_err)
{
    *data = NULL;
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
        snprintf(err, n_err,
                 "image %zu: remote image URLs are not fetched; send the image inline as a data "
                 "URL (data:image/png;base64,... or data:image/jpeg;base64,...)",
                 i);
        return false;
    }
    const char *comma = strchr(url, ',');
    if (strncmp(url, "data:", 5) != 0 || !comma) {
        snprintf(err, n_err, "image %zu: the url must be a data URL (data:image/png;base64,...)",
                 i);
        return false;
    }
    size_t meta = (size_t)(comma - url);
    if (meta < 7 || strncmp(comma - 7, ";base64", 7) != 0) {
        snprintf(err, n_err, "image %zu: the data URL must be base64 (data:image/png;base64,...)",
                 i);
        return false;
    }
    const char *b = comma + 1;
    size_t n = strlen(b);
    if (n / 4 * 3 > SRV_IMAGE_MAX_BYTES) {
        snprintf(err, n_err, "image %zu: more than %d bytes", i, SRV_IMAGE_MAX_BYTES);
        return false;
    }
    *data = malloc(n / 4 * 3 + 3);
    if (!*data) {
        snprintf(err, n_err, "out of memory for image %zu", i);
        return false;
    }
    if (!b64_decode(b, n, *data, len)) {
        free(*data);
        *data = NULL;
        snprintf(err, n_err, "image %zu: the data URL's base64 is malformed", i);
        return false;
    }
    return true;
}

/* FNV-1a, 64 bits: identifies an image's bytes for the prompt cache. */
static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* The id < 0 of row r of the image with hash h: a distinct value for every row, so a prefix
 * match that takes one row of a different image has odds of 2^-31 per row. */
static int32_t row_id(uint64_t h, int64_t r)
{
    uint64_t x = h + (uint64_t)r * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    return -1 - (int32_t)(x & 0x7FFFFFFE);
}

herd_status srv_images_attach(srv_vision *v, const json_t *urls, srv_job *j, char *err,
                              size_t n_err)
{
    size_t n = json_array_size(urls);
    err[0] = 0;
    if (!n)
        return HERD_OK;
    if (!v) {
        snprintf(err, n_err,
                 "this model takes no images (no vision tower; herd serve --mmproj FILE adds a "
                 "projector)");
        return HERD_ERR_ARG;
    }
    const herd_vision_config *c = &v->cfg;
    herd_tokens out = {0};
    size_t next = 0;
    herd_status st = HERD_OK;
    for (size_t k = 0; k < j->prompt.n && !st; k++) {
        if (j->prompt.ids[k] != c->image_id || next == n) {
            st = herd_tokens_push(&out, j->prompt.ids[k]);
            continue;
        }
        size_t i = next++, len;
        unsigned char *data;
        if (!url_bytes(json_string_value(json_array_get(urls, i)), i, &data, &len, err, n_err)) {
            st = HERD_ERR_ARG;
            break;
        }
        char what[32];
        snprintf(what, sizeof what, "image %zu", i);
        herd_image img;
        herd_image_tiles t = {0};
        uint64_t h = hash_bytes(data, len);
        st = herd_image_decode(data, len, what, &img);
        free(data);
        if (!st) {
            st = herd_image_preprocess(&img, &c->prep, &t);
            herd_image_free(&img);
        }
        if (st) { /* the image's own fault: a 400 */
            snprintf(err, n_err, "%s", herd_last_error());
            herd_image_tiles_free(&t);
            st = HERD_ERR_ARG;
            break;
        }
        int64_t rows = t.n_tiles * c->tokens_per_tile, have = j->n_img_rows;
        float *r = herd_alloc((size_t)((have + rows) * v->hidden) * sizeof(float), "image rows");
        if (!r)
            st = HERD_ERR_NOMEM;
        if (!st && have)
            memcpy(r, j->img_rows, (size_t)(have * v->hidden) * sizeof(float));
        if (!st) {
            herd_free(j->img_rows);
            j->img_rows = r;
            j->n_img_rows = have + rows;
            j->hidden = v->hidden;
            pthread_mutex_lock(&v->mu);
            st = herd_vision_encode(v->vm, t.pixels, t.n_tiles, NULL, NULL,
                                    r + (size_t)(have * v->hidden));
            pthread_mutex_unlock(&v->mu);
        }
        int64_t blen = st ? 0 : herd_vision_expand(c, t.rows, t.cols, NULL, 0);
        size_t at = out.n;
        for (int64_t q = 0; q < blen && !st; q++)
            st = herd_tokens_push(&out, 0);
        if (!st) {
            herd_vision_expand(c, t.rows, t.cols, out.ids + at, blen);
            for (int64_t q = 0, row = 0; q < blen; q++)
                if (out.ids[at + q] == c->patch_id)
                    out.ids[at + q] = row_id(h, row++);
        }
        herd_image_tiles_free(&t);
    }
    if (!st && next != n) {
        snprintf(err, n_err,
                 "only %zu of %zu images have a place in the prompt (with tools, the first user "
                 "message takes no images)",
                 next, n);
        st = HERD_ERR_ARG;
    }
    if (!st) {
        herd_tokens_free(&j->prompt);
        j->prompt = out;
    } else {
        herd_tokens_free(&out);
        if (!err[0])
            snprintf(err, n_err, "%s", herd_last_error());
    }
    return st;
}
