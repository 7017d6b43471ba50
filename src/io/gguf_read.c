/* GGUF reader: maps the file and validates everything before use. Every count, length, size
 * and offset read from the file is checked against the bytes that remain and for overflow,
 * so a hostile file ends in one error line, never in a crash or a huge allocation. */
#include "io/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *p;
    size_t pos, size;
    const char *path;
} cursor;

static herd_status truncated(const cursor *c, const char *what)
{
    return herd_fail(HERD_ERR_FORMAT, "%s: truncated GGUF: %s at byte %zu runs past the end (%zu)",
                     c->path, what, c->pos, c->size);
}

static herd_status take(cursor *c, size_t n, const char *what, const uint8_t **out)
{
    if (n > c->size - c->pos)
        return truncated(c, what);
    *out = c->p + c->pos;
    c->pos += n;
    return HERD_OK;
}

static herd_status read_u32(cursor *c, const char *what, uint32_t *v)
{
    const uint8_t *b = NULL;
    herd_status st = take(c, 4, what, &b);
    if (st == HERD_OK)
        memcpy(v, b, 4);
    return st;
}

static herd_status read_u64(cursor *c, const char *what, uint64_t *v)
{
    const uint8_t *b = NULL;
    herd_status st = take(c, 8, what, &b);
    if (st == HERD_OK)
        memcpy(v, b, 8);
    return st;
}

/* A string: u64 length + bytes (no NUL). The length is checked against what remains. */
static herd_status read_str(cursor *c, const char *what, const uint8_t **s, uint64_t *len)
{
    herd_status st = read_u64(c, what, len);
    if (st != HERD_OK)
        return st;
    if (*len > c->size - c->pos)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: %s at byte %zu has length %llu, past the end (%zu)",
                         c->path, what, c->pos - 8, (unsigned long long)*len, c->size);
    return take(c, (size_t)*len, what, s);
}

/* Names (keys, tensor names) become C strings in messages: no NUL, no control bytes. */
static herd_status copy_name(const cursor *c, const char *what, const uint8_t *s, uint64_t len,
                             char **out)
{
    if (len == 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: empty %s", c->path, what);
    for (uint64_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7F)
            return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: %s contains control byte 0x%02x",
                             c->path, what, s[i]);
    *out = malloc((size_t)len + 1);
    if (!*out)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", c->path);
    memcpy(*out, s, (size_t)len);
    (*out)[len] = 0;
    return HERD_OK;
}

static herd_status read_value(cursor *c, herd_gguf_kv *kv)
{
    uint32_t t;
    herd_status st = read_u32(c, "value type", &t);
    if (st != HERD_OK)
        return st;
    if (t >= HERD_GGUF_VTYPE_COUNT)
        return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: key '%s' has unknown value type %u",
                         c->path, kv->key, t);
    kv->type = (herd_gguf_vtype)t;
    kv->count = 1;
    if (t == HERD_GGUF_STRING)
        return read_str(c, kv->key, &kv->raw, &kv->str_len);
    if (t != HERD_GGUF_ARRAY)
        return take(c, herd_gguf_vtype_size(kv->type), kv->key, &kv->raw);

    uint32_t et;
    if ((st = read_u32(c, "array type", &et)) != HERD_OK ||
        (st = read_u64(c, "array length", &kv->count)) != HERD_OK)
        return st;
    if (et >= HERD_GGUF_VTYPE_COUNT || et == HERD_GGUF_ARRAY)
        return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: key '%s' is an array of %s (type %u)",
                         c->path, kv->key, et == HERD_GGUF_ARRAY ? "arrays" : "unknown values", et);
    kv->elem_type = (herd_gguf_vtype)et;
    size_t left = c->size - c->pos;
    if (et != HERD_GGUF_STRING) {
        size_t es = herd_gguf_vtype_size(kv->elem_type);
        if (kv->count > left / es)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: bad GGUF: array '%s' of %llu %s values runs past the end",
                             c->path, kv->key, (unsigned long long)kv->count,
                             herd_gguf_vtype_name(kv->elem_type));
        return take(c, (size_t)kv->count * es, kv->key, &kv->raw);
    }
    /* every string takes at least its 8-byte length: bound the count before allocating */
    if (kv->count > left / 8)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: string array '%s' of %llu elements runs past the end",
                         c->path, kv->key, (unsigned long long)kv->count);
    kv->raw = c->p + c->pos;
    kv->strs = malloc(((size_t)kv->count ? (size_t)kv->count : 1) * sizeof *kv->strs);
    if (!kv->strs)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for array '%s'", c->path, kv->key);
    for (uint64_t i = 0; i < kv->count; i++) {
        const uint8_t *s;
        uint64_t len;
        kv->strs[i] = c->p + c->pos;
        if ((st = read_str(c, kv->key, &s, &len)) != HERD_OK)
            return st;
    }
    return HERD_OK;
}

/* Merge sort of indices by name (stable, O(n log n): hostile files may hold millions). */
static void sort_by_name(size_t *idx, size_t *tmp, size_t n, char *const *names, size_t stride)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_by_name(idx, tmp, h, names, stride);
    sort_by_name(idx + h, tmp, n - h, names, stride);
#define NAME(k) (*(char *const *)((const char *)names + (k)*stride))
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = strcmp(NAME(idx[j]), NAME(idx[i])) < 0 ? idx[j++] : idx[i++];
#undef NAME
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* Builds idx = 0..n-1 sorted by the name at names + k*stride; fails on a duplicate. */
herd_status gguf_index_names(size_t *idx, size_t n, char *const *names, size_t stride,
                             const char *path, const char *what)
{
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for the GGUF index", path);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_by_name(idx, tmp, n, names, stride);
    free(tmp);
    for (size_t i = 1; i < n; i++) {
        const char *a = *(char *const *)((const char *)names + idx[i] * stride);
        const char *b = *(char *const *)((const char *)names + idx[i - 1] * stride);
        if (strcmp(a, b) == 0)
            return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: duplicate %s '%s'", path, what, a);
    }
    return HERD_OK;
}

static herd_status read_tensor_info(cursor *c, size_t i, herd_gguf_tensor *t)
{
    const uint8_t *s;
    uint64_t len;
    herd_status st = read_str(c, "tensor name", &s, &len);
    if (st != HERD_OK)
        return st;
    if (len > GGUF_MAX_NAME)
        return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: tensor %zu's name is %llu bytes (max %d)",
                         c->path, i, (unsigned long long)len, GGUF_MAX_NAME);
    if ((st = copy_name(c, "tensor name", s, len, &t->name)) != HERD_OK)
        return st;
    uint32_t nd;
    if ((st = read_u32(c, "tensor dimensions", &nd)) != HERD_OK)
        return st;
    if (nd < 1 || nd > GGUF_MAX_DIMS)
        return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: tensor '%s' has %u dimensions (1..4)",
                         c->path, t->name, nd);
    t->n_dims = (int)nd;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        if ((st = read_u64(c, "tensor shape", &v)) != HERD_OK)
            return st;
        if (v > (uint64_t)INT64_MAX)
            return herd_fail(HERD_ERR_FORMAT, "%s: bad GGUF: tensor '%s' has dimension %u = %lld",
                             c->path, t->name, d, (long long)v);
        t->ne[d] = (int64_t)v;
    }
    uint32_t id;
    if ((st = read_u32(c, "tensor type", &id)) != HERD_OK ||
        (st = read_u64(c, "tensor offset", &t->offset)) != HERD_OK)
        return st;
    t->type_id = id;
    int be, bb;
    if (!gguf_type_geometry(id, &t->type, &be, &bb))
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has unknown type id %u", c->path,
                         t->name, id);
    uint64_t row, bytes;
    if ((uint64_t)t->ne[0] % (uint64_t)be != 0)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: tensor '%s' has rows of %lld, not a multiple of %s's "
                         "block of %d",
                         c->path, t->name, (long long)t->ne[0], herd_gguf_type_id_name(id), be);
    bool ok = gguf_row_bytes(id, (uint64_t)t->ne[0], &row);
    bytes = row;
    for (int d = 1; ok && d < GGUF_MAX_DIMS; d++)
        ok = !__builtin_mul_overflow(bytes, (uint64_t)t->ne[d], &bytes);
    if (!ok || bytes > (uint64_t)SIZE_MAX)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: tensor '%s' is too large (%lld x %lld "
                         "x %lld x %lld)",
                         c->path, t->name, (long long)t->ne[0], (long long)t->ne[1],
                         (long long)t->ne[2], (long long)t->ne[3]);
    t->bytes = (size_t)bytes;
    return HERD_OK;
}

/* Offsets must be aligned, inside the file, and dense in info order as ggml requires (each
 * tensor starts where the previous one ended, rounded up to the alignment): this rules out
 * overlaps and gaps alike. */
static herd_status place_tensors(herd_gguf *g, const char *path)
{
    size_t avail = g->file.size - g->data_offset, expect = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        herd_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: bad GGUF: tensor '%s' at offset %llu is not aligned to %u", path,
                             t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset != expect)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: bad GGUF: tensor '%s' at offset %llu, expected %zu (tensors "
                             "must follow each other: overlap or gap)",
                             path, t->name, (unsigned long long)t->offset, expect);
        if (t->offset > avail || t->bytes > avail - t->offset)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: truncated GGUF: tensor '%s' (%zu bytes at data offset %llu) "
                             "runs past the end of the file (%zu data bytes)",
                             path, t->name, t->bytes, (unsigned long long)t->offset, avail);
        t->data = g->file.data + g->data_offset + t->offset;
        size_t end = (size_t)t->offset + t->bytes;
        expect = end + (g->alignment - end % g->alignment) % g->alignment; /* no overflow: */
        if (expect < end)                                                  /* end <= avail */
            expect = SIZE_MAX;
    }
    return HERD_OK;
}

static herd_status read_alignment(herd_gguf *g, const char *path)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const herd_gguf_kv *kv = herd_gguf_find_kv(g, "general.alignment");
    if (!kv)
        return HERD_OK;
    int64_t a;
    /* At least 8 (the GGUF spec asks for a multiple of 8): tensor data is then aligned for the
     * f32/f64 loads of every consumer, never a misaligned access. */
    if (!herd_gguf_kv_int(kv, &a) || a < 8 || a > (1 << 30) || (a & (a - 1)) != 0)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: general.alignment must be a power of two from 8 to 2^30",
                         path);
    g->alignment = (uint32_t)a;
    return HERD_OK;
}

static herd_status parse(herd_gguf *g, const char *path)
{
    cursor c = {g->file.data, 0, g->file.size, path};
    uint32_t magic;
    uint64_t nt, nkv;
    herd_status st = read_u32(&c, "magic", &magic);
    if (st != HERD_OK)
        return st;
    if (magic != GGUF_MAGIC)
        return herd_fail(HERD_ERR_FORMAT, "%s: not a GGUF file (bad magic 0x%08x)", path, magic);
    if ((st = read_u32(&c, "version", &g->version)) != HERD_OK)
        return st;
    if (g->version != 2 && g->version != 3)
        return herd_fail(HERD_ERR_FORMAT, "%s: unsupported GGUF version %u (2 or 3)", path,
                         g->version);
    if ((st = read_u64(&c, "tensor count", &nt)) != HERD_OK ||
        (st = read_u64(&c, "metadata count", &nkv)) != HERD_OK)
        return st;
    /* a kv takes at least 8+1+4+1 bytes, a tensor info 8+1+4+8+4+8 */
    size_t left = c.size - c.pos;
    if (nkv > left / 14 || nt > left / 33)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: bad GGUF: %llu tensors and %llu metadata entries cannot fit in %zu "
                         "bytes",
                         path, (unsigned long long)nt, (unsigned long long)nkv, c.size);
    g->kv = calloc(nkv ? (size_t)nkv : 1, sizeof *g->kv);
    g->tensors = calloc(nt ? (size_t)nt : 1, sizeof *g->tensors);
    g->by_name = calloc(nt ? (size_t)nt : 1, sizeof *g->by_name);
    g->by_key = calloc(nkv ? (size_t)nkv : 1, sizeof *g->by_key);
    if (!g->kv || !g->tensors || !g->by_name || !g->by_key)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for the GGUF index", path);

    for (size_t i = 0; i < (size_t)nkv; i++) {
        const uint8_t *s;
        uint64_t len;
        herd_gguf_kv *kv = &g->kv[i];
        g->n_kv = i + 1;
        if ((st = read_str(&c, "metadata key", &s, &len)) != HERD_OK ||
            (st = copy_name(&c, "metadata key", s, len, &kv->key)) != HERD_OK)
            return st;
        if ((st = read_value(&c, kv)) != HERD_OK)
            return st;
    }
    if ((st = gguf_index_names(g->by_key, g->n_kv, &g->kv[0].key, sizeof *g->kv, path, "key")) !=
            HERD_OK ||
        (st = read_alignment(g, path)) != HERD_OK)
        return st;
    for (size_t i = 0; i < (size_t)nt; i++) {
        g->n_tensors = i + 1;
        if ((st = read_tensor_info(&c, i, &g->tensors[i])) != HERD_OK)
            return st;
    }
    if ((st = gguf_index_names(g->by_name, g->n_tensors, &g->tensors[0].name, sizeof *g->tensors,
                               path, "tensor")) != HERD_OK)
        return st;

    size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (g->n_tensors == 0 && pad > c.size - c.pos)
        pad = c.size - c.pos; /* nothing follows: the padding may be left out */
    if (pad > c.size - c.pos)
        return truncated(&c, "padding before the tensor data");
    g->data_offset = c.pos + pad;
    return place_tensors(g, path);
}

herd_status herd_gguf_open(const char *path, herd_gguf *g)
{
    memset(g, 0, sizeof *g);
    herd_status st = herd_map_file(path, &g->file);
    if (st != HERD_OK)
        return st;
    st = parse(g, path);
    if (st != HERD_OK)
        herd_gguf_close(g);
    return st;
}

void herd_gguf_close(herd_gguf *g)
{
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].strs);
    }
    for (size_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->by_name);
    free(g->by_key);
    herd_unmap_file(&g->file);
    memset(g, 0, sizeof *g);
}

const herd_gguf_kv *herd_gguf_find_kv(const herd_gguf *g, const char *key)
{
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const herd_gguf_kv *kv = &g->kv[g->by_key[mid]];
        int c = strcmp(kv->key, key);
        if (c == 0)
            return kv;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const herd_gguf_tensor *herd_gguf_find_tensor(const herd_gguf *g, const char *name)
{
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const herd_gguf_tensor *t = &g->tensors[g->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
