/* Fuzzes sharded checkpoint directories: the input is model.safetensors.index.json, next to
 * fixed shards (two good ones, one truncated, one that is not safetensors at all). */
#include "fuzz_util.h"
#include "herd/io_safetensors.h"

#include <sys/stat.h>

static char dir[64], index_path[128];

static void put(const char *name, const void *p, size_t n)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_ASSERT(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

static void cleanup(void)
{
    static const char *const names[] = {"a.safetensors", "b.safetensors", "t.safetensors",
                                        "j.safetensors", "model.safetensors.index.json"};
    char path[160];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* One shard: u64 header length, header, data. */
static void put_shard(const char *name, const char *header, size_t data_bytes, size_t cut)
{
    size_t hl = strlen(header), n = 8 + hl + data_bytes;
    uint8_t *b = calloc(1, n);
    FUZZ_ASSERT(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    put(name, b, n - cut);
    free(b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(dir, sizeof dir, "%s/herd-fuzz-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_ASSERT(mkdtemp(dir));
    atexit(cleanup);
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    put_shard("a.safetensors",
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"y\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}",
              14, 0);
    put_shard("b.safetensors",
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"z\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]}}",
              4, 0);
    put_shard("t.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
              16, 5);
    put("j.safetensors", "{\"weight_map\":{}}", 17);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*dir)
        LLVMFuzzerInitialize(NULL, NULL);
    put("model.safetensors.index.json", data, size);
    herd_st_dir *d;
    if (herd_st_dir_open(dir, &d) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    size_t n = herd_st_dir_count(d);
    for (size_t i = 0; i < n; i++) {
        const herd_st_tensor *t = herd_st_dir_at(d, i);
        FUZZ_ASSERT(t && herd_st_dir_find(d, t->name) == t && t->nbytes <= 16);
    }
    herd_st_dir_close(d);
    return 0;
}
