/* Fuzzes the safetensors reader: the u64 header length, the JSON header (dtypes, shapes,
 * data_offsets, __metadata__) and the rule that tensors tile the data exactly. */
#include "fuzz_util.h"
#include "herd/io_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_mem_file(0, data, size);
    herd_safetensors *f;
    if (herd_safetensors_open(path, &f) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    size_t n = herd_safetensors_count(f), total = 0;
    for (size_t i = 0; i < n; i++) {
        const herd_st_tensor *t = herd_safetensors_at(f, i);
        FUZZ_ASSERT(t && herd_safetensors_find(f, t->name) == t);
        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= HERD_ST_MAX_DIMS && t->nelems >= 0);
        FUZZ_ASSERT(t->nbytes <= size - 8 && total <= size - 8 - t->nbytes);
        total += t->nbytes;
        if (t->nbytes) {
            volatile uint8_t x = t->data[0];
            x ^= t->data[t->nbytes - 1];
            (void)x;
        }
    }
    FUZZ_ASSERT(herd_safetensors_at(f, n) == NULL);
    herd_safetensors_close(f);
    return 0;
}
