/* safetensors reader: `u64 header_len | JSON header | data`, validated as the reference reader
 * does (spec formats.md §1), plus checkpoint directories with a sharded index. */
#include "herd/io_json.h"
#include "herd/io_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct herd_safetensors {
    herd_mapped_file map;
    json_t *header; /* owns the tensor names */
    size_t n;
    herd_st_tensor *t; /* sorted by name */
};

static const struct {
    const char *name;
    int bits;
    int type; /* herd_type, or -1 */
} dtypes[] = {
    {"BOOL", 8, -1},
    {"U8", 8, -1},
    {"I8", 8, -1},
    {"F8_E5M2", 8, -1},
    {"F8_E4M3", 8, -1},
    {"F8_E8M0", 8, -1},
    {"I16", 16, -1},
    {"U16", 16, -1},
    {"F16", 16, HERD_TYPE_F16},
    {"BF16", 16, HERD_TYPE_BF16},
    {"I32", 32, -1},
    {"U32", 32, -1},
    {"F32", 32, HERD_TYPE_F32},
    {"F64", 64, -1},
    {"I64", 64, -1},
    {"U64", 64, -1},
    {"C64", 64, -1},
    {"F4", 4, -1},
    {"F6_E2M3", 6, -1},
    {"F6_E3M2", 6, -1},
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const herd_st_tensor *)a)->name, ((const herd_st_tensor *)b)->name);
}

typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin   ? -1
           : x->begin > y->begin ? 1
                                 : (x->end > y->end) - (x->end < y->end);
}

/* Parses one header entry into *t; `path` and the name go into messages. */
static herd_status parse_entry(const char *path, const char *name, json_t *v, herd_st_tensor *t,
                               span *s)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->file = path;
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(shape) ||
        !json_is_array(offs) || json_array_size(offs) != 2)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path,
                         name);
    int bits = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(json_string_value(dt), dtypes[i].name) == 0) {
            bits = dtypes[i].bits;
            snprintf(t->dtype, sizeof t->dtype, "%s", dtypes[i].name);
            t->has_type = dtypes[i].type >= 0;
            t->type = t->has_type ? (herd_type)dtypes[i].type : HERD_TYPE_F32;
        }
    if (!bits)
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name,
                         json_string_value(dt));
    size_t nd = json_array_size(shape);
    if (nd > HERD_ST_MAX_DIMS)
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", path,
                         name, nd, HERD_ST_MAX_DIMS);
    t->ndim = (int)nd;
    size_t nel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': bad shape", path, name);
        t->shape[i] = (int64_t)json_integer_value(d);
        if (!herd_mul_size(nel, (size_t)t->shape[i], &nel))
            return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, name);
    }
    t->nelems = (int64_t)nel;
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': bad data_offsets", path, name);
    s->begin = (uint64_t)json_integer_value(b);
    s->end = (uint64_t)json_integer_value(e);
    s->name = name;
    size_t nbits;
    if (!herd_mul_size(nel, (size_t)bits, &nbits))
        return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, name);
    if (nbits % 8 || s->end - s->begin != nbits / 8)
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tensor '%s': %llu data bytes, but %s × shape needs %zu bits", path,
                         name, (unsigned long long)(s->end - s->begin), t->dtype, nbits);
    t->nbytes = nbits / 8;
    return HERD_OK;
}

static herd_status parse(herd_safetensors *f)
{
    const char *path = f->map.path;
    if (f->map.size < 8)
        return herd_fail(HERD_ERR_FORMAT, "%s: truncated: %zu bytes, not a safetensors file", path,
                         f->map.size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->map.data[i];
    if (hlen > 100000000)
        return herd_fail(HERD_ERR_FORMAT, "%s: header length %llu is too large", path,
                         (unsigned long long)hlen);
    if (hlen > f->map.size - 8)
        return herd_fail(HERD_ERR_FORMAT, "%s: truncated: header of %llu bytes, file has %zu", path,
                         (unsigned long long)hlen, f->map.size);
    char what[64 + 4096];
    snprintf(what, sizeof what, "%s (header)", path);
    herd_status st = herd_json_parse((const char *)f->map.data + 8, (size_t)hlen, what, &f->header);
    if (st)
        return st;
    if (!json_is_object(f->header))
        return herd_fail(HERD_ERR_FORMAT, "%s: header is not a JSON object", path);
    size_t cap = json_object_size(f->header);
    f->t = herd_calloc((cap ? cap : 1) * sizeof *f->t, "safetensors index");
    span *spans = herd_calloc((cap ? cap : 1) * sizeof *spans, "safetensors index");
    if (!f->t || !spans) {
        herd_free(spans);
        return HERD_ERR_NOMEM;
    }
    const char *key;
    json_t *v;
    json_object_foreach(f->header, key, v)
    {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        st = parse_entry(path, key, v, &f->t[f->n], &spans[f->n]);
        if (st) {
            herd_free(spans);
            return st;
        }
        f->n++;
    }
    /* The tensors must tile the data buffer exactly, as the reference reader demands. */
    uint64_t data_size = f->map.size - 8 - hlen, pos = 0;
    qsort(spans, f->n, sizeof *spans, by_begin);
    for (size_t i = 0; i < f->n && !st; i++) {
        if (spans[i].begin != pos)
            st = herd_fail(HERD_ERR_FORMAT,
                           "%s: tensor '%s' starts at byte %llu, expected %llu "
                           "(tensors must tile the data without holes or overlap)",
                           path, spans[i].name, (unsigned long long)spans[i].begin,
                           (unsigned long long)pos);
        else if (spans[i].end > data_size)
            st = herd_fail(HERD_ERR_FORMAT,
                           "%s: truncated: tensor '%s' ends at data byte %llu, "
                           "the file has only %llu data bytes",
                           path, spans[i].name, (unsigned long long)spans[i].end,
                           (unsigned long long)data_size);
        pos = spans[i].end;
    }
    herd_free(spans);
    if (st)
        return st;
    if (pos != data_size)
        return herd_fail(HERD_ERR_FORMAT, "%s: %llu stray bytes after the last tensor", path,
                         (unsigned long long)(data_size - pos));
    const uint8_t *base = f->map.data + 8 + hlen;
    for (size_t i = 0; i < f->n; i++) {
        json_t *offs = json_object_get(json_object_get(f->header, f->t[i].name), "data_offsets");
        f->t[i].data = base + json_integer_value(json_array_get(offs, 0));
    }
    qsort(f->t, f->n, sizeof *f->t, by_name);
    return HERD_OK;
}

herd_status herd_safetensors_open(const char *path, herd_safetensors **out)
{
    *out = NULL;
    herd_safetensors *f = herd_calloc(sizeof *f, "safetensors file");
    if (!f)
        return HERD_ERR_NOMEM;
    herd_status st = herd_map_file(path, &f->map);
    if (!st)
        st = parse(f);
    if (st) {
        herd_safetensors_close(f);
        return st;
    }
    /* names and file paths point into f; re-point the path at the stable copy */
    for (size_t i = 0; i < f->n; i++)
        f->t[i].file = f->map.path;
    *out = f;
    return HERD_OK;
}

void herd_safetensors_close(herd_safetensors *f)
{
    if (!f)
        return;
    herd_free(f->t);
    if (f->header)
        json_decref(f->header);
    if (f->map.path)
        herd_unmap_file(&f->map);
    herd_free(f);
}

size_t herd_safetensors_count(const herd_safetensors *f)
{
    return f->n;
}
const herd_st_tensor *herd_safetensors_at(const herd_safetensors *f, size_t i)
{
    return i < f->n ? &f->t[i] : NULL;
}
const herd_st_tensor *herd_safetensors_find(const herd_safetensors *f, const char *name)
{
    herd_st_tensor key = {.name = name};
    return bsearch(&key, f->t, f->n, sizeof *f->t, by_name);
}

/* ---- checkpoint directories ------------------------------------------------------------- */

struct herd_st_dir {
    size_t nfiles;
    herd_safetensors **files;
    size_t n;
    const herd_st_tensor **t; /* sorted by name */
    size_t bytes;
};

static int ptr_by_name(const void *a, const void *b)
{
    return strcmp((*(const herd_st_tensor *const *)a)->name,
                  (*(const herd_st_tensor *const *)b)->name);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static herd_status add_file(herd_st_dir *d, const char *path)
{
    herd_safetensors **nf = realloc(d->files, (d->nfiles + 1) * sizeof *nf);
    if (!nf)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    d->files = nf;
    herd_status st = herd_safetensors_open(path, &d->files[d->nfiles]);
    if (st)
        return st;
    d->bytes += d->files[d->nfiles]->map.size;
    d->nfiles++;
    return HERD_OK;
}

/* Opens every shard named in the index's weight_map (each once) and checks that the map and
 * the shards agree. */
static herd_status open_index(herd_st_dir *d, const char *dir, const char *index_path)
{
    json_t *idx;
    herd_status st = herd_json_load_file(index_path, &idx);
    if (st)
        return st;
    json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        json_decref(idx);
        return herd_fail(HERD_ERR_FORMAT, "%s: needs a non-empty object 'weight_map'", index_path);
    }
    json_t *opened = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(wm, name, v)
    {
        const char *shard = json_string_value(v);
        if (!shard || !*shard || strchr(shard, '/')) {
            st = herd_fail(HERD_ERR_FORMAT, "%s: weight_map['%s'] must be a file name", index_path,
                           name);
            break;
        }
        if (json_object_get(opened, shard))
            continue;
        char *path = join(dir, shard);
        st = path ? add_file(d, path) : herd_fail(HERD_ERR_NOMEM, "out of memory");
        free(path);
        if (st)
            break;
        json_object_set_new(opened, shard, json_integer((json_int_t)d->nfiles - 1));
    }
    json_object_foreach(wm, name, v)
    {
        if (st)
            break;
        herd_safetensors *f =
            d->files[json_integer_value(json_object_get(opened, json_string_value(v)))];
        if (!herd_safetensors_find(f, name))
            st = herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' is missing (the index puts it there)",
                           f->map.path, name);
    }
    json_decref(opened);
    json_decref(idx);
    return st;
}

static herd_status build_table(herd_st_dir *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        n += d->files[i]->n;
    d->t = herd_calloc((n ? n : 1) * sizeof *d->t, "tensor table");
    if (!d->t)
        return HERD_ERR_NOMEM;
    for (size_t i = 0; i < d->nfiles; i++)
        for (size_t j = 0; j < d->files[i]->n; j++)
            d->t[d->n++] = &d->files[i]->t[j];
    qsort(d->t, d->n, sizeof *d->t, ptr_by_name);
    for (size_t i = 1; i < d->n; i++)
        if (strcmp(d->t[i]->name, d->t[i - 1]->name) == 0)
            return herd_fail(HERD_ERR_FORMAT, "tensor '%s' is in both %s and %s", d->t[i]->name,
                             d->t[i - 1]->file, d->t[i]->file);
    return HERD_OK;
}

herd_status herd_st_dir_open(const char *dir, herd_st_dir **out)
{
    *out = NULL;
    herd_st_dir *d = herd_calloc(sizeof *d, "checkpoint");
    if (!d)
        return HERD_ERR_NOMEM;
    char *index = join(dir, "model.safetensors.index.json"),
         *single = join(dir, "model.safetensors");
    herd_status st = HERD_OK;
    if (!index || !single)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory");
    else if (access(index, F_OK) == 0)
        st = open_index(d, dir, index);
    else if (access(single, F_OK) == 0)
        st = add_file(d, single);
    else
        st =
            herd_fail(HERD_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json", dir);
    free(index);
    free(single);
    if (!st)
        st = build_table(d);
    if (st) {
        herd_st_dir_close(d);
        return st;
    }
    *out = d;
    return HERD_OK;
}

void herd_st_dir_close(herd_st_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nfiles; i++)
        herd_safetensors_close(d->files[i]);
    free(d->files);
    herd_free(d->t);
    herd_free(d);
}

size_t herd_st_dir_count(const herd_st_dir *d)
{
    return d->n;
}
const herd_st_tensor *herd_st_dir_at(const herd_st_dir *d, size_t i)
{
    return i < d->n ? d->t[i] : NULL;
}
const herd_st_tensor *herd_st_dir_find(const herd_st_dir *d, const char *name)
{
    herd_st_tensor key = {.name = name};
    const herd_st_tensor *kp = &key;
    const herd_st_tensor **r = bsearch(&kp, d->t, d->n, sizeof *d->t, ptr_by_name);
    return r ? *r : NULL;
}
size_t herd_st_dir_bytes(const herd_st_dir *d)
{
    return d->bytes;
}
