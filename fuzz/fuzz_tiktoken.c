/* Fuzzes the tiktoken rank-file loader ("base64 rank" lines) and, when the first line of the
 * input is "#specials", a special-token TSV added on top of the 256 byte tokens. The
 * tokenizers it accepts then encode sample text. */
#include "tok_check.h"

/* A cheap pattern: compiling o200k's (with JIT) would cost more than parsing the ranks. */
static const char pattern[] = "[A-Za-z]+|[0-9]+| ?[^A-Za-z0-9 ]+| +";
static char base_ranks[256 * 16];
static size_t base_len;

/* The 256 single-byte ranks, base64-encoded: the vocabulary specials are added to. */
static void make_base(void)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int b = 0; b < 256; b++)
        base_len += (size_t)snprintf(base_ranks + base_len, sizeof base_ranks - base_len,
                                     "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char tag[] = "#specials\n";
    herd_tokenizer *tok;
    if (size >= sizeof tag - 1 && memcmp(data, tag, sizeof tag - 1) == 0) {
        /* each run needs a fresh tokenizer: specials are added in place */
        const char *path = fuzz_mem_file(1, data + sizeof tag - 1, size - (sizeof tag - 1));
        if (!base_len)
            make_base();
        const char *base = fuzz_mem_file(2, (const uint8_t *)base_ranks, base_len);
        if (herd_tokenizer_load_tiktoken(base, pattern, &tok) != HERD_OK) {
            fprintf(stderr, "%s\n", herd_last_error());
            abort();
        }
        if (herd_tokenizer_load_specials(tok, path) != HERD_OK)
            fuzz_check_message(herd_last_error());
        tok_check_samples(tok);
        herd_tokenizer_free(tok);
        return 0;
    }
    const char *path = fuzz_mem_file(0, data, size);
    if (herd_tokenizer_load_tiktoken(path, pattern, &tok) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    tok_check_samples(tok);
    herd_tokenizer_free(tok);
    return 0;
}
