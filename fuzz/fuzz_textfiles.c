/* Fuzzes the small text readers of issue #20, all behind the one opening rule (herd_open_input):
 * herd_read_line (chat's input lines, bounded: every line comes back intact or is refused as
 * longer than the limit), herd_read_file (a bounded whole read: all bytes or a refusal) and the
 * quantize policy file parser (`class = type` lines). The first byte picks the limits. */
#include "fuzz_util.h"
#include "herd/base.h"
#include "herd/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t sel = data[0];
    data++;
    size--;
    const char *path = fuzz_mem_file(0, data, size);

    /* lines: each one equals its bytes of the input, or is longer than max */
    size_t max = 1 + (sel & 63), at = 0;
    FILE *f = fopen(path, "r");
    FUZZ_ASSERT(f);
    char *line = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        herd_status st = herd_read_line(f, max, &line, &cap, &len);
        if (st) {
            fuzz_check_message(herd_last_error());
            const uint8_t *nl = memchr(data + at, '\n', size - at);
            FUZZ_ASSERT((size_t)(nl ? nl - (data + at) : (ptrdiff_t)(size - at)) > max);
            break;
        }
        if (!line) {
            FUZZ_ASSERT(at >= size);
            break;
        }
        FUZZ_ASSERT(len <= max && at + len <= size && memcmp(line, data + at, len) == 0);
        FUZZ_ASSERT(line[len] == 0 && cap <= max + 2);
        at += len;
        FUZZ_ASSERT(at == size || data[at] == '\n');
        at += at < size;
    }
    free(line);
    fclose(f);

    /* a bounded whole read */
    char *text;
    size_t n, limit = sel * 8;
    herd_status st = herd_read_file(path, limit, &text, &n);
    if (st) {
        FUZZ_ASSERT(size > limit);
        fuzz_check_message(herd_last_error());
    } else {
        FUZZ_ASSERT(n == size && text[n] == 0 && (n == 0 || memcmp(text, data, n) == 0));
        free(text);
    }

    /* a policy file */
    herd_quant_policy p;
    if (herd_quant_policy_load(path, &p) != HERD_OK)
        fuzz_check_message(herd_last_error());
    else
        for (int c = 0; c < HERD_QC_COUNT; c++)
            FUZZ_ASSERT((int)p.type[c] >= 0 && p.type[c] <= HERD_TYPE_COUNT);
    return 0;
}
