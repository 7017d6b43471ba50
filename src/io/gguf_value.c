/* Typed access to GGUF metadata values. Tolerant of integer widths (a u32 count written as i32
 * or u64 by another converter still reads), strict about kinds (a string is never a number). */
#include "io/gguf_internal.h"

#include <string.h>

/* Reads one scalar of type t at p (unaligned) as an integer; false for non-integers. */
static bool scalar_int(herd_gguf_vtype t, const uint8_t *p, int64_t *out)
{
    switch (t) {
    case HERD_GGUF_UINT8: *out = p[0]; return true;
    case HERD_GGUF_INT8: *out = (int8_t)p[0]; return true;
    case HERD_GGUF_BOOL: *out = p[0] != 0; return true;
    case HERD_GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        *out = v;
        return true;
    }
    case HERD_GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        *out = v;
        return true;
    }
    case HERD_GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        *out = v;
        return true;
    }
    case HERD_GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        *out = v;
        return true;
    }
    case HERD_GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
        return true;
    }
    case HERD_GGUF_INT64: memcpy(out, p, 8); return true;
    default: return false;
    }
}

static bool scalar_float(herd_gguf_vtype t, const uint8_t *p, double *out)
{
    if (t == HERD_GGUF_FLOAT32) {
        float v;
        memcpy(&v, p, 4);
        *out = v;
        return true;
    }
    if (t == HERD_GGUF_FLOAT64) {
        memcpy(out, p, 8);
        return true;
    }
    int64_t i;
    if (t != HERD_GGUF_BOOL && scalar_int(t, p, &i)) {
        *out = (double)i;
        return true;
    }
    return false;
}

bool herd_gguf_kv_int(const herd_gguf_kv *kv, int64_t *out)
{
    return kv->type != HERD_GGUF_BOOL && scalar_int(kv->type, kv->raw, out);
}

bool herd_gguf_kv_float(const herd_gguf_kv *kv, double *out)
{
    return scalar_float(kv->type, kv->raw, out);
}

bool herd_gguf_arr_int(const herd_gguf_kv *kv, uint64_t i, int64_t *out)
{
    if (kv->type != HERD_GGUF_ARRAY || i >= kv->count || kv->elem_type == HERD_GGUF_STRING)
        return false;
    return scalar_int(kv->elem_type, kv->raw + i * herd_gguf_vtype_size(kv->elem_type), out);
}

bool herd_gguf_arr_float(const herd_gguf_kv *kv, uint64_t i, double *out)
{
    if (kv->type != HERD_GGUF_ARRAY || i >= kv->count || kv->elem_type == HERD_GGUF_STRING)
        return false;
    return scalar_float(kv->elem_type, kv->raw + i * herd_gguf_vtype_size(kv->elem_type), out);
}

bool herd_gguf_arr_str(const herd_gguf_kv *kv, uint64_t i, const char **s, size_t *len)
{
    if (kv->type != HERD_GGUF_ARRAY || kv->elem_type != HERD_GGUF_STRING || i >= kv->count)
        return false;
    uint64_t n;
    memcpy(&n, kv->strs[i], 8); /* validated by the reader */
    *s = (const char *)kv->strs[i] + 8;
    *len = (size_t)n;
    return true;
}

static herd_status find(const herd_gguf *g, const char *key, const herd_gguf_kv **kv)
{
    *kv = herd_gguf_find_kv(g, key);
    if (!*kv)
        return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' is missing", g->file.path, key);
    return HERD_OK;
}

static herd_status wrong_type(const herd_gguf *g, const herd_gguf_kv *kv, const char *want)
{
    return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' is %s%s%s, expected %s", g->file.path,
                     kv->key, herd_gguf_vtype_name(kv->type),
                     kv->type == HERD_GGUF_ARRAY ? " of " : "",
                     kv->type == HERD_GGUF_ARRAY ? herd_gguf_vtype_name(kv->elem_type) : "", want);
}

herd_status herd_gguf_get_int(const herd_gguf *g, const char *key, int64_t *out)
{
    const herd_gguf_kv *kv;
    herd_status st = find(g, key, &kv);
    if (st == HERD_OK && !herd_gguf_kv_int(kv, out))
        st = wrong_type(g, kv, "an integer");
    return st;
}

herd_status herd_gguf_get_float(const herd_gguf *g, const char *key, double *out)
{
    const herd_gguf_kv *kv;
    herd_status st = find(g, key, &kv);
    if (st == HERD_OK && !herd_gguf_kv_float(kv, out))
        st = wrong_type(g, kv, "a number");
    return st;
}

herd_status herd_gguf_get_bool(const herd_gguf *g, const char *key, bool *out)
{
    const herd_gguf_kv *kv;
    herd_status st = find(g, key, &kv);
    if (st == HERD_OK) {
        if (kv->type != HERD_GGUF_BOOL)
            return wrong_type(g, kv, "a bool");
        *out = kv->raw[0] != 0;
    }
    return st;
}

herd_status herd_gguf_get_str(const herd_gguf *g, const char *key, const char **s, size_t *len)
{
    const herd_gguf_kv *kv;
    herd_status st = find(g, key, &kv);
    if (st == HERD_OK) {
        if (kv->type != HERD_GGUF_STRING)
            return wrong_type(g, kv, "a string");
        *s = (const char *)kv->raw;
        *len = (size_t)kv->str_len;
    }
    return st;
}
