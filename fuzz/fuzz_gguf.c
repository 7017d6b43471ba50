/* Fuzzes the GGUF reader: header, metadata of every value type (scalars, strings, arrays of
 * each), tensor infos (names, dims, types, offsets), alignment and the data section. Every
 * value the reader accepts is read back through the typed getters and checked to lie inside
 * the file. */
#include "fuzz_util.h"
#include "herd/io_gguf.h"

static void inside(const herd_gguf *g, const void *p, uint64_t n)
{
    const uint8_t *b = p, *lo = g->file.data, *hi = g->file.data + g->file.size;
    FUZZ_ASSERT(b >= lo && b <= hi && n <= (uint64_t)(hi - b));
}

static void check_kv(const herd_gguf *g, const herd_gguf_kv *kv)
{
    FUZZ_ASSERT(herd_gguf_find_kv(g, kv->key) == kv);
    int64_t i;
    double d;
    const char *s;
    size_t len;
    (void)herd_gguf_kv_int(kv, &i);
    (void)herd_gguf_kv_float(kv, &d);
    (void)herd_gguf_get_int(g, kv->key, &i);
    (void)herd_gguf_get_float(g, kv->key, &d);
    bool b;
    (void)herd_gguf_get_bool(g, kv->key, &b);
    if (kv->type == HERD_GGUF_STRING) {
        FUZZ_ASSERT(herd_gguf_get_str(g, kv->key, &s, &len) == HERD_OK);
        inside(g, s, len);
    } else if (kv->type == HERD_GGUF_ARRAY) {
        for (uint64_t k = 0; k < kv->count; k++) {
            if (kv->elem_type == HERD_GGUF_STRING) {
                FUZZ_ASSERT(herd_gguf_arr_str(kv, k, &s, &len));
                inside(g, s, len);
            } else {
                (void)herd_gguf_arr_int(kv, k, &i);
                (void)herd_gguf_arr_float(kv, k, &d);
                inside(g, kv->raw + k * herd_gguf_vtype_size(kv->elem_type),
                       herd_gguf_vtype_size(kv->elem_type));
            }
        }
    } else {
        inside(g, kv->raw, herd_gguf_vtype_size(kv->type));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_mem_file(0, data, size);
    herd_gguf g;
    if (herd_gguf_open(path, &g) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    FUZZ_ASSERT(g.alignment > 0 && (g.alignment & (g.alignment - 1)) == 0);
    FUZZ_ASSERT(g.data_offset <= g.file.size);
    for (size_t k = 0; k < g.n_kv; k++)
        check_kv(&g, &g.kv[k]);
    for (size_t k = 0; k < g.n_tensors; k++) {
        const herd_gguf_tensor *t = &g.tensors[k];
        FUZZ_ASSERT(herd_gguf_find_tensor(&g, t->name) == t);
        FUZZ_ASSERT(t->n_dims >= 1 && t->n_dims <= 4);
        inside(&g, t->data, t->bytes);
        if (t->bytes) { /* touch both ends of the tensor's bytes */
            volatile uint8_t x = ((const uint8_t *)t->data)[0];
            x ^= ((const uint8_t *)t->data)[t->bytes - 1];
            (void)x;
        }
        (void)herd_gguf_type_id_name(t->type_id);
    }
    herd_gguf_close(&g);
    return 0;
}
