/* NumPy .npy files of float32: a strict little reader and an atomic writer.
 *
 * The format: magic "\x93NUMPY", version (major, minor), the header length (u16 for 1.x, u32 for
 * 2.x/3.x), then a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n', then the raw data. We parse the dict with a tiny
 * tokenizer rather than searching for substrings, so odd but valid spacing is accepted and
 * garbage is rejected. */
#include "herd/io_npy.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

bool herd_npy_count(const size_t *shape, int ndim, size_t *count)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!herd_mul_size(n, shape[i], &n))
            return false;
    *count = n;
    return true;
}

/* ---- header dict parsing ------------------------------------------------------------------ */

typedef struct header_cursor {
    const char *p, *end;
} header_cursor;

static void skip_space(header_cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p))
        c->p++;
}

static bool take_char(header_cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted Python string ('...' or "...") without escapes, copied into buf. */
static bool take_string(header_cursor *c, char *buf, size_t cap)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= cap)
            return false;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    buf[n] = 0;
    return true;
}

static bool take_word(header_cursor *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

/* A shape tuple: "()", "(n,)", "(a, b)", "(a, b,)". */
static bool take_shape(header_cursor *c, size_t *shape, int *ndim, const char **why)
{
    *ndim = 0;
    if (!take_char(c, '('))
        return false;
    for (;;) {
        if (take_char(c, ')'))
            return true;
        skip_space(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
            return false;
        size_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            if (!herd_mul_size(v, 10, &v) || v > SIZE_MAX - (size_t)(*c->p - '0')) {
                *why = "a dimension is too large";
                return false;
            }
            v += (size_t)(*c->p++ - '0');
        }
        if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) /* Python 2 long suffix */
            c->p++;
        if (*ndim == HERD_NPY_MAX_DIMS) {
            *why = "too many dimensions";
            return false;
        }
        shape[(*ndim)++] = v;
        if (take_char(c, ')'))
            return true;
        if (!take_char(c, ','))
            return false;
    }
}

typedef struct npy_header {
    char descr[32];
    bool fortran;
    size_t shape[HERD_NPY_MAX_DIMS];
    int ndim;
} npy_header;

static herd_status parse_dict(const char *path, const char *text, size_t len, npy_header *h)
{
    header_cursor c = {text, text + len};
    bool have_descr = false, have_order = false, have_shape = false;
    const char *why = NULL;
    if (!take_char(&c, '{'))
        goto bad;
    for (;;) {
        if (take_char(&c, '}'))
            break;
        char key[32];
        if (!take_string(&c, key, sizeof key) || !take_char(&c, ':'))
            goto bad;
        if ((strcmp(key, "descr") == 0 && have_descr) ||
            (strcmp(key, "fortran_order") == 0 && have_order) ||
            (strcmp(key, "shape") == 0 && have_shape)) {
            why = "duplicate key in header";
            goto bad;
        }
        if (strcmp(key, "descr") == 0) {
            if (!take_string(&c, h->descr, sizeof h->descr)) {
                why = "descr is not a simple dtype string (structured arrays are not supported)";
                goto bad;
            }
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (take_word(&c, "True"))
                h->fortran = true;
            else if (take_word(&c, "False"))
                h->fortran = false;
            else
                goto bad;
            have_order = true;
        } else if (strcmp(key, "shape") == 0) {
            if (!take_shape(&c, h->shape, &h->ndim, &why))
                goto bad;
            have_shape = true;
        } else {
            why = "unexpected key in header";
            goto bad;
        }
        if (take_char(&c, '}'))
            break;
        if (!take_char(&c, ','))
            goto bad;
    }
    skip_space(&c);
    if (c.p != c.end)
        goto bad;
    if (!have_descr || !have_order || !have_shape) {
        why = "header lacks descr, fortran_order or shape";
        goto bad;
    }
    return HERD_OK;
bad:
    return herd_fail(HERD_ERR_FORMAT, "%s: bad .npy header: %s", path,
                     why ? why : "not a valid header dict");
}

static void format_shape(const size_t *shape, int ndim, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %zu" : "%zu", shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

/* ---- reading ------------------------------------------------------------------------------ */

herd_status herd_npy_read_f32(const char *path, float **data, size_t shape[HERD_NPY_MAX_DIMS],
                              int *ndim)
{
    *data = NULL;
    *ndim = 0;
    herd_mapped_file f;
    herd_status st = herd_map_file(path, &f);
    if (st != HERD_OK)
        return st;
    const uint8_t *b = f.data;
    size_t hstart, hlen;
    if (f.size < 10 || memcmp(b, npy_magic, 6) != 0) {
        st = herd_fail(HERD_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    if (b[6] == 1) {
        hstart = 10;
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (b[6] == 2 || b[6] == 3) {
        if (f.size < 12) {
            st = herd_fail(HERD_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hstart = 12;
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    } else {
        st = herd_fail(HERD_ERR_FORMAT, "%s: unsupported .npy version %d.%d", path, b[6], b[7]);
        goto done;
    }
    if (hlen > f.size - hstart) {
        st = herd_fail(HERD_ERR_FORMAT, "%s: truncated .npy header (%zu of %zu bytes)", path,
                       f.size - hstart, hlen);
        goto done;
    }
    npy_header h = {0};
    st = parse_dict(path, (const char *)b + hstart, hlen, &h);
    if (st != HERD_OK)
        goto done;
    if (strcmp(h.descr, "<f4") != 0 && strcmp(h.descr, "=f4") != 0) {
        if (strcmp(h.descr, ">f4") == 0)
            st = herd_fail(HERD_ERR_UNSUPPORTED,
                           "%s: big-endian float32 is not supported (need '<f4')", path);
        else
            st = herd_fail(HERD_ERR_UNSUPPORTED, "%s: dtype '%s' is not float32 (need '<f4')", path,
                           h.descr);
        goto done;
    }
    size_t count, bytes;
    if (!herd_npy_count(h.shape, h.ndim, &count) || !herd_mul_size(count, 4, &bytes)) {
        st = herd_fail(HERD_ERR_FORMAT, "%s: shape too large", path);
        goto done;
    }
    if (h.fortran && h.ndim > 1 && count > 1) {
        st = herd_fail(HERD_ERR_UNSUPPORTED,
                       "%s: Fortran-order array is not supported (save it in C order)", path);
        goto done;
    }
    size_t have = f.size - hstart - hlen;
    if (have != bytes) {
        char sh[256];
        format_shape(h.shape, h.ndim, sh, sizeof sh);
        st = herd_fail(HERD_ERR_FORMAT, "%s: %s: data has %zu bytes, shape %s needs %zu", path,
                       have < bytes ? "truncated file" : "trailing bytes", have, sh, bytes);
        goto done;
    }
    float *out = herd_alloc(bytes ? bytes : 4, path);
    if (!out) {
        st = HERD_ERR_NOMEM;
        goto done;
    }
    memcpy(out, b + hstart + hlen, bytes);
    *data = out;
    *ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++)
        shape[i] = h.shape[i];
done:
    herd_unmap_file(&f);
    return st;
}

/* ---- writing ------------------------------------------------------------------------------ */

herd_status herd_npy_write_f32(const char *path, const float *data, const size_t *shape, int ndim)
{
    size_t count, bytes;
    if (ndim < 0 || ndim > HERD_NPY_MAX_DIMS || !herd_npy_count(shape, ndim, &count) ||
        !herd_mul_size(count, 4, &bytes))
        return herd_fail(HERD_ERR_ARG, "%s: cannot write .npy: bad shape", path);
    char sh[HERD_NPY_MAX_DIMS * 24 + 8];
    format_shape(shape, ndim, sh, sizeof sh);
    /* Magic (6) + version (2) + length (2) + dict + padding + '\n', a multiple of 64 bytes. */
    char head[512];
    int n = snprintf(head + 10, sizeof head - 10,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", sh);
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    memcpy(head, npy_magic, 6);
    head[6] = 1;
    head[7] = 0;
    size_t hlen = total - 10;
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);
    memset(head + 10 + n, ' ', total - 10 - (size_t)n - 1);
    head[total - 1] = '\n';

    herd_atomic_file f;
    herd_status st = herd_atomic_open(&f, path);
    if (st != HERD_OK)
        return st;
    st = herd_atomic_write(&f, head, total);
    if (st == HERD_OK)
        st = herd_atomic_write(&f, data, bytes);
    if (st != HERD_OK) {
        herd_atomic_abort(&f);
        return st;
    }
    return herd_atomic_commit(&f);
}
