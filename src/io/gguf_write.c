/* GGUF writer: metadata and tensor infos are collected first (each value already serialized),
 * then the header goes to a temporary file, tensor bytes are streamed in declaration order with
 * padding between tensors, and commit renames the file into place. */
#include "io/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct wkv {
    char *key;
    uint8_t *blob; /* u32 value type + the encoded value */
    size_t blob_len;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type_id;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t offset;
    size_t bytes;
} wtensor;

struct herd_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    herd_atomic_file file;
    herd_atomic_file *finished; /* set: commit hands the finished file over instead */
    bool open;
    uint32_t alignment;
    size_t cur, cur_done; /* tensor being streamed, bytes of it written */
};

herd_status herd_gguf_writer_create(herd_gguf_writer **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for a GGUF writer");
    return HERD_OK;
}

void herd_gguf_writer_free(herd_gguf_writer *w)
{
    if (!w)
        return;
    if (w->open)
        herd_atomic_abort(&w->file);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].blob);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* ---- a growable byte buffer for one value ---- */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u32(buf *b, uint32_t v)
{
    put(b, &v, 4);
}

static void put_str(buf *b, const char *s, size_t len)
{
    uint64_t n = len;
    put(b, &n, 8);
    put(b, s, len);
}

static herd_status check_key(const char *key)
{
    if (!key || !*key)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: empty key");
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == 0x7F) /* the reader rejects these (keys appear in messages) */
            return herd_fail(HERD_ERR_ARG, "GGUF writer: key has a control byte");
    return HERD_OK;
}

/* Takes ownership of b's bytes: adds or replaces the value of `key`. */
static herd_status store(herd_gguf_writer *w, const char *key, buf *b)
{
    if (b->failed) {
        free(b->p);
        return herd_fail(HERD_ERR_NOMEM, "GGUF writer: out of memory for key '%s'", key);
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].blob);
            w->kv[i].blob = b->p;
            w->kv[i].blob_len = b->n;
            return HERD_OK;
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(b->p);
            return herd_fail(HERD_ERR_NOMEM, "GGUF writer: out of memory for key '%s'", key);
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(b->p);
        return herd_fail(HERD_ERR_NOMEM, "GGUF writer: out of memory for key '%s'", key);
    }
    w->kv[w->n_kv++] = (wkv){k, b->p, b->n};
    return HERD_OK;
}

bool herd_gguf_writer_has(const herd_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return true;
    return false;
}

herd_status herd_gguf_set(herd_gguf_writer *w, const char *key, herd_gguf_vtype type,
                          const void *value)
{
    herd_status st = check_key(key);
    if (st != HERD_OK)
        return st;
    size_t n = herd_gguf_vtype_size(type);
    if (n == 0)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: key '%s': %s is not a scalar type", key,
                         herd_gguf_vtype_name(type));
    buf b = {0};
    put_u32(&b, (uint32_t)type);
    put(&b, value, n);
    return store(w, key, &b);
}

herd_status herd_gguf_set_u32(herd_gguf_writer *w, const char *key, uint32_t v)
{
    return herd_gguf_set(w, key, HERD_GGUF_UINT32, &v);
}

herd_status herd_gguf_set_f32(herd_gguf_writer *w, const char *key, float v)
{
    return herd_gguf_set(w, key, HERD_GGUF_FLOAT32, &v);
}

herd_status herd_gguf_set_bool(herd_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return herd_gguf_set(w, key, HERD_GGUF_BOOL, &b);
}

herd_status herd_gguf_set_strn(herd_gguf_writer *w, const char *key, const char *s, size_t len)
{
    herd_status st = check_key(key);
    if (st != HERD_OK)
        return st;
    buf b = {0};
    put_u32(&b, HERD_GGUF_STRING);
    put_str(&b, s, len);
    return store(w, key, &b);
}

herd_status herd_gguf_set_str(herd_gguf_writer *w, const char *key, const char *s)
{
    return herd_gguf_set_strn(w, key, s, strlen(s));
}

herd_status herd_gguf_set_arr(herd_gguf_writer *w, const char *key, herd_gguf_vtype elem_type,
                              const void *values, size_t count)
{
    herd_status st = check_key(key);
    if (st != HERD_OK)
        return st;
    size_t es = herd_gguf_vtype_size(elem_type), bytes;
    if (es == 0)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: key '%s': arrays of %s need another setter",
                         key, herd_gguf_vtype_name(elem_type));
    if (!herd_mul_size(es, count, &bytes))
        return herd_fail(HERD_ERR_RANGE, "GGUF writer: key '%s': array too large", key);
    buf b = {0};
    uint64_t n = count;
    put_u32(&b, HERD_GGUF_ARRAY);
    put_u32(&b, (uint32_t)elem_type);
    put(&b, &n, 8);
    put(&b, values, bytes);
    return store(w, key, &b);
}

herd_status herd_gguf_set_str_arr(herd_gguf_writer *w, const char *key, const char *const *strs,
                                  const size_t *lens, size_t count)
{
    herd_status st = check_key(key);
    if (st != HERD_OK)
        return st;
    buf b = {0};
    uint64_t n = count;
    put_u32(&b, HERD_GGUF_ARRAY);
    put_u32(&b, HERD_GGUF_STRING);
    put(&b, &n, 8);
    for (size_t i = 0; i < count; i++)
        put_str(&b, strs[i], lens ? lens[i] : strlen(strs[i]));
    return store(w, key, &b);
}

herd_status herd_gguf_set_kv(herd_gguf_writer *w, const herd_gguf_kv *kv)
{
    if (kv->type == HERD_GGUF_STRING)
        return herd_gguf_set_strn(w, kv->key, (const char *)kv->raw, (size_t)kv->str_len);
    if (kv->type != HERD_GGUF_ARRAY)
        return herd_gguf_set(w, kv->key, kv->type, kv->raw);
    if (kv->elem_type != HERD_GGUF_STRING)
        return herd_gguf_set_arr(w, kv->key, kv->elem_type, kv->raw, (size_t)kv->count);
    /* a string array is stored in the file exactly as we would write it: copy its bytes */
    herd_status st = check_key(kv->key);
    if (st != HERD_OK)
        return st;
    buf b = {0};
    uint64_t n = kv->count;
    put_u32(&b, HERD_GGUF_ARRAY);
    put_u32(&b, HERD_GGUF_STRING);
    put(&b, &n, 8);
    if (kv->count > 0) {
        const char *last;
        size_t last_len;
        herd_gguf_arr_str(kv, kv->count - 1, &last, &last_len);
        put(&b, kv->raw, (size_t)((const uint8_t *)last + last_len - kv->raw));
    }
    return store(w, kv->key, &b);
}

herd_status herd_gguf_add_tensor(herd_gguf_writer *w, const char *name, herd_type type, int n_dims,
                                 const int64_t *ne)
{
    size_t len = strlen(name);
    if (len == 0 || len > GGUF_MAX_NAME)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: tensor name '%s' must be 1..%d bytes", name,
                         GGUF_MAX_NAME);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: tensor '%s' has %d dimensions (1..4)", name,
                         n_dims);
    if (w->open)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: tensor '%s' added after the header", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return herd_fail(HERD_ERR_ARG, "GGUF writer: duplicate tensor '%s'", name);
    wtensor t = {.type_id = herd_gguf_type_id(type), .n_dims = n_dims};
    if (t.type_id == UINT32_MAX)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: tensor '%s': no GGUF id for type %d", name,
                         (int)type);
    uint64_t bytes = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0)
            return herd_fail(HERD_ERR_ARG, "GGUF writer: tensor '%s' has a negative dimension",
                             name);
    }
    bool ok = gguf_row_bytes(t.type_id, (uint64_t)t.ne[0], &bytes);
    for (int d = 1; ok && d < GGUF_MAX_DIMS; d++)
        ok = !__builtin_mul_overflow(bytes, (uint64_t)t.ne[d], &bytes);
    if (!ok || bytes > SIZE_MAX / 2)
        return herd_fail(HERD_ERR_ARG,
                         "GGUF writer: tensor '%s': rows of %lld do not fit type %s, or too large",
                         name, (long long)t.ne[0], herd_type_name(type));
    t.bytes = (size_t)bytes;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *p = realloc(w->t, cap * sizeof *p);
        if (!p)
            return herd_fail(HERD_ERR_NOMEM, "GGUF writer: out of memory");
        w->t = p;
        w->cap_t = cap;
    }
    t.name = strdup(name);
    if (!t.name)
        return herd_fail(HERD_ERR_NOMEM, "GGUF writer: out of memory");
    w->t[w->n_t++] = t;
    return HERD_OK;
}

size_t herd_gguf_writer_tensor_bytes(const herd_gguf_writer *w, size_t i)
{
    return i < w->n_t ? w->t[i].bytes : 0;
}

static size_t pad_of(size_t n, uint32_t align)
{
    return (align - n % align) % align;
}

static herd_status write_zeros(herd_gguf_writer *w, size_t n)
{
    static const uint8_t zeros[256];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        herd_status st = herd_atomic_write(&w->file, zeros, k);
        if (st != HERD_OK)
            return st;
        n -= k;
    }
    return HERD_OK;
}

/* Pads after the current tensor once complete and moves on to the next non-empty one. */
static herd_status advance(herd_gguf_writer *w)
{
    while (w->cur < w->n_t && w->cur_done == w->t[w->cur].bytes) {
        herd_status st = write_zeros(w, pad_of(w->t[w->cur].bytes, w->alignment));
        if (st != HERD_OK)
            return st;
        w->cur++;
        w->cur_done = 0;
    }
    return HERD_OK;
}

herd_status herd_gguf_writer_begin(herd_gguf_writer *w, const char *path)
{
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, "general.alignment") == 0) {
            uint32_t type, a;
            memcpy(&type, w->kv[i].blob, 4);
            if (type != HERD_GGUF_UINT32)
                return herd_fail(HERD_ERR_ARG, "GGUF writer: general.alignment must be uint32");
            memcpy(&a, w->kv[i].blob + 4, 4);
            if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 30))
                return herd_fail(HERD_ERR_ARG, "GGUF writer: alignment %u is not a power of 2", a);
            w->alignment = a;
        }
    buf b = {0};
    uint64_t nt = w->n_t, nkv = w->n_kv, offset = 0;
    put_u32(&b, GGUF_MAGIC);
    put_u32(&b, 3);
    put(&b, &nt, 8);
    put(&b, &nkv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(&b, w->kv[i].key, strlen(w->kv[i].key));
        put(&b, w->kv[i].blob, w->kv[i].blob_len);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        uint32_t nd = (uint32_t)t->n_dims;
        put_str(&b, t->name, strlen(t->name));
        put_u32(&b, nd);
        put(&b, t->ne, 8 * nd);
        put_u32(&b, t->type_id);
        t->offset = offset;
        put(&b, &offset, 8);
        offset += t->bytes + pad_of(t->bytes, w->alignment);
    }
    if (b.failed) {
        free(b.p);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for the GGUF header", path);
    }
    herd_status st = herd_atomic_open(&w->file, path);
    if (st == HERD_OK) {
        w->open = true;
        st = herd_atomic_write(&w->file, b.p, b.n);
        if (st == HERD_OK)
            st = write_zeros(w, pad_of(b.n, w->alignment));
    }
    free(b.p);
    w->cur = 0;
    w->cur_done = 0;
    return st == HERD_OK ? advance(w) : st;
}

herd_status herd_gguf_writer_write(herd_gguf_writer *w, const void *data, size_t bytes)
{
    const uint8_t *p = data;
    if (!w->open)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: write before begin");
    while (bytes > 0) {
        if (w->cur >= w->n_t)
            return herd_fail(HERD_ERR_ARG, "%s: more tensor data than declared", w->file.path);
        size_t k = w->t[w->cur].bytes - w->cur_done;
        if (k > bytes)
            k = bytes;
        herd_status st = herd_atomic_write(&w->file, p, k);
        if (st != HERD_OK)
            return st;
        p += k;
        bytes -= k;
        w->cur_done += k;
        if ((st = advance(w)) != HERD_OK)
            return st;
    }
    return HERD_OK;
}

herd_status herd_gguf_writer_commit(herd_gguf_writer *w)
{
    if (!w->open)
        return herd_fail(HERD_ERR_ARG, "GGUF writer: commit before begin");
    if (w->cur < w->n_t)
        return herd_fail(HERD_ERR_INTERNAL, "%s: tensor '%s' was not fully written", w->file.path,
                         w->t[w->cur].name);
    w->open = false;
    if (!w->finished)
        return herd_atomic_commit(&w->file);
    herd_status st = herd_atomic_finish(&w->file);
    *w->finished = w->file; /* a failed finish left it all zero */
    memset(&w->file, 0, sizeof w->file);
    return st;
}

void herd_gguf_writer_finish_only(herd_gguf_writer *w, herd_atomic_file *finished)
{
    w->finished = finished;
    if (finished)
        memset(finished, 0, sizeof *finished);
}

const char *herd_gguf_writer_tmp_path(const herd_gguf_writer *w)
{
    return w->open ? w->file.tmp_path : NULL;
}
