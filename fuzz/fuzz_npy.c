/* Fuzzes the .npy reader (header dict, versions, shapes, data size). */
#include "fuzz_util.h"
#include "herd/io_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_mem_file(0, data, size);
    float *arr = NULL;
    size_t shape[HERD_NPY_MAX_DIMS];
    int ndim = -1;
    herd_status st = herd_npy_read_f32(path, &arr, shape, &ndim);
    if (st != HERD_OK) {
        fuzz_check_message(herd_last_error());
        FUZZ_ASSERT(arr == NULL);
        return 0;
    }
    size_t count;
    FUZZ_ASSERT(ndim >= 0 && ndim <= HERD_NPY_MAX_DIMS && arr);
    FUZZ_ASSERT(herd_npy_count(shape, ndim, &count) && count <= size / 4);
    volatile float sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += arr[i];
    (void)sum;
    herd_free(arr);
    return 0;
}
